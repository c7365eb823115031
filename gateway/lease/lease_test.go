package lease

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/limiter"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// fixed is a control plane that tops every key it is asked for up to the amount in lease and
// records requests; when down it fails.
type fixed struct {
	mu    sync.Mutex
	lease int64
	free  int64 // Grant.Free: 0, the default, is a contended key
	out   map[Key]int64
	down  bool
	reqs  []Request
}

func (f *fixed) Exchange(_ context.Context, req *Request) (*Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("down")
	}
	f.reqs = append(f.reqs, *req)
	resp := &Response{Seq: req.Seq, TTL: time.Second, Gateways: 2}
	if f.out == nil {
		f.out = map[Key]int64{}
	}
	for _, it := range req.Items {
		n := max(f.out[it.Key]-it.Used-it.Released, 0)
		if it.Want > 0 {
			n = f.lease // topped up
		}
		f.out[it.Key] = n
		resp.Grants = append(resp.Grants, Grant{Key: it.Key, Lease: n, Free: f.free})
	}
	return resp, nil
}

func (f *fixed) last() Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1]
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func rpm(limit int64) []limiter.Check {
	return []limiter.Check{{Rule: "r", Unit: limiter.RequestsPerMinute, Limit: limit, Amount: 1}}
}

var rpmKey = Key{Kind: RateLimit, Unit: uint8(limiter.RequestsPerMinute), Rule: "r"}

func take(l *Leases, checks []limiter.Check) (*Claim, bool) {
	c := &Claim{}
	return c, !l.Take(c, checks, nil).Refused
}

// Before its first lease a key admits one request at a time and wakes the sync loop.
func TestBridgeOneAtATime(t *testing.T) {
	clk := &clock{t0}
	f := &fixed{lease: 5}
	l := New("gw", f, WithClock(clk.now))
	c1, ok := take(l, rpm(100))
	if !ok {
		t.Fatal("the first request of a new key was refused")
	}
	if _, ok := take(l, rpm(100)); ok {
		t.Fatal("a second request was admitted before any lease")
	}
	select {
	case <-l.Wake():
	default:
		t.Fatal("a key without a lease did not wake the sync loop")
	}
	if s := l.Status()[0]; s.Mode != Waiting {
		t.Errorf("mode %v, want waiting", s.Mode)
	}
	c1.Settle(0, 0)
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.last().Items[0].Used; got != 1 {
		t.Errorf("the bridge request reported %d used, want 1", got)
	}
	// The bridged request's usage was acknowledged: all of the lease of 5 is available.
	n := 0
	for range 10 {
		if _, ok := take(l, rpm(100)); ok {
			n++
		}
	}
	if n != 5 {
		t.Errorf("admitted %d on a lease of 5", n)
	}
	if s := l.Status()[0]; s.Mode != Leased || s.Held != 5 || s.Remaining != 0 {
		t.Errorf("status %+v, want leased, 5 held, none left", s)
	}
}

// A lease expires at send time + TTL: after it, a reachable replica is back to one request at
// a time; an unreachable one follows the policy.
func TestExpiryAndPolicies(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t0}
	f := &fixed{lease: 1000}
	policy := func(_ Kind, rule string) Policy {
		if rule == "closed" {
			return FailClosed
		}
		return FailOpen
	}
	l := New("gw", f, WithClock(clk.now), WithReplicas(4), WithPolicy(policy))
	closedChecks := func() []limiter.Check {
		return []limiter.Check{{Rule: "closed", Unit: limiter.RequestsPerMinute, Limit: 100, Amount: 1}}
	}
	take(l, rpm(100))
	take(l, closedChecks())
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Second) // the TTL
	if s := l.Status()[1]; s.Remaining != 0 || s.Mode != Waiting {
		t.Errorf("expired lease: %+v, want none left and waiting", s)
	}
	f.down = true
	if err := l.Sync(ctx); err == nil {
		t.Fatal("sync succeeded against a control plane that is down")
	}
	checks := rpm(100)
	if _, ok := take(l, checks); !ok {
		t.Fatal("fail-open rule refused with the control plane down")
	}
	// Local accounting: the larger of the replica hint (4) and the gateways the control plane
	// reported (2) divides the limit.
	if checks[0].Limit != 25 {
		t.Errorf("local limit %d, want 100/4", checks[0].Limit)
	}
	if _, ok := take(l, closedChecks()); ok {
		t.Error("fail-closed rule admitted with its lease expired and the control plane down")
	}
	audit := closedChecks()
	audit[0].Audit = true
	if _, ok := take(l, audit); !ok {
		t.Error("an audit check refused")
	}
	st := l.Status()
	if st[0].Mode != Closed || st[1].Mode != Local {
		t.Errorf("modes %v %v, want closed and local", st[0].Mode, st[1].Mode)
	}
	if h := l.Health(); h.Reachable || h.Gateways != 2 || !h.LastSync.Equal(t0) {
		t.Errorf("health %+v", h)
	}
}

