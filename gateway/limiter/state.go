package limiter

import (
	"cmp"
	"slices"
	"time"

	"github.com/llmgw/llmgw/gateway/bucket"
)

// Count is the count of one sub-window of one bucket, as Snapshot returns it and Restore
// loads it.
type Count struct {
	Rule   string
	Unit   Unit
	Bucket string
	// Start is when the sub-window starts; it lasts Unit.SubWindow().
	Start time.Time
	// N is what the sub-window counted, outstanding token reservations at their reserved amount.
	N int64
}

// Snapshot returns every non-zero sub-window that still counts toward a window, for the
// caller to store (for example every second and at shutdown). Each bucket is read under its
// lock; the snapshot as a whole is not one instant, which Restore does not need.
func (l *Limiter) Snapshot() []Count {
	t := l.now().UnixNano()
	var out []Count
	l.buckets.Each(func(k bucket.Key[Unit], b *counter) {
		b.at(t)
		for i := b.head - SubWindows; i <= b.head; i++ {
			if s := b.ring[i&(ringSize-1)]; s.idx == i && s.n > 0 {
				out = append(out, Count{Rule: k.Rule, Unit: k.Unit, Bucket: k.Bucket, Start: time.Unix(0, i*b.sub).UTC(), N: s.n})
			}
		}
	})
	return out
}

// Restore loads counts a Snapshot returned, typically at start before serving: each replaces
// the count of its sub-window unless that slot already holds a newer sub-window. Counts with
// an invalid unit are ignored; counts already out of their window do no harm.
func (l *Limiter) Restore(counts []Count) {
	for _, c := range counts {
		if !c.Unit.Valid() || c.N < 0 {
			continue
		}
		b := l.buckets.Get(bucket.Key[Unit]{Rule: c.Rule, Bucket: c.Bucket, Unit: c.Unit})
		b.Lock()
		b.set(c.Start.UnixNano()/b.sub, c.N)
		b.Unlock()
	}
}

// Status is the state of one bucket's current window.
type Status struct {
	Rule   string
	Unit   Unit
	Bucket string
	// Used is what the window counts now; Remaining is Limit minus Used, never negative.
	Used, Limit, Remaining int64
	// Reset is when the window is empty again if nothing more is admitted.
	Reset time.Time
}

// Status lists every bucket whose current window counts something, sorted by rule, unit and
// bucket. limit returns a rule's current limit; when it is nil or reports false, the limit of
// the bucket's last check is shown.
func (l *Limiter) Status(limit func(rule string, u Unit) (int64, bool)) []Status {
	t := l.now().UnixNano()
	var out []Status
	l.buckets.Each(func(k bucket.Key[Unit], b *counter) {
		b.at(t)
		if b.sum <= 0 {
			return
		}
		s := Status{Rule: k.Rule, Unit: k.Unit, Bucket: k.Bucket, Used: b.sum, Limit: b.limit, Reset: time.Unix(0, b.reset()).UTC()}
		if limit != nil {
			if n, ok := limit(k.Rule, k.Unit); ok {
				s.Limit = n
			}
		}
		s.Remaining = max(s.Limit-s.Used, 0)
		out = append(out, s)
	})
	slices.SortFunc(out, func(a, b Status) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Unit, b.Unit), cmp.Compare(a.Bucket, b.Bucket))
	})
	return out
}

// Prune drops the buckets of rules that keep rejects (after a config change) and the buckets
// whose window is empty, so memory follows the active buckets. keep may be nil to keep every
// rule. A request admitted before the prune settles harmlessly into its dropped bucket. Prune
// returns how many buckets it dropped.
func (l *Limiter) Prune(keep func(rule string, u Unit) bool) int {
	t := l.now().UnixNano()
	return l.buckets.Prune(func(k bucket.Key[Unit], b *counter) bool {
		b.at(t)
		return b.sum <= 0 || keep != nil && !keep(k.Rule, k.Unit)
	})
}
