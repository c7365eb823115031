package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/lease"
	"github.com/llmgw/llmgw/gateway/limiter"
)

// DefaultTTL is how long a lease stays valid without renewal. Replicas sync every 100-250 ms,
// so it survives several lost exchanges, and capacity held by a replica that died comes back
// within it.
const DefaultTTL = 3 * time.Second

// forgetAfter is how long a replica's last applied sequence is kept after it was last seen.
const forgetAfter = 7 * 24 * time.Hour

// ErrInvalid is returned (wrapped) for a request the pool cannot take: no gateway name, or
// a key with an unknown kind or unit.
var ErrInvalid = errors.New("invalid lease request")

// Store is where a Pool keeps its state; the config database's store (store.Store's
// SaveState and LoadState) implements it.
type Store interface {
	LoadState(ctx context.Context, key string) ([]byte, error)
	SaveState(ctx context.Context, key string, data []byte) error
}

// StateKey is the key the pool's state is saved under.
const StateKey = "governance.leases"

// Option configures a Pool.
type Option func(*Pool)

// WithClock sets the clock; the default is time.Now.
func WithClock(now func() time.Time) Option { return func(p *Pool) { p.now = now } }

// WithTTL sets how long a lease stays valid without renewal (default DefaultTTL).
func WithTTL(d time.Duration) Option {
	return func(p *Pool) {
		if d > 0 {
			p.ttl = d
		}
	}
}

// WithStore saves the pool's state to st before every answer, so that usage
// survives a restart of the control plane and is merged exactly once; Load reads it back.
func WithStore(st Store) Option { return func(p *Pool) { p.st = st } }

// WithLogger sets the logger for failed saves (default: discard).
func WithLogger(l *slog.Logger) Option { return func(p *Pool) { p.logger = l } }

// Pool is the global count of every key and the leases on it. It is safe for concurrent use;
// exchanges are serialized by one mutex (a control plane sees a few replicas a few times a
// second each).
type Pool struct {
	now    func() time.Time
	ttl    time.Duration
	st     Store
	logger *slog.Logger

	mu       sync.Mutex
	gateways map[string]*gateway
	keys     map[lease.Key]*account
}

// gateway is one replica's exchange state.
type gateway struct {
	seq  uint64 // last applied
	seen int64  // Unix nanoseconds of its last exchange
}

// grant is one replica's lease on one key.
type grant struct {
	n       int64
	expires int64 // Unix nanoseconds
}

// account is one key's global count and leases.
type account struct {
	limit  int64
	win    *window // rate limits
	spend  int64   // budgets: reported usage in the period
	end    int64   // budgets: Unix nanoseconds when the period ends
	leases map[string]*grant
}

// New returns an empty Pool. Call Load first when it has a Store.
func New(opts ...Option) *Pool {
	p := &Pool{now: time.Now, ttl: DefaultTTL, logger: slog.New(slog.DiscardHandler),
		gateways: make(map[string]*gateway), keys: make(map[lease.Key]*account)}
	for _, o := range opts {
		o(p)
	}
	return p
}

var _ lease.Exchanger = (*Pool)(nil)

func newAccount(k *lease.Key) (*account, error) {
	a := &account{leases: make(map[string]*grant)}
	switch k.Kind {
	case lease.RateLimit:
		u := limiter.Unit(k.Unit)
		if !u.Valid() {
			return nil, fmt.Errorf("%w: rate limit unit %d", ErrInvalid, k.Unit)
		}
		a.win = &window{sub: int64(u.SubWindow())}
	case lease.Budget:
		u := budget.Unit(k.Unit)
		if !u.Valid() {
			return nil, fmt.Errorf("%w: budget unit %d", ErrInvalid, k.Unit)
		}
		_, end := u.Period(time.Unix(k.Period, 0))
		a.end = end.UnixNano()
	default:
		return nil, fmt.Errorf("%w: kind %d", ErrInvalid, k.Kind)
	}
	return a, nil
}

// used is what the key counts at t.
func (a *account) used(t int64) int64 {
	if a.win != nil {
		return a.win.used(t)
	}
	return a.spend
}

// free drops expired leases and returns limit - used - outstanding leases at t (negative when
// replicas overran it).
func (a *account) free(t int64) int64 {
	f := a.limit - a.used(t)
	for id, g := range a.leases {
		if g.expires <= t {
			delete(a.leases, id)
			continue
		}
		f -= g.n
	}
	return f
}

