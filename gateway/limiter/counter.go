package limiter

import "github.com/llmgw/llmgw/gateway/bucket"

// ringSize is the number of sub-window slots a bucket keeps: at least the SubWindows+1 that
// overlap a rolling window, rounded up to a power of two so an index maps to a slot with a
// mask. The three extra slots keep a just-expired sub-window addressable by a late settle.
const ringSize = 64

// span is the number of sub-windows counted at admission: the current one and the SubWindows
// before it.
const span = SubWindows + 1

type slot struct {
	idx int64 // sub-window index: Unix nanoseconds / sub-window length
	n   int64
}

// counter is the count of one (rule, unit, bucket key): a bucket of the Limiter's table. Its
// fields are guarded by its Mutex, except sub.
type counter struct {
	bucket.Mutex
	sub int64 // sub-window length in nanoseconds; never changes

	head  int64 // newest sub-window seen
	sum   int64 // total of the slots in [head-SubWindows, head]
	limit int64 // the limit of the last check, for Status
	ring  [ringSize]slot
}

// at returns the sub-window index for t (Unix nanoseconds), never older than head, and moves
// head forward to it, dropping what leaves the window from sum.
func (b *counter) at(t int64) int64 {
	k := t / b.sub
	if k <= b.head {
		return b.head
	}
	if k-span >= b.head {
		b.sum = 0
	} else {
		for i := b.head - SubWindows; i <= k-span; i++ {
			if s := &b.ring[i&(ringSize-1)]; s.idx == i {
				b.sum -= s.n
			}
		}
	}
	b.head = k
	return k
}

// add adds n to sub-window k, which must be head.
func (b *counter) add(k, n int64) {
	s := &b.ring[k&(ringSize-1)]
	if s.idx != k {
		*s = slot{idx: k}
	}
	s.n += n
	b.sum += n
}

// adjust adds d to sub-window k if it is still in the ring, never taking it below zero.
func (b *counter) adjust(k, d int64) {
	s := &b.ring[k&(ringSize-1)]
	if s.idx != k {
		return
	}
	n := max(s.n+d, 0)
	if k >= b.head-SubWindows {
		b.sum += n - s.n
	}
	s.n = n
}

// set replaces the count of sub-window k, for Restore.
func (b *counter) set(k, n int64) {
	s := &b.ring[k&(ringSize-1)]
	if s.idx > k {
		return // the slot holds newer data
	}
	*s = slot{idx: k, n: n}
	b.head = max(b.head, k)
	b.sum = 0
	for i := b.head - SubWindows; i <= b.head; i++ {
		if s := &b.ring[i&(ringSize-1)]; s.idx == i {
			b.sum += s.n
		}
	}
}

// wait returns how long after t (Unix nanoseconds, in sub-window k == head) enough leaves the
// window for need more to fit under limit, assuming nothing else is admitted meanwhile.
// need must not exceed limit.
func (b *counter) wait(t, k, need, limit int64) int64 {
	over := b.sum + need - limit
	for j := int64(1); j <= span; j++ {
		i := k + j - span // leaves the window when sub-window k+j starts
		if s := &b.ring[i&(ringSize-1)]; s.idx == i {
			over -= s.n
		}
		if over <= 0 {
			return (k+j)*b.sub - max(t, k*b.sub)
		}
	}
	return span*b.sub - (t - k*b.sub) // unreachable when need <= limit
}

// reset returns the Unix nanoseconds at which everything now in the window has left it, or 0
// when the window is empty.
func (b *counter) reset() int64 {
	for i := b.head; i >= b.head-SubWindows; i-- {
		if s := &b.ring[i&(ringSize-1)]; s.idx == i && s.n > 0 {
			return (i + span) * b.sub
		}
	}
	return 0
}
