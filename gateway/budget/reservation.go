package budget

import (
	"sync/atomic"

	"github.com/llmgw/llmgw/gateway/bucket"
)

// hold is what one check reserved: n in period of bucket b.
type hold struct {
	b      *account
	period int64
	n      int64
	cost   bool
}

// Reservation is what an admitted request reserved, to be settled once the real amounts are
// known. The zero Reservation (that of a refused request) holds nothing.
//
// Settle or Cancel it once: after the call, when the stream ends, or when the client goes
// away; later calls are no-ops, also when they race. A Reservation must not be copied (go vet
// says so): a copy would settle a second time.
type Reservation struct {
	done  atomic.Bool
	alert func(Alert)
	holds bucket.Holds[hold]
}

// Settle releases every reserved amount and charges the request's real cost (nano-dollars)
// to each cost budget and its real tokens to each token budget, in the period each was
// reserved in; if the bucket has since moved on by more than one period the charge is dropped.
// Negative amounts count as zero. Crossing an alert threshold calls the Ledger's alert
// function after the bucket is unlocked.
func (r *Reservation) Settle(cost, tokens int64) {
	if !r.done.CompareAndSwap(false, true) {
		return
	}
	for _, h := range r.holds.All() {
		real := tokens
		if h.cost {
			real = cost
		}
		var buf [maxAlerts]int
		var crossed []int
		var a Alert
		b := h.b
		b.Lock()
		if p := b.period(h.period); p != nil {
			p.reserved = max(p.reserved-h.n, 0)
			p.spend += max(real, 0)
			if crossed = b.crossed(p, &buf); len(crossed) > 0 {
				a = Alert{Rule: b.key.Rule, Unit: b.key.Unit, Bucket: b.key.Bucket, Spend: p.spend, Limit: b.limit,
					PeriodStart: b.key.Unit.start(p.id), PeriodEnd: b.key.Unit.start(p.id + 1), Audit: b.audit}
			}
		}
		b.Unlock()
		for _, th := range crossed {
			a.Threshold = th
			r.alert(a)
		}
	}
}

// Cancel releases every reserved amount and charges nothing, for a request that never reached
// the upstream (a later guard refused it).
func (r *Reservation) Cancel() { r.Settle(0, 0) }
