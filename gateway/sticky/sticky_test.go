package sticky

import (
	"strconv"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestPinExpiresAfterItsTTL(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}
	s := New(c.now, 10)
	k := s.Session("prod/v", []string{"conv-1"})
	if _, ok := s.Target(k); ok {
		t.Fatal("a session never pinned has a target")
	}
	s.Pin(k, "a/x", time.Minute)
	c.t = c.t.Add(59 * time.Second)
	if got, ok := s.Target(k); !ok || got != "a/x" {
		t.Fatalf("before its TTL: %q %v, want a/x", got, ok)
	}
	s.Pin(k, "a/x", time.Minute) // used again: the TTL counts from now
	c.t = c.t.Add(59 * time.Second)
	if got, ok := s.Target(k); !ok || got != "a/x" {
		t.Fatalf("before its TTL after a new pin: %q %v, want a/x", got, ok)
	}
	c.t = c.t.Add(time.Second)
	if got, ok := s.Target(k); ok {
		t.Fatalf("after its TTL: %q, want none", got)
	}
	if n := s.Len(); n != 0 {
		t.Errorf("%d sessions remembered after the only one expired, want 0", n)
	}
	s.Pin(k, "a/y", time.Minute) // a failover re-pins the session
	if got, _ := s.Target(k); got != "a/y" {
		t.Errorf("re-pinned: %q, want a/y", got)
	}
}

func TestSessionsAreBounded(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}
	const max = 100
	s := New(c.now, max)
	key := func(i int) Session { return s.Session("prod/v", []string{strconv.Itoa(i)}) }
	for i := range max {
		s.Pin(key(i), "a/x", time.Hour)
	}
	s.Target(key(0)) // used: session 1 is now the least recently used
	for i := max; i < 3*max; i++ {
		s.Pin(key(i), "a/x", time.Hour)
		if n := s.Len(); n > max {
			t.Fatalf("%d sessions remembered, want at most %d", n, max)
		}
		if i == max {
			if _, ok := s.Target(key(1)); ok {
				t.Error("the least recently used session was kept at the cap")
			}
			if _, ok := s.Target(key(0)); !ok {
				t.Error("a recently used session was evicted before the least recently used one")
			}
		}
	}
	if n := s.Len(); n != max {
		t.Errorf("%d sessions remembered, want %d", n, max)
	}
	if _, ok := s.Target(key(3*max - 1)); !ok {
		t.Error("the newest session was not kept")
	}
}

func TestExpiredSessionsGoFirst(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}
	s := New(c.now, 10)
	for i := range 5 {
		s.Pin(s.Session("short", []string{strconv.Itoa(i)}), "a/x", time.Second)
	}
	c.t = c.t.Add(time.Second)
	s.Pin(s.Session("long", []string{"1"}), "a/x", time.Hour)
	if n := s.Len(); n != 1 {
		t.Errorf("%d sessions remembered, want the new one only: the expired ones are forgotten", n)
	}
}

func TestSessionKeys(t *testing.T) {
	s := New(nil, 0)
	if s.max != DefaultMax {
		t.Errorf("max %d, want DefaultMax", s.max)
	}
	distinct := [][]string{{"prod/v", "a", "bc"}, {"prod/v", "ab", "c"}, {"prod/w", "a", "bc"}, {"prod/v", "a"}, {"prod/v", "a", "bc", ""}}
	seen := map[Session]int{}
	for i, parts := range distinct {
		k := s.Session(parts[0], parts[1:])
		if j, ok := seen[k]; ok {
			t.Errorf("%q and %q are one session", distinct[j], parts)
		}
		seen[k] = i
		if again := s.Session(parts[0], parts[1:]); again != k {
			t.Errorf("%q: a different session each time", parts)
		}
	}
	values := []string{"conversation-42", "user-7"}
	if n := testing.AllocsPerRun(100, func() { s.Session("prod/v", values) }); n != 0 {
		t.Errorf("Session allocates %v times, want 0", n)
	}
}

func BenchmarkSticky(b *testing.B) {
	s := New(nil, 0)
	values := []string{"conversation-42"}
	b.ReportAllocs()
	for b.Loop() {
		k := s.Session("prod/v", values)
		if _, ok := s.Target(k); !ok {
			s.Pin(k, "a/x", time.Hour)
		}
		s.Pin(k, "a/x", time.Hour)
	}
}
