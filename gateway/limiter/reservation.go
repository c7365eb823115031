package limiter

import (
	"sync/atomic"

	"github.com/llmgw/llmgw/gateway/bucket"
)

// hold is what one check counted: n in sub-window idx of bucket b.
type hold struct {
	b      *counter
	idx, n int64
	tokens bool
}

// Reservation is what an admitted request counted, to be settled once the real token count is
// known. The zero Reservation (that of a refused request) holds nothing.
//
// Settle or Cancel it once; later calls are no-ops, also when they race. A Reservation must
// not be copied (go vet says so): a copy would settle a second time.
type Reservation struct {
	done  atomic.Bool
	holds bucket.Holds[hold]
}

// Settle replaces the tokens each token check reserved with tokens, the request's real count,
// in the sub-window where they were reserved; a count never goes below zero. Request checks
// keep their count. Use it also when the call failed, with the tokens the request should count
// (for example the prompt's, or zero).
func (r *Reservation) Settle(tokens int64) {
	if !r.done.CompareAndSwap(false, true) {
		return
	}
	tokens = max(tokens, 0)
	for _, h := range r.holds.All() {
		if h.tokens && h.n != tokens {
			h.b.Lock()
			h.b.adjust(h.idx, tokens-h.n)
			h.b.Unlock()
		}
	}
}

// Cancel takes back everything the reservation counted, requests included, for a request that
// a later guard refused before any upstream call.
func (r *Reservation) Cancel() {
	if !r.done.CompareAndSwap(false, true) {
		return
	}
	for _, h := range r.holds.All() {
		if h.n != 0 {
			h.b.Lock()
			h.b.adjust(h.idx, -h.n)
			h.b.Unlock()
		}
	}
}
