package budget

import (
	"errors"
	"fmt"
	"time"

	"github.com/llmgw/llmgw/gateway/bucket"
)

// MaxChecks is the most checks one Reserve takes.
const MaxChecks = 64

// ErrInvalidCheck is returned (wrapped) by Reserve for a check it cannot evaluate: an unknown
// unit, a negative amount or limit, a threshold that is not positive, or more than MaxChecks
// checks.
var ErrInvalidCheck = errors.New("invalid budget check")

// Check is one budget rule applied to one request.
type Check struct {
	// Rule is the rule's stable id; spend follows it across config changes.
	Rule string
	// Unit is what is counted and over which period.
	Unit Unit
	// Bucket is the counter within the rule, built by the caller from the rule's applies_per
	// (for example "team:ml"); empty for a rule with one counter.
	Bucket string
	// Limit is the most the bucket may spend in one period: nano-dollars or tokens.
	Limit int64
	// Amount is the most this request may spend, reserved until it settles: for a cost unit
	// the prompt estimate at the input price plus the maximum output at the output price, in
	// nano-dollars; for a token unit the prompt estimate plus the maximum output.
	Amount int64
	// Audit reserves and counts but never refuses; Decision.WouldHaveBlocked reports it.
	Audit bool
	// Thresholds are the alert thresholds in percent of Limit; nil means the Ledger's default
	// (75, 90, 100). The Ledger keeps the slice; do not modify it afterwards.
	Thresholds []int
}

// Decision is the outcome of Reserve. It holds the request's Reservation, so it must not be
// copied: keep it where the request's state lives and pass a pointer.
type Decision struct {
	// Allowed reports whether every enforced check fits. When it is false nothing was reserved.
	Allowed bool
	// Refused is, when Allowed is false, the index in the checks given to Reserve of the first
	// check whose Amount alone exceeds its Limit, or else of the first refusing check; -1 when
	// allowed.
	Refused int
	// Exceeds reports that the refusing check's Amount alone is over its Limit.
	Exceeds bool
	// Reset is when the refusing check's period ends and its spend starts again from zero.
	Reset time.Time
	// Reservation holds what was reserved; settle or cancel it once (see Reservation).
	Reservation Reservation

	wouldBlock uint64
}

// WouldHaveBlocked reports whether the audit-mode check at index i did not fit: an enforced
// budget would have refused the request.
func (d *Decision) WouldHaveBlocked(i int) bool {
	return i >= 0 && i < MaxChecks && d.wouldBlock&(1<<uint(i)) != 0
}

// Alert reports that a bucket's spend reached a threshold for the first time in a period.
type Alert struct {
	Rule   string
	Unit   Unit
	Bucket string
	// Threshold is the percent of Limit that Spend reached.
	Threshold int
	// Spend and Limit are the bucket's settled spend after the settle that crossed the
	// threshold, and its limit, in the unit's amounts.
	Spend, Limit int64
	// PeriodStart and PeriodEnd bound the period the spend belongs to.
	PeriodStart, PeriodEnd time.Time
	// Audit reports that the rule is in audit mode.
	Audit bool
}

// Option configures a Ledger.
type Option func(*Ledger)

// WithClock sets the clock the ledger reads; the default is time.Now.
func WithClock(now func() time.Time) Option { return func(l *Ledger) { l.now = now } }

// WithAlerts sets the function that receives alerts. It is called on the goroutine that
// settles, outside every lock, so it must return quickly and never block: hand the alert to a
// queue. The default drops alerts.
func WithAlerts(f func(Alert)) Option { return func(l *Ledger) { l.alert = f } }

// WithDefaultThresholds sets the alert thresholds, in percent, of checks that carry none; the
// default is 75, 90 and 100. The Ledger keeps the slice.
func WithDefaultThresholds(pct []int) Option { return func(l *Ledger) { l.thresholds = pct } }

// Ledger holds the spend of every (rule, unit, bucket). It is safe for concurrent use; each
// bucket has its own lock, so requests contend only when they spend from the same bucket.
type Ledger struct {
	now        func() time.Time
	alert      func(Alert)
	thresholds []int
	buckets    *bucket.Table[Unit, account, *account]
}

// New returns an empty Ledger.
func New(opts ...Option) *Ledger {
	l := &Ledger{now: time.Now, alert: func(Alert) {}, thresholds: []int{75, 90, 100},
		buckets: bucket.NewTable(func(a *account, k bucket.Key[Unit]) { a.key = k })}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Reserve reserves each check's Amount against its bucket's current period, or nothing at
// all, and writes the outcome to d (overwriting it: settle a reservation it held before).
// d.Allowed is set only when, for every enforced check, spend + outstanding reservations +
// Amount stays within Limit; then every check (audit checks included) is reserved in
// d.Reservation, which the caller must settle or cancel. The error is non-nil, and nothing is
// reserved, only for invalid checks (see ErrInvalidCheck).
//
// Reserve does not allocate for up to eight checks on buckets that already exist.
func (l *Ledger) Reserve(d *Decision, checks []Check) error {
	*d = Decision{Refused: -1}
	if len(checks) > MaxChecks {
		return fmt.Errorf("%w: %d checks, at most %d", ErrInvalidCheck, len(checks), MaxChecks)
	}
	for i := range checks {
		c := &checks[i]
		if !c.Unit.Valid() || c.Amount < 0 || c.Limit < 0 {
			return fmt.Errorf("%w: rule %q unit %s limit %d amount %d", ErrInvalidCheck, c.Rule, c.Unit, c.Limit, c.Amount)
		}
		for _, th := range c.Thresholds {
			if th <= 0 {
				return fmt.Errorf("%w: rule %q threshold %d%%", ErrInvalidCheck, c.Rule, th)
			}
		}
	}
	r := &d.Reservation
	r.alert = l.alert
	holds := r.holds.Make(len(checks))
	var locked bucket.Set
	for {
		locked.Reset()
		for i := range checks {
			c := &checks[i]
			holds[i] = hold{b: l.buckets.Get(bucket.Key[Unit]{Rule: c.Rule, Bucket: c.Bucket, Unit: c.Unit}), n: c.Amount, cost: c.Unit.Cost()}
			locked.Add(&holds[i].b.Mutex)
		}
		if locked.Lock() {
			break
		}
		// A bucket was pruned between the look-up and the lock: look up again.
	}
	defer locked.Unlock()

	t := l.now().UnixNano()
	for i := range checks {
		c, h := &checks[i], &holds[i]
		p := h.b.at(t)
		h.period = p.id
		h.b.limit, h.b.audit, h.b.thresholds = c.Limit, c.Audit, c.Thresholds
		if c.Thresholds == nil {
			h.b.thresholds = l.thresholds
		}
		need := h.n
		for j := range i { // the same bucket named twice counts twice
			if holds[j].b == h.b {
				need += holds[j].n
			}
		}
		if p.spend+p.reserved+need <= c.Limit {
			continue
		}
		if c.Audit {
			d.wouldBlock |= 1 << uint(i)
			continue
		}
		if d.Refused < 0 || !d.Exceeds && need > c.Limit {
			d.Refused, d.Exceeds, d.Reset = i, need > c.Limit, time.Unix(0, h.b.to).UTC()
		}
	}
	if d.Refused >= 0 {
		r.holds.Make(0) // a refused request holds nothing
		return nil
	}
	d.Allowed = true
	for i := range holds {
		h := &holds[i]
		h.b.cur.reserved += h.n
	}
	return nil
}
