package budget

import (
	"math/bits"

	"github.com/llmgw/llmgw/gateway/bucket"
)

// period is one bucket's spend in one period.
type period struct {
	id       int64
	spend    int64 // settled
	reserved int64 // reserved and not yet settled
	alerted  int   // the highest threshold alerted in this period, in percent
}

// account is the spend of one (rule, unit, bucket key) in its current and previous period: a
// bucket of the Ledger's table. The previous period takes the settles of reservations made
// before the period changed. Its fields are guarded by its Mutex, except key.
type account struct {
	bucket.Mutex
	key  bucket.Key[Unit] // never changes
	from int64            // current period's bounds, Unix nanoseconds: [from, to)
	to   int64
	cur  period
	prev period
	// From the last check, for alerts and Status.
	limit      int64
	thresholds []int
	audit      bool
}

// at moves the bucket to the period holding t (Unix nanoseconds) and returns it. A clock that
// steps back stays in the current period.
func (b *account) at(t int64) *period {
	if t >= b.from && t < b.to {
		return &b.cur
	}
	id := b.key.Unit.period(t)
	if b.to != 0 && id <= b.cur.id {
		return &b.cur
	}
	b.roll(id)
	return &b.cur
}

func (b *account) roll(id int64) {
	b.prev, b.cur = b.cur, period{id: id}
	b.from, b.to = b.key.Unit.start(id).UnixNano(), b.key.Unit.start(id+1).UnixNano()
}

// period returns the bucket's record of period id, or nil when it no longer has it.
func (b *account) period(id int64) *period {
	switch {
	case b.to == 0:
		return nil
	case id == b.cur.id:
		return &b.cur
	case id == b.prev.id && b.prev != (period{}):
		return &b.prev
	}
	return nil
}

// maxAlerts is how many thresholds one settle reports without allocating.
const maxAlerts = 4

// crossed returns the thresholds p's spend has reached since the last alert, in ascending
// order, and marks them alerted.
func (b *account) crossed(p *period, buf *[maxAlerts]int) []int {
	out := buf[:0]
	for _, th := range b.thresholds {
		if th <= p.alerted || !reached(p.spend, b.limit, th) {
			continue
		}
		out = append(out, th)
		for j := len(out) - 1; j > 0 && out[j-1] > th; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if len(out) > 0 {
		p.alerted = out[len(out)-1]
	}
	return out
}

// reached reports whether spend is at least pct percent of limit, exactly (in 128 bits).
func reached(spend, limit int64, pct int) bool {
	if spend <= 0 || limit < 0 || pct <= 0 {
		return false
	}
	h1, l1 := bits.Mul64(uint64(spend), 100)
	h2, l2 := bits.Mul64(uint64(limit), uint64(pct))
	return h1 > h2 || h1 == h2 && l1 >= l2
}
