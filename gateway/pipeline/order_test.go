package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/latency"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// orderHarness is a pipeline on an injected clock and seeded random source, for ordering tests.
type orderHarness struct {
	p   *Pipeline
	now time.Time
}

func newOrderHarness() *orderHarness {
	h := &orderHarness{now: time.Unix(1_000_000, 0)}
	p := New(nil, nil, slog.New(slog.DiscardHandler))
	p.now = func() time.Time { return h.now }
	r := rand.New(rand.NewPCG(1, 2))
	p.draw = r.IntN
	h.p = p
	return h
}

// answer records n answers of target at tpot per token (100 tokens, not streamed).
func (h *orderHarness) answer(target string, n int, tpot time.Duration) {
	for range n {
		h.p.stats.Observe(target, 100*tpot, 0, 100)
	}
}

// firsts orders plan n times and counts each target's first places.
func (h *orderHarness) firsts(plan *snapshot.Plan, n int) map[string]int {
	out := map[string]int{}
	for range n {
		out[h.p.order(plan).Targets[0].Endpoint.FQN]++
	}
	return out
}

func livePlan(strategy string, ts ...snapshot.Target) *snapshot.Plan {
	return &snapshot.Plan{Model: "prod/v", Virtual: true, Live: true, Strategy: strategy, Targets: ts}
}

func tgt(fqn string) snapshot.Target {
	return snapshot.Target{Endpoint: &snapshot.Endpoint{FQN: fqn}, Fallback: true}
}

func within(t *testing.T, what string, got, lo, hi int) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s = %d, want %d..%d", what, got, lo, hi)
	}
}

func TestLatencyRoutingMovesTrafficWhenATargetSlowsDown(t *testing.T) {
	h := newOrderHarness()
	plan := livePlan(snapshot.RoutingLatency, tgt("a/m"), tgt("b/m"), tgt("c/m"))
	h.answer("a/m", 5, 10*time.Millisecond)
	h.answer("b/m", 5, 11*time.Millisecond) // within 1.2x of a: shares the traffic
	h.answer("c/m", 5, 30*time.Millisecond)
	got := h.firsts(plan, 2000)
	within(t, "a first", got["a/m"], 900, 1100)
	within(t, "b first", got["b/m"], 900, 1100)
	within(t, "c first", got["c/m"], 0, 0)
	if o := h.p.order(plan).Targets; o[2].Endpoint.FQN != "c/m" {
		t.Errorf("the slowest is not last: %v", o[2].Endpoint.FQN)
	}

	// a slows down: its last 100 answers replace the fast ones.
	h.now = h.now.Add(time.Minute)
	h.answer("a/m", latency.MaxSamples, 50*time.Millisecond)
	got = h.firsts(plan, 1000)
	within(t, "b first after a slowed", got["b/m"], 1000, 1000)
	o := h.p.order(plan).Targets
	if o[1].Endpoint.FQN != "c/m" || o[2].Endpoint.FQN != "a/m" {
		t.Errorf("order = %s, %s, %s; want b, c, a", o[0].Endpoint.FQN, o[1].Endpoint.FQN, o[2].Endpoint.FQN)
	}

	// 20 minutes later a's answers are forgotten, and it is explored again.
	h.now = h.now.Add(latency.Window + time.Second)
	h.answer("b/m", 3, 11*time.Millisecond)
	h.answer("c/m", 3, 30*time.Millisecond)
	got = h.firsts(plan, 2000)
	within(t, "a explored", got["a/m"], 140, 260) // 1 in 10
}

func TestLatencyRoutingExploresANewTarget(t *testing.T) {
	h := newOrderHarness()
	plan := livePlan(snapshot.RoutingLatency, tgt("a/m"), tgt("new/m"))

	// Nothing measured: every request explores, drawn among the targets.
	got := h.firsts(plan, 2000)
	within(t, "a first, none measured", got["a/m"], 900, 1100)

	h.answer("a/m", 3, 10*time.Millisecond)
	h.answer("new/m", 2, time.Millisecond) // fast, but fewer than 3 answers: unmeasured
	got = h.firsts(plan, 2000)
	within(t, "new first while unmeasured", got["new/m"], 140, 260) // 1 in 10

	h.answer("new/m", 1, time.Millisecond) // measured now, and the fastest
	got = h.firsts(plan, 1000)
	within(t, "new first once measured", got["new/m"], 1000, 1000)
}

