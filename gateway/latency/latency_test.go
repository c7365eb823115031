package latency

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestObserve(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	s := New(c.now)
	s.Observe("a/stream", 1100*time.Millisecond, 100*time.Millisecond, 100) // 10ms/token
	s.Observe("a/whole", time.Second, 0, 50)                                // 20ms/token
	s.Observe("a/empty", time.Second, 0, 0)                                 // no tokens: not recorded
	for _, tc := range []struct {
		target string
		want   Summary
	}{
		{"a/stream", Summary{N: 1, TPOT: 10 * time.Millisecond, TTFT: 100 * time.Millisecond}},
		{"a/whole", Summary{N: 1, TPOT: 20 * time.Millisecond, TTFT: time.Second}},
		{"a/empty", Summary{}},
		{"a/unknown", Summary{}},
	} {
		if diff := cmp.Diff(tc.want, s.Summary(tc.target, Window)); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.target, diff)
		}
	}
}

func TestWindows(t *testing.T) {
	t.Run("last 100 calls", func(t *testing.T) {
		c := &clock{t: time.Unix(1000, 0)}
		s := New(c.now)
		for range 50 {
			s.Observe("m", time.Second, 0, 1) // 1s/token, pushed out by the next 100
		}
		for range MaxSamples {
			s.Observe("m", time.Second, 0, 10)
		}
		if got := s.Summary("m", Window); got.N != MaxSamples || got.TPOT != 100*time.Millisecond {
			t.Errorf("got %+v, want the last 100 calls at 100ms/token", got)
		}
	})
	t.Run("last 20 minutes", func(t *testing.T) {
		c := &clock{t: time.Unix(1000, 0)}
		s := New(c.now)
		s.Observe("m", time.Second, 0, 1) // 1s/token, 21 minutes old at the end
		c.t = c.t.Add(time.Minute)
		s.Observe("m", time.Second, 0, 10)
		c.t = c.t.Add(20 * time.Minute)
		if got := s.Summary("m", Window); got.N != 1 || got.TPOT != 100*time.Millisecond {
			t.Errorf("got %+v, want only the call of the last 20 minutes", got)
		}
		c.t = c.t.Add(time.Minute)
		if got := s.Summary("m", Window); got.N != 0 {
			t.Errorf("got %+v, want nothing after 20 minutes", got)
		}
	})
	t.Run("sla window of 3 minutes", func(t *testing.T) {
		c := &clock{t: time.Unix(1000, 0)}
		s := New(c.now)
		s.Observe("m", time.Second, 0, 1)
		c.t = c.t.Add(2 * time.Minute)
		s.Observe("m", time.Second, 0, 10)
		if got := s.Summary("m", SLAWindow); got.N != 2 {
			t.Errorf("got %+v, want both calls", got)
		}
		c.t = c.t.Add(90 * time.Second)
		if got := s.Summary("m", SLAWindow); got.N != 1 || got.TPOT != 100*time.Millisecond {
			t.Errorf("got %+v, want the last call only", got)
		}
	})
}

func TestConcurrent(t *testing.T) {
	s := New(nil)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 1000 {
				s.Observe("m", time.Second, 0, 10)
				s.Summary("m", Window)
			}
		}()
	}
	for range 4 {
		<-done
	}
	if got := s.Summary("m", Window); got.N != MaxSamples {
		t.Errorf("N = %d, want %d", got.N, MaxSamples)
	}
}

// BenchmarkSummary is the cost of one target's average over a full window.
func BenchmarkSummary(b *testing.B) {
	s := New(nil)
	for range MaxSamples {
		s.Observe("m", time.Second, 0, 10)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Summary("m", Window)
	}
}

// TestBreaches: a cutoff is breached by the average over SLAWindow only; no cutoff, or no
// answer in the window, breaches nothing.
func TestBreaches(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	s := New(c.now)
	s.Observe("a/m", 1100*time.Millisecond, 100*time.Millisecond, 100) // TPOT 10ms, TTFT 100ms
	for _, tc := range []struct {
		tpot, ttft time.Duration
		want       bool
	}{
		{0, 0, false},
		{20 * time.Millisecond, 0, false},
		{5 * time.Millisecond, 0, true},
		{0, 50 * time.Millisecond, true},
		{20 * time.Millisecond, 200 * time.Millisecond, false},
	} {
		if got := s.Breaches("a/m", tc.tpot, tc.ttft); got != tc.want {
			t.Errorf("cutoffs %v/%v: breached %v, want %v", tc.tpot, tc.ttft, got, tc.want)
		}
	}
	c.t = c.t.Add(SLAWindow + time.Second)
	if s.Breaches("a/m", time.Millisecond, 0) {
		t.Error("an answer older than the window breaches")
	}
}
