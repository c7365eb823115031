package pool

import "github.com/llmgw/llmgw/gateway/limiter"

// ringSize is the number of sub-window slots a window keeps (at least span, a power of two).
const ringSize = 64

// span is the number of sub-windows that overlap a rolling window.
const span = limiter.SubWindows + 1

type slot struct {
	Idx int64 `json:"i"` // sub-window index: Unix nanoseconds / sub-window length
	N   int64 `json:"n"`
}

// window counts a rate limit's reported usage per sub-window, as the limiter counts its
// admissions: the sum covers the current sub-window and the SubWindows before it.
type window struct {
	sub  int64 // sub-window length, nanoseconds
	head int64
	sum  int64
	ring [ringSize]slot
}

// at moves the window to t (Unix nanoseconds) and returns the current sub-window.
func (w *window) at(t int64) int64 {
	k := t / w.sub
	if k <= w.head {
		return w.head
	}
	if k-span >= w.head {
		w.sum = 0
	} else {
		for i := w.head - limiter.SubWindows; i <= k-span; i++ {
			if s := &w.ring[i&(ringSize-1)]; s.Idx == i {
				w.sum -= s.N
			}
		}
	}
	w.head = k
	return k
}

// add counts n at t.
func (w *window) add(t, n int64) {
	k := w.at(t)
	s := &w.ring[k&(ringSize-1)]
	if s.Idx != k {
		*s = slot{Idx: k}
	}
	s.N += n
	w.sum += n
}

// used returns the window's sum at t.
func (w *window) used(t int64) int64 {
	w.at(t)
	return w.sum
}

// slots returns the non-zero sub-windows in the window, for saving.
func (w *window) slots() []slot {
	var out []slot
	for i := w.head - limiter.SubWindows; i <= w.head; i++ {
		if s := w.ring[i&(ringSize-1)]; s.Idx == i && s.N > 0 {
			out = append(out, s)
		}
	}
	return out
}

// load replaces the window with saved slots.
func (w *window) load(slots []slot) {
	for _, s := range slots {
		w.head = max(w.head, s.Idx)
	}
	w.sum = 0
	for _, s := range slots {
		if s.Idx >= w.head-limiter.SubWindows && s.N > 0 {
			w.ring[s.Idx&(ringSize-1)] = s
			w.sum += s.N
		}
	}
}
