package snapshot

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
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