func TestLatencyRoutingKeepsFallbackCandidates(t *testing.T) {
	h := newOrderHarness()
	only := tgt("only/m")
	only.Fallback = false // never attempted after another
	plan := livePlan(snapshot.RoutingLatency, tgt("a/m"), only)
	h.answer("a/m", 3, 10*time.Millisecond)
	h.answer("only/m", 3, 50*time.Millisecond)
	if o := h.p.order(plan).Targets; len(o) != 1 || o[0].Endpoint.FQN != "a/m" {
		t.Errorf("targets = %d, first %s; want a/m alone", len(o), o[0].Endpoint.FQN)
	}
	h.answer("only/m", latency.MaxSamples, time.Millisecond)
	if o := h.p.order(plan).Targets; len(o) != 2 || o[0].Endpoint.FQN != "only/m" {
		t.Errorf("targets = %d, first %s; want only/m then a/m", len(o), o[0].Endpoint.FQN)
	}
}

func TestPriorityRoutingSkipsAnSLABreachAndBringsItBack(t *testing.T) {
	h := newOrderHarness()
	primary := tgt("primary/m")
	primary.SLA = snapshot.SLA{TPOT: 50 * time.Millisecond, TTFT: 5 * time.Second}
	plan := livePlan(snapshot.RoutingPriority, primary, tgt("backup/m"))

	h.answer("primary/m", 5, 20*time.Millisecond)
	within(t, "primary first, healthy", h.firsts(plan, 1000)["primary/m"], 1000, 1000)

	// Its TPOT over the last 3 minutes goes over the cutoff: skipped, but probed 1 in 20.
	h.now = h.now.Add(time.Minute)
	h.answer("primary/m", 10, 100*time.Millisecond)
	got := h.firsts(plan, 2000)
	within(t, "primary probed", got["primary/m"], 60, 140)
	if o := h.p.order(plan).Targets; len(o) != 2 {
		t.Errorf("a breaching target is still a fallback: got %d targets", len(o))
	}

	// Its window comes back under the cutoff: fast answers (the probes) bring the average down.
	h.answer("primary/m", 60, 10*time.Millisecond) // (5*20+10*100+60*10)/75 = 22.7ms
	within(t, "primary first, recovered", h.firsts(plan, 1000)["primary/m"], 1000, 1000)

	// A TTFT breach counts too; 3 minutes without answers empty the window.
	h.now = h.now.Add(10 * time.Minute)
	h.p.stats.Observe("primary/m", 6*time.Second+100*time.Millisecond, 6*time.Second, 10)
	within(t, "primary first, slow first token", h.firsts(plan, 1000)["primary/m"], 20, 80)
	h.now = h.now.Add(latency.SLAWindow + time.Second)
	within(t, "primary first, window empty", h.firsts(plan, 1000)["primary/m"], 1000, 1000)
}

// BenchmarkOrder is the per-request cost of ordering a Live plan of three measured targets.
func BenchmarkOrder(b *testing.B) {
	for _, strategy := range []string{snapshot.RoutingLatency, snapshot.RoutingPriority} {
		b.Run(strategy, func(b *testing.B) {
			h := newOrderHarness()
			a, c := tgt("a/m"), tgt("c/m")
			a.SLA = snapshot.SLA{TPOT: 50 * time.Millisecond}
			plan := livePlan(strategy, a, tgt("b/m"), c)
			for _, t := range plan.Targets {
				h.answer(t.Endpoint.FQN, latency.MaxSamples, 10*time.Millisecond)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.p.order(plan)
			}
		})
	}
}

// TestAttemptsReportTheirSpeed: the attempt's end (note, which reports to the circuit breaker
// too) reports a successful answer's speed to the latency statistics, and nothing else.
func TestAttemptsReportTheirSpeed(t *testing.T) {
	u := usageChunk
	text := provider.Chunk{JSON: []byte(`{"choices":[{"delta":{"content":"hi"}}]}`)}
	last := provider.Chunk{JSON: []byte(`{"choices":[],"usage":{}}`), Usage: &u, UsageOnly: true}
	for _, tc := range []struct {
		name    string
		adapter *scripted
		want    int
	}{
		{"answered", &scripted{chunks: []provider.Chunk{text, last}, err: io.EOF}, 1},
		{"failed", &scripted{chunks: []provider.Chunk{text}, err: provider.BadResponse(errors.New("cut"))}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _, _ := setup(t, tc.adapter)
			c, err := p.Admit("secret", "req-1")
			if err != nil {
				t.Fatal(err)
			}
			st, err := p.ChatStream(context.Background(), c, &provider.ChatCall{Request: &chat.Request{Model: "acct/m",
				Messages: []chat.Message{{Role: chat.RoleUser, Content: chat.TextContent("hello there")}}}})
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, p, st, nil)
			st.Close()
			p.Drain(context.Background())
			if got := p.Latency().Summary("acct/m", latency.Window).N; got != tc.want {
				t.Errorf("answers recorded = %d, want %d", got, tc.want)
			}
		})
	}
}
