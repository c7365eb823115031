package pipeline

import (
	"time"

	"github.com/llmgw/llmgw/gateway/latency"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// Settings of the per-request ordering of a Live plan (latency-based routing, and priority
// routing with sla_cutoff).
const (
	// minSamples: a target with fewer answers in latency.Window is unmeasured.
	minSamples = 3
	// exploreEvery: one request in exploreEvery (drawn) goes first to an unmeasured target,
	// drawn among them, so that it gets measured; all of them do while no target is measured.
	exploreEvery = 10
	// tie: targets whose TPOT is within tie times the fastest's are treated as equal: the
	// first target is drawn among them.
	tie = 1.2
	// probeEvery: one request in probeEvery (drawn) keeps a priority plan's configured order,
	// SLA-breaching targets included, so that a breaching target is measured again and can
	// recover (it also recovers when its window empties).
	probeEvery = 20
)

// WithLatency makes the pipeline report every successful attempt's speed to s and order Live
// plans from it (default: statistics of its own, on the pipeline's clock).
func WithLatency(s *latency.Stats) Option { return func(p *Pipeline) { p.stats = s } }

// Latency is the targets' live speed (WithLatency).
func (p *Pipeline) Latency() *latency.Stats { return p.stats }

// ordered is a per-request plan with room for the targets of a small one, so that ordering
// allocates once.
type ordered struct {
	plan snapshot.Plan
	buf  [4]snapshot.Target
}

// order returns a copy of the Live plan with its targets ordered for this request from their
// live speed: by latency (byLatency) or by priority skipping the SLA breaches (bySLA). The
// first target is any; the others are only the fallback candidates.
func (p *Pipeline) order(plan *snapshot.Plan) *snapshot.Plan {
	o := &ordered{plan: *plan}
	ts := o.buf[:0]
	if plan.Strategy == snapshot.RoutingLatency {
		ts = p.byLatency(plan.Targets, ts)
	} else {
		ts = p.bySLA(plan.Targets, ts)
	}
	k := 1
	for _, t := range ts[1:] {
		if t.Fallback {
			ts[k] = t
			k++
		}
	}
	o.plan.Targets = ts[:k]
	return &o.plan
}

type measured struct {
	i    int
	tpot time.Duration
}

// byLatency appends targets to dst, fastest first by their average time per output token over
// latency.Window (at most latency.MaxSamples answers):
//   - an unmeasured target (fewer than minSamples answers) goes first on one request in
//     exploreEvery, and on every request while no target is measured; it is drawn among them;
//   - otherwise the first is drawn among the measured targets within tie times the fastest;
//   - the others follow, measured by speed, then the unmeasured in configuration order.
func (p *Pipeline) byLatency(targets []snapshot.Target, dst []snapshot.Target) []snapshot.Target {
	var mbuf [8]measured
	var ubuf [8]int
	ms, us := mbuf[:0], ubuf[:0]
	for i, t := range targets {
		s := p.stats.Summary(t.Endpoint.FQN, latency.Window)
		if s.N < minSamples {
			us = append(us, i)
			continue
		}
		m := measured{i: i, tpot: s.TPOT}
		j := len(ms) // insertion sort, stable: plans are small
		ms = append(ms, m)
		for j > 0 && ms[j-1].tpot > m.tpot {
			ms[j] = ms[j-1]
			j--
		}
		ms[j] = m
	}
	first := -1
	if len(us) > 0 && (len(ms) == 0 || p.draw(exploreEvery) == 0) {
		first = us[p.draw(len(us))]
	} else {
		n := 1
		for n < len(ms) && float64(ms[n].tpot) <= tie*float64(ms[0].tpot) {
			n++
		}
		first = ms[p.draw(n)].i
	}
	dst = append(dst, targets[first])
	for _, m := range ms {
		if m.i != first {
			dst = append(dst, targets[m.i])
		}
	}
	for _, i := range us {
		if i != first {
			dst = append(dst, targets[i])
		}
	}
	return dst
}

// bySLA appends targets, in priority order, to dst: the healthy ones first, then those whose
// average TPOT or TTFT over latency.SLAWindow exceeds their sla_cutoff, still in priority order
// (fallbacks of last resort). A target without a cutoff or without answers in the window is
// healthy. One request in probeEvery keeps the priority order, breaches included.
func (p *Pipeline) bySLA(targets []snapshot.Target, dst []snapshot.Target) []snapshot.Target {
	if p.draw(probeEvery) == 0 {
		return append(dst, targets...)
	}
	var bbuf [8]int
	late := bbuf[:0]
	for i, t := range targets {
		if p.breaches(t) {
			late = append(late, i)
			continue
		}
		dst = append(dst, t)
	}
	for _, i := range late {
		dst = append(dst, targets[i])
	}
	return dst
}

// breaches reports whether t's average speed over latency.SLAWindow exceeds its sla_cutoff.
func (p *Pipeline) breaches(t snapshot.Target) bool {
	return p.stats.Breaches(t.Endpoint.FQN, t.SLA.TPOT, t.SLA.TTFT)
}
