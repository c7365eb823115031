// Package latency keeps the live speed of the gateway's targets, per gateway process and per
// target (a model's fully qualified name): time per output token (TPOT) and time to first token
// (TTFT) of their recent answers. Latency-based routing orders targets by it, and priority
// routing's sla_cutoff skips the targets that breach their cutoff.
//
// It is not the routing decision (the pipeline orders a plan from it) and keeps no state across
// processes. Its state lives outside the configuration snapshot, keyed by the target's name, so
// a configuration change does not reset it.
package latency

import (
	"sync"
	"time"
)

// Fixed settings of the statistics.
const (
	// Window and MaxSamples bound what latency-based routing averages: the answers of the last
	// Window, or the last MaxSamples answers, whichever are fewer.
	Window     = 20 * time.Minute
	MaxSamples = 100
	// SLAWindow is what an sla_cutoff is compared with: the average over the last SLAWindow
	// (at most MaxSamples answers).
	SLAWindow = 3 * time.Minute
)

// Stats holds the recent answers of a gateway process's targets. The zero value is not usable;
// call New. It is safe for concurrent use: a target's answers are behind a lock of their own
// (the statistics are sharded by target), found with a lock-free map read.
type Stats struct {
	now     func() time.Time
	targets sync.Map // target -> *series
}

// New returns Stats reading now (time.Now when nil).
func New(now func() time.Time) *Stats {
	if now == nil {
		now = time.Now
	}
	return &Stats{now: now}
}

type sample struct {
	at         time.Time
	tpot, ttft time.Duration
}

// series is a ring of a target's last MaxSamples answers, with their sums.
type series struct {
	mu         sync.Mutex
	ring       [MaxSamples]sample
	next       int // where the next sample goes
	n          int // samples held, up to MaxSamples
	tpot, ttft time.Duration
}

// Observe records an answer of target that took latency in all, whose first token came after
// ttft (0: not streamed, the answer came whole), with completion output tokens. Its TPOT is
// (latency - ttft) / completion for a stream and latency / completion otherwise; its TTFT is
// ttft, or latency when it was not streamed. An answer without output tokens says nothing of
// the target's speed and is not recorded.
func (s *Stats) Observe(target string, latency, ttft time.Duration, completion int64) {
	if completion <= 0 || latency <= 0 {
		return
	}
	tpot, first := Speed(latency, ttft, completion)
	sm := sample{at: s.now(), tpot: tpot, ttft: first}
	v, ok := s.targets.Load(target)
	if !ok {
		v, _ = s.targets.LoadOrStore(target, &series{})
	}
	r := v.(*series)
	r.mu.Lock()
	if r.n == MaxSamples {
		old := &r.ring[r.next]
		r.tpot, r.ttft = r.tpot-old.tpot, r.ttft-old.ttft
	}
	r.ring[r.next] = sm
	r.tpot, r.ttft = r.tpot+sm.tpot, r.ttft+sm.ttft
	r.next = (r.next + 1) % MaxSamples
	r.n = min(r.n+1, MaxSamples)
	r.mu.Unlock()
}

// Summary is a target's average speed over a window.
type Summary struct {
	// N is how many answers the averages are over; 0 when there were none.
	N    int
	TPOT time.Duration
	TTFT time.Duration
}

// Summary averages target's answers of the last window, at most the last MaxSamples of them.
// It allocates nothing, and reads only the answers older than window beyond the sums it keeps.
func (s *Stats) Summary(target string, window time.Duration) Summary {
	v, ok := s.targets.Load(target)
	if !ok {
		return Summary{}
	}
	r := v.(*series)
	since := s.now().Add(-window)
	var sum Summary
	var tpot, ttft time.Duration
	r.mu.Lock()
	sum.N, tpot, ttft = r.n, r.tpot, r.ttft
	for i := r.n; i > 0; i-- { // oldest first: take out those too old, stop at the first in the window
		sm := &r.ring[(r.next-i+MaxSamples)%MaxSamples]
		if !sm.at.Before(since) {
			break
		}
		sum.N--
		tpot -= sm.tpot
		ttft -= sm.ttft
	}
	r.mu.Unlock()
	if sum.N > 0 {
		sum.TPOT, sum.TTFT = tpot/time.Duration(sum.N), ttft/time.Duration(sum.N)
	}
	return sum
}

// Breaches reports whether target's average speed over SLAWindow exceeds a cutoff: its TPOT
// over tpot or its TTFT over ttft (a zero cutoff is none). A target without answers in the
// window breaches nothing. Priority routing skips a breaching target; the metrics report it
// unhealthy.
func (s *Stats) Breaches(target string, tpot, ttft time.Duration) bool {
	if tpot <= 0 && ttft <= 0 {
		return false
	}
	sum := s.Summary(target, SLAWindow)
	return sum.N > 0 && (tpot > 0 && sum.TPOT > tpot || ttft > 0 && sum.TTFT > ttft)
}

// Speed is an answer's time per output token and time to first token (see Stats.Observe):
// (latency - ttft) / completion and ttft for a stream whose first token came within the
// answer, else latency / completion and latency. completion must be positive.
func Speed(latency, ttft time.Duration, completion int64) (tpot, first time.Duration) {
	if ttft > 0 && ttft <= latency {
		return (latency - ttft) / time.Duration(completion), ttft
	}
	return latency / time.Duration(completion), latency
}
