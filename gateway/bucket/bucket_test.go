package bucket

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type unit uint8

// tally is a bucket that counts the locked updates it received.
type tally struct {
	Mutex
	key Key[unit]
	n   int
}

func newTable() *Table[unit, tally, *tally] {
	return NewTable(func(b *tally, k Key[unit]) { b.key = k })
}

func key(i int) Key[unit] {
	return Key[unit]{Rule: fmt.Sprint("r", i%3), Bucket: fmt.Sprint("b", i), Unit: unit(i % 2)}
}

// ids returns the ids of the set's buckets in lock order.
func ids(s *Set) []uint64 {
	var out []uint64
	for _, m := range s.list() {
		out = append(out, m.id)
	}
	return out
}

func TestGetCreatesOnce(t *testing.T) {
	tb := newTable()
	a, b := tb.Get(key(1)), tb.Get(key(2))
	if a == b || a.id == b.id || a.id == 0 {
		t.Fatalf("two keys share a bucket or an id: %d, %d", a.id, b.id)
	}
	if tb.Get(key(1)) != a {
		t.Fatal("a second Get made a new bucket")
	}
	if a.key != key(1) {
		t.Fatalf("init saw key %+v, want %+v", a.key, key(1))
	}
}

func TestSetOrdersAndDropsDuplicates(t *testing.T) {
	tb := newTable()
	var b []*tally
	for i := range 2 * Inline {
		b = append(b, tb.Get(key(i)))
	}
	for _, tc := range []struct {
		name string
		add  []int // indices into b, in the order added
		want []int // indices into b, in lock order
	}{
		{"empty", nil, nil},
		{"one", []int{3}, []int{3}},
		{"reversed", []int{2, 1, 0}, []int{0, 1, 2}},
		{"duplicates", []int{4, 1, 4, 4, 1, 0}, []int{0, 1, 4}},
		{"inline full", []int{7, 6, 5, 4, 3, 2, 1, 0, 7}, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{"past inline", []int{9, 15, 0, 8, 3, 12, 1, 14, 2, 9, 15, 10}, []int{0, 1, 2, 3, 8, 9, 10, 12, 14, 15}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Set
			s.Add(&b[5].Mutex) // Reset forgets what came before
			s.Reset()
			for _, i := range tc.add {
				s.Add(&b[i].Mutex)
			}
			var want []uint64
			for _, i := range tc.want {
				want = append(want, b[i].id)
			}
			if diff := cmp.Diff(want, ids(&s)); diff != "" {
				t.Fatalf("lock order (-want +got):\n%s", diff)
			}
			if !s.Lock() {
				t.Fatal("Lock failed on live buckets")
			}
			for _, i := range tc.want {
				if b[i].mu.TryLock() {
					t.Fatalf("bucket %d not locked", i)
				}
			}
			s.Unlock()
			for i := range b {
				if !b[i].mu.TryLock() {
					t.Fatalf("bucket %d still locked", i)
				}
				b[i].mu.Unlock()
			}
		})
	}
}

