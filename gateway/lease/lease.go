package lease

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Kind says which engine a Key counts for.
type Kind uint8

// The kinds of keys.
const (
	RateLimit Kind = iota + 1 // a limiter.Unit window
	Budget                    // a budget.Unit period
)

// String returns "rate_limit" or "budget".
func (k Kind) String() string {
	switch k {
	case RateLimit:
		return "rate_limit"
	case Budget:
		return "budget"
	}
	return "kind(?)"
}

// Key names one counter of one rule, the unit a lease is granted on.
type Key struct {
	Kind Kind
	// Unit is the limiter.Unit (RateLimit) or budget.Unit (Budget), as a number.
	Unit uint8
	// Rule is the rule's stable id; Bucket the counter within it (applies_per), or empty.
	Rule, Bucket string
	// Period is, for a budget, the start of its period in Unix seconds; 0 for a rate limit,
	// whose window rolls.
	Period int64
}

// Item is one key of a Request.
type Item struct {
	Key Key
	// Limit is the rule's limit in this replica's config: requests, tokens or nano-dollars.
	Limit int64
	// Used is the usage settled on this key since the last acknowledged sync: never negative.
	Used int64
	// Released is unused lease the replica hands back (it no longer admits on it).
	Released int64
	// Want is how much more lease the replica would like (from its recent demand); Min the
	// smallest grant worth having (the largest amount one request asked for). The control
	// plane decides the grant: control/pool gives its fair share, at least Min, whenever Want
	// is positive.
	Want, Min int64
}

// Request is one sync of one replica.
type Request struct {
	// Gateway names the replica; it must be unique among the replicas of a control plane.
	Gateway string
	// Seq increases by one with every new request of the replica; a request sent again after
	// a failure keeps its Seq and its Items, and the control plane applies a Seq once.
	Seq   uint64
	Items []Item
}

// Grant is the answer for one Item.
type Grant struct {
	Key Key
	// Lease is the replica's whole lease on the key after the exchange: what it may still
	// admit plus what it has in flight and has not yet reported.
	Lease int64
	// Free is what the key had left in the control plane after the exchange, neither used
	// nor leased to any replica. A replica hands back lease it does not need only while Free
	// is low (the key is contended): far from the limit it keeps its lease for bursts.
	Free int64
}

// Response is the control plane's answer to a Request.
type Response struct {
	// Seq is the Request's.
	Seq uint64
	// TTL is how long the leases stay valid from when the Request was sent, unless renewed.
	TTL time.Duration
	// Gateways is the number of replicas the control plane counts as active; a replica that
	// falls back to local accounting divides limits by it (see WithReplicas).
	Gateways int
	// Grants has one Grant per Item.
	Grants []Grant
}

// Exchanger sends a Request to the control plane and returns its answer. The process wiring
// implements it over its RPC; control/pool.Pool implements it in process.
type Exchanger interface {
	Exchange(ctx context.Context, req *Request) (*Response, error)
}

// Policy is what a replica does for a rule when its lease is exhausted or expired and the
// control plane does not answer.
type Policy uint8

// The policies.
const (
	// FailOpen admits with local accounting: the limit divided by the replica count.
	FailOpen Policy = iota
	// FailClosed refuses.
	FailClosed
)

// Option configures Leases.
type Option func(*Leases)

// WithClock sets the clock; the default is time.Now.
func WithClock(now func() time.Time) Option { return func(l *Leases) { l.now = now } }

// WithReplicas sets the least replica count local accounting divides a limit by (default 1:
// the local limit). The count the control plane last reported is used when it is larger.
func WithReplicas(n int) Option {
	return func(l *Leases) {
		if n > 0 {
			l.replicas = n
		}
	}
}

// WithPolicy sets each rule's policy; the default is FailOpen for every rule. f is called on
// the request path, only while the control plane is unreachable, and must be fast.
func WithPolicy(f func(k Kind, rule string) Policy) Option { return func(l *Leases) { l.policy = f } }

