package quota

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/lease"
	"github.com/llmgw/llmgw/gateway/limiter"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// fixture is a snapshot with one model priced at $1 per output token and $0 per input token,
// the given rules, and a guard over fresh engines on a fixed clock.
func fixture(t *testing.T, limits []governance.RateLimitRule, budgets []governance.BudgetRule) (*Guard, *limiter.Limiter, *budget.Ledger, *snapshot.Snapshot) {
	t.Helper()
	cfg := &snapshot.Config{
		Accounts:   []snapshot.Account{{Name: "acct", Provider: "mock"}},
		Models:     []snapshot.Model{{Account: "acct", Name: "echo", Pricing: &snapshot.Pricing{Output: 1e6}}, {Account: "acct", Name: "free"}},
		RateLimits: limits, Budgets: budgets,
	}
	snap := snapshot.Compile(cfg, registry.New(http.DefaultClient), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := func() time.Time { return t0 }
	lim, led := limiter.New(limiter.WithClock(now)), budget.New(budget.WithClock(now))
	return New(lim, led, WithClock(now)), lim, led, snap
}

func attempt(t *testing.T, snap *snapshot.Snapshot, model string, size pipeline.Size) *pipeline.Attempt {
	t.Helper()
	plan, err := snap.Route(model)
	if err != nil {
		t.Fatal(err)
	}
	c := &pipeline.Caller{Snapshot: snap, Principal: &snapshot.Principal{User: "alice", Teams: []string{"ml"}}}
	return &pipeline.Attempt{Caller: c, Plan: plan, Target: plan.Targets[0], Header: http.Header{}, Size: size}
}

// TestReserveSettleCancel: a token limit reserves the request's most (prompt bytes / 4 + max
// output), settles to the real count, and a canceled attempt counts nothing, not even itself as
// a request.
func TestReserveSettleCancel(t *testing.T) {
	g, lim, _, snap := fixture(t, []governance.RateLimitRule{{Name: "tpm", Limits: []governance.Limit{{Unit: "tokens_per_minute", LimitTo: 1000}, {Unit: "requests_per_minute", LimitTo: 10}}}}, nil)
	used := func() (tokens, requests int64) {
		for _, s := range lim.Status(nil) {
			if s.Unit.Tokens() {
				tokens = s.Used
			} else {
				requests = s.Used
			}
		}
		return
	}
	a := attempt(t, snap, "acct/echo", pipeline.Size{PromptBytes: 400, MaxOutput: 50})
	tk, err := g.Admit(context.Background(), a)
	if err != nil || tk == nil {
		t.Fatalf("admit: %v %v", tk, err)
	}
	if tok, req := used(); tok != 150 || req != 1 {
		t.Errorf("reserved %d tokens, %d requests; want 100+50 and 1", tok, req)
	}
	if a.Header.Get("X-Ratelimit-Limit-Tokens") != "1000" || a.Header.Get("X-Ratelimit-Remaining-Tokens") != "850" || a.Header.Get("X-Ratelimit-Remaining-Requests") != "9" {
		t.Errorf("headers %v", a.Header)
	}
	if len(a.Counted) != 1 || a.Counted[0] != "rate_limit:tpm" {
		t.Errorf("counted %v", a.Counted)
	}
	tk.Settle(&usage.Event{Usage: usageOf(30, 12)})
	tk.Settle(&usage.Event{Usage: usageOf(900, 900)}) // a second settle changes nothing
	if tok, _ := used(); tok != 42 {
		t.Errorf("settled to %d tokens, want 42", tok)
	}
	tk2, err := g.Admit(context.Background(), attempt(t, snap, "acct/echo", pipeline.Size{PromptBytes: 4, MaxOutput: 1}))
	if err != nil {
		t.Fatal(err)
	}
	tk2.(pipeline.Canceler).Cancel()
	if tok, req := used(); tok != 42 || req != 1 {
		t.Errorf("after a cancel: %d tokens, %d requests; want 42 and 1", tok, req)
	}
}

// TestStaleTicket: tickets are pooled, and a ticket's old handle settles or cancels nothing
// once the ticket serves another request.
func TestStaleTicket(t *testing.T) {
	g, lim, _, snap := fixture(t, []governance.RateLimitRule{{Name: "tpm", Limits: []governance.Limit{{Unit: "tokens_per_minute", LimitTo: 1_000_000}}}}, nil)
	tokens := func() int64 {
		var n int64
		for _, s := range lim.Status(nil) {
			n += s.Used
		}
		return n
	}
	admit := func() pipeline.Ticket {
		tk, err := g.Admit(context.Background(), attempt(t, snap, "acct/echo", pipeline.Size{PromptBytes: 400, MaxOutput: 50}))
		if err != nil || tk == nil {
			t.Fatalf("admit: %v %v", tk, err)
		}
		return tk
	}
	// The pool may drop what it is given (always, now and then, under the race detector):
	// admit until a settled ticket serves again.
	var old, cur pipeline.Ticket
	for range 100 {
		old = admit()
		old.Settle(&usage.Event{Usage: usageOf(1, 1)})
		if cur = admit(); cur.(handle).t == old.(handle).t {
			break
		}
		cur.Settle(&usage.Event{Usage: usageOf(1, 1)})
		cur = nil
	}
	if cur == nil {
		t.Fatal("no ticket served twice in 100 tries")
	}
	before := tokens()
	old.Settle(&usage.Event{Usage: usageOf(900, 900)})
	old.(pipeline.Canceler).Cancel()
	if n := tokens(); n != before {
		t.Errorf("a stale handle moved the count from %d to %d", before, n)
	}
	cur.Settle(&usage.Event{Usage: usageOf(30, 12)})
	if n := tokens(); n != before-150+42 {
		t.Errorf("the current handle settled to %d, want %d", n, before-150+42)
	}
}

// TestRefusals: what each kind of refusal says, and that a budget's refusal takes back the
// rate limit's reservation.
func TestRefusals(t *testing.T) {
	g, lim, _, snap := fixture(t,
		[]governance.RateLimitRule{{Name: "rpm", Limits: []governance.Limit{{Unit: "requests_per_minute", LimitTo: 1}}}, {Name: "tpm", When: governance.Condition{Models: []string{"acct/free"}}, Limits: []governance.Limit{{Unit: "tokens_per_minute", LimitTo: 10}}}},
		[]governance.BudgetRule{{Name: "usd", Unit: "cost_per_day", LimitTo: 5, When: governance.Condition{Models: []string{"acct/echo"}}}})
	ctx := context.Background()
	// $1 per output token: max_tokens 6 is $6, over the $5 budget; the rate limit's
	// reservation is taken back.
	_, err := g.Admit(ctx, attempt(t, snap, "acct/echo", pipeline.Size{MaxOutput: 6}))
	var e *apierr.Error
	if !errors.As(err, &e) || e.Kind != apierr.KindBudgetExhausted || e.Message == "" {
		t.Fatalf("budget: %v", err)
	}
	if s := lim.Status(nil); len(s) != 0 {
		t.Errorf("the refused request is still counted: %+v", s)
	}
	if _, err := g.Admit(ctx, attempt(t, snap, "acct/echo", pipeline.Size{MaxOutput: 5})); err != nil {
		t.Fatalf("a request that fits: %v", err)
	}
	_, err = g.Admit(ctx, attempt(t, snap, "acct/echo", pipeline.Size{MaxOutput: 1}))
	if !errors.As(err, &e) || e.Kind != apierr.KindRateLimited || e.Type != "requests" || e.RetryAfter <= 0 || e.RetryAfter > time.Minute+time.Second { // a window and at most one sub-window
		t.Fatalf("rate limit: %+v", err)
	}
	// A request whose most alone is over a token limit: no Retry-After, waiting will not help.
	g2, _, _, snap2 := fixture(t, []governance.RateLimitRule{{Name: "tpm", Limits: []governance.Limit{{Unit: "tokens_per_minute", LimitTo: 10}}}}, nil)
	_, err = g2.Admit(ctx, attempt(t, snap2, "acct/free", pipeline.Size{MaxOutput: 100}))
	if !errors.As(err, &e) || e.Kind != apierr.KindRateLimited || e.Type != "tokens" || e.RetryAfter != 0 {
		t.Fatalf("too large for the limit: %+v", err)
	}
}

// TestUnpricedUnderACostBudget: enforced, refused naming the model; audit, admitted.
func TestUnpricedUnderACostBudget(t *testing.T) {
	for _, audit := range []bool{false, true} {
		g, _, _, snap := fixture(t, nil, []governance.BudgetRule{{Name: "usd", Unit: "cost_per_day", LimitTo: 5, Audit: audit}})
		_, err := g.Admit(context.Background(), attempt(t, snap, "acct/free", pipeline.Size{MaxOutput: 1}))
		var e *apierr.Error
		if audit != (err == nil) || (!audit && (!errors.As(err, &e) || e.Code != "model_unpriced")) {
			t.Errorf("audit=%v: %v", audit, err)
		}
	}
}

// TestChargeBatch: a batch's usage, recorded when it ends, is charged to the matching budgets
// even past their limit, and the event names them.
func TestChargeBatch(t *testing.T) {
	g, _, led, snap := fixture(t, nil, []governance.BudgetRule{{Name: "usd", Unit: "cost_per_day", LimitTo: 1}})
	c := &pipeline.Caller{Snapshot: snap, Principal: &snapshot.Principal{User: "alice"}}
	m, _ := snap.Model("acct/echo")
	e := &usage.Event{Usage: usageOf(100, 50), CostUSD: 2.5, Priced: true}
	g.Charge(c, m, e)
	s := led.Status(nil)
	if len(s) != 1 || s[0].Spend != budget.NanoUSD(2.5) {
		t.Errorf("spend %+v, want $2.50", s)
	}
	if len(e.Counted) != 1 || e.Counted[0] != "budget:usd" {
		t.Errorf("counted %v", e.Counted)
	}
}

func usageOf(prompt, completion int64) chat.Usage {
	return chat.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// BenchmarkGuard is the guard's cost per request with three rate limits and two budgets
// matching: match, reserve, headers, settle.
func BenchmarkGuard(b *testing.B) {
	t := &testing.T{}
	limits := []governance.RateLimitRule{
		{Name: "rpm", Limits: []governance.Limit{{Unit: "requests_per_minute", LimitTo: 1 << 40}}, AppliesPer: []string{"user"}},
		{Name: "tpm", Limits: []governance.Limit{{Unit: "tokens_per_minute", LimitTo: 1 << 40}}, AppliesPer: []string{"user"}},
		{Name: "rpd", Limits: []governance.Limit{{Unit: "requests_per_day", LimitTo: 1 << 40}}, AppliesPer: []string{"team"}},
	}
	budgets := []governance.BudgetRule{
		{Name: "usd", Unit: "cost_per_month", LimitTo: 1e8, AppliesPer: []string{"user"}},
		{Name: "tokens", Unit: "tokens_per_day", LimitTo: 1e14},
	}
	g, _, _, snap := fixture(t, limits, budgets)
	a := attempt(t, snap, "acct/echo", pipeline.Size{PromptBytes: 400, MaxOutput: 100})
	e := &usage.Event{Usage: usageOf(100, 20), CostUSD: 0.00002, Priced: true}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		a.Counted = a.Counted[:0]
		tk, err := g.Admit(ctx, a)
		if err != nil {
			b.Fatal(err)
		}
		tk.Settle(e)
	}
}

// refusals records what WithRefusals is told.
type refusals struct{ got []string }

func (r *refusals) RateLimited(rule string)     { r.got = append(r.got, "rate_limit:"+rule) }
func (r *refusals) BudgetExhausted(rule string) { r.got = append(r.got, "budget:"+rule) }

// TestRefusalsReported: each refusal is reported once, naming the rule that refused, and an
// admitted attempt reports nothing.
func TestRefusalsReported(t *testing.T) {
	_, lim, led, snap := fixture(t,
		[]governance.RateLimitRule{{Name: "rpm", Limits: []governance.Limit{{Unit: "requests_per_minute", LimitTo: 1}}}},
		[]governance.BudgetRule{{Name: "usd", Unit: "cost_per_day", LimitTo: 5, When: governance.Condition{Models: []string{"acct/echo"}}}})
	r := &refusals{}
	g := New(lim, led, WithClock(func() time.Time { return t0 }), WithRefusals(r))
	ctx := context.Background()
	if _, err := g.Admit(ctx, attempt(t, snap, "acct/echo", pipeline.Size{MaxOutput: 6})); err == nil {
		t.Fatal("the budget admitted $6 of $5")
	}
	if _, err := g.Admit(ctx, attempt(t, snap, "acct/echo", pipeline.Size{MaxOutput: 1})); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Admit(ctx, attempt(t, snap, "acct/echo", pipeline.Size{MaxOutput: 1})); err == nil {
		t.Fatal("the rate limit admitted a second request")
	}
	if want := []string{"budget:usd", "rate_limit:rpm"}; !slices.Equal(r.got, want) {
		t.Fatalf("reported %v, want %v", r.got, want)
	}
}

// grantor is a control plane that leases every key a fixed amount and records the usage
// reported.
type grantor struct {
	lease int64
	used  map[string]int64 // by rule
}

func (g *grantor) Exchange(_ context.Context, req *lease.Request) (*lease.Response, error) {
	resp := &lease.Response{Seq: req.Seq, TTL: time.Minute, Gateways: 3}
	for _, it := range req.Items {
		g.used[it.Key.Rule] += it.Used
		resp.Grants = append(resp.Grants, lease.Grant{Key: it.Key, Lease: g.lease})
	}
	return resp, nil
}

// TestLeasedMode: with leases, an attempt is admitted only within the replica's lease of each
// matching rule (a rate limit refused in OpenAI's shape, a budget as insufficient_quota), a
// refused or canceled attempt gives its lease back, and settled usage is reported at the next
// sync.
func TestLeasedMode(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		limits []governance.RateLimitRule
		budget []governance.BudgetRule
		kind   apierr.Kind
		rule   string
	}{
		{name: "rate limit", limits: []governance.RateLimitRule{{Name: "rpm", Limits: []governance.Limit{{Unit: "requests_per_minute", LimitTo: 100}}}},
			kind: apierr.KindRateLimited, rule: "rpm"},
		{name: "token budget", budget: []governance.BudgetRule{{Name: "tok", Unit: "tokens_per_day", LimitTo: 1e6}},
			kind: apierr.KindBudgetExhausted, rule: "tok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _, _, snap := fixture(t, tc.limits, tc.budget)
			fake := &grantor{lease: 3, used: map[string]int64{}}
			if tc.budget != nil {
				fake.lease = 3 * 150 // three requests of 100 prompt + 50 output tokens
			}
			now := func() time.Time { return t0 }
			g.leases = lease.New("gw", fake, lease.WithClock(now))
			size := pipeline.Size{PromptBytes: 400, MaxOutput: 50}
			// The first request bridges (no lease yet); the sync brings the lease.
			first, err := g.Admit(ctx, attempt(t, snap, "acct/echo", size))
			if err != nil {
				t.Fatalf("first request refused: %v", err)
			}
			if err := g.leases.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			var tickets []pipeline.Ticket
			for i := range 3 {
				tk, err := g.Admit(ctx, attempt(t, snap, "acct/echo", size))
				if err != nil {
					t.Fatalf("request %d within the lease refused: %v", i, err)
				}
				tickets = append(tickets, tk)
			}
			_, err = g.Admit(ctx, attempt(t, snap, "acct/echo", size))
			var e *apierr.Error
			if !errors.As(err, &e) || e.Kind != tc.kind || !strings.Contains(e.Message, tc.rule) {
				t.Fatalf("request beyond the lease: %v, want %v naming %s", err, tc.kind, tc.rule)
			}
			tickets[0].(interface{ Cancel() }).Cancel() // its lease comes back
			if _, err := g.Admit(ctx, attempt(t, snap, "acct/echo", size)); err != nil {
				t.Fatalf("request after a cancel refused: %v", err)
			}
			first.Settle(&usage.Event{Usage: usageOf(30, 12)})
			tickets[1].Settle(&usage.Event{Usage: usageOf(30, 12)})
			if err := g.leases.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			want := int64(2) // two requests settled
			if tc.budget != nil {
				want = 2 * 42
			}
			if got := fake.used[tc.rule]; got != want {
				t.Errorf("reported %d used, want %d", got, want)
			}
		})
	}
}

