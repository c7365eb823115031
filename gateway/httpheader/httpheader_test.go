package httpheader

import (
	"net/http"
	"testing"
)

// TestSharedValuesStayShared: what a handler does to one answer's headers after SetJSON or
// SetEventStream (Set, Add, Del, Clone) never shows in another's, and setting costs nothing.
func TestSharedValuesStayShared(t *testing.T) {
	a, b := http.Header{}, http.Header{}
	SetJSON(a)
	SetJSON(b)
	a.Add("Content-Type", "text/plain")
	a.Set("Content-Type", "text/html")
	c := b.Clone()
	c["Content-Type"][0] = "changed in a clone"
	if got := b.Values("Content-Type"); len(got) != 1 || got[0] != "application/json" {
		t.Errorf("b's Content-Type = %q after edits of a and of a clone, want [application/json]", got)
	}
	s := http.Header{}
	SetEventStream(s)
	s.Add("Cache-Control", "no-store")
	SetEventStream(b)
	if got := b.Values("Cache-Control"); len(got) != 1 || got[0] != "no-cache" {
		t.Errorf("Cache-Control = %q, want [no-cache]", got)
	}
	if got := b.Get("Content-Type") + " " + b.Get("X-Accel-Buffering"); got != "text/event-stream no" {
		t.Errorf("event stream headers = %q", got)
	}
	if got := Value("application/json"); &got[0] != &valueJSON[0] {
		t.Error("Value(application/json) is not the shared value")
	}
	if got := Value("multipart/form-data; boundary=x"); got[0] != "multipart/form-data; boundary=x" {
		t.Errorf("Value of another type = %q", got)
	}
	h := http.Header{}
	if n := testing.AllocsPerRun(100, func() { SetJSON(h); SetEventStream(h) }); n != 0 {
		t.Errorf("SetJSON and SetEventStream: %v allocations, want 0", n)
	}
}
