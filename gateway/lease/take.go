package lease

import (
	"sync/atomic"
	"time"

	"github.com/llmgw/llmgw/gateway/bucket"
	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/limiter"
)

// how a hold was admitted.
type how uint8

const (
	leased  how = iota + 1 // taken from the lease
	bridged                // the key's one request without a lease
	outside                // local accounting (fail-open) or audit beyond the lease
)

// measure is what a key's settle counts.
type measure uint8

const (
	requests measure = iota
	tokens
	cost
)

// hold is what one check took: n from entry e.
type hold struct {
	e   *entry
	n   int64
	how how
	m   measure
}

// Claim is what Take took for one request, to be settled once its real usage is known. The
// zero Claim holds nothing. Settle or Cancel it once; later calls are no-ops, also when they
// race. A Claim must not be copied.
type Claim struct {
	done  atomic.Bool
	holds bucket.Holds[hold]
}

// Refusal says which check Take refused.
type Refusal struct {
	// Refused is false when every check was taken.
	Refused bool
	// Budget reports that the refused check is Index of the budget checks, else of the
	// rate-limit checks.
	Budget bool
	Index  int
	// RetryAfter is when a refused rate limit is worth retrying: about when the next sync
	// brings more lease. Reset is when a refused budget's period ends.
	RetryAfter time.Duration
	Reset      time.Time
}

// refuseRetry is the Retry-After of a refusal for want of lease: the next sync, rounded up to
// the header's one-second resolution.
const refuseRetry = time.Second

// Take takes every check's Amount from this replica's leases, or nothing: it runs before the
// local limiter and ledger admit the same checks (quota.Guard calls it). A check admitted
// with local accounting has its Limit lowered in place, so that the limiter or ledger
// enforces the replica's share of the limit. When Refused is false, c holds what was taken
// and must be settled or cancelled; otherwise c holds nothing. Audit checks are counted but
// never refuse.
func (l *Leases) Take(c *Claim, lchecks []limiter.Check, bchecks []budget.Check) Refusal {
	c.done.Store(false)
	holds := c.holds.Make(len(lchecks) + len(bchecks))
	t := l.now()
	now := t.UnixNano()
	reach := l.reachable.Load()
	for i := range lchecks {
		ch := &lchecks[i]
		k := Key{Kind: RateLimit, Unit: uint8(ch.Unit), Rule: ch.Rule, Bucket: ch.Bucket}
		m, n := requests, ch.Amount
		if ch.Unit.Tokens() {
			m = tokens
		} else if n == 0 {
			n = 1
		}
		if !l.take(&holds[i], &k, m, n, &ch.Limit, ch.Audit, now, reach) {
			l.undo(holds[:i])
			c.holds.Make(0)
			return Refusal{Refused: true, Index: i, RetryAfter: refuseRetry}
		}
	}
	for i := range bchecks {
		ch := &bchecks[i]
		start, end := ch.Unit.Period(t)
		k := Key{Kind: Budget, Unit: uint8(ch.Unit), Rule: ch.Rule, Bucket: ch.Bucket, Period: start.Unix()}
		m := tokens
		if ch.Unit.Cost() {
			m = cost
		}
		j := len(lchecks) + i
		if !l.take(&holds[j], &k, m, ch.Amount, &ch.Limit, ch.Audit, now, reach) {
			l.undo(holds[:j])
			c.holds.Make(0)
			return Refusal{Refused: true, Budget: true, Index: i, Reset: end}
		}
	}
	return Refusal{}
}

// take takes n on key k into h, or reports false.
func (l *Leases) take(h *hold, k *Key, m measure, n int64, limit *int64, audit bool, now int64, reach bool) bool {
	var e *entry
	for {
		e = l.entry(k)
		e.mu.Lock()
		if !e.dead {
			break
		}
		e.mu.Unlock() // dropped by a sync meanwhile
	}
	defer e.mu.Unlock()
	e.limit = *limit
	e.demand += n
	e.largest = max(e.largest, n)
	e.idle = 0
	*h = hold{e: e, n: n, m: m}
	valid := e.valid(now)
	switch {
	case valid && e.avail >= n:
		h.how = leased
		e.avail -= n
		e.held += n
		e.local = false
		if e.avail < e.low {
			l.poke()
		}
		return true
	case !reach:
		if !audit && l.policy != nil && l.policy(k.Kind, k.Rule) == FailClosed {
			return false
		}
		h.how = outside
		e.local = true
		*limit = l.localLimit(*limit)
	case e.local && (audit || l.policy == nil || l.policy(k.Kind, k.Rule) != FailClosed):
		// Back from an outage, the key keeps its local accounting until a lease that covers
		// the request arrives, rather than admitting one request at a time: a fail-open rule
		// never refuses within its local share while the control plane answers again.
		h.how = outside
		*limit = l.localLimit(*limit)
		l.poke()
	case !valid && !e.bridging:
		h.how = bridged
		e.bridging = true
		l.poke()
	case audit:
		h.how = outside
	default:
		l.poke()
		return false
	}
	e.outside += n
	return true
}

// undo gives back what holds took, for a request another check refused.
func (l *Leases) undo(holds []hold) {
	for i := range holds {
		holds[i].release(0, true)
	}
}

// release ends the hold: real is what the request used, counted as pending usage unless the
// hold is undone.
func (h *hold) release(real int64, undo bool) {
	e := h.e
	e.mu.Lock()
	switch h.how {
	case leased:
		e.held -= h.n
		e.avail += h.n - real
		e.pendingLeased += real
	case bridged:
		e.bridging = false
		e.outside -= h.n
	default:
		e.outside -= h.n
	}
	if undo {
		e.demand -= h.n
	}
	e.pending += real
	e.mu.Unlock()
}

// Settle counts the request's real usage in place of what Take took: one request on each
// request-rate key, tokens on each token key, cost (nano-dollars) on each cost budget.
// Negative amounts count as zero. A lease a request overran (real above what it took) goes
// below zero until the next sync.
func (c *Claim) Settle(tokensUsed, costNano int64) {
	if !c.done.CompareAndSwap(false, true) {
		return
	}
	for _, h := range c.holds.All() {
		real := h.n
		switch h.m {
		case tokens:
			real = max(tokensUsed, 0)
		case cost:
			real = max(costNano, 0)
		}
		h.release(real, false)
	}
}

// Cancel gives back everything Take took, for a request that never reached the upstream.
func (c *Claim) Cancel() {
	if !c.done.CompareAndSwap(false, true) {
		return
	}
	for _, h := range c.holds.All() {
		h.release(0, false)
	}
}

// Charge reports usage that was never taken from a lease (a batch's, charged when it ends) on
// the budget checks' keys in the current period, so that the control plane counts it.
func (l *Leases) Charge(bchecks []budget.Check, tokensUsed, costNano int64) {
	t := l.now()
	for i := range bchecks {
		ch := &bchecks[i]
		start, _ := ch.Unit.Period(t)
		k := Key{Kind: Budget, Unit: uint8(ch.Unit), Rule: ch.Rule, Bucket: ch.Bucket, Period: start.Unix()}
		real := max(tokensUsed, 0)
		if ch.Unit.Cost() {
			real = max(costNano, 0)
		}
		for {
			e := l.entry(&k)
			e.mu.Lock()
			if e.dead {
				e.mu.Unlock()
				continue
			}
			e.limit = ch.Limit
			e.pending += real
			e.idle = 0
			e.mu.Unlock()
			break
		}
	}
}
