package governance

import (
	"hash/maphash"
	"sync"
)

const (
	internShards = 16
	// internMax is the most bucket keys a snapshot's Rules keep; past it, new keys are
	// allocated per request instead of cached.
	internMax = 1 << 16
)

// interner caches bucket keys, so that a key seen before costs no allocation. It is sharded to
// keep concurrent requests off one lock.
type interner struct {
	seed   maphash.Seed
	shards [internShards]internShard
}

type internShard struct {
	mu sync.RWMutex
	m  map[string]string
	_  [40]byte // keep shards on separate cache lines
}

func (in *interner) init() {
	in.seed = maphash.MakeSeed()
	for i := range in.shards {
		in.shards[i].m = make(map[string]string)
	}
}

// get returns b as a string, the cached one when there is one.
func (in *interner) get(b []byte) string {
	s := &in.shards[maphash.Bytes(in.seed, b)%internShards]
	s.mu.RLock()
	v, ok := s.m[string(b)]
	s.mu.RUnlock()
	if ok {
		return v
	}
	v = string(b)
	s.mu.Lock()
	if len(s.m) < internMax/internShards {
		s.m[v] = v
	}
	s.mu.Unlock()
	return v
}
