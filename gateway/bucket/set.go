package bucket

// Inline is how many buckets a Set, and how many holds a Holds, keep in place without
// allocating.
const Inline = 8

// Set is the distinct buckets one request touches, kept in lock order: ascending id, a total
// order over a Table's buckets, so that requests locking overlapping sets cannot deadlock.
// The zero Set is empty. A Set belongs to one goroutine; it does not allocate for up to Inline
// distinct buckets.
type Set struct {
	n      int // buckets in inline, when more is nil
	inline [Inline]*Mutex
	more   []*Mutex // all the buckets, once there are more than Inline
}

func (s *Set) list() []*Mutex {
	if s.more != nil {
		return s.more
	}
	return s.inline[:s.n]
}

// Reset empties the set, keeping its room for another try.
func (s *Set) Reset() {
	s.n = 0
	if s.more != nil {
		s.more = s.more[:0]
	}
}

// Add adds the bucket m unless the set holds it already; m must not be locked by the caller.
func (s *Set) Add(m *Mutex) {
	l := s.list()
	for _, o := range l {
		if o == m {
			return
		}
	}
	switch {
	case s.more != nil:
		s.more = append(s.more, m)
		l = s.more
	case s.n == Inline:
		s.more = append(append(make([]*Mutex, 0, 2*Inline), s.inline[:]...), m)
		l = s.more
	default:
		s.n++
		l = s.inline[:s.n]
	}
	j := len(l) - 1
	for ; j > 0 && l[j-1].id > m.id; j-- {
		l[j] = l[j-1]
	}
	l[j] = m
}

// Lock locks every bucket in the set, in lock order. It returns false, with none of them
// locked, when one has been pruned: the caller then looks its keys up again, builds the set
// anew and tries again.
func (s *Set) Lock() bool {
	l := s.list()
	for n, m := range l {
		m.mu.Lock()
		if m.dead {
			unlock(l[:n+1])
			return false
		}
	}
	return true
}

// Unlock unlocks every bucket in the set, after a Lock that returned true.
func (s *Set) Unlock() { unlock(s.list()) }

func unlock(l []*Mutex) {
	for _, m := range l {
		m.mu.Unlock()
	}
}
