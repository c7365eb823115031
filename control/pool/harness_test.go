package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/lease"
	"github.com/llmgw/llmgw/gateway/limiter"
)

// clock is a test clock that only moves when told.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

var errDown = errors.New("control plane down")

// link is the in-memory Exchanger between one replica and the pool, with faults: down
// refuses every exchange before it reaches the pool; drop lets the next exchange reach the
// pool and loses its answer.
type link struct {
	p    *Pool
	down atomic.Bool
	drop atomic.Bool

	mu   sync.Mutex
	sent []uint64 // the Seq of every request that reached the pool
}

func (l *link) Exchange(ctx context.Context, req *lease.Request) (*lease.Response, error) {
	if l.down.Load() {
		return nil, errDown
	}
	l.mu.Lock()
	l.sent = append(l.sent, req.Seq)
	l.mu.Unlock()
	resp, err := l.p.Exchange(ctx, req)
	if err == nil && l.drop.CompareAndSwap(true, false) {
		return nil, errors.New("answer lost")
	}
	return resp, err
}

// replica is one simulated gateway: its leases, its local limiter and ledger, and what it
// admitted.
type replica struct {
	id     string
	link   *link
	leases *lease.Leases
	lim    *limiter.Limiter
	ledger *budget.Ledger

	admitted atomic.Int64 // requests or settled amounts, as the test counts
}

func newReplicas(t *testing.T, p *Pool, clk *clock, n int, opts ...lease.Option) []*replica {
	t.Helper()
	var out []*replica
	for i := range n {
		r := &replica{id: fmt.Sprintf("gw%d", i), link: &link{p: p}}
		r.leases = lease.New(r.id, r.link, append([]lease.Option{lease.WithClock(clk.Now)}, opts...)...)
		r.lim = limiter.New(limiter.WithClock(clk.Now))
		r.ledger = budget.New(budget.WithClock(clk.Now))
		out = append(out, r)
	}
	return out
}

// syncAll syncs every replica concurrently and returns the errors.
func syncAll(rs []*replica) []error {
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() { errs[i] = r.leases.Sync(context.Background()) })
	}
	wg.Wait()
	return errs
}

// request is one admitted request's reservations, as quota.Guard holds them.
type request struct {
	claim lease.Claim
	ld    limiter.Decision
	bd    budget.Decision
	max   int64
}

// admit admits one request the way quota.Guard does: the leases first, then the local
// limiter and ledger, with every check's amount set. It returns nil when refused.
func (r *replica) admit(lc []limiter.Check, bc []budget.Check) *request {
	q := &request{}
	if ref := r.leases.Take(&q.claim, lc, bc); ref.Refused {
		return nil
	}
	if len(lc) > 0 {
		if err := r.lim.Admit(&q.ld, lc); err != nil || !q.ld.Allowed {
			q.claim.Cancel()
			return nil
		}
	}
	if len(bc) > 0 {
		if err := r.ledger.Reserve(&q.bd, bc); err != nil || !q.bd.Allowed {
			q.ld.Reservation.Cancel()
			q.claim.Cancel()
			return nil
		}
		q.max = bc[0].Amount
	}
	return q
}

// settle settles q with its real usage.
func (q *request) settle(tokens, cost int64) {
	q.ld.Reservation.Settle(tokens)
	q.bd.Reservation.Settle(cost, tokens)
	q.claim.Settle(tokens, cost)
}

// count returns the pool's Count of k.
func count(t *testing.T, p *Pool, k lease.Key) Count {
	t.Helper()
	for _, c := range p.Counts() {
		if c.Key == k {
			return c
		}
	}
	return Count{Key: k}
}

// status returns a replica's Status of k.
func status(r *replica, k lease.Key) (lease.Status, bool) {
	for _, s := range r.leases.Status() {
		if s.Key == k {
			return s, true
		}
	}
	return lease.Status{}, false
}
