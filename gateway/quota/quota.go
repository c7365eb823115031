// Package quota is the guard that enforces rate limits and budgets on every attempt of every
// request: it matches the request against the snapshot's rules (package governance), counts it
// in the rate-limit counters (package limiter) and reserves its maximum cost and tokens against
// the budgets (package budget) before the upstream call, and settles both to the real usage
// when the request's usage event is recorded, streams and client disconnects included.
//
// Everything it does is in memory: no database or network call on the request path. The
// counters and spend live in the Limiter and the Ledger it is given, outside the snapshot, so a
// configuration change never resets them.
package quota

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/lease"
	"github.com/llmgw/llmgw/gateway/limiter"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/tokens"
	"github.com/llmgw/llmgw/gateway/usage"
)

// DefaultMaxOutput is the output a request is assumed to ask for at most when it sets no
// max_tokens and the catalog does not know the model's maximum.
const DefaultMaxOutput = 4096

// Guard is the rate-limit and budget guard (a pipeline.Guard). It is safe for concurrent use.
type Guard struct {
	limits    *limiter.Limiter
	ledger    *budget.Ledger
	now       func() time.Time
	maxOutput int64
	labels    sync.Map // rule id -> "rate_limit:<id>" / "budget:<id>", so a request allocates none
	refusals  Refusals
	leases    *lease.Leases
	tickets   sync.Pool // of *ticket: 1.7 KB each, the most a governed request allocated
}

// Refusals is told of every attempt the guard refuses, by the id of the rule that refused it
// (a rule of the snapshot's, never a client's text). It is called on the request path and
// must not block; implementations must be safe for concurrent use.
type Refusals interface {
	RateLimited(rule string)
	BudgetExhausted(rule string)
}

// WithLeases makes the guard admit within this replica's leases (package lease), for a
// gateway that is one of several replicas of a control plane: every check is first taken from
// the replica's lease of its key, then admitted by the limiter and ledger as on one process
// (whose limit a fail-open check under local accounting lowers to the replica's share).
// Without it the guard enforces the full limits on this process alone.
func WithLeases(l *lease.Leases) Option { return func(g *Guard) { g.leases = l } }

// WithRefusals reports the guard's refusals to r (the metrics' refusal counters).
func WithRefusals(r Refusals) Option { return func(g *Guard) { g.refusals = r } }

// label returns kind+":"+rule, made once per rule.
func (g *Guard) label(kind, rule string) string {
	k := [2]string{kind, rule}
	if v, ok := g.labels.Load(k); ok {
		return v.(string)
	}
	v, _ := g.labels.LoadOrStore(k, kind+":"+rule)
	return v.(string)
}

var _ pipeline.Guard = (*Guard)(nil)

// Option configures a Guard.
type Option func(*Guard)

// WithClock sets the clock used to price requests (the default is time.Now). The Limiter and
// Ledger read their own clocks.
func WithClock(now func() time.Time) Option { return func(g *Guard) { g.now = now } }

// WithDefaultMaxOutput sets the output assumed for a request that sets no max_tokens to a
// model whose maximum the catalog does not know (default DefaultMaxOutput).
func WithDefaultMaxOutput(n int64) Option {
	return func(g *Guard) {
		if n > 0 {
			g.maxOutput = n
		}
	}
}

// New returns a guard counting in limits and ledger.
func New(limits *limiter.Limiter, ledger *budget.Ledger, opts ...Option) *Guard {
	g := &Guard{limits: limits, ledger: ledger, now: time.Now, maxOutput: DefaultMaxOutput}
	for _, o := range opts {
		o(g)
	}
	return g
}

// ticket is what Admit reserved for an attempt. Tickets are pooled (1.7 KB each, the most a
// governed request allocated): the pipeline holds a handle, whose generation makes a second
// Settle or Cancel do nothing, even once the ticket serves another request.
type ticket struct {
	gen  atomic.Uint64 // ends a use: the settle or cancel that moves it on wins
	pool *sync.Pool
	held // cleared for each use
}

// held is a ticket's reservation.
type held struct {
	lbuf    [4]limiter.Check
	bbuf    [4]budget.Check
	lchecks []limiter.Check
	bchecks []budget.Check
	ld      limiter.Decision
	bd      budget.Decision
	claim   lease.Claim // what the replica's leases gave; empty without leases
}

// handle is the Ticket of one use of a ticket.
type handle struct {
	t   *ticket
	gen uint64
}

