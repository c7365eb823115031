package snapshot

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/governance"
)

func virtualConfig() *Config {
	cfg := testConfig()
	retry := Retry{Attempts: 2, OnStatus: []int{503}}
	cfg.VirtualModels = []VirtualModel{
		{Account: "prod", Name: "gpt", Strategy: RoutingWeight, Targets: []VirtualTarget{
			{Model: "local/llama", Weight: 10, Retry: retry, FallbackCandidate: true},
			{Model: "openai/gpt-4o", Weight: 90, Retry: retry, FallbackStatus: []int{503}, FallbackCandidate: true},
		}},
		{Account: "prod", Name: "ha", Strategy: RoutingPriority, Targets: []VirtualTarget{
			{Model: "local/llama", Priority: 1, FallbackCandidate: true},
			{Model: "openai/gpt-4o", Priority: 0, FallbackCandidate: true},
			{Model: "bad/m", Priority: 1, FallbackCandidate: false},
			{Model: "nowhere/x", Priority: 0, FallbackCandidate: true},
		}},
		{Account: "prod", Name: "empty", Strategy: RoutingPriority, Targets: []VirtualTarget{{Model: "nowhere/x"}}},
		{Account: "openai", Name: "gpt-4o", Strategy: RoutingPriority, Targets: []VirtualTarget{{Model: "local/llama"}}}, // shadows a real model: left out
	}
	cfg.Rules = append(cfg.Rules, Rule{Name: "virtual", Models: []string{"prod/*"}, Users: []string{"bob"}})
	return cfg
}

func targetNames(p *Plan) []string {
	var out []string
	for _, t := range p.Targets {
		out = append(out, t.Endpoint.FQN)
	}
	return out
}

