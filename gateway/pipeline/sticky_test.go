package pipeline

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/breaker"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/sticky"
)

// byModel builds each model's adapter by its upstream model name.
type byModel map[string]provider.Adapter

func (b byModel) Build(c provider.Config) (provider.Adapter, error) { return b[c.Model], nil }

// stickyHarness is a pipeline serving prod/s, a virtual model that sends half its traffic to
// acct/a and half to acct/b, with sticky_routing on the X-Session-Id header and the
// conversation key of the metadata, on a clock the test moves; and prod/w, the same without
// sticky_routing.
type stickyHarness struct {
	p    *Pipeline
	rec  *recorder
	now  time.Time
	down map[string]bool // upstream models answering 503
}

type downable struct {
	h     *stickyHarness
	model string
	scripted
}

func (d *downable) Chat(ctx context.Context, c *provider.ChatCall) (*provider.ChatResult, error) {
	if d.h.down[d.model] {
		return nil, provider.StatusError(503, "", nil)
	}
	return d.scripted.Chat(ctx, c)
}

const stickyTTL = 10 * time.Minute

func newStickyHarness(t testing.TB, opts ...Option) *stickyHarness {
	t.Helper()
	h := &stickyHarness{now: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), down: map[string]bool{}}
	retry := snapshot.Retry{Attempts: 1}
	cfg := &snapshot.Config{
		Accounts:        []snapshot.Account{{Name: "acct", Provider: "x"}},
		Models:          []snapshot.Model{{Account: "acct", Name: "a"}, {Account: "acct", Name: "b"}},
		Users:           []snapshot.User{{Name: "u"}},
		Keys:            []snapshot.Key{{ID: "k1", Hash: snapshot.KeyHash("secret"), User: "u"}},
		VirtualAccounts: []snapshot.VirtualAccount{{Name: "billing"}},
		Rules:           []snapshot.Rule{{Name: "r", Models: []string{"*"}, Users: []string{"u"}, VirtualAccounts: []string{"billing"}}},
		VirtualModels: []snapshot.VirtualModel{{Account: "prod", Name: "w", Strategy: snapshot.RoutingWeight,
			Targets: []snapshot.VirtualTarget{
				{Model: "acct/a", Weight: 50, Retry: retry, FallbackStatus: []int{503}, FallbackCandidate: true},
				{Model: "acct/b", Weight: 50, Retry: retry, FallbackStatus: []int{503}, FallbackCandidate: true},
			},
		}, {Account: "prod", Name: "s", Strategy: snapshot.RoutingWeight,
			Targets: []snapshot.VirtualTarget{
				{Model: "acct/a", Weight: 50, Retry: retry, FallbackStatus: []int{503}, FallbackCandidate: true},
				{Model: "acct/b", Weight: 50, Retry: retry, FallbackStatus: []int{503}, FallbackCandidate: true},
			},
			Sticky: &snapshot.Sticky{TTL: stickyTTL, Identifiers: []snapshot.SessionIdentifier{
				{Source: snapshot.SessionHeaders, Key: "x-session-id"}, {Source: snapshot.SessionMetadata, Key: "conversation"}}},
		}},
	}
	b := byModel{"a": &downable{h: h, model: "a"}, "b": &downable{h: h, model: "b"}}
	var holder snapshot.Holder
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	holder.Store(snapshot.Compile(cfg, b, nil, logger))
	h.rec = &recorder{}
	h.p = New(&holder, h.rec, logger, opts...)
	h.p.now = func() time.Time { return h.now }
	h.p.draw = rand.New(rand.NewPCG(9, 9)).IntN
	return h
}

// ask sends one chat request for prod/s with the session header and metadata (each left out
// when empty) and returns the target that answered.
func (h *stickyHarness) ask(t testing.TB, session, conversation string) string {
	t.Helper()
	return h.askModel(t, "prod/s", session, conversation)
}

// askModel is ask for model.
func (h *stickyHarness) askModel(t testing.TB, model, session, conversation string) string {
	t.Helper()
	c, err := h.p.Admit("secret", "req")
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{}
	if session != "" {
		hdr.Set("X-Session-Id", session)
	}
	c.Edge = edge.NewRequest(hdr, edge.SurfaceOpenAI, h.now)
	if conversation != "" {
		c.Metadata = map[string]string{"conversation": conversation}
	}
	if _, err := h.p.Chat(context.Background(), c, &provider.ChatCall{Request: &chat.Request{Model: model}}); err != nil {
		t.Fatal(err)
	}
	return c.Header.Get(HeaderResolvedModel)
}