// ticket returns a cleared ticket from the guard's pool.
func (g *Guard) ticket() *ticket {
	t, _ := g.tickets.Get().(*ticket)
	if t == nil {
		t = &ticket{pool: &g.tickets}
	}
	return t
}

// recycle clears t and returns it to its pool: it is not used again until Get returns it.
func (t *ticket) recycle() {
	t.held = held{}
	t.pool.Put(t)
}

// Admit matches a against the snapshot's rules and counts it, or refuses it: 429 with OpenAI's
// rate_limit_exceeded (type requests or tokens) and Retry-After for a rate limit, 429
// insufficient_quota for a budget, naming the rule. On an admitted request covered by a rate
// limit it sets OpenAI's x-ratelimit-* headers for the tightest rule.
func (g *Guard) Admit(_ context.Context, a *pipeline.Attempt) (pipeline.Ticket, error) {
	rules := a.Caller.Snapshot.Governance()
	if rules == nil {
		return nil, nil
	}
	m := a.Target.Endpoint
	p := a.Caller.Principal
	req := governance.Request{User: p.User, Teams: p.Teams, VirtualAccount: p.VirtualAccount, Model: m.FQN, Metadata: a.Caller.Metadata}
	if a.Plan != nil && a.Plan.Model != m.FQN {
		req.VirtualModel = a.Plan.Model
	}
	t := g.ticket()
	t.lchecks, t.bchecks = rules.Match(&req, t.lbuf[:0], t.bbuf[:0])
	if len(t.lchecks) == 0 && len(t.bchecks) == 0 {
		t.recycle()
		return nil, nil
	}
	if err := g.admit(a, t); err != nil {
		t.recycle() // what it reserved it has taken back
		return nil, err
	}
	return handle{t, t.gen.Load()}, nil
}

// admit reserves t's checks for a, or refuses it having taken back whatever it reserved.
func (g *Guard) admit(a *pipeline.Attempt, t *ticket) error {
	m := a.Target.Endpoint
	if len(t.lchecks) > limiter.MaxChecks || len(t.bchecks) > budget.MaxChecks {
		return apierr.New(apierr.KindInternal, "too many rate limits and budgets match this request")
	}

	// The most the request may use: its prompt estimated at four bytes a token, plus the
	// output it asked for (else the model's maximum, else the default). Settling replaces the
	// estimate with the real count.
	prompt := tokens.Estimate(a.Size.PromptBytes)
	maxOut := a.Size.MaxOutput
	if maxOut <= 0 {
		if maxOut = m.MaxOutput(); maxOut <= 0 {
			maxOut = g.maxOutput
		}
	}
	most := prompt + maxOut
	for i := range t.lchecks {
		if c := &t.lchecks[i]; c.Unit.Tokens() {
			c.Amount = most
		} else {
			c.Amount = 1
		}
	}
	if len(t.bchecks) > 0 {
		price, priced := m.PriceAt(g.now())
		cost := budget.NanoUSD(price.Cost(chat.Usage{PromptTokens: prompt, CompletionTokens: maxOut, TotalTokens: most}))
		for i := range t.bchecks {
			c := &t.bchecks[i]
			switch {
			case !c.Unit.Cost():
				c.Amount = most
			case !priced && !c.Audit:
				return &apierr.Error{Kind: apierr.KindPermissionDenied, Code: "model_unpriced",
					Message: fmt.Sprintf("budget %s counts cost, but the model %s has no price; ask the gateway admin to set one", c.Rule, m.FQN)}
			default:
				c.Amount = max(cost, 1) // every request costs something: an exhausted budget refuses it
			}
		}
	}

	if g.leases != nil {
		if r := g.leases.Take(&t.claim, t.lchecks, t.bchecks); r.Refused {
			if r.Budget {
				if g.refusals != nil {
					g.refusals.BudgetExhausted(t.bchecks[r.Index].Rule)
				}
				return exhausted(&budget.Decision{Refused: r.Index, Reset: r.Reset}, t.bchecks)
			}
			if g.refusals != nil {
				g.refusals.RateLimited(t.lchecks[r.Index].Rule)
			}
			return rateLimited(&limiter.Decision{Refused: r.Index, RetryAfter: r.RetryAfter}, t.lchecks)
		}
	}
	if len(t.lchecks) > 0 {
		if err := g.limits.Admit(&t.ld, t.lchecks); err != nil {
			t.claim.Cancel()
			return apierr.Wrap(apierr.KindInternal, err, "internal error")
		}
		if !t.ld.Allowed {
			t.claim.Cancel()
			if g.refusals != nil {
				g.refusals.RateLimited(t.lchecks[t.ld.Refused].Rule)
			}
			return rateLimited(&t.ld, t.lchecks)
		}
		setHeaders(a.Header, &t.ld)
	}
	if len(t.bchecks) > 0 {
		if err := g.ledger.Reserve(&t.bd, t.bchecks); err != nil {
			t.ld.Reservation.Cancel()
			t.claim.Cancel()
			return apierr.Wrap(apierr.KindInternal, err, "internal error")
		}
		if !t.bd.Allowed {
			t.ld.Reservation.Cancel()
			t.claim.Cancel()
			if g.refusals != nil {
				g.refusals.BudgetExhausted(t.bchecks[t.bd.Refused].Rule)
			}
			return exhausted(&t.bd, t.bchecks)
		}
	}
	for i := range t.lchecks {
		if i == 0 || t.lchecks[i].Rule != t.lchecks[i-1].Rule {
			a.Counted = append(a.Counted, g.label("rate_limit", t.lchecks[i].Rule))
		}
	}
	for i := range t.bchecks {
		a.Counted = append(a.Counted, g.label("budget", t.bchecks[i].Rule))
	}
	for i := range t.lchecks {
		if t.ld.WouldHaveBlocked(i) {
			a.WouldBlock = append(a.WouldBlock, g.label("rate_limit", t.lchecks[i].Rule))
		}
	}
	for i := range t.bchecks {
		if t.bd.WouldHaveBlocked(i) {
			a.WouldBlock = append(a.WouldBlock, g.label("budget", t.bchecks[i].Rule))
		}
	}
	return nil
}

