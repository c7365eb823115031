package controlplane

import (
	"testing"

	"github.com/llmgw/llmgw/gateway/snapshot"
)

// TestFeedRevisions: a new revision wakes the streams; the same config again does not; a
// config that changed without a new store revision (a config file's part) still goes out,
// under the next revision, so replicas never hold two configs under one number.
func TestFeedRevisions(t *testing.T) {
	f := NewFeed()
	if rev, _, _ := f.current(); rev != 0 {
		t.Fatalf("empty feed at revision %d", rev)
	}
	publish := func(rev int64, team string) (woke bool) {
		t.Helper()
		_, _, changed := f.current()
		if err := f.Publish(&snapshot.Config{Revision: rev, Teams: []snapshot.Team{{Name: team}}}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-changed:
			return true
		default:
			return false
		}
	}
	if !publish(5, "a") || f.Revision() != 5 {
		t.Fatalf("first publish: revision %d", f.Revision())
	}
	if publish(5, "a") || f.Revision() != 5 {
		t.Errorf("the same config again woke the streams or moved the revision (%d)", f.Revision())
	}
	if !publish(5, "b") || f.Revision() != 6 {
		t.Errorf("a changed config at the same store revision: revision %d, want 6 and a wake", f.Revision())
	}
	if !publish(9, "b") || f.Revision() != 9 {
		t.Errorf("a newer store revision: revision %d, want 9", f.Revision())
	}
	_, payload, _ := f.current()
	if len(payload) == 0 {
		t.Error("no payload")
	}
}