func TestRouteWeightedDistribution(t *testing.T) {
	s := Compile(virtualConfig(), builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	draw := rand.New(rand.NewPCG(1, 2)).IntN
	const n = 10_000
	first := map[string]int{}
	for range n {
		p, err := s.RouteDraw("prod/gpt", draw)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Virtual || p.Model != "prod/gpt" || len(p.Targets) != 2 || p.Targets[0].Endpoint == p.Targets[1].Endpoint {
			t.Fatalf("plan %+v: want the virtual model's two targets", p)
		}
		first[p.Targets[0].Endpoint.FQN]++
	}
	for fqn, want := range map[string]float64{"openai/gpt-4o": 90, "local/llama": 10} {
		if got := 100 * float64(first[fqn]) / n; got < want-2 || got > want+2 {
			t.Errorf("%s first in %.1f%% of plans, want %.0f%% within 2 points", fqn, got, want)
		}
	}
	// The target drawn first keeps its retry and fallback settings; the other follows it.
	p, _ := s.RouteDraw("prod/gpt", func(int) int { return 95 })
	if diff := cmp.Diff([]string{"local/llama", "openai/gpt-4o"}, targetNames(p)); diff != "" {
		t.Errorf("plan for a draw of 95 (-want +got):\n%s", diff)
	}
	if p.Targets[0].Retry.Attempts != 2 || p.Targets[1].FallbackOn[0] != 503 {
		t.Errorf("targets lost their settings: %+v", p.Targets)
	}
}

func TestRoutePriority(t *testing.T) {
	s := Compile(virtualConfig(), builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	p, err := s.Route("prod/ha")
	if err != nil {
		t.Fatal(err)
	}
	// By priority, stable; bad/m is not a fallback candidate; nowhere/x does not exist.
	if diff := cmp.Diff([]string{"openai/gpt-4o", "local/llama"}, targetNames(p)); diff != "" {
		t.Errorf("priority plan (-want +got):\n%s", diff)
	}
	if _, err := s.Route("prod/empty"); apierr.From(err).Kind != apierr.KindUpstreamUnavailable {
		t.Errorf("a virtual model without targets: %v, want unavailable", err)
	}
	if p, _ := s.Route("openai/gpt-4o"); p.Virtual {
		t.Error("a virtual model shadowed a real model")
	}
}

func TestAuthorizeThroughVirtualModel(t *testing.T) {
	s := Compile(virtualConfig(), builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	bob := &Principal{User: "bob"}
	p, _ := s.Route("prod/ha")
	gpt := p.Targets[0].Endpoint
	if err := s.Authorize(bob, gpt); err == nil {
		t.Fatal("bob may use openai/gpt-4o directly; the test needs him not to")
	}
	if err := s.AuthorizePlan(bob, p, gpt); err != nil {
		t.Errorf("bob through prod/ha: %v, want allowed", err)
	}
	direct, _ := s.Route("openai/gpt-4o")
	if err := s.AuthorizePlan(bob, direct, gpt); apierr.From(err).Kind != apierr.KindPermissionDenied {
		t.Errorf("bob directly: %v, want 403", err)
	}
	if err := s.AuthorizePlan(&Principal{User: "alice"}, p, gpt); err == nil || !strings.Contains(err.Error(), "prod/ha") {
		t.Errorf("alice through prod/ha: %v, want a 403 naming the virtual model", err)
	}
	var listed []string
	for _, m := range s.Models(bob) {
		listed = append(listed, m.FQN)
	}
	if diff := cmp.Diff([]string{"local/llama", "prod/empty", "prod/gpt", "prod/ha"}, listed); diff != "" {
		t.Errorf("bob's models (-want +got):\n%s", diff)
	}
	if _, err := s.Resolve(bob, "prod/ha", ""); apierr.From(err).Kind != apierr.KindInvalidRequest {
		t.Errorf("Resolve of a virtual model: %v, want 400", err)
	}
}

// BenchmarkRoute: a real model's plan, and a weighted virtual model's (issue 9: under 2 µs).
func BenchmarkRoute(b *testing.B) {
	s := Compile(virtualConfig(), builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, m := range []string{"openai/gpt-4o", "prod/gpt"} {
		b.Run(m, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Route(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestRouteForLoadBalancingRules(t *testing.T) {
	cfg := virtualConfig()
	cfg.RoutingRules = []RoutingRule{
		// First match wins: bob with env=prod gets the first rule, bob without it the second.
		{ID: "bob-prod", When: governance.Condition{Subjects: []string{"user:bob"}, Models: []string{"local/llama"}, Metadata: map[string]string{"env": "prod"}},
			Strategy: RoutingPriority, Targets: []VirtualTarget{{Model: "openai/gpt-4o", FallbackCandidate: true}}},
		{ID: "ml-team", When: governance.Condition{Subjects: []string{"team:ml", "user:bob"}, Models: []string{"local/llama", "prod/ha"}},
			Strategy: RoutingPriority, Targets: []VirtualTarget{{Model: "local/llama", FallbackStatus: []int{503}, FallbackCandidate: true}, {Model: "openai/gpt-4o", Priority: 1, FallbackCandidate: true}}},
		{ID: "never", When: governance.Condition{Subjects: []string{"user:bob"}, Models: []string{"local/llama"}},
			Strategy: RoutingPriority, Targets: []VirtualTarget{{Model: "bad/m"}}},
		{ID: "ghost", When: governance.Condition{Models: []string{"nowhere/x"}}, Strategy: RoutingPriority, Targets: []VirtualTarget{{Model: "local/llama"}}},
	}
	s := Compile(cfg, builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	bob, alice, billing := &Principal{User: "bob"}, &Principal{User: "alice", Teams: []string{"ml"}}, &Principal{VirtualAccount: "billing", Teams: []string{"finance"}}
	prod := map[string]string{"env": "prod", "other": "x"}
	for _, tc := range []struct {
		name  string
		p     *Principal
		md    map[string]string
		model string
		rule  string
		want  []string
	}{
		{"first match wins", bob, prod, "local/llama", "bob-prod", []string{"openai/gpt-4o"}},
		{"metadata must match", bob, map[string]string{"env": "dev"}, "local/llama", "ml-team", []string{"local/llama", "openai/gpt-4o"}},
		{"subject by team", alice, prod, "local/llama", "ml-team", []string{"local/llama", "openai/gpt-4o"}},
		{"no rule for the subject", billing, prod, "local/llama", "", []string{"local/llama"}},
		{"nobody", nil, nil, "local/llama", "", []string{"local/llama"}},
		{"a virtual model routed by a rule", alice, nil, "prod/ha", "ml-team", []string{"local/llama", "openai/gpt-4o"}},
		{"a model no rule names", bob, prod, "openai/gpt-4o", "", []string{"openai/gpt-4o"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.RouteFor(tc.p, tc.md, tc.model, rand.IntN)
			if err != nil {
				t.Fatal(err)
			}
			if p.Model != tc.model || p.Rule != tc.rule || p.Routed() != (tc.rule != "" || p.Virtual) {
				t.Errorf("plan for %s: model %q rule %q, want %q %q", tc.model, p.Model, p.Rule, tc.model, tc.rule)
			}
			if diff := cmp.Diff(tc.want, targetNames(p)); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := s.RouteFor(bob, nil, "nowhere/x", rand.IntN); apierr.From(err).Kind != apierr.KindNotFound {
		t.Errorf("a rule naming an unknown model: %v, want 404", err)
	}
	// A caller allowed the model it named reaches the rule's targets through it, and only then.
	p, _ := s.RouteFor(bob, prod, "local/llama", rand.IntN)
	gpt := p.Targets[0].Endpoint
	if err := s.AuthorizePlan(bob, p, gpt); err != nil {
		t.Errorf("bob through local/llama: %v, want allowed", err)
	}
	p, _ = s.RouteFor(alice, nil, "local/llama", rand.IntN)
	if err := s.AuthorizePlan(alice, p, p.Targets[0].Endpoint); apierr.From(err).Kind != apierr.KindPermissionDenied || !strings.Contains(err.Error(), "local/llama") {
		t.Errorf("alice through local/llama: %v, want a 403 naming it", err)
	}
}

// BenchmarkRouteFor: a request matched against a load-balancing rule.
func BenchmarkRouteFor(b *testing.B) {
	cfg := virtualConfig()
	cfg.RoutingRules = []RoutingRule{{ID: "r", When: governance.Condition{Subjects: []string{"team:ml"}, Models: []string{"local/llama"}, Metadata: map[string]string{"env": "prod"}},
		Strategy: RoutingWeight, Targets: []VirtualTarget{{Model: "local/llama", Weight: 50, FallbackCandidate: true}, {Model: "openai/gpt-4o", Weight: 50, FallbackCandidate: true}}}}
	s := Compile(cfg, builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	p, md := &Principal{User: "alice", Teams: []string{"ml"}}, map[string]string{"env": "prod"}
	b.ReportAllocs()
	for b.Loop() {
		if plan, err := s.RouteFor(p, md, "local/llama", rand.IntN); err != nil || plan.Rule != "r" {
			b.Fatal(plan, err)
		}
	}
}

// TestRouteLive: a latency plan, and a priority plan with an sla_cutoff, hold every target
// (fallback candidates or not) for the pipeline to order per request.
func TestRouteLive(t *testing.T) {
	cfg := virtualConfig()
	cfg.VirtualModels = append(cfg.VirtualModels,
		VirtualModel{Account: "prod", Name: "fast", Strategy: RoutingLatency, Targets: []VirtualTarget{
			{Model: "local/llama", FallbackCandidate: true},
			{Model: "openai/gpt-4o"},
		}},
		VirtualModel{Account: "prod", Name: "sla", Strategy: RoutingPriority, Targets: []VirtualTarget{
			{Model: "local/llama", Priority: 1, FallbackCandidate: true},
			{Model: "openai/gpt-4o", SLA: SLA{TPOT: 5}},
		}},
	)
	s := Compile(cfg, builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, tc := range []struct {
		model, strategy string
		want            []string
	}{
		{"prod/fast", RoutingLatency, []string{"local/llama", "openai/gpt-4o"}},
		{"prod/sla", RoutingPriority, []string{"openai/gpt-4o", "local/llama"}},
	} {
		p, err := s.Route(tc.model)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Live || p.Strategy != tc.strategy {
			t.Errorf("%s: Live %v, Strategy %q; want a live %s plan", tc.model, p.Live, p.Strategy, tc.strategy)
		}
		if diff := cmp.Diff(tc.want, targetNames(p)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.model, diff)
		}
	}
	if p, _ := s.Route("prod/ha"); p.Live {
		t.Error("a priority plan without sla_cutoff is live")
	}
}

func TestStickyPlans(t *testing.T) {
	cfg := virtualConfig()
	sticky := &Sticky{TTL: time.Minute, Identifiers: []SessionIdentifier{{Source: SessionHeaders, Key: "x-session-id"}, {Source: SessionMetadata, Key: "conversation_id"}}}
	cfg.VirtualModels[0].Sticky = sticky
	cfg.VirtualModels[0].Targets = append(cfg.VirtualModels[0].Targets, VirtualTarget{Model: "bad/m", Weight: 0, FallbackCandidate: true})
	cfg.VirtualModels[1].Sticky = sticky // priority: sticky_routing applies to weighted routing only
	s := Compile(cfg, builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	p, err := s.Route("prod/gpt")
	if err != nil {
		t.Fatal(err)
	}
	want := &Sticky{TTL: time.Minute, Identifiers: []SessionIdentifier{{Source: SessionHeaders, Key: "X-Session-Id"}, {Source: SessionMetadata, Key: "conversation_id"}}}
	if diff := cmp.Diff(want, p.Sticky); diff != "" {
		t.Errorf("plan's sticky routing (-want +got):\n%s", diff)
	}
	if sticky.Identifiers[0].Key != "x-session-id" {
		t.Error("compiling changed the config")
	}
	for _, fqn := range []string{"local/llama", "openai/gpt-4o"} {
		pinned := p.Pinned(fqn)
		if pinned == nil || pinned.Targets[0].Endpoint.FQN != fqn || pinned.Model != "prod/gpt" || pinned.Sticky != p.Sticky {
			t.Fatalf("Pinned(%s) = %+v, want prod/gpt's plan that starts with it", fqn, pinned)
		}
		if got := targetNames(pinned); len(got) != 3 {
			t.Errorf("Pinned(%s) targets %q, want it and both fallback candidates", fqn, got)
		}
	}
	for _, fqn := range []string{"bad/m", "nowhere/x", "prod/gpt"} {
		if pinned := p.Pinned(fqn); pinned != nil {
			t.Errorf("Pinned(%s) = %q, want none: it is never drawn first", fqn, targetNames(pinned))
		}
	}
	if p, _ := s.Route("prod/ha"); p.Sticky != nil || p.Pinned("openai/gpt-4o") != nil {
		t.Error("a priority plan is sticky")
	}
	if n := testing.AllocsPerRun(100, func() { p.Pinned("openai/gpt-4o") }); n != 0 {
		t.Errorf("Pinned allocates %v times", n)
	}
}
