package metrics_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/breaker"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/latency"
	"github.com/llmgw/llmgw/gateway/metrics"
	mt "github.com/llmgw/llmgw/gateway/metrics/metricstest"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

var t0 = time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)

// fixture is metrics over a snapshot of two mock models (mock/echo, mock/other), a virtual
// model prod/chat routing to them, and a model whose provider kind does not exist (bad/m).
func fixture(t testing.TB) (*metrics.Metrics, *snapshot.Holder, *breaker.Breaker, *time.Time) {
	t.Helper()
	cfg := &snapshot.Config{
		Accounts: []snapshot.Account{{Name: "mock", Provider: "mock"}, {Name: "bad", Provider: "no-such-provider"}},
		Models:   []snapshot.Model{{Account: "mock", Name: "echo"}, {Account: "mock", Name: "other"}, {Account: "bad", Name: "m"}},
		VirtualModels: []snapshot.VirtualModel{{Account: "prod", Name: "chat", Strategy: snapshot.RoutingPriority,
			Targets: []snapshot.VirtualTarget{{Model: "mock/echo", FallbackCandidate: true}, {Model: "mock/other", Priority: 1, FallbackCandidate: true}}}},
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := t0
	clock := func() time.Time { return now }
	h := &snapshot.Holder{Now: clock}
	h.Store(snapshot.Compile(cfg, registry.New(http.DefaultClient), nil, logger))
	b := breaker.New(clock, logger)
	return metrics.New(h, b, metrics.WithClock(clock)), h, b, &now
}

func usageOf(prompt, completion int64) chat.Usage {
	return chat.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// TestObserve: a success, a stream, a routed request that fell back after a 5xx, a refusal and
// a batch, each counted exactly once in every metric it belongs to.
func TestObserve(t *testing.T) {
	m, _, _, _ := fixture(t)
	ok := usage.Event{Model: "mock/echo", Target: "mock/echo", Surface: "openai", Operation: "chat", Status: "ok", HTTPStatus: 200,
		Usage: usageOf(10, 5), CostUSD: 0.25, Priced: true, Latency: 100 * time.Millisecond, Upstream: 90 * time.Millisecond,
		Attempts: []usage.Attempt{{Target: "mock/echo", Status: "ok", HTTPStatus: 200, Latency: 90 * time.Millisecond}}}
	stream := ok
	stream.Stream, stream.Surface = true, "anthropic"
	stream.Usage = chat.Usage{PromptTokens: 20, CompletionTokens: 10, TotalTokens: 30,
		PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 8}, CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: 4}}
	// The stream's single attempt began 10 ms after the request; its first token came 50 ms
	// after the request: its own TTFT is 40 ms, and its 10 tokens took 1 s - 40 ms.
	stream.Latency, stream.Upstream, stream.TimeToFirstToken = 1010*time.Millisecond, time.Second, 50*time.Millisecond
	stream.Attempts = []usage.Attempt{{Target: "mock/echo", Status: "ok", HTTPStatus: 200, Latency: time.Second}}
	fellBack := usage.Event{Model: "prod/chat", Target: "mock/other", Surface: "openai", Operation: "chat", Status: "ok", HTTPStatus: 200,
		Usage: usageOf(3, 2), Latency: 300 * time.Millisecond, Upstream: 250 * time.Millisecond,
		Attempts: []usage.Attempt{
			{Target: "mock/echo", Status: "upstream_error", HTTPStatus: 503, Latency: 100 * time.Millisecond, ErrorClass: usage.ClassUpstream5xx},
			{Target: "mock/other", Status: "ok", HTTPStatus: 200, Latency: 150 * time.Millisecond},
		}}
	refused := usage.Event{Model: "mock/echo", Surface: "openai", Status: "rate_limit_exceeded", HTTPStatus: 429, Latency: time.Millisecond}
	noModel := usage.Event{Surface: "openai", Status: "invalid_api_key", HTTPStatus: 401, Latency: time.Millisecond}
	batch := usage.Event{Model: "mock/echo", Surface: "openai", Operation: "batch", Status: "ok", HTTPStatus: 200, Usage: usageOf(100, 50), CostUSD: 1, Priced: true}
	for _, e := range []usage.Event{ok, stream, fellBack, refused, batch, noModel} {
		m.Observe(&e)
	}
	f := mt.Scrape(t, m.Handler())
	counters := []struct {
		name   string
		labels mt.Labels
		want   float64
	}{
		{"llmgw_requests_total", mt.Labels{"model": "mock/echo", "target": "mock/echo", "status": "ok", "surface": "openai"}, 1},
		{"llmgw_requests_total", mt.Labels{"model": "mock/echo", "target": "mock/echo", "status": "ok", "surface": "anthropic"}, 1},
		{"llmgw_requests_total", mt.Labels{"model": "prod/chat", "target": "mock/other", "status": "ok", "surface": "openai"}, 1},
		{"llmgw_requests_total", mt.Labels{"model": "mock/echo", "target": "", "status": "rate_limit_exceeded", "surface": "openai"}, 1},
		{"llmgw_requests_total", mt.Labels{"model": "mock/echo", "target": "", "status": "ok", "surface": "openai"}, 1}, // the batch
		{"llmgw_requests_total", mt.Labels{"model": "", "target": "", "status": "invalid_api_key", "surface": "openai"}, 1},
		{"llmgw_tokens_total", mt.Labels{"model": "mock/echo", "type": "prompt"}, 130},
		{"llmgw_tokens_total", mt.Labels{"model": "mock/echo", "type": "completion"}, 65},
		{"llmgw_tokens_total", mt.Labels{"model": "mock/echo", "type": "cached"}, 8},
		{"llmgw_tokens_total", mt.Labels{"model": "mock/echo", "type": "reasoning"}, 4},
		{"llmgw_tokens_total", mt.Labels{"model": "prod/chat", "type": "prompt"}, 3},
		{"llmgw_cost_usd_total", mt.Labels{"model": "mock/echo"}, 1.5},
		{"llmgw_cost_usd_total", mt.Labels{"model": "prod/chat"}, 0},
		{"llmgw_target_requests_total", mt.Labels{"target": "mock/echo", "outcome": "ok"}, 2},
		{"llmgw_target_requests_total", mt.Labels{"target": "mock/echo", "outcome": "upstream_5xx"}, 1},
		{"llmgw_target_requests_total", mt.Labels{"target": "mock/other", "outcome": "ok"}, 1},
		{"llmgw_upstream_errors_total", mt.Labels{"provider": "mock", "target": "mock/echo", "class": "upstream_5xx"}, 1},
	}
	for _, c := range counters {
		if got, _ := f.Value(c.name, c.labels); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(f["llmgw_upstream_errors_total"].GetMetric()); n != 1 {
		t.Errorf("%d upstream error series, want 1", n)
	}
	// Durations: every request but the batch; TTFT for the stream; overhead for the three
	// that called an upstream, their duration less their upstream time: 10 ms + 10 ms + 50 ms.
	if n := f.Count("llmgw_request_duration_seconds", mt.Labels{"model": "mock/echo"}); n != 3 {
		t.Errorf("duration count %d, want 3 (ok, stream, refusal)", n)
	}
	if n, s := f.Count("llmgw_ttft_seconds", mt.Labels{"model": "mock/echo"}), f.Sum("llmgw_ttft_seconds", mt.Labels{"model": "mock/echo"}); n != 1 || math.Abs(s-0.05) > 1e-9 {
		t.Errorf("ttft count %d sum %v, want 1 and 0.05", n, s)
	}
	if n, s := f.Count("llmgw_gateway_overhead_seconds", nil), f.Sum("llmgw_gateway_overhead_seconds", nil); n != 3 || math.Abs(s-0.07) > 1e-9 {
		t.Errorf("overhead count %d sum %v, want 3 and 0.07", n, s)
	}
	// TPOT: 90 ms / 5, (1 s - 40 ms) / 10 for mock/echo; 150 ms / 2 for mock/other.
	if n, s := f.Count("llmgw_target_tpot_seconds", mt.Labels{"target": "mock/echo"}), f.Sum("llmgw_target_tpot_seconds", mt.Labels{"target": "mock/echo"}); n != 2 || math.Abs(s-(0.018+0.096)) > 1e-9 {
		t.Errorf("tpot of mock/echo: count %d sum %v, want 2 and 0.114", n, s)
	}
	if s := f.Sum("llmgw_target_tpot_seconds", mt.Labels{"target": "mock/other"}); math.Abs(s-0.075) > 1e-9 {
		t.Errorf("tpot of mock/other: sum %v, want 0.075", s)
	}
	if n, s := f.Count("llmgw_target_ttft_seconds", mt.Labels{"target": "mock/echo"}), f.Sum("llmgw_target_ttft_seconds", mt.Labels{"target": "mock/echo"}); n != 1 || math.Abs(s-0.04) > 1e-9 {
		t.Errorf("target ttft: count %d sum %v, want 1 and 0.04", n, s)
	}
}

// TestUnknownModelsAddNoSeries: 1000 requests for random model names the snapshot does not
// know, with statuses past the cap, add no series beyond the first request's.
func TestUnknownModelsAddNoSeries(t *testing.T) {
	m, _, _, _ := fixture(t)
	e := func(i int) *usage.Event {
		return &usage.Event{Model: fmt.Sprintf("attacker/%d-%x", i, rand.Uint64()), Surface: "openai", Status: "model_not_found", HTTPStatus: 404, Latency: time.Millisecond}
	}
	m.Observe(e(0))
	before := mt.Scrape(t, m.Handler()).Series("llmgw_")
	for i := 1; i <= 1000; i++ {
		m.Observe(e(i))
	}
	f := mt.Scrape(t, m.Handler())
	if after := f.Series("llmgw_"); after != before {
		t.Errorf("1000 unknown models went from %d to %d series", before, after)
	}
	if got, _ := f.Value("llmgw_requests_total", mt.Labels{"model": metrics.Unknown, "target": "", "status": "model_not_found", "surface": "openai"}); got != 1001 {
		t.Errorf("unknown requests %v, want 1001", got)
	}
	// Statuses and surfaces are capped: past the cap they are "other".
	for i := range 200 {
		m.Observe(&usage.Event{Model: "mock/echo", Surface: fmt.Sprintf("s%d", i), Status: fmt.Sprintf("status-%d", i)})
	}
	f = mt.Scrape(t, m.Handler())
	if n := len(f.LabelValues("llmgw_requests_total", "status")); n > 64+1 {
		t.Errorf("%d statuses, want at most the cap and other", n)
	}
	if n := len(f.LabelValues("llmgw_requests_total", "surface")); n > 16+1 {
		t.Errorf("%d surfaces, want at most the cap and other", n)
	}
}

// TestTargetsCircuitAndHealth: every configured model has a circuit state and a health: an
// open circuit is 2 and unhealthy, a model that cannot be built is unhealthy, and a half-open
// circuit is 1.
func TestTargetsCircuitAndHealth(t *testing.T) {
	m, _, b, now := fixture(t)
	for range breaker.Threshold {
		b.Failure("mock/other")
	}
	f := mt.Scrape(t, m.Handler())
	want := map[string][2]float64{"mock/echo": {0, 1}, "mock/other": {2, 0}, "bad/m": {0, 0}}
	for target, w := range want {
		st, ok1 := f.Value("llmgw_target_circuit_state", mt.Labels{"target": target})
		h, ok2 := f.Value("llmgw_target_healthy", mt.Labels{"target": target})
		if !ok1 || !ok2 || st != w[0] || h != w[1] {
			t.Errorf("%s: circuit %v healthy %v (present %v %v), want %v", target, st, h, ok1, ok2, w)
		}
	}
	if _, ok := f.Value("llmgw_target_circuit_state", mt.Labels{"target": "prod/chat"}); ok {
		t.Error("a virtual model has a circuit")
	}
	*now = now.Add(breaker.Cooldown)
	if !b.Allow("mock/other") {
		t.Fatal("no probe after the cooldown")
	}
	f = mt.Scrape(t, m.Handler())
	if st, _ := f.Value("llmgw_target_circuit_state", mt.Labels{"target": "mock/other"}); st != 1 {
		t.Errorf("half-open circuit reported %v, want 1", st)
	}
	if h, _ := f.Value("llmgw_target_healthy", mt.Labels{"target": "mock/other"}); h != 1 {
		t.Errorf("half-open target reported unhealthy")
	}
}

// TestSLABreach: a target whose recent answers are slower than its sla_cutoff is reported
// breaching and unhealthy, and healthy again once its window has passed.
func TestSLABreach(t *testing.T) {
	now := t0
	clock := func() time.Time { return now }
	cfg := &snapshot.Config{
		Accounts: []snapshot.Account{{Name: "mock", Provider: "mock"}},
		Models:   []snapshot.Model{{Account: "mock", Name: "fast"}, {Account: "mock", Name: "slow"}},
		VirtualModels: []snapshot.VirtualModel{{Account: "prod", Name: "chat", Strategy: snapshot.RoutingPriority, Targets: []snapshot.VirtualTarget{
			{Model: "mock/slow", SLA: snapshot.SLA{TTFT: 500 * time.Millisecond}, FallbackCandidate: true},
			{Model: "mock/fast", Priority: 1, SLA: snapshot.SLA{TPOT: 50 * time.Millisecond}, FallbackCandidate: true},
		}}},
	}
	h := &snapshot.Holder{Now: clock}
	h.Store(snapshot.Compile(cfg, registry.New(http.DefaultClient), nil, slog.New(slog.DiscardHandler)))
	stats := latency.New(clock)
	m := metrics.New(h, nil, metrics.WithClock(clock), metrics.WithLatency(stats))
	stats.Observe("mock/slow", 2*time.Second, time.Second, 10)                   // TTFT 1 s: over 500 ms
	stats.Observe("mock/fast", 1100*time.Millisecond, 100*time.Millisecond, 100) // TPOT 10 ms
	f := mt.Scrape(t, m.Handler())
	for target, want := range map[string][2]float64{"mock/slow": {1, 0}, "mock/fast": {0, 1}} {
		b, ok := f.Value("llmgw_target_sla_breached", mt.Labels{"target": target})
		h, _ := f.Value("llmgw_target_healthy", mt.Labels{"target": target})
		if !ok || b != want[0] || h != want[1] {
			t.Errorf("%s: breached %v (present %v) healthy %v, want %v", target, b, ok, h, want)
		}
	}
	now = now.Add(latency.SLAWindow + time.Second)
	f = mt.Scrape(t, m.Handler())
	if b, _ := f.Value("llmgw_target_sla_breached", mt.Labels{"target": "mock/slow"}); b != 0 {
		t.Error("the breach outlived its window")
	}
	if h, _ := f.Value("llmgw_target_healthy", mt.Labels{"target": "mock/slow"}); h != 1 {
		t.Error("the target did not recover")
	}
}

// TestSnapshotRevisionAndAge: the revision counts loads and the age is read on the clock.
func TestSnapshotRevisionAndAge(t *testing.T) {
	m, h, _, now := fixture(t)
	*now = now.Add(90 * time.Second)
	f := mt.Scrape(t, m.Handler())
	if rev, _ := f.Value("llmgw_snapshot_revision", nil); rev != 1 {
		t.Errorf("revision %v, want 1", rev)
	}
	if age, _ := f.Value("llmgw_snapshot_age_seconds", nil); age != 90 {
		t.Errorf("age %v, want 90", age)
	}
	h.Store(h.Load())
	f = mt.Scrape(t, m.Handler())
	if rev, _ := f.Value("llmgw_snapshot_revision", nil); rev != 2 {
		t.Errorf("revision %v after a second load, want 2", rev)
	}
	if age, _ := f.Value("llmgw_snapshot_age_seconds", nil); age != 0 {
		t.Errorf("age %v after a load, want 0", age)
	}
}

// TestRefusals: refusals are counted by rule; rule values are capped.
func TestRefusals(t *testing.T) {
	m, _, _, _ := fixture(t)
	m.RateLimited("rpm")
	m.RateLimited("rpm")
	m.BudgetExhausted("usd")
	f := mt.Scrape(t, m.Handler())
	if v, _ := f.Value("llmgw_ratelimit_refusals_total", mt.Labels{"rule": "rpm"}); v != 2 {
		t.Errorf("rate-limit refusals %v, want 2", v)
	}
	if v, _ := f.Value("llmgw_budget_refusals_total", mt.Labels{"rule": "usd"}); v != 1 {
		t.Errorf("budget refusals %v, want 1", v)
	}
	for i := range 1500 {
		m.RateLimited(fmt.Sprintf("r%d", i))
	}
	f = mt.Scrape(t, m.Handler())
	if n := len(f["llmgw_ratelimit_refusals_total"].GetMetric()); n > 1000+1 {
		t.Errorf("%d rule series, want at most the cap and other", n)
	}
	if v, _ := f.Value("llmgw_ratelimit_refusals_total", mt.Labels{"rule": metrics.Other}); v < 500 {
		t.Errorf("rules past the cap: other = %v, want at least 500", v)
	}
}

// TestWatchedStages: the watched stages' depth, bytes, spool bytes and dropped count are read at
// the scrape; a function left nil is not reported.
func TestWatchedStages(t *testing.T) {
	m, _, _, _ := fixture(t)
	depth, dropped, spool := int64(3), uint64(7), int64(4096)
	m.WatchUsage(metrics.Stage{Name: "queue", Depth: func() int64 { return depth }, Bytes: func() int64 { return 10 * depth }, Dropped: func() uint64 { return dropped }})
	m.WatchUsage(metrics.Stage{Name: "kafka", Spool: func() int64 { return spool }})
	depth, dropped = 5, 9
	f := mt.Scrape(t, m.Handler())
	for _, c := range []struct {
		name, stage string
		want        float64
	}{
		{"llmgw_usage_queue_depth", "queue", 5},
		{"llmgw_usage_queue_bytes", "queue", 50},
		{"llmgw_usage_events_dropped_total", "queue", 9},
		{"llmgw_usage_spool_bytes", "kafka", 4096},
	} {
		if v, ok := f.Value(c.name, mt.Labels{"stage": c.stage}); !ok || v != c.want {
			t.Errorf("%s{stage=%s} = %v (present %v), want %v", c.name, c.stage, v, ok, c.want)
		}
	}
	if _, ok := f.Value("llmgw_usage_queue_depth", mt.Labels{"stage": "kafka"}); ok {
		t.Error("a stage without Depth reports a depth")
	}
}

// TestWrap: the wrapper records the metrics and hands the event on.
func TestWrap(t *testing.T) {
	m, _, _, _ := fixture(t)
	var got []string
	rec := m.Wrap(recorderFunc(func(_ context.Context, e *usage.Event) { got = append(got, e.RequestID) }))
	rec.Record(context.Background(), &usage.Event{RequestID: "r1", Model: "mock/echo", Status: "ok", Surface: "openai"})
	if len(got) != 1 || got[0] != "r1" {
		t.Fatalf("next got %v", got)
	}
	if v, _ := mt.Scrape(t, m.Handler()).Value("llmgw_requests_total", mt.Labels{"model": "mock/echo", "target": "", "status": "ok", "surface": "openai"}); v != 1 {
		t.Errorf("requests %v, want 1", v)
	}
}

type recorderFunc func(context.Context, *usage.Event)

func (f recorderFunc) Record(ctx context.Context, e *usage.Event) { f(ctx, e) }

// TestWatchedSecrets: the secret-manager failure counts are read at the scrape, by scheme;
// nothing is reported before WatchSecrets.
func TestWatchedSecrets(t *testing.T) {
	m, _, _, _ := fixture(t)
	if _, ok := mt.Scrape(t, m.Handler()).Value("llmgw_secret_refresh_failures_total", mt.Labels{"scheme": "vault"}); ok {
		t.Error("failures reported before WatchSecrets")
	}
	counts := map[string]int64{"vault": 2}
	m.WatchSecrets(func() map[string]int64 { return counts })
	counts = map[string]int64{"vault": 3, "aws-sm": 1}
	f := mt.Scrape(t, m.Handler())
	for scheme, want := range map[string]float64{"vault": 3, "aws-sm": 1} {
		if v, ok := f.Value("llmgw_secret_refresh_failures_total", mt.Labels{"scheme": scheme}); !ok || v != want {
			t.Errorf("llmgw_secret_refresh_failures_total{scheme=%s} = %v (present %v), want %v", scheme, v, ok, want)
		}
	}
}