func TestStickySessionKeepsItsTarget(t *testing.T) {
	h := newStickyHarness(t)
	first := h.ask(t, "s-1", "c-1")
	for i := range 1000 {
		if got := h.ask(t, "s-1", "c-1"); got != first {
			t.Fatalf("request %d of the session went to %s, want %s: its first request's target", i, got, first)
		}
	}
	// Other sessions, and requests without every identifier, are routed by weight (50/50).
	sessions := map[string]int{}
	for i := range 1000 {
		sessions[h.ask(t, "s-"+strconv.Itoa(i+2), "c-1")]++
	}
	without := map[string]int{}
	for range 500 {
		without[h.ask(t, "s-1", "")]++
		without[h.ask(t, "", "c-1")]++
	}
	for name, got := range map[string]map[string]int{"one request per session": sessions, "missing an identifier": without} {
		for _, target := range []string{"acct/a", "acct/b"} {
			if n := got[target]; n < 450 || n > 550 {
				t.Errorf("%s: %s took %d of 1000, want about half", name, target, n)
			}
		}
	}
	if n := h.p.pins.Len(); n != 1001 {
		t.Errorf("%d sessions pinned, want 1001: requests without every identifier pin nothing", n)
	}
}

func TestStickySessionExpires(t *testing.T) {
	h := newStickyHarness(t)
	h.p.draw = func(int) int { return 0 } // the heaviest first: acct/a (weights tie: configuration order)
	if got := h.ask(t, "s-1", "c-1"); got != "acct/a" {
		t.Fatalf("first request went to %s, want acct/a", got)
	}
	h.p.draw = func(n int) int { return n - 1 } // acct/b, for requests not pinned
	h.now = h.now.Add(stickyTTL - time.Second)
	if got := h.ask(t, "s-1", "c-1"); got != "acct/a" {
		t.Fatalf("before the TTL: %s, want acct/a", got)
	}
	h.now = h.now.Add(stickyTTL - time.Second) // the TTL counts from the last request
	if got := h.ask(t, "s-1", "c-1"); got != "acct/a" {
		t.Fatalf("before the TTL after the last request: %s, want acct/a", got)
	}
	h.now = h.now.Add(stickyTTL)
	if got := h.ask(t, "s-1", "c-1"); got != "acct/b" {
		t.Fatalf("after the TTL: %s, want a new draw (acct/b)", got)
	}
	h.p.draw = func(int) int { return 0 }
	if got := h.ask(t, "s-1", "c-1"); got != "acct/b" {
		t.Errorf("the session expired and was pinned again: %s, want acct/b", got)
	}
}

func TestStickySessionFollowsAFailover(t *testing.T) {
	h := newStickyHarness(t)
	h.p.draw = func(int) int { return 0 }
	if got := h.ask(t, "s-1", "c-1"); got != "acct/a" {
		t.Fatalf("first request went to %s, want acct/a", got)
	}
	h.down["a"] = true
	if got := h.ask(t, "s-1", "c-1"); got != "acct/b" {
		t.Fatalf("pinned target down: %s, want the fallback acct/b", got)
	}
	h.down["a"] = false
	if got := h.ask(t, "s-1", "c-1"); got != "acct/b" {
		t.Fatalf("after the failover: %s, want acct/b, where the session was pinned again", got)
	}
	// A target whose circuit is open is skipped, and the session moves too.
	if got := h.ask(t, "s-2", "c-1"); got != "acct/a" {
		t.Fatalf("s-2 went to %s, want acct/a", got)
	}
	for range breaker.Threshold {
		h.p.breaker.Failure("acct/a")
	}
	if got := h.ask(t, "s-2", "c-1"); got != "acct/b" {
		t.Fatalf("pinned target's circuit open: %s, want acct/b", got)
	}
	h.now = h.now.Add(breaker.MaxCooldown)
	h.p.breaker.Success("acct/a")
	if got := h.ask(t, "s-2", "c-1"); got != "acct/b" {
		t.Errorf("after the circuit closed: %s, want acct/b, where the session was pinned again", got)
	}
}