// Refused checks leave nothing taken; a settle above what was taken overdraws the lease until
// the next sync; a retried request keeps its sequence and usage.
func TestAllOrNothingOverrunAndRetry(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t0}
	f := &fixed{lease: 1000}
	l := New("gw", f, WithClock(clk.now))
	bc := func(amount int64) []budget.Check {
		return []budget.Check{{Rule: "b", Unit: budget.TokensPerDay, Limit: 1e6, Amount: amount}}
	}
	c := &Claim{}
	l.Take(c, rpm(10), bc(10)) // both bridge
	c.Settle(40, 0)
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// The rate limit's lease (1000 requests) fits, the budget's (1000 tokens) does not.
	c = &Claim{}
	if r := l.Take(c, rpm(10), bc(2000)); !r.Refused || !r.Budget || r.Index != 0 {
		t.Fatalf("refusal %+v, want the budget check", r)
	}
	for _, s := range l.Status() {
		if s.Held != 0 || s.Remaining != 1000 {
			t.Errorf("%s after a refusal: %+v, want nothing held", s.Key.Rule, s)
		}
	}
	c = &Claim{}
	l.Take(c, nil, bc(100))
	c.Settle(1500, 0) // the estimate was 1400 short
	c.Settle(1, 0)    // a second settle is a no-op
	var bs Status
	for _, s := range l.Status() {
		if s.Key.Kind == Budget {
			bs = s
		}
	}
	if bs.Remaining != 0 || bs.Pending != 1500 {
		t.Errorf("after an overrun: %+v, want nothing left and 1500 pending", bs)
	}
	f.down = true
	l.Sync(ctx)
	first := l.inflight
	l.Sync(ctx)
	if l.inflight != first {
		t.Error("a failed request was rebuilt instead of resent")
	}
	f.down = false
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// The failed request goes again, then at once a fresh one with current wants.
	f.mu.Lock()
	reqs := slices.Clone(f.reqs)
	f.mu.Unlock()
	if len(reqs) < 2 || reqs[len(reqs)-1].Seq != first.Seq+1 {
		t.Fatalf("after the resend: %d requests, want the resent one then a fresh one", len(reqs))
	}
	sent := reqs[len(reqs)-2]
	if sent.Seq != first.Seq {
		t.Errorf("resent seq %d, want %d", sent.Seq, first.Seq)
	}
	for _, it := range sent.Items {
		if it.Key.Kind == Budget && it.Used != 1500 {
			t.Errorf("resent budget usage %d, want 1500", it.Used)
		}
	}
}

// A key unused for idleSyncs syncs hands its lease back and is dropped.
func TestIdleKeyDropped(t *testing.T) {
	ctx := context.Background()
	f := &fixed{lease: 50}
	l := New("gw", f, WithClock((&clock{t0}).now))
	c, _ := take(l, rpm(100))
	c.Settle(0, 0)
	for range idleSyncs + 1 {
		if err := l.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.Status()); n != 0 {
		t.Fatalf("%d keys left after %d idle syncs", n, idleSyncs+1)
	}
	released := false
	for _, r := range f.reqs {
		for _, it := range r.Items {
			released = released || it.Released > 0 && it.Want == 0
		}
	}
	if !released {
		t.Error("the idle key never handed its lease back")
	}
}