// WithLookahead sets how many sync intervals of recent demand a replica asks to hold
// (default 4).
func WithLookahead(n int64) Option {
	return func(l *Leases) {
		if n > 0 {
			l.lookahead = n
		}
	}
}

// idleSyncs is how many syncs in a row without demand, in-flight use or pending usage make a
// key idle: it hands its lease back and is dropped.
const idleSyncs = 20

// Leases is a replica's leases on every key it has seen. It is safe for concurrent use.
type Leases struct {
	id        string
	x         Exchanger
	now       func() time.Time
	replicas  int
	policy    func(Kind, string) Policy
	lookahead int64

	mu   sync.RWMutex // guards keys
	keys map[Key]*entry

	wake      chan struct{}
	reachable atomic.Bool
	gateways  atomic.Int64 // active gateways the control plane last reported
	lastSync  atomic.Int64 // Unix nanoseconds of the last successful exchange

	syncMu   sync.Mutex // serializes Sync; guards seq, inflight and ttl
	seq      uint64
	inflight *Request
	ttl      time.Duration // of the last answer
}

// New returns the leases of the replica named id (unique among the control plane's replicas;
// a hostname or pod name) synced through x.
func New(id string, x Exchanger, opts ...Option) *Leases {
	l := &Leases{id: id, x: x, now: time.Now, replicas: 1, lookahead: 4,
		keys: make(map[Key]*entry), wake: make(chan struct{}, 1)}
	for _, o := range opts {
		o(l)
	}
	// Sequences start at the clock, so that a restarted replica with the same id is not
	// taken for a replay of its former self.
	l.seq = uint64(max(l.now().UnixNano(), 0))
	l.reachable.Store(true) // until an exchange fails
	return l
}

// Wake returns a channel that receives when a lease falls below its low-water mark or a key
// needs its first lease: the Sync loop should sync at once.
func (l *Leases) Wake() <-chan struct{} { return l.wake }

func (l *Leases) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Run calls Sync every interval and whenever Wake fires, until ctx ends; woken syncs come at
// most every quarter interval, so a replica refusing requests on an exhausted pool does not
// sync back to back. Errors are reported to onErr (which may be nil) and retried at the next
// tick. It reads the real time, not the clock of WithClock.
func (l *Leases) Run(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.wake:
			if wait := every/4 - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		}
		last = time.Now()
		if err := l.Sync(ctx); err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}

// entry is a replica's lease on one key. Its fields are guarded by mu.
type entry struct {
	mu       sync.Mutex
	key      Key
	limit    int64
	known    bool  // a grant arrived
	deadline int64 // Unix nanoseconds: the lease is valid before
	avail    int64 // lease left to take from; may be negative after a settle above its hold
	held     int64 // taken from the lease by requests in flight
	outside  int64 // in flight outside any lease (bridge or local accounting)
	bridging bool  // a bridge request is in flight
	pending  int64 // usage settled and not yet in a request
	// contended: the control plane's free capacity on the key was below a quarter of the
	// limit at the last exchange.
	contended bool
	// pendingLeased is the part of pending that requests admitted on the lease settled.
	pendingLeased int64
	demand        int64 // asked since the last sync, admitted or not
	rate          int64 // smoothed demand per sync
	largest       int64 // the largest single amount asked
	low           int64 // low-water mark of avail
	idle          int   // syncs in a row with nothing to do
	local         bool  // the last admission used local accounting
	dead          bool  // dropped from the table: look the key up again
}

// entry returns the entry of k, creating it.
func (l *Leases) entry(k *Key) *entry {
	l.mu.RLock()
	e := l.keys[*k]
	l.mu.RUnlock()
	if e != nil {
		return e
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e = l.keys[*k]; e == nil {
		e = &entry{key: *k}
		l.keys[*k] = e
	}
	return e
}

// valid reports whether e's lease is usable at now.
func (e *entry) valid(now int64) bool { return e.known && now < e.deadline }

// localLimit is limit divided by the replica count, rounded up.
func (l *Leases) localLimit(limit int64) int64 {
	n := max(int64(l.replicas), l.gateways.Load(), 1)
	return (limit + n - 1) / n
}
