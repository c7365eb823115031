package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/gateway/metrics"
	mt "github.com/llmgw/llmgw/gateway/metrics/metricstest"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

// metricsConfig is an OpenAI account on the fake upstream with a priced model, a model that
// answers 503 and a rate-limited model, and a virtual model that falls back from the failing
// model to the priced one.
func metricsConfig(upstream string) string {
	return fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: down, type: integration/model/openai, model_id: fake-error-503, model_types: [chat]}
    - {name: limited, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: budgeted, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
- authz_rules:
    - models: [fake/*, prod/*]
      users: [alice]
---
name: prod
type: provider-account/virtual-model
integrations:
  - name: ha
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - target: fake/down
          priority: 0
          retry_config: {delay: 1}
        - target: fake/gpt
          priority: 1
---
name: ratelimiting-config
type: gateway-rate-limiting-config
rules:
  - id: one-per-minute
    when:
      models: ["fake/limited"]
    limit_to: 1
    unit: requests_per_minute
---
name: budget-config
type: gateway-budget-config
rules:
  - id: tiny
    when:
      models: ["fake/budgeted"]
    limit_to: 0.000001
    unit: cost_per_month
`, upstream)
}

// TestMetricsEndToEnd drives a success, a routed request that falls back after the upstream's
// 503s, a stream, a rate-limit refusal, a budget refusal and an unknown model through the
// gateway with openai-go, scrapes /metrics with the admin token and checks every counter
// against the requests' usage events, exactly.
func TestMetricsEndToEnd(t *testing.T) {
	up := providertest.NewOpenAI(t)
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", writeConfig(t, metricsConfig(up.BaseURL())))
	alice := g.userKey(t, "alice")
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(alice), option.WithMaxRetries(0))
	ctx := context.Background()
	var ids []string
	call := func(model string, wantErr bool) {
		t.Helper()
		var resp *http.Response
		_, err := c.Chat.Completions.New(ctx, chatParams(model, 0), option.WithResponseInto(&resp))
		if (err != nil) != wantErr {
			t.Fatalf("%s: error %v, want error %v", model, err, wantErr)
		}
		ids = append(ids, resp.Header.Get("X-Request-Id"))
	}
	call("fake/gpt", false)
	call("prod/ha", false)
	call("fake/limited", false)
	call("fake/limited", true) // refused by one-per-minute
	call("fake/no-such-model", true)
	call("fake/budgeted", true) // its most cost is over the tiny budget
	var resp *http.Response
	s := c.Chat.Completions.NewStreaming(ctx, chatParams("fake/gpt", 0), option.WithResponseInto(&resp))
	for s.Next() {
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	ids = append(ids, resp.Header.Get("X-Request-Id"))
	var evs []usage.Event
	for _, id := range ids {
		evs = append(evs, g.Events.waitFor(t, id)) // metrics are recorded before the event is queued
	}

	f := mt.Get(t, g.URL+"/metrics", http.Header{"Authorization": {"Bearer " + g.Token}})
	requests := []struct {
		model, target, status string
		want                  float64
	}{
		{"fake/gpt", "fake/gpt", "ok", 2},
		{"prod/ha", "fake/gpt", "ok", 1},
		{"fake/limited", "fake/limited", "ok", 1},
		{"fake/limited", "", "rate_limit_exceeded", 1},
		{"unknown", "", "model_not_found", 1},
		{"fake/budgeted", "", "insufficient_quota", 1},
	}
	total := 0.0
	for _, r := range requests {
		got, _ := f.Value("llmgw_requests_total", mt.Labels{"model": r.model, "target": r.target, "status": r.status, "surface": "openai"})
		if got != r.want {
			t.Errorf("llmgw_requests_total{model=%q,target=%q,status=%q} = %v, want %v", r.model, r.target, r.status, got, r.want)
		}
		total += r.want
	}
	sum := 0.0
	for _, m := range f["llmgw_requests_total"].GetMetric() {
		sum += m.GetCounter().GetValue()
	}
	if sum != total || int(total) != len(evs) {
		t.Errorf("llmgw_requests_total sums to %v; want %v, one per request (%d events)", sum, total, len(evs))
	}

	// Tokens and cost: exactly the events' sums, by model.
	type sums struct{ prompt, completion, cost float64 }
	want := map[string]*sums{}
	for _, e := range evs {
		if e.Usage.PromptTokens == 0 {
			continue
		}
		s := want[e.Model]
		if s == nil {
			s = &sums{}
			want[e.Model] = s
		}
		s.prompt += float64(e.Usage.PromptTokens)
		s.completion += float64(e.Usage.CompletionTokens)
		s.cost += e.CostUSD
	}
	if len(want) != 3 {
		t.Fatalf("events with usage for %d models, want 3: %+v", len(want), want)
	}
	for model, s := range want {
		p, _ := f.Value("llmgw_tokens_total", mt.Labels{"model": model, "type": "prompt"})
		cpl, _ := f.Value("llmgw_tokens_total", mt.Labels{"model": model, "type": "completion"})
		cost, _ := f.Value("llmgw_cost_usd_total", mt.Labels{"model": model})
		if p != s.prompt || cpl != s.completion || math.Abs(cost-s.cost) > 1e-12 || s.cost == 0 {
			t.Errorf("%s: tokens %v/%v cost %v, want %v/%v and %v (priced)", model, p, cpl, cost, s.prompt, s.completion, s.cost)
		}
	}

	// Per target: the 503s were tried twice (the default retry), then the fallback answered.
	counters := []struct {
		name   string
		labels mt.Labels
		want   float64
	}{
		{"llmgw_target_requests_total", mt.Labels{"target": "fake/down", "outcome": "upstream_5xx"}, 2},
		{"llmgw_target_requests_total", mt.Labels{"target": "fake/gpt", "outcome": "ok"}, 3},
		{"llmgw_target_requests_total", mt.Labels{"target": "fake/limited", "outcome": "ok"}, 1},
		{"llmgw_upstream_errors_total", mt.Labels{"provider": "openai", "target": "fake/down", "class": "upstream_5xx"}, 2},
		{"llmgw_ratelimit_refusals_total", mt.Labels{"rule": "one-per-minute"}, 1},
		{"llmgw_budget_refusals_total", mt.Labels{"rule": "tiny"}, 1},
		{"llmgw_target_circuit_state", mt.Labels{"target": "fake/down"}, 0}, // 2 failures: under the threshold
		{"llmgw_target_healthy", mt.Labels{"target": "fake/down"}, 1},
		{"llmgw_usage_events_dropped_total", mt.Labels{"stage": "queue"}, 0},
	}
	for _, c := range counters {
		if got, ok := f.Value(c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if n := f.Count("llmgw_ttft_seconds", mt.Labels{"model": "fake/gpt"}); n != 1 {
		t.Errorf("ttft observations %d, want 1 (the stream)", n)
	}
	if n := f.Count("llmgw_target_tpot_seconds", mt.Labels{"target": "fake/gpt"}); n != 3 {
		t.Errorf("tpot observations of fake/gpt %d, want 3", n)
	}
	if n := f.Count("llmgw_gateway_overhead_seconds", nil); n != 4 {
		t.Errorf("overhead observations %d, want 4 (the requests that reached a target)", n)
	}
	if n := f.Count("llmgw_request_duration_seconds", mt.Labels{"model": "prod/ha"}); n != 1 {
		t.Errorf("duration observations of prod/ha %d, want 1", n)
	}
	if _, ok := f.Value("llmgw_usage_queue_depth", mt.Labels{"stage": "queue"}); !ok {
		t.Error("no usage queue depth")
	}
	if rev, _ := f.Value("llmgw_snapshot_revision", nil); rev < 1 {
		t.Errorf("snapshot revision %v", rev)
	}
}

// TestMetricsCardinality: 1000 requests for random model names the gateway does not know add
// no series.
func TestMetricsCardinality(t *testing.T) {
	g := startGateway(t, nil, "--metrics-public")
	key := g.userKey(t, "alice")
	send := func() {
		body := fmt.Sprintf(`{"model":"x/%x","messages":[{"role":"user","content":"hi"}]}`, rand.Uint64())
		resp, _ := g.do(t, http.MethodPost, "/v1/chat/completions", key, body)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d, want 404", resp.StatusCode)
		}
	}
	unknown := mt.Labels{"model": "unknown", "target": "", "status": "model_not_found", "surface": "openai"}
	// The edge records a refusal when its handler has returned, maybe after the client has
	// its answer: wait for the count.
	scrapeAt := func(n float64) mt.Families {
		var f mt.Families
		waitUntil(t, func() bool {
			f = mt.Get(t, g.URL+"/metrics", nil)
			v, _ := f.Value("llmgw_requests_total", unknown)
			return v == n
		})
		return f
	}
	send()
	before := scrapeAt(1)
	for range 1000 {
		send()
	}
	after := scrapeAt(1001)
	if b, a := before.Series("llmgw_"), after.Series("llmgw_"); a != b {
		t.Errorf("1000 unknown models: %d series before, %d after", b, a)
	}
}

// TestMetricsAccess: on the main listener /metrics needs the admin token (401 without a key,
// 403 with a user's key) unless --metrics-public; --metrics-listen serves it on its own
// listener without authentication.
func TestMetricsAccess(t *testing.T) {
	get := func(t *testing.T, url, key string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	t.Run("default", func(t *testing.T) {
		g := startGateway(t, nil)
		user := g.userKey(t, "alice")
		for key, want := range map[string]int{"": 401, user: 403, g.Token: 200} {
			if got := get(t, g.URL+"/metrics", key); got != want {
				t.Errorf("key %.8q: status %d, want %d", key, got, want)
			}
		}
	})
	t.Run("public", func(t *testing.T) {
		g := startGateway(t, map[string]string{"LLMGW_METRICS_PUBLIC": "true"})
		if got := get(t, g.URL+"/metrics", ""); got != 200 {
			t.Errorf("LLMGW_METRICS_PUBLIC: status %d without a key, want 200", got)
		}
	})
	t.Run("listen", func(t *testing.T) {
		addr := make(chan string, 1)
		g := startGatewayHooks(t, hooks{metricsReady: func(a string) { addr <- a }}, nil, "--metrics-listen", "127.0.0.1:0")
		url := "http://" + <-addr + "/metrics"
		f := mt.Get(t, url, nil)
		if rev, ok := f.Value("llmgw_snapshot_revision", nil); !ok || rev < 1 {
			t.Errorf("the metrics listener serves no snapshot revision (%v, %v)", rev, ok)
		}
		if got := get(t, g.URL+"/metrics", ""); got != 401 {
			t.Errorf("main listener with --metrics-listen: status %d without a key, want 401", got)
		}
	})
}

// TestKafkaStageMetrics: with Kafka configured, the producer's spool and losses are reported as
// the "kafka" stage: its events waiting, the spool's bytes and the events dropped.
func TestKafkaStageMetrics(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	broker := ln.Addr().String()
	ln.Close() // nothing listens there: every write is refused and spooled
	getenv := func(k string) string {
		if k == "LLMGW_KAFKA_BROKERS" {
			return broker
		}
		return ""
	}
	cfg, err := parseFlags("serve", []string{"--data-dir", dir, "--spool-max-bytes", "4096"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newUsageSink(context.Background(), cfg, getenv, nil, discard{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.grace = 0; _ = s.close(context.Background()) }()
	m := metrics.New(&snapshot.Holder{}, nil)
	s.watch(m)
	es := make([]usage.Event, 40)
	for i := range es {
		es[i] = usage.Event{RequestID: fmt.Sprintf("01938f7e-5c2a-7b3e-9f1d-%012d", i), Model: "acct/gpt-4o-mini", Status: "ok", Metadata: map[string]string{"pad": strings.Repeat("x", 100)}}
	}
	s.sink.(usage.BatchSink).RecordBatch(context.Background(), es)
	p := s.producer
	f := mt.Scrape(t, m.Handler())
	kafka := mt.Labels{"stage": "kafka"}
	depth, _ := f.Value("llmgw_usage_queue_depth", kafka)
	spooled, _ := f.Value("llmgw_usage_spool_bytes", kafka)
	dropped, _ := f.Value("llmgw_usage_events_dropped_total", kafka)
	if depth == 0 || dropped == 0 || depth != float64(p.Spooled()) || spooled != float64(p.SpoolBytes()) || dropped != float64(p.Dropped()) || depth+dropped != 40 {
		t.Errorf("kafka stage: depth %v spool %v dropped %v; producer %d, %d, %d", depth, spooled, dropped, p.Spooled(), p.SpoolBytes(), p.Dropped())
	}
}