// Settle counts the request's real tokens and cost in place of what Admit reserved.
func (h handle) Settle(e *usage.Event) {
	if !h.t.gen.CompareAndSwap(h.gen, h.gen+1) {
		return
	}
	t := h.t
	n := e.Usage.TotalTokens
	if n == 0 {
		n = e.Usage.PromptTokens + e.Usage.CompletionTokens
	}
	var cost int64
	if e.Priced {
		cost = budget.NanoUSD(e.CostUSD)
	}
	if len(t.lchecks) > 0 {
		t.ld.Reservation.Settle(n)
	}
	if len(t.bchecks) > 0 {
		t.bd.Reservation.Settle(cost, n)
	}
	t.claim.Settle(n, cost)
	t.recycle()
}

// Cancel takes back what Admit reserved, for an attempt that never reached the upstream.
func (h handle) Cancel() {
	if !h.t.gen.CompareAndSwap(h.gen, h.gen+1) {
		return
	}
	t := h.t
	if len(t.lchecks) > 0 {
		t.ld.Reservation.Cancel()
	}
	if len(t.bchecks) > 0 {
		t.bd.Reservation.Cancel()
	}
	t.claim.Cancel()
	t.recycle()
}

// rateLimited is the refusal of a rate limit: OpenAI's rate_limit_exceeded, of type requests
// or tokens, naming the rule, with Retry-After.
func rateLimited(d *limiter.Decision, checks []limiter.Check) error {
	c := checks[d.Refused]
	e := &apierr.Error{Kind: apierr.KindRateLimited, Code: "rate_limit_exceeded", Type: "requests"}
	if c.Unit.Tokens() {
		e.Type = "tokens"
	}
	if d.Exceeds {
		e.Message = fmt.Sprintf("the request may use up to %d tokens, more than the limit of %d %s of rate limit %s", c.Amount, c.Limit, c.Unit, c.Rule)
		return e
	}
	e.Message = fmt.Sprintf("rate limit %s reached: %d %s; retry in %d s", c.Rule, c.Limit, c.Unit, d.RetryAfterSeconds())
	e.RetryAfter = time.Duration(d.RetryAfterSeconds()) * time.Second
	return e
}

// exhausted is the refusal of a budget: OpenAI's insufficient_quota, naming the rule and when
// its period ends.
func exhausted(d *budget.Decision, checks []budget.Check) error {
	c := checks[d.Refused]
	return &apierr.Error{Kind: apierr.KindBudgetExhausted, Message: fmt.Sprintf("budget %s (%s) is exhausted until %s", c.Rule, c.Unit, d.Reset.UTC().Format(time.RFC3339))}
}

