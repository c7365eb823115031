// Package breaker is the gateway's circuit breaker: per gateway process and per target (a
// model's fully qualified name), it ejects a target that keeps failing for a cooldown, then
// lets one probe through before the target takes traffic again.
//
// It is not a retry policy (the pipeline's routing decides retries and fallback) and keeps no
// state across processes. Its state lives outside the configuration snapshot, keyed by the
// target's name, so a configuration change does not reset it.
package breaker

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fixed settings of every circuit.
const (
	// Threshold is how many consecutive failures open a circuit.
	Threshold = 5
	// Window is how close the failures must be: a failure more than Window after the first of
	// a run starts a new run.
	Window = time.Minute
	// Cooldown is how long a circuit stays open the first time; each failed probe doubles it,
	// up to MaxCooldown.
	Cooldown    = 30 * time.Second
	MaxCooldown = 5 * time.Minute
)

// State is a circuit's state.
type State int32

const (
	// Closed: the target takes traffic.
	Closed State = iota
	// Open: the target is skipped until its cooldown passes.
	Open
	// HalfOpen: the cooldown has passed; one probe request is let through at a time.
	HalfOpen
)

func (s State) String() string {
	switch s {
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	default:
		return "closed"
	}
}

// Breaker holds the circuits of a gateway process. The zero value is not usable; call New. It
// is safe for concurrent use. A target that has never failed has no circuit, and asking about
// it or reporting its success takes one lock-free map read and allocates nothing.
type Breaker struct {
	now      func() time.Time
	logger   *slog.Logger
	circuits sync.Map // target -> *circuit
}

// New returns a Breaker reading now (time.Now when nil) and logging to logger: a WARN when a
// circuit opens, an INFO when it closes.
func New(now func() time.Time, logger *slog.Logger) *Breaker {
	if now == nil {
		now = time.Now
	}
	return &Breaker{now: now, logger: logger}
}

type circuit struct {
	state   atomic.Int32 // State; read without the lock on the hot path
	failing atomic.Int32 // failures in the current run; read without the lock on success

	mu       sync.Mutex
	first    time.Time     // the run's first failure
	until    time.Time     // open until
	cooldown time.Duration // the current cooldown
	probe    time.Time     // when the half-open probe was let through (zero: none out)
}

func (b *Breaker) circuit(target string) *circuit {
	if v, ok := b.circuits.Load(target); ok {
		return v.(*circuit)
	}
	return nil
}

// Allow reports whether an attempt at target may go ahead: always when its circuit is closed;
// when it is open, not until the cooldown has passed; then the circuit is half-open and one
// probe is let through at a time (a probe that never reports back is replaced after a
// cooldown). A caller that lets an attempt through must report its end (Success or Failure).
func (b *Breaker) Allow(target string) bool {
	c := b.circuit(target)
	if c == nil || State(c.state.Load()) == Closed {
		return true
	}
	now := b.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch State(c.state.Load()) {
	case Closed:
		return true
	case Open:
		if now.Before(c.until) {
			return false
		}
		c.state.Store(int32(HalfOpen))
	case HalfOpen:
		if !c.probe.IsZero() && now.Sub(c.probe) < c.cooldown {
			return false
		}
	}
	c.probe = now
	return true
}

// Success reports that an attempt at target got an answer from it: its circuit closes.
func (b *Breaker) Success(target string) {
	c := b.circuit(target)
	if c == nil || State(c.state.Load()) == Closed && c.failing.Load() == 0 {
		return
	}
	c.mu.Lock()
	was := State(c.state.Load())
	c.state.Store(int32(Closed))
	c.failing.Store(0)
	c.cooldown, c.probe = 0, time.Time{}
	c.mu.Unlock()
	if was != Closed {
		b.logger.LogAttrs(context.Background(), slog.LevelInfo, "circuit closed", slog.String("target", target))
	}
}

// Failure reports that an attempt at target failed in a way that counts (a 5xx, a 429, a
// transport failure or a timeout): Threshold of them in a row within Window open its circuit
// for Cooldown; a failed half-open probe opens it again for twice the last cooldown, up to
// MaxCooldown. A failure while open (an attempt that had no alternative) changes nothing.
func (b *Breaker) Failure(target string) {
	c := b.circuit(target)
	if c == nil {
		v, _ := b.circuits.LoadOrStore(target, &circuit{})
		c = v.(*circuit)
	}
	now := b.now()
	c.mu.Lock()
	var opened time.Duration
	switch State(c.state.Load()) {
	case Closed:
		n := c.failing.Load()
		if n == 0 || now.Sub(c.first) > Window {
			n, c.first = 0, now
		}
		n++
		c.failing.Store(n)
		if n >= Threshold {
			opened = Cooldown
		}
	case HalfOpen:
		opened = min(2*c.cooldown, MaxCooldown)
	}
	if opened > 0 {
		c.state.Store(int32(Open))
		c.cooldown, c.until, c.probe = opened, now.Add(opened), time.Time{}
	}
	c.mu.Unlock()
	if opened > 0 {
		b.logger.LogAttrs(context.Background(), slog.LevelWarn, "circuit opened", slog.String("target", target), slog.Duration("cooldown", opened))
	}
}

// Status is one circuit's state (see States).
type Status struct {
	Target string
	State  State
	// Failures is the current run of consecutive failures.
	Failures int
	// Until is when an open circuit turns half-open; Cooldown the cooldown it is serving.
	Until    time.Time
	Cooldown time.Duration
}

// States lists the circuits of the targets that have failed since the process started (or
// that are not closed), by target name: what the Admin API lists.
func (b *Breaker) States() []Status {
	var out []Status
	b.circuits.Range(func(k, v any) bool {
		c := v.(*circuit)
		c.mu.Lock()
		out = append(out, Status{Target: k.(string), State: State(c.state.Load()), Failures: int(c.failing.Load()), Until: c.until, Cooldown: c.cooldown})
		c.mu.Unlock()
		return true
	})
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Target, b.Target) })
	return out
}
