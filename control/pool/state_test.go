package pool

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/lease"
	"github.com/llmgw/llmgw/gateway/limiter"
	"github.com/llmgw/llmgw/store"
)

// memStore is the in-memory Store.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) LoadState(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key], nil
}

func (s *memStore) SaveState(_ context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = append([]byte(nil), data...)
	return nil
}

var (
	_ Store = (*memStore)(nil)
	_ Store = (*store.Store)(nil)
)

// A control plane restarted from its Store keeps the counts, the leases and the sequences it
// applied: a request it applied just before the restart, whose answer was lost, is
// acknowledged after it without being counted again. Run against every Store.
func TestRestartFromStore(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) Store{
		"memory": func(*testing.T) Store { return &memStore{} },
		"sqlite": func(t *testing.T) Store {
			st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "llmgw.db"), store.Options{DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			return st
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			st := open(t)
			p1 := New(WithClock(clk.Now), WithStore(st))
			if err := p1.Load(ctx); err != nil {
				t.Fatal(err)
			}
			r := newReplicas(t, p1, clk, 1)[0]
			rk := lease.Key{Kind: lease.RateLimit, Unit: uint8(limiter.RequestsPerMinute), Rule: "rpm"}
			bk := lease.Key{Kind: lease.Budget, Unit: uint8(budget.CostPerMonth), Rule: "usd"}
			start, _ := budget.CostPerMonth.Period(clk.Now())
			bk.Period = start.Unix()
			var requests, spent int64
			admit := func(n int) {
				for range n {
					lc := []limiter.Check{{Rule: "rpm", Unit: limiter.RequestsPerMinute, Limit: 1000, Amount: 1}}
					bc := []budget.Check{{Rule: "usd", Unit: budget.CostPerMonth, Limit: 100 * budget.NanoPerUSD, Amount: budget.NanoPerUSD}}
					if q := r.admit(lc, bc); q != nil {
						q.settle(10, budget.NanoPerUSD/2)
						requests++
						spent += budget.NanoPerUSD / 2
					}
				}
			}
			admit(1)
			if err := r.leases.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			admit(20)
			r.link.drop.Store(true) // applied and saved; the answer is lost
			if err := r.leases.Sync(ctx); err == nil {
				t.Fatal("a lost answer reported success")
			}

			p2 := New(WithClock(clk.Now), WithStore(st)) // the restarted control plane
			if err := p2.Load(ctx); err != nil {
				t.Fatal(err)
			}
			r.link.p = p2
			if err := r.leases.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if c := count(t, p2, rk); c.Used != requests {
				t.Errorf("after the restart the window counts %d requests, the replica admitted %d", c.Used, requests)
			}
			c := count(t, p2, bk)
			if c.Used != spent {
				t.Errorf("after the restart the period counts %d spent, the replica settled %d", c.Used, spent)
			}
			s, _ := status(r, bk)
			if got := s.Remaining + s.Held + s.Pending; got != c.Leases[r.id] || got == 0 {
				t.Errorf("the replica holds %d, the restarted pool leases it %d", got, c.Leases[r.id])
			}
		})
	}
}
