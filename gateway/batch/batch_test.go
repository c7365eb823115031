package batch

import (
	"bytes"
	"strings"
	"testing"
)

func TestIDsRoundTrip(t *testing.T) {
	ids := NewIDs(bytes.Repeat([]byte{7}, 32))
	for _, tt := range []struct {
		kind            Kind
		route, upstream string
		prefix          string
	}{
		{File, "oai/mini", "file-abc123", "file-"},
		{Batch, "az/gpt4o", "batch_67890", "batch_"},
		{File, "oai", "file-listed", "file-"},
		{File, "", "", "file-"},
		{Batch, "a/b/c", "id with / and ü", "batch_"},
	} {
		id := ids.Seal(tt.kind, "user:alice", tt.route, tt.upstream)
		if !strings.HasPrefix(id, tt.prefix) || strings.ContainsAny(strings.TrimPrefix(id, tt.prefix), "/+=? ") {
			t.Errorf("Seal = %q; want prefix %q and URL-safe characters", id, tt.prefix)
		}
		route, up, ok := ids.Open(tt.kind, "user:alice", id)
		if !ok || route != tt.route || up != tt.upstream {
			t.Errorf("Open(%q) = %q, %q, %v; want %q, %q", id, route, up, ok, tt.route, tt.upstream)
		}
	}
}

func TestIDsRefuse(t *testing.T) {
	ids := NewIDs(bytes.Repeat([]byte{7}, 32))
	id := ids.Seal(File, "user:alice", "oai/mini", "file-abc")
	tampered := []byte(id)
	tampered[len("file-")+2] ^= 1
	for _, tt := range []struct {
		name  string
		ids   *IDs
		kind  Kind
		owner string
		id    string
	}{
		{"another owner", ids, File, "user:bob", id},
		{"another kind", ids, Batch, "user:alice", "batch_" + strings.TrimPrefix(id, "file-")},
		{"the wrong prefix", ids, Batch, "user:alice", id},
		{"a tampered id", ids, File, "user:alice", string(tampered)},
		{"another key", NewIDs(bytes.Repeat([]byte{8}, 32)), File, "user:alice", id},
		{"an upstream id", ids, File, "user:alice", "file-abc"},
		{"too short", ids, File, "user:alice", "file-AAAA"},
		{"not base64", ids, File, "user:alice", "file-!!!!"},
		{"empty", ids, File, "user:alice", ""},
	} {
		if _, _, ok := tt.ids.Open(tt.kind, tt.owner, tt.id); ok {
			t.Errorf("%s: Open(%q) succeeded", tt.name, tt.id)
		}
	}
}

func TestOwnerTag(t *testing.T) {
	ids := NewIDs(bytes.Repeat([]byte{7}, 32))
	a, b := ids.OwnerTag("user:alice"), ids.OwnerTag("user:bob")
	if len(a) != 16 || a == b || a != ids.OwnerTag("user:alice") || strings.Contains(a, "alice") {
		t.Errorf("tags %q, %q", a, b)
	}
	if other := NewIDs(bytes.Repeat([]byte{8}, 32)).OwnerTag("user:alice"); other == a {
		t.Error("the tag does not depend on the key")
	}
}

func FuzzIDsOpen(f *testing.F) {
	ids := NewIDs(bytes.Repeat([]byte{7}, 32))
	f.Add(ids.Seal(File, "o", "a/b", "file-x"))
	f.Add("file-")
	f.Fuzz(func(t *testing.T, id string) {
		route, up, ok := ids.Open(File, "o", id)
		if ok && ids.Seal(File, "o", route, up) != id {
			t.Errorf("Open(%q) accepted an id Seal would not make", id)
		}
	})
}
