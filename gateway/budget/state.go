package budget

import (
	"cmp"
	"slices"
	"time"

	"github.com/llmgw/llmgw/gateway/bucket"
)

// Spend is one bucket's spend in one period, as Snapshot returns it and Restore loads it.
type Spend struct {
	Rule   string
	Unit   Unit
	Bucket string
	// PeriodStart is when the period starts.
	PeriodStart time.Time
	// Spend is what was settled in the period; Reserved what is reserved and not yet settled.
	Spend, Reserved int64
	// Alerted is the highest alert threshold, in percent, already emitted in the period.
	Alerted int
}

// Snapshot returns the spend of every bucket's current and previous period that spent,
// reserved or alerted anything, for the caller to store (for example every second and at
// shutdown). Each bucket is read under its lock.
func (l *Ledger) Snapshot() []Spend {
	var out []Spend
	l.buckets.Each(func(k bucket.Key[Unit], b *account) {
		for _, p := range []*period{&b.prev, &b.cur} {
			if b.to == 0 || p.spend == 0 && p.reserved == 0 && p.alerted == 0 {
				continue
			}
			out = append(out, Spend{Rule: k.Rule, Unit: k.Unit, Bucket: k.Bucket, PeriodStart: k.Unit.start(p.id),
				Spend: p.spend, Reserved: p.reserved, Alerted: p.alerted})
		}
	})
	return out
}

// Restore loads spend a Snapshot returned, typically at start before serving: each entry
// replaces the spend and alert state of its bucket's period. Reserved amounts are not loaded:
// they belong to requests of the process that took the snapshot, which will never settle them
// here (a caller that prefers to count them adds Reserved to Spend). Entries with an invalid
// unit are ignored.
func (l *Ledger) Restore(spend []Spend) {
	sorted := slices.Clone(spend)
	slices.SortStableFunc(sorted, func(a, b Spend) int { return a.PeriodStart.Compare(b.PeriodStart) })
	for _, s := range sorted {
		if !s.Unit.Valid() {
			continue
		}
		b := l.buckets.Get(bucket.Key[Unit]{Rule: s.Rule, Bucket: s.Bucket, Unit: s.Unit})
		id := s.Unit.period(s.PeriodStart.UnixNano())
		b.Lock()
		if b.to == 0 || id > b.cur.id {
			b.roll(id)
		}
		if p := b.period(id); p != nil {
			p.spend, p.alerted = max(s.Spend, 0), s.Alerted
		}
		b.Unlock()
	}
}

// Status is one bucket's spend in its current period.
type Status struct {
	Rule   string
	Unit   Unit
	Bucket string
	// Spend is what was settled, Reserved what is reserved and not yet settled, Remaining is
	// Limit - Spend - Reserved, never negative.
	Spend, Reserved, Limit, Remaining int64
	// PeriodStart and PeriodEnd bound the current period; at PeriodEnd spend starts again
	// from zero.
	PeriodStart, PeriodEnd time.Time
}

// Status lists every bucket that spent or reserved something in its current period, sorted
// by rule, unit and bucket. limit returns a rule's current limit; when it is nil or reports
// false, the limit of the bucket's last check is shown.
func (l *Ledger) Status(limit func(rule string, u Unit) (int64, bool)) []Status {
	t := l.now().UnixNano()
	var out []Status
	l.buckets.Each(func(k bucket.Key[Unit], b *account) {
		p := b.at(t)
		if p.spend == 0 && p.reserved == 0 {
			return
		}
		s := Status{Rule: k.Rule, Unit: k.Unit, Bucket: k.Bucket, Spend: p.spend, Reserved: p.reserved, Limit: b.limit,
			PeriodStart: time.Unix(0, b.from).UTC(), PeriodEnd: time.Unix(0, b.to).UTC()}
		if limit != nil {
			if n, ok := limit(s.Rule, s.Unit); ok {
				s.Limit = n
			}
		}
		s.Remaining = max(s.Limit-s.Spend-s.Reserved, 0)
		out = append(out, s)
	})
	slices.SortFunc(out, func(a, b Status) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Unit, b.Unit), cmp.Compare(a.Bucket, b.Bucket))
	})
	return out
}

// Prune drops the buckets of rules that keep rejects (after a config change) and the buckets
// that have nothing spent or reserved in their current period and nothing reserved in the
// previous one, so memory follows the active buckets. keep may be nil to keep every rule. A
// request reserved before the prune settles harmlessly into its dropped bucket. Prune returns
// how many buckets it dropped.
func (l *Ledger) Prune(keep func(rule string, u Unit) bool) int {
	t := l.now().UnixNano()
	return l.buckets.Prune(func(k bucket.Key[Unit], b *account) bool {
		p := b.at(t)
		return p.spend == 0 && p.reserved == 0 && b.prev.reserved == 0 || keep != nil && !keep(k.Rule, k.Unit)
	})
}