func TestSetInlineDoesNotAllocate(t *testing.T) {
	tb := newTable()
	var b [Inline]*tally
	for i := range b {
		b[i] = tb.Get(key(i))
	}
	allocs := testing.AllocsPerRun(100, func() {
		var s Set
		for i := len(b) - 1; i >= 0; i-- {
			s.Add(&b[i].Mutex)
			s.Add(&b[i].Mutex)
		}
		if !s.Lock() {
			t.Fatal("Lock failed")
		}
		s.Unlock()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations for %d buckets", allocs, Inline)
	}
}

func TestDeadBuckets(t *testing.T) {
	tb := newTable()
	live, doomed := tb.Get(key(1)), tb.Get(key(2))
	doomed.n = 7
	var seen []Key[unit]
	n := tb.Prune(func(k Key[unit], b *tally) bool {
		if b.mu.TryLock() {
			t.Error("drop called on an unlocked bucket")
		}
		seen = append(seen, k)
		return b == doomed
	})
	if n != 1 || len(seen) != 2 {
		t.Fatalf("pruned %d of %d seen, want 1 of 2", n, len(seen))
	}

	var s Set
	s.Add(&doomed.Mutex)
	s.Add(&live.Mutex)
	if s.Lock() {
		t.Fatal("Lock succeeded with a pruned bucket in the set")
	}
	for _, b := range []*tally{live, doomed} {
		if !b.mu.TryLock() {
			t.Fatal("a failed Lock left a bucket locked")
		}
		b.mu.Unlock()
	}

	again := tb.Get(key(2))
	if again == doomed || again.n != 0 || again.id <= live.id {
		t.Fatalf("after the prune Get returned %+v, want a new empty bucket with a new id", again)
	}
	s.Reset()
	s.Add(&again.Mutex)
	s.Add(&live.Mutex)
	if !s.Lock() {
		t.Fatal("Lock failed after looking the key up again")
	}
	s.Unlock()

	var count int
	tb.Each(func(k Key[unit], b *tally) {
		if b.mu.TryLock() {
			t.Error("Each called f on an unlocked bucket")
		}
		if b == doomed {
			t.Error("Each saw a pruned bucket")
		}
		count++
	})
	if count != 2 {
		t.Fatalf("Each saw %d buckets, want 2", count)
	}
}

func TestHolds(t *testing.T) {
	var h Holds[int]
	if len(h.All()) != 0 {
		t.Fatal("zero Holds not empty")
	}
	for _, n := range []int{3, Inline, Inline + 5, 2, 0} {
		got := h.Make(n)
		for i := range got {
			got[i] = i
		}
		if len(got) != n || len(h.All()) != n || n > 0 && &h.All()[0] != &got[0] {
			t.Fatalf("Make(%d) = %d holds, All = %d, want the same %d", n, len(got), len(h.All()), n)
		}
	}
	if a := testing.AllocsPerRun(100, func() { h.Make(Inline) }); a != 0 {
		t.Fatalf("Make(Inline) allocated %v times", a)
	}
}

// TestConcurrentLockAndPrune races requests that lock overlapping sets, named in random order
// and with duplicates, against Prune: nothing deadlocks, and no update reaches a pruned bucket.
func TestConcurrentLockAndPrune(t *testing.T) {
	tb := newTable()
	const workers, rounds, keys = 8, 300, 6
	var pruned sync.Mutex
	lost := 0 // what pruned buckets held when dropped
	stop := make(chan struct{})
	var pruner sync.WaitGroup
	pruner.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				tb.Prune(func(_ Key[unit], b *tally) bool {
					pruned.Lock()
					lost += b.n
					pruned.Unlock()
					return true
				})
			}
		}
	})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var s Set
			var k [4]int
			var b [4]*tally
			for range rounds {
				for i := range k {
					k[i] = rng.IntN(keys)
				}
				for {
					s.Reset()
					for i := range b {
						b[i] = tb.Get(key(k[i]))
						s.Add(&b[i].Mutex)
					}
					if s.Lock() {
						break
					}
				}
				for _, m := range s.list() {
					for _, x := range b {
						if &x.Mutex == m {
							x.n++ // once per distinct bucket
							break
						}
					}
				}
				s.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	pruner.Wait()

	// Live and pruned buckets together must hold one update per distinct key of every round;
	// an update written to a bucket after Prune counted it would be missing. Replay the
	// workers' keys to count the updates made.
	total := lost
	tb.Each(func(_ Key[unit], b *tally) { total += b.n })
	want := 0
	for w := range workers {
		rng := rand.New(rand.NewPCG(uint64(w), 1))
		for range rounds {
			seen := map[int]bool{}
			for range 4 {
				seen[rng.IntN(keys)] = true
			}
			want += len(seen)
		}
	}
	if total != want {
		t.Fatalf("live and pruned buckets hold %d updates, want %d: an update went to a pruned bucket", total, want)
	}
}
