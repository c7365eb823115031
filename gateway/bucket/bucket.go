package bucket

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Key names a bucket: the rule's stable id, what the rule counts, and the bucket within the
// rule (an opaque string the caller builds; empty for a rule with one bucket).
type Key[U ~uint8] struct {
	Rule   string
	Bucket string
	Unit   U
}

// Mutex is the part of a bucket that the Table and a Set use: the lock that guards the
// bucket's own fields, the bucket's place in the lock order, and whether Prune removed it.
// Embed it in the bucket type; Lock and Unlock then lock the bucket.
type Mutex struct {
	mu   sync.Mutex
	id   uint64 // lock order among a table's buckets; set once, before the bucket is shared
	dead bool   // guarded by mu: removed by Prune; look the key up again
}

// Lock locks the bucket.
func (m *Mutex) Lock() { m.mu.Lock() }

// Unlock unlocks the bucket.
func (m *Mutex) Unlock() { m.mu.Unlock() }

func (m *Mutex) mutex() *Mutex { return m }

// shardCount is how many independently locked maps a Table spreads its buckets over.
const shardCount = 32

type shard[U ~uint8, P any] struct {
	mu sync.RWMutex
	m  map[Key[U]]P
	_  [40]byte // keep neighbouring shards' locks off one cache line
}

// Table holds the buckets of type B, keyed by Key[U]; P is *B, and B embeds Mutex. It is safe
// for concurrent use: look-ups of existing buckets share a shard's read lock, and each bucket
// has its own Mutex.
type Table[U ~uint8, B any, P interface {
	*B
	mutex() *Mutex
}] struct {
	seed   maphash.Seed
	init   func(P, Key[U])
	nextID atomic.Uint64
	shards [shardCount]shard[U, P]
}

// NewTable returns an empty Table. init, which may be nil, is called on each new bucket before
// any other goroutine can see it, to set the fields that never change (for example what the
// key implies).
func NewTable[U ~uint8, B any, P interface {
	*B
	mutex() *Mutex
}](init func(P, Key[U])) *Table[U, B, P] {
	t := &Table[U, B, P]{seed: maphash.MakeSeed(), init: init}
	for i := range t.shards {
		t.shards[i].m = make(map[Key[U]]P)
	}
	return t
}

func (t *Table[U, B, P]) shard(k *Key[U]) *shard[U, P] {
	h := maphash.String(t.seed, k.Rule)*31 ^ maphash.String(t.seed, k.Bucket) ^ uint64(k.Unit)
	return &t.shards[h%shardCount]
}

// Get returns the bucket of k, creating it if there is none. The bucket is not locked, and it
// may be pruned at any time: lock it through a Set, which reports that, or accept that what
// is written to a pruned bucket is lost.
func (t *Table[U, B, P]) Get(k Key[U]) P {
	s := t.shard(&k)
	s.mu.RLock()
	b := s.m[k]
	s.mu.RUnlock()
	if b != nil {
		return b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b = s.m[k]; b == nil {
		b = P(new(B))
		b.mutex().id = t.nextID.Add(1)
		if t.init != nil {
			t.init(b, k)
		}
		s.m[k] = b
	}
	return b
}

// Each calls f for every bucket, with that bucket locked, in no particular order. f must not
// call the Table or lock another bucket. Buckets added or pruned meanwhile may or may not be
// seen.
func (t *Table[U, B, P]) Each(f func(Key[U], P)) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for k, b := range s.m {
			m := b.mutex()
			m.mu.Lock()
			f(k, b)
			m.mu.Unlock()
		}
		s.mu.RUnlock()
	}
}

// Prune removes every bucket for which drop, called with the bucket locked, returns true, and
// marks it dead so that a Set holding it refuses to lock it; it returns how many it removed.
// drop must not call the Table or lock another bucket. A later Get of a removed key creates a
// new, empty bucket.
func (t *Table[U, B, P]) Prune(drop func(Key[U], P) bool) int {
	dropped := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, b := range s.m {
			m := b.mutex()
			m.mu.Lock()
			if drop(k, b) {
				m.dead = true
				delete(s.m, k)
				dropped++
			}
			m.mu.Unlock()
		}
		s.mu.Unlock()
	}
	return dropped
}
