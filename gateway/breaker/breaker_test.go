package breaker

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newTest() (*Breaker, *clock) {
	c := &clock{t: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}
	return New(c.now, slog.New(slog.NewTextHandler(io.Discard, nil))), c
}

func state(b *Breaker, target string) State {
	for _, s := range b.States() {
		if s.Target == target {
			return s.State
		}
	}
	return Closed
}

func TestOpensAfterThresholdFailures(t *testing.T) {
	b, _ := newTest()
	for range Threshold - 1 {
		b.Failure("a/m")
	}
	if !b.Allow("a/m") || state(b, "a/m") != Closed {
		t.Fatal("open before the threshold")
	}
	b.Failure("a/m")
	if b.Allow("a/m") || state(b, "a/m") != Open {
		t.Fatal("not open after the threshold")
	}
	if !b.Allow("b/m") {
		t.Error("another target is refused")
	}
}

func TestSuccessOrAGapResetsTheRun(t *testing.T) {
	b, clk := newTest()
	for range Threshold - 1 {
		b.Failure("a/m")
	}
	b.Success("a/m")
	b.Failure("a/m")
	if state(b, "a/m") != Closed {
		t.Error("a success did not reset the run")
	}
	for range Threshold - 2 {
		b.Failure("a/m")
	}
	clk.advance(Window + time.Second)
	b.Failure("a/m")
	if state(b, "a/m") != Closed {
		t.Error("failures further apart than the window opened the circuit")
	}
}

func TestHalfOpenProbe(t *testing.T) {
	b, clk := newTest()
	open := func() {
		for range Threshold {
			b.Failure("a/m")
		}
	}
	open()
	clk.advance(Cooldown - time.Second)
	if b.Allow("a/m") {
		t.Fatal("allowed during the cooldown")
	}
	clk.advance(time.Second)
	if !b.Allow("a/m") || state(b, "a/m") != HalfOpen {
		t.Fatal("no probe after the cooldown")
	}
	if b.Allow("a/m") {
		t.Fatal("a second probe while the first is out")
	}
	// The probe fails: open again for twice the cooldown.
	b.Failure("a/m")
	clk.advance(2*Cooldown - time.Second)
	if b.Allow("a/m") {
		t.Fatal("allowed before the doubled cooldown")
	}
	clk.advance(time.Second)
	if !b.Allow("a/m") {
		t.Fatal("no probe after the doubled cooldown")
	}
	// Failed probes double the cooldown up to the cap.
	for range 10 {
		b.Failure("a/m")
		clk.advance(MaxCooldown)
		if !b.Allow("a/m") {
			t.Fatal("cooldown beyond the cap")
		}
	}
	// The probe succeeds: closed, and the next opening starts from the base cooldown.
	b.Success("a/m")
	if state(b, "a/m") != Closed || !b.Allow("a/m") {
		t.Fatal("a successful probe did not close the circuit")
	}
	open()
	clk.advance(Cooldown)
	if !b.Allow("a/m") {
		t.Error("the cooldown was not reset on close")
	}
}

func TestLostProbeIsReplaced(t *testing.T) {
	b, clk := newTest()
	for range Threshold {
		b.Failure("a/m")
	}
	clk.advance(Cooldown)
	b.Allow("a/m") // a probe that never reports
	clk.advance(Cooldown)
	if !b.Allow("a/m") {
		t.Error("a lost probe holds the circuit half-open forever")
	}
}

// BenchmarkHealthyTarget is what the pipeline asks of the breaker per attempt at a target that
// has not failed.
func BenchmarkHealthyTarget(b *testing.B) {
	br, _ := newTest()
	target := string([]byte("acct/model")) // not a constant
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if br.Allow(target) {
				br.Success(target)
			}
		}
	})
}

// BenchmarkClosedCircuit is the same for a target that failed once and recovered.
func BenchmarkClosedCircuit(b *testing.B) {
	br, _ := newTest()
	target := string([]byte("acct/model"))
	br.Failure(target)
	br.Success(target)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if br.Allow(target) {
				br.Success(target)
			}
		}
	})
}
