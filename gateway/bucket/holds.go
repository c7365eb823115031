package bucket

// Holds is a request's per-check state H (typically a bucket and what the check counted in
// it), stored in place for up to Inline checks so that a request on that many does not
// allocate. The zero Holds is empty.
type Holds[H any] struct {
	n      int
	inline [Inline]H
	more   []H
}

// Make returns room for n holds, in place when n is at most Inline, and makes it what All
// returns. The holds are not cleared: set each. Make(0) empties Holds.
func (h *Holds[H]) Make(n int) []H {
	h.n = n
	if n <= Inline {
		return h.inline[:n]
	}
	h.more = make([]H, n)
	return h.more
}

// All returns the holds the last Make returned room for.
func (h *Holds[H]) All() []H {
	if h.n <= Inline {
		return h.inline[:h.n]
	}
	return h.more
}
