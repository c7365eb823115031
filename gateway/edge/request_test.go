package edge

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestNewID: ids are UUIDv7 that a UUID parser accepts, lead with the time in milliseconds (so
// they sort by it), differ, and cost one allocation.
func TestNewID(t *testing.T) {
	before := time.Now().UnixMilli()
	a := NewID()
	u, err := uuid.Parse(a)
	if err != nil {
		t.Fatalf("NewID() = %q: %v", a, err)
	}
	if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		t.Errorf("NewID() = %q: version %d variant %v, want 7 and RFC 4122", a, u.Version(), u.Variant())
	}
	sec, nsec := u.Time().UnixTime()
	if ms := sec*1000 + nsec/1e6; ms < before || ms > time.Now().UnixMilli() {
		t.Errorf("NewID() = %q carries %d ms, want between %d and now", a, ms, before)
	}
	seen := map[string]bool{a: true}
	for range 1000 {
		id := NewID()
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
	if n := testing.AllocsPerRun(100, func() { _ = NewID() }); n != 1 {
		t.Errorf("NewID: %v allocations, want 1", n)
	}
}