// setHeaders sets OpenAI's x-ratelimit-* headers for the tightest request and token limits.
// The values are formatted into one string and handed out as substrings, their slices cut from
// one array with no spare capacity (so an Add copies): two allocations, not twelve.
func setHeaders(h http.Header, d *limiter.Decision) {
	if h == nil || (!d.Requests.Covered && !d.Tokens.Covered) {
		return
	}
	var buf [128]byte
	var ends [6]int
	b := buf[:0]
	n := 0
	for _, q := range [2]*limiter.Quota{&d.Requests, &d.Tokens} {
		if !q.Covered {
			continue
		}
		b = strconv.AppendInt(b, q.Limit, 10)
		ends[n] = len(b)
		b = strconv.AppendInt(b, q.Remaining, 10)
		ends[n+1] = len(b)
		b = appendDuration(b, q.Reset.Round(time.Millisecond))
		ends[n+2] = len(b)
		n += 3
	}
	all := string(b)
	vals := make([]string, n)
	start := 0
	for i := range n {
		vals[i], start = all[start:ends[i]], ends[i]
	}
	i := 0
	if d.Requests.Covered {
		h["X-Ratelimit-Limit-Requests"] = vals[0:1:1]
		h["X-Ratelimit-Remaining-Requests"] = vals[1:2:2]
		h["X-Ratelimit-Reset-Requests"] = vals[2:3:3]
		i = 3
	}
	if d.Tokens.Covered {
		h["X-Ratelimit-Limit-Tokens"] = vals[i : i+1 : i+1]
		h["X-Ratelimit-Remaining-Tokens"] = vals[i+1 : i+2 : i+2]
		h["X-Ratelimit-Reset-Tokens"] = vals[i+2 : i+3 : i+3]
	}
}

// appendDuration appends d as time.Duration.String writes it ("1m30.5s", "12ms", "0s") for a d
// that is a whole number of milliseconds, as the reset headers' are.
func appendDuration(b []byte, d time.Duration) []byte {
	if d < 0 {
		b = append(b, '-')
		d = -d
	}
	if d == 0 {
		return append(b, "0s"...)
	}
	if d < time.Second {
		b = strconv.AppendInt(b, int64(d/time.Millisecond), 10)
		return append(b, "ms"...)
	}
	ms := int64(d / time.Millisecond)
	sec := ms / 1000
	frac := ms % 1000
	if h := sec / 3600; h > 0 {
		b = strconv.AppendInt(b, h, 10)
		b = append(b, 'h')
		b = strconv.AppendInt(b, sec/60%60, 10)
		b = append(b, 'm')
	} else if m := sec / 60; m > 0 {
		b = strconv.AppendInt(b, m, 10)
		b = append(b, 'm')
	}
	b = strconv.AppendInt(b, sec%60, 10)
	if frac > 0 {
		digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
		k := 3
		for digits[k-1] == '0' {
			k--
		}
		b = append(b, '.')
		b = append(b, digits[:k]...)
	}
	return append(b, 's')
}

var _ pipeline.Charger = (*Guard)(nil)

// Charge charges a batch's usage, recorded when the batch ends, to the budgets its request
// matches now: its cost (at the batch price) and tokens are added to their current periods,
// never refused (the batch was admitted when it was created). Rate limits count requests as
// they arrive and are not charged.
func (g *Guard) Charge(c *pipeline.Caller, m *snapshot.Endpoint, e *usage.Event) {
	rules := c.Snapshot.Governance()
	if rules == nil {
		return
	}
	p := c.Principal
	req := governance.Request{User: p.User, Teams: p.Teams, VirtualAccount: p.VirtualAccount, Model: m.FQN, Metadata: c.Metadata}
	var lbuf [4]limiter.Check
	var bbuf [4]budget.Check
	_, checks := rules.Match(&req, lbuf[:0], bbuf[:0])
	if len(checks) == 0 || len(checks) > budget.MaxChecks {
		return
	}
	for i := range checks {
		checks[i].Amount, checks[i].Audit = 0, true // a charge, not a reservation: never refused
	}
	var d budget.Decision
	if err := g.ledger.Reserve(&d, checks); err != nil {
		return
	}
	var cost int64
	if e.Priced {
		cost = budget.NanoUSD(e.CostUSD)
	}
	d.Reservation.Settle(cost, e.Usage.TotalTokens)
	if g.leases != nil {
		g.leases.Charge(checks, e.Usage.TotalTokens, cost)
	}
	for i := range checks {
		e.Counted = append(e.Counted, g.label("budget", checks[i].Rule))
	}
}