// TestAppendDuration: the reset headers read exactly as time.Duration.String writes them.
func TestAppendDuration(t *testing.T) {
	ds := []time.Duration{0, time.Millisecond, 999 * time.Millisecond, time.Second, 1500 * time.Millisecond,
		59*time.Second + 874*time.Millisecond, time.Minute, 90 * time.Second, time.Hour, 25*time.Hour + 500*time.Millisecond,
		-1500 * time.Millisecond, 7 * 24 * time.Hour}
	for ms := int64(0); ms < 4*3600*1000; ms += 7919 { // a prime step through four hours
		ds = append(ds, time.Duration(ms)*time.Millisecond)
	}
	for _, d := range ds {
		if got, want := string(appendDuration(nil, d)), d.String(); got != want {
			t.Errorf("appendDuration(%d ms) = %q, want %q", d.Milliseconds(), got, want)
		}
	}
}

// TestSetHeaders: each header alone, both trios, values that an Add on one answer cannot change
// in another's, and two allocations.
func TestSetHeaders(t *testing.T) {
	d := limiter.Decision{
		Requests: limiter.Quota{Covered: true, Limit: 60, Remaining: 59, Reset: 1500 * time.Millisecond},
		Tokens:   limiter.Quota{Covered: true, Limit: 100000, Remaining: 99750, Reset: 59*time.Second + 874*time.Millisecond},
	}
	h := http.Header{}
	setHeaders(h, &d)
	want := map[string]string{
		"X-Ratelimit-Limit-Requests": "60", "X-Ratelimit-Remaining-Requests": "59", "X-Ratelimit-Reset-Requests": "1.5s",
		"X-Ratelimit-Limit-Tokens": "100000", "X-Ratelimit-Remaining-Tokens": "99750", "X-Ratelimit-Reset-Tokens": "59.874s",
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want [%s]", k, got, v)
		}
	}
	h.Add("X-Ratelimit-Limit-Requests", "extra")
	if got := h.Values("X-Ratelimit-Remaining-Requests"); len(got) != 1 || got[0] != "59" {
		t.Errorf("an Add changed the next header: %q", got)
	}
	tokensOnly := limiter.Decision{Tokens: d.Tokens}
	h = http.Header{}
	setHeaders(h, &tokensOnly)
	if len(h) != 3 || h.Get("X-Ratelimit-Remaining-Tokens") != "99750" || h.Get("X-Ratelimit-Reset-Tokens") != "59.874s" {
		t.Errorf("tokens only: %v", h)
	}
	h = http.Header{}
	setHeaders(h, &limiter.Decision{})
	if len(h) != 0 {
		t.Errorf("no covered limit: %v, want no header", h)
	}
	if n := testing.AllocsPerRun(100, func() { setHeaders(http.Header{}, &d) }); n > 2+1 { // + the map
		t.Errorf("setHeaders: %v allocations, want at most 2 (and the test's map)", n)
	}
}
