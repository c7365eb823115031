// Package sticky remembers, per gateway process, which target each routing session is pinned
// to: the sessions of a weighted virtual model with sticky_routing (TrueFoundry's
// session_identifiers), so that the requests of one session keep going to one target.
//
// It is not a routing strategy (the snapshot's plans and the pipeline decide where a request
// goes) and keeps no state across processes. Its state lives outside the configuration
// snapshot, keyed by the session, so a configuration change does not reset it.
package sticky

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"time"
)

// DefaultMax is how many sessions a Sessions made with max 0 remembers at most: about 120
// bytes each (measured), some 12 MB in all.
const DefaultMax = 100_000

// Session identifies one routing session: a hash of the routing it belongs to and the values
// of its session identifiers (see Sessions.Session). Two sessions share one only by a
// collision of 128-bit hashes with a per-process random seed.
type Session struct{ a, b uint64 }

// Sessions remembers the target each session is pinned to, until its TTL passes after its
// last Pin, for at most max sessions: a Pin beyond them evicts the least recently used one
// (expired sessions go first when they are the least recently used, as they are unless a
// shorter TTL let one lapse sooner). It is safe for concurrent use.
type Sessions struct {
	now        func() time.Time
	max        int
	seedA      maphash.Seed
	seedB      maphash.Seed
	mu         sync.Mutex
	m          map[Session]*entry
	head, tail *entry // most and least recently used
}

type entry struct {
	s          Session
	target     string
	expires    time.Time
	prev, next *entry // towards head, towards tail
}

// New returns Sessions reading now (time.Now when nil) that remember at most max sessions
// (DefaultMax when max is not positive).
func New(now func() time.Time, max int) *Sessions {
	if now == nil {
		now = time.Now
	}
	if max <= 0 {
		max = DefaultMax
	}
	return &Sessions{now: now, max: max, seedA: maphash.MakeSeed(), seedB: maphash.MakeSeed(), m: map[Session]*entry{}}
}

// Session returns the session of values (the session identifiers' values, in configuration
// order) in the routing named scope: each string is hashed on its own, twice (two seeds), and
// the hashes are chained in order, so that values split differently are other sessions. It
// allocates nothing.
func (s *Sessions) Session(scope string, values []string) Session {
	a, b := maphash.String(s.seedA, scope), maphash.String(s.seedB, scope)
	for _, v := range values {
		a = chain(a, maphash.String(s.seedA, v))
		b = chain(b, maphash.String(s.seedB, v))
	}
	return Session{a: a, b: b}
}

// chain folds the hash x into h; each step is invertible in h, so two sequences of hashes
// chain to one value only by chance.
func chain(h, x uint64) uint64 { return (bits.RotateLeft64(h, 31) ^ x) * 0x9e3779b97f4a7c15 }

// Target returns the target session k is pinned to, if it is and its TTL has not passed; an
// expired session is forgotten.
func (s *Sessions) Target(k Session) (string, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok {
		return "", false
	}
	if !now.Before(e.expires) {
		s.remove(e)
		return "", false
	}
	s.front(e)
	return e.target, true
}

// Pin pins session k to target for ttl from now, replacing any pin it had.
func (s *Sessions) Pin(k Session, target string, ttl time.Duration) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[k]; ok {
		e.target, e.expires = target, now.Add(ttl)
		s.front(e)
		return
	}
	for s.tail != nil && (len(s.m) >= s.max || !now.Before(s.tail.expires)) {
		s.remove(s.tail)
	}
	e := &entry{s: k, target: target, expires: now.Add(ttl)}
	s.m[k] = e
	s.front(e)
}

// Len is how many sessions are remembered, expired ones not yet forgotten included.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// front makes e the most recently used entry, adding it to the list when it is not in it.
func (s *Sessions) front(e *entry) {
	if s.head == e {
		return
	}
	s.unlink(e)
	e.next = s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *Sessions) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	}
	if s.head == e {
		s.head = e.next
	}
	if s.tail == e {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *Sessions) remove(e *entry) {
	s.unlink(e)
	delete(s.m, e.s)
}
