package limiter

import (
	"errors"
	"fmt"
	"time"

	"github.com/llmgw/llmgw/gateway/bucket"
)

// MaxChecks is the most checks one Admit takes.
const MaxChecks = 64

// ErrInvalidCheck is returned (wrapped) by Admit for a check it cannot evaluate: an unknown
// unit, a negative amount or limit, or more than MaxChecks checks.
var ErrInvalidCheck = errors.New("invalid rate limit check")

// Check is one rule's limit applied to one request.
type Check struct {
	// Rule is the rule's stable id; counters follow it across config changes.
	Rule string
	// Unit is what is counted and over which window.
	Unit Unit
	// Bucket is the counter within the rule, built by the caller from the rule's applies_per
	// (for example "user:alice|model:acct/m"); empty for a rule with one counter.
	Bucket string
	// Limit is the most the rule admits in any rolling window of the unit's length.
	Limit int64
	// Amount is what this request counts: for a request unit the number of requests (0 means
	// 1), for a token unit the most tokens it may use (prompt estimate plus maximum output).
	Amount int64
	// Audit counts the request but never refuses it; Decision.WouldHaveBlocked reports it.
	Audit bool
}

func (c *Check) amount() int64 {
	if c.Amount == 0 && !c.Unit.Tokens() {
		return 1
	}
	return c.Amount
}

// Quota is the state of the tightest enforced check of one kind (requests or tokens) after an
// admission, for OpenAI's x-ratelimit-limit-*, x-ratelimit-remaining-* and
// x-ratelimit-reset-* headers.
type Quota struct {
	// Covered reports whether an enforced check of this kind covered the request; send the
	// headers only then.
	Covered bool
	// Check is the index in the checks given to Admit of the tightest check: the one with the
	// least remaining, then the lowest limit.
	Check int
	// Limit and Remaining are that check's limit and what is left of it in the current window.
	Limit, Remaining int64
	// Reset is how long until the window is empty again if nothing more is admitted.
	Reset time.Duration
}

// Decision is the outcome of Admit. It holds the request's Reservation, so it must not be
// copied: keep it where the request's state lives and pass a pointer.
type Decision struct {
	// Allowed reports whether every enforced check fits. When it is false nothing was counted.
	Allowed bool
	// Refused is, when Allowed is false, the index in the checks given to Admit of the refusing
	// check that frees last (one whose Amount exceeds its Limit first); -1 when allowed.
	Refused int
	// RetryAfter is how long until every refusing check would fit, if nothing else were
	// admitted meanwhile. It is zero when Exceeds is set.
	RetryAfter time.Duration
	// Exceeds reports that a refusing check's Amount alone is over its Limit: waiting will not
	// help.
	Exceeds bool
	// Requests and Tokens describe the tightest enforced request and token check of an
	// admitted request.
	Requests, Tokens Quota
	// Reservation holds what was counted; settle or cancel it once (see Reservation).
	Reservation Reservation

	wouldBlock uint64
}

// WouldHaveBlocked reports whether the audit-mode check at index i did not fit: an enforced
// rule would have refused the request.
func (d *Decision) WouldHaveBlocked(i int) bool {
	return i >= 0 && i < MaxChecks && d.wouldBlock&(1<<uint(i)) != 0
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, for the Retry-After header.
func (d *Decision) RetryAfterSeconds() int64 {
	return int64((d.RetryAfter + time.Second - 1) / time.Second)
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock sets the clock the limiter reads; the default is time.Now.
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// Limiter holds the rate-limit counters of every (rule, unit, bucket). It is safe for
// concurrent use; each bucket has its own lock, so requests contend only when they count
// against the same bucket.
type Limiter struct {
	now     func() time.Time
	buckets *bucket.Table[Unit, counter, *counter]
}

// New returns an empty Limiter.
func New(opts ...Option) *Limiter {
	l := &Limiter{now: time.Now, buckets: bucket.NewTable(func(c *counter, k bucket.Key[Unit]) {
		c.sub = int64(k.Unit.SubWindow())
	})}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Admit counts one request against every check, or against none, and writes the outcome to d
// (overwriting it: settle a reservation it held before). d.Allowed is set only when every
// enforced check fits, and then each check's amount (audit checks included) is counted in
// d.Reservation. A refused request counts nowhere. The error is non-nil, and nothing is
// counted, only for invalid checks (see ErrInvalidCheck).
//
// Admit does not allocate for up to eight checks on buckets that already exist.
func (l *Limiter) Admit(d *Decision, checks []Check) error {
	*d = Decision{Refused: -1}
	if len(checks) > MaxChecks {
		return fmt.Errorf("%w: %d checks, at most %d", ErrInvalidCheck, len(checks), MaxChecks)
	}
	for i := range checks {
		c := &checks[i]
		if !c.Unit.Valid() || c.Amount < 0 || c.Limit < 0 {
			return fmt.Errorf("%w: rule %q unit %s limit %d amount %d", ErrInvalidCheck, c.Rule, c.Unit, c.Limit, c.Amount)
		}
	}
	r := &d.Reservation
	holds := r.holds.Make(len(checks))
	var locked bucket.Set
	for {
		locked.Reset()
		for i := range checks {
			c := &checks[i]
			holds[i] = hold{b: l.buckets.Get(bucket.Key[Unit]{Rule: c.Rule, Bucket: c.Bucket, Unit: c.Unit}), n: c.amount(), tokens: c.Unit.Tokens()}
			locked.Add(&holds[i].b.Mutex)
		}
		if locked.Lock() {
			break
		}
		// A bucket was pruned between the look-up and the lock: look up again.
	}
	defer locked.Unlock()

	t := l.now().UnixNano()
	var wait int64
	for i := range checks {
		c, h := &checks[i], &holds[i]
		h.idx = h.b.at(t)
		h.b.limit = c.Limit
		need := h.n
		for j := range i { // the same bucket named twice counts twice
			if holds[j].b == h.b {
				need += holds[j].n
			}
		}
		if h.b.sum+need <= c.Limit {
			continue
		}
		if c.Audit {
			d.wouldBlock |= 1 << uint(i)
			continue
		}
		switch {
		case need > c.Limit:
			if !d.Exceeds {
				d.Exceeds, d.Refused, wait = true, i, 0
			}
		case !d.Exceeds:
			if w := h.b.wait(t, h.idx, need, c.Limit); d.Refused < 0 || w > wait {
				d.Refused, wait = i, w
			}
		}
	}
	if d.Refused >= 0 {
		d.RetryAfter = time.Duration(wait)
		r.holds.Make(0) // a refused request holds nothing
		return nil
	}
	d.Allowed = true
	for i := range holds {
		h := &holds[i]
		h.b.add(h.idx, h.n)
	}
	for i := range checks {
		c, h := &checks[i], &holds[i]
		if c.Audit {
			continue
		}
		q := &d.Requests
		if h.tokens {
			q = &d.Tokens
		}
		rem := max(c.Limit-h.b.sum, 0)
		if !q.Covered || rem < q.Remaining || rem == q.Remaining && c.Limit < q.Limit {
			*q = Quota{Covered: true, Check: i, Limit: c.Limit, Remaining: rem}
		}
	}
	d.Requests.setReset(holds, t)
	d.Tokens.setReset(holds, t)
	return nil
}

func (q *Quota) setReset(holds []hold, t int64) {
	if !q.Covered {
		return
	}
	if end := holds[q.Check].b.reset(); end > t {
		q.Reset = time.Duration(end - t)
	}
}