// Take and Settle do not allocate on keys already seen.
func TestTakeDoesNotAllocate(t *testing.T) {
	f := &fixed{lease: 1 << 40}
	l := New("gw", f, WithClock((&clock{t0}).now))
	lc := rpm(1 << 40)
	bc := []budget.Check{{Rule: "b", Unit: budget.CostPerMonth, Limit: 1 << 40, Amount: 10}}
	var c Claim
	l.Take(&c, lc, bc)
	c.Settle(1, 1)
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if l.Take(&c, lc, bc).Refused {
			t.Fatal("refused")
		}
		c.Settle(1, 1)
	})
	if allocs != 0 {
		t.Errorf("Take and Settle allocate %.1f times", allocs)
	}
}

// Concurrent takes and syncs keep the books: what the replica reports plus what it still
// holds equals what it admitted.
func TestConcurrentTakeAndSync(t *testing.T) {
	ctx := context.Background()
	f := &fixed{lease: 100}
	l := New("gw", f, WithClock((&clock{t0}).now))
	take(l, rpm(1000)) // bridge, never settled: outside any lease
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := int64(0)
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c, ok := take(l, rpm(1000)); ok {
					c.Settle(0, 0)
					mu.Lock()
					admitted++
					mu.Unlock()
				}
			}
		})
	}
	for range 50 {
		l.Sync(ctx)
	}
	close(stop)
	wg.Wait()
	l.Sync(ctx)
	var reported int64
	for _, r := range f.reqs {
		for _, it := range r.Items {
			reported += it.Used
		}
	}
	if reported != admitted {
		t.Errorf("reported %d, admitted %d", reported, admitted)
	}
}

// signal is an Exchanger that reports each exchange on a channel.
type signal struct {
	fixed
	got chan uint64
}

func (s *signal) Exchange(ctx context.Context, req *Request) (*Response, error) {
	resp, err := s.fixed.Exchange(ctx, req)
	s.got <- req.Seq
	return resp, err
}

// Run syncs when a key needs a lease, without waiting for its interval, and stops with its
// context.
func TestRunSyncsOnWake(t *testing.T) {
	x := &signal{fixed: fixed{lease: 10}, got: make(chan uint64, 1)}
	l := New("gw", x, WithClock((&clock{t0}).now))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		l.Run(ctx, time.Hour, nil)
		close(done)
	}()
	take(l, rpm(100)) // a new key: bridges and wakes the loop
	<-x.got
	cancel()
	<-done
	if s := l.Status()[0]; s.Mode != Leased {
		t.Errorf("after the woken sync: mode %v, want leased", s.Mode)
	}
}

// A key with nothing to report whose lease is fresh stays out of the request; it is sent again
// when its lease is due for renewal.
func TestQuietKeyNotSent(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t0}
	f := &fixed{lease: 100}
	l := New("gw", f, WithClock(clk.now))
	c, _ := take(l, rpm(1000))
	c.Settle(0, 0)
	for range 3 {
		if err := l.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The lease (100) is well above twice the demand (a request or so a sync): the key hands
	// some back once, then holds steady.
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(f.last().Items); n != 0 {
		t.Fatalf("a quiet key with a fresh lease was sent: %+v", f.last().Items)
	}
	clk.t = clk.t.Add(600 * time.Millisecond) // less than half the 1 s TTL left
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(f.last().Items); n != 1 {
		t.Fatalf("a lease due for renewal was not sent: %d items", n)
	}
}

// A replica keeps a lease it does not need while the key is far from its limit (a burst can
// use it), and hands the excess back once the control plane says the key is contended.
func TestHandBackOnlyWhenContended(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t0}
	f := &fixed{lease: 500, free: 1_000_000}
	l := New("gw", f, WithClock(clk.now))
	c, _ := take(l, rpm(1_000_000))
	c.Settle(0, 0)
	for range 3 {
		if err := l.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		items := f.last().Items
		if len(items) != 1 || items[0].Released != 0 {
			t.Fatalf("sync far from the limit sent %+v: want the key, renewed, nothing handed back", items)
		}
		clk.t = clk.t.Add(600 * time.Millisecond) // the lease (1 s) is due for renewal
	}
	f.mu.Lock()
	f.free = 10 // below a quarter of the limit
	f.mu.Unlock()
	released := int64(0)
	for range 3 {
		clk.t = clk.t.Add(600 * time.Millisecond) // the lease (1 s) is due for renewal
		if err := l.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		for _, it := range f.last().Items {
			released += it.Released
		}
	}
	if released == 0 {
		t.Error("kept an unneeded lease of 500 on a contended key")
	}
}