// Exchange merges a replica's usage, once per sequence, and answers with its leases. It is
// the control plane's entry point: the RPC handler calls it with the replica's request.
func (p *Pool) Exchange(ctx context.Context, req *lease.Request) (*lease.Response, error) {
	if req.Gateway == "" {
		return nil, fmt.Errorf("%w: no gateway name", ErrInvalid)
	}
	for i := range req.Items {
		if _, err := newAccount(&req.Items[i].Key); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.now().UnixNano()
	g := p.gateways[req.Gateway]
	if g == nil {
		g = &gateway{}
		p.gateways[req.Gateway] = g
	}
	g.seen = t
	apply := req.Seq > g.seq
	active := p.active(t)
	resp := &lease.Response{Seq: req.Seq, TTL: p.ttl, Gateways: active, Grants: make([]lease.Grant, len(req.Items))}
	for i := range req.Items {
		it := &req.Items[i]
		a := p.keys[it.Key]
		if a == nil {
			a, _ = newAccount(&it.Key) // checked above
			p.keys[it.Key] = a
		}
		if it.Limit >= 0 {
			a.limit = it.Limit
		}
		free := a.free(t)
		gr := a.leases[req.Gateway]
		if gr == nil {
			gr = &grant{}
		}
		if apply {
			used := max(it.Used, 0)
			if a.win != nil {
				a.win.add(t, used)
			} else {
				a.spend += used
			}
			back := min(used+max(it.Released, 0), gr.n)
			gr.n -= back
			free += back - used
		}
		if it.Want > 0 && free > 0 && (a.win != nil || t < a.end) {
			// The fair share, not the want: the want comes from recent demand and lags a
			// burst, while a replica hands back what it does not use at its next sync. The
			// replicas sharing the key are those holding a lease on it, and this one.
			sharing := len(a.leases)
			if _, ok := a.leases[req.Gateway]; !ok {
				sharing++
			}
			gr.n += min(max(free/int64(2*sharing), it.Min), free)
		}
		gr.expires = t + int64(p.ttl)
		if gr.n > 0 {
			a.leases[req.Gateway] = gr
		} else {
			delete(a.leases, req.Gateway)
		}
		resp.Grants[i] = lease.Grant{Key: it.Key, Lease: gr.n, Free: a.free(t)}
	}
	if apply {
		g.seq = req.Seq
	}
	p.prune(t)
	if p.st != nil {
		if err := p.save(context.WithoutCancel(ctx)); err != nil { // applied: save even if the replica left
			// The state stays applied in memory and is saved with the next exchange; a crash
			// before then loses what this one merged.
			p.logger.LogAttrs(ctx, slog.LevelWarn, "lease pool: save failed", slog.String("error", err.Error()))
		}
	}
	return resp, nil
}

// active counts the replicas seen within a TTL, at least one.
func (p *Pool) active(t int64) int {
	n := 0
	for _, g := range p.gateways {
		if t-g.seen < int64(p.ttl) {
			n++
		}
	}
	return max(n, 1)
}

// prune drops keys with nothing counted and no lease, budget keys whose period ended a period
// ago, and replicas not seen for a week.
func (p *Pool) prune(t int64) {
	for k, a := range p.keys {
		a.free(t)
		switch {
		case len(a.leases) > 0:
		case a.win != nil && a.win.used(t) == 0,
			a.win == nil && (a.spend == 0 || t > a.end+(a.end-k.Period*int64(time.Second))):
			delete(p.keys, k)
		}
	}
	for id, g := range p.gateways {
		if t-g.seen > int64(forgetAfter) {
			delete(p.gateways, id)
		}
	}
}

// Count is one key's global state, for the control plane's status API.
type Count struct {
	Key lease.Key
	// Limit is the limit last reported; Used what the window or period counts; Leased the
	// sum of the outstanding leases; Free is Limit - Used - Leased (negative when replicas
	// admitted beyond their leases, for example while the control plane was unreachable).
	Limit, Used, Leased, Free int64
	// Leases is each replica's outstanding lease.
	Leases map[string]int64
}

// Counts returns every key's state, in no particular order.
func (p *Pool) Counts() []Count {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.now().UnixNano()
	out := make([]Count, 0, len(p.keys))
	for k, a := range p.keys {
		c := Count{Key: k, Limit: a.limit, Free: a.free(t), Used: a.used(t), Leases: make(map[string]int64, len(a.leases))}
		for id, g := range a.leases {
			c.Leased += g.n
			c.Leases[id] = g.n
		}
		out = append(out, c)
	}
	return out
}