func TestStickySessionsAreBounded(t *testing.T) {
	h := newStickyHarness(t)
	h.p.pins = sticky.New(func() time.Time { return h.now }, 2)
	h.p.draw = func(int) int { return 0 }
	h.ask(t, "s-1", "c-1") // acct/a
	h.ask(t, "s-2", "c-1")
	h.p.draw = func(n int) int { return n - 1 }
	h.ask(t, "s-3", "c-1") // the third session evicts the first, least recently used
	if got := h.ask(t, "s-2", "c-1"); got != "acct/a" {
		t.Errorf("s-2: %s, want acct/a, its pin", got)
	}
	if got := h.ask(t, "s-1", "c-1"); got != "acct/b" {
		t.Errorf("s-1: %s, want a new draw (acct/b): it was evicted", got)
	}
	if n := h.p.pins.Len(); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
}

// BenchmarkRouting is a non-streamed chat request through the whole pipeline (admission
// included), with an adapter that answers at once, for a one-target plan (a real model), a
// weighted two-target plan (a virtual model) and the same with sticky_routing (a session
// looked up and pinned again on every request): what routing adds to a request is the
// difference.
func BenchmarkRouting(b *testing.B) {
	for _, bb := range []struct{ name, model string }{{"one target", "acct/a"}, {"weighted", "prod/w"}, {"weighted sticky", "prod/s"}} {
		b.Run(bb.name, func(b *testing.B) {
			h := newStickyHarness(b)
			er := edge.NewRequest(http.Header{"X-Session-Id": {"session-1"}}, edge.SurfaceOpenAI, h.now)
			md := map[string]string{"conversation": "conversation-1"}
			call := &provider.ChatCall{Request: &chat.Request{Model: bb.model}}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c, err := h.p.Admit("secret", "req")
				if err != nil {
					b.Fatal(err)
				}
				c.Edge, c.Metadata = er, md
				if _, err := h.p.Chat(ctx, c, call); err != nil {
					b.Fatal(err)
				}
				h.rec.evs = h.rec.evs[:0]
			}
		})
	}
}

// BenchmarkPlan is the routing stage alone (run's route, and stick for a sticky plan) for the
// models of BenchmarkRouting: a one-target plan, a weighted draw, and a weighted draw with the
// session looked up and pinned again, as a request that its pinned target answers does.
func BenchmarkPlan(b *testing.B) {
	for _, bb := range []struct{ name, model string }{{"one target", "acct/a"}, {"weighted", "prod/w"}, {"weighted sticky", "prod/s"}} {
		b.Run(bb.name, func(b *testing.B) {
			h := newStickyHarness(b)
			c, err := h.p.Admit("secret", "req")
			if err != nil {
				b.Fatal(err)
			}
			c.Edge = edge.NewRequest(http.Header{"X-Session-Id": {"session-1"}}, edge.SurfaceOpenAI, h.now)
			c.Metadata = map[string]string{"conversation": "conversation-1"}
			b.ReportAllocs()
			for b.Loop() {
				var rq request
				plan, err := c.Snapshot.RouteFor(c.Principal, c.Metadata, bb.model, h.p.draw)
				if err != nil {
					b.Fatal(err)
				}
				if plan.Sticky != nil {
					plan = h.p.stick(c, plan, &rq)
					h.p.pins.Pin(rq.session, plan.Targets[0].Endpoint.FQN, plan.Sticky.TTL)
				}
			}
		})
	}
}

func TestStickySessionsAreTheCallers(t *testing.T) {
	h := newStickyHarness(t)
	h.p.draw = func(int) int { return 0 }
	if got := h.ask(t, "s-1", "c-1"); got != "acct/a" {
		t.Fatalf("u's session went to %s, want acct/a", got)
	}
	// Another caller with the same identifiers has a session of its own.
	c, err := h.p.Admit("secret", "req")
	if err != nil {
		t.Fatal(err)
	}
	other := *c.Principal
	other.User, other.VirtualAccount = "", "billing"
	c.Principal = &other
	c.Edge = edge.NewRequest(http.Header{"X-Session-Id": {"s-1"}}, edge.SurfaceOpenAI, h.now)
	c.Metadata = map[string]string{"conversation": "c-1"}
	h.p.draw = func(n int) int { return n - 1 }
	if _, err := h.p.Chat(context.Background(), c, &provider.ChatCall{Request: &chat.Request{Model: "prod/s"}}); err != nil {
		t.Fatal(err)
	}
	if got := c.Header.Get(HeaderResolvedModel); got != "acct/b" {
		t.Errorf("another caller's session went to %s, want its own draw (acct/b)", got)
	}
	if got := h.ask(t, "s-1", "c-1"); got != "acct/a" {
		t.Errorf("u's session went to %s, want acct/a, still", got)
	}
}
