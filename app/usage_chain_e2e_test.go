package app

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/ClickHouse/ch-go"
	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/analytics/chtest"
	"github.com/llmgw/llmgw/analytics/clickhouse"
	"github.com/llmgw/llmgw/analytics/embedded"
	"github.com/llmgw/llmgw/analytics/event"
	"github.com/llmgw/llmgw/analytics/query"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/usage/v1/usagev1connect"
)

// chainConfig is kafkaConfig's account with a virtual model whose first target answers 503, so
// some requests are routed (two attempts each).
func chainConfig(upstream string) string {
	return kafkaConfig(upstream) + `
- authz_rules:
    - models: [prod/*]
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
        - {target: fake/down, priority: 0, retry_config: {attempts: 1}}
        - {target: fake/gpt, priority: 1}
`
}

// TestUsageChainToClickHouse runs the whole analytics path with real sockets: the gateway
// writes usage events to Kafka (kfake), `llmgw consume` loads them into ClickHouse (a real
// server). Requests of every kind (plain, streamed, failed, routed) are sent; then Kafka is
// stopped and more requests are sent, which all succeed; Kafka comes back on the same port.
// In the end ClickHouse holds exactly one row per request, with the fields the gateway
// recorded, and no duplicate; the Usage API (serve --clickhouse) answers the recorded totals
// from it, and the embedded store, given the same events, answers the same.
func TestUsageChainToClickHouse(t *testing.T) {
	ctx := context.Background()
	chAddr := chtest.Start(t)
	chURL := "clickhouse://" + chAddr + "/llmgw"
	if err := Run(ctx, []string{"migrate", "--clickhouse", chURL}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatalf("migrate --clickhouse: %v", err)
	}
	port := e2ePort(t)
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, e2eTopic))
	if err != nil {
		t.Fatal(err)
	}
	brokers := fmt.Sprintf("127.0.0.1:%d", port)

	up := providertest.NewOpenAI(t)
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret, "LLMGW_KAFKA_BROKERS": brokers},
		"--config", writeConfig(t, chainConfig(up.BaseURL())), "--kafka-topic", e2eTopic, "--data-dir", t.TempDir(), "--clickhouse", chURL)
	alice := g.userKey(t, "alice")
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(alice), option.WithMaxRetries(0))

	// The consumer runs beside the gateway, as in production.
	cctx, stopConsumer := context.WithCancel(ctx)
	consumed := make(chan error, 1)
	clog := &syncBuffer{}
	cenv := map[string]string{"LLMGW_KAFKA_BROKERS": brokers, "LLMGW_KAFKA_TOPIC": e2eTopic, "LLMGW_KAFKA_GROUP": "chain", "LLMGW_CLICKHOUSE": chURL, "LLMGW_CONSUME_BATCH_WAIT": "50ms"}
	go func() {
		consumed <- Run(cctx, []string{"consume", "--log-format", "json"}, func(k string) string { return cenv[k] }, io.Discard, clog)
	}()

	var mu sync.Mutex
	var ids []string
	send := func(kind string) {
		t.Helper()
		var resp *http.Response
		var err error
		switch kind {
		case "plain":
			_, err = c.Chat.Completions.New(ctx, chatParams("fake/gpt", 0), option.WithResponseInto(&resp))
		case "stream":
			st := c.Chat.Completions.NewStreaming(ctx, chatParams("fake/gpt", 0), option.WithResponseInto(&resp))
			for st.Next() {
			}
			err = st.Err()
			st.Close()
		case "failed":
			_, err = c.Chat.Completions.New(ctx, chatParams("fake/down", 0), option.WithResponseInto(&resp))
			if err == nil {
				t.Fatal("fake/down answered")
			}
			err = nil
		case "routed":
			_, err = c.Chat.Completions.New(ctx, chatParams("prod/ha", 0), option.WithResponseInto(&resp))
		}
		if err != nil {
			t.Fatalf("%s request: %v", kind, err)
		}
		mu.Lock()
		ids = append(ids, resp.Header.Get("X-Request-Id"))
		mu.Unlock()
	}
	kinds := []string{"plain", "stream", "failed", "routed"}
	for i := range 40 {
		send(kinds[i%len(kinds)])
	}

	// Kafka goes away: requests keep succeeding; their events wait in the spool.
	broker.Close()
	for i := range 20 {
		send(kinds[i%len(kinds)])
	}
	// Kafka is back on the same port (a new, empty broker: the topic's earlier messages were
	// consumed already; the consumer's group starts over and the dedupe keeps rows unique).
	broker2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, e2eTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer broker2.Close()
	for i := range 20 {
		send(kinds[i%len(kinds)])
	}
	const n = 80

	cl, err := ch.Dial(ctx, ch.Options{Address: chAddr, Database: "llmgw"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	count := func(q string) uint64 {
		var col chproto.ColUInt64
		if err := cl.Do(ctx, ch.Query{Body: q, Result: chproto.Results{{Name: "n", Data: &col}}}); err != nil {
			t.Fatal(err)
		}
		return col.Row(0)
	}
	deadline := time.Now().Add(90 * time.Second)
	for count("SELECT count() AS n FROM usage_events FINAL") < n {
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse has %d of %d rows; consumer log:\n%s", count("SELECT count() AS n FROM usage_events FINAL"), n, clog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopConsumer()
	if err := <-consumed; err != nil {
		t.Fatalf("consume: %v", err)
	}
	if got := count("SELECT count() AS n FROM usage_events FINAL"); got != n {
		t.Errorf("%d rows, want exactly %d", got, n)
	}
	if got := count("SELECT uniqExact(event_id) AS n FROM usage_events"); got != n {
		t.Errorf("%d distinct event ids, want %d", got, n)
	}

	// Each row is its request's event, as the gateway recorded it.
	for _, id := range ids {
		ev := g.Events.waitFor(t, id)
		var model, status chproto.ColStr
		var httpStatus chproto.ColInt32
		var prompt, completion chproto.ColInt64
		var attempts chproto.ColUInt64
		var cost chproto.ColFloat64
		q := ch.Query{
			Body:       "SELECT CAST(model, 'String') AS m, CAST(status, 'String') AS s, http_status, prompt_tokens, completion_tokens, length(attempts.target) AS attempts, cost_usd FROM usage_events FINAL WHERE event_id = {id:String}",
			Parameters: ch.Parameters(map[string]any{"id": id}),
			Result: chproto.Results{{Name: "m", Data: &model}, {Name: "s", Data: &status}, {Name: "http_status", Data: &httpStatus},
				{Name: "prompt_tokens", Data: &prompt}, {Name: "completion_tokens", Data: &completion}, {Name: "attempts", Data: &attempts}, {Name: "cost_usd", Data: &cost}},
		}
		if err := cl.Do(ctx, q); err != nil {
			t.Fatalf("row %s: %v", id, err)
		}
		if model.Rows() != 1 {
			t.Fatalf("event %s: %d rows", id, model.Rows())
		}
		if model.Row(0) != ev.Model || status.Row(0) != ev.Status || int(httpStatus.Row(0)) != ev.HTTPStatus ||
			prompt.Row(0) != ev.Usage.PromptTokens || completion.Row(0) != ev.Usage.CompletionTokens ||
			int(attempts.Row(0)) != len(ev.Attempts) || cost.Row(0) != ev.CostUSD {
			t.Errorf("event %s: row (%s %s %d %d+%d tokens, %d attempts, $%g), recorded (%s %s %d %d+%d tokens, %d attempts, $%g)", id,
				model.Row(0), status.Row(0), httpStatus.Row(0), prompt.Row(0), completion.Row(0), attempts.Row(0), cost.Row(0),
				ev.Model, ev.Status, ev.HTTPStatus, ev.Usage.PromptTokens, ev.Usage.CompletionTokens, len(ev.Attempts), ev.CostUSD)
		}
	}
	if got := count("SELECT count() AS n FROM usage_events FINAL WHERE model = 'prod/ha' AND length(attempts.target) = 2"); got != 20 {
		t.Errorf("%d routed rows with two attempts, want 20", got)
	}
	if got := count("SELECT count() AS n FROM usage_events FINAL WHERE stream"); got != 20 {
		t.Errorf("%d streamed rows, want 20", got)
	}

	// The Usage API answers from ClickHouse (serve --clickhouse) what the gateway recorded,
	// per model, and the embedded store answers the same for the same events.
	want := map[string]query.Totals{}
	conv := event.NewConverter("", "", nil)
	var wire []*usagev1.UsageEvent
	for _, id := range ids {
		ev := g.Events.waitFor(t, id)
		tot := want[ev.Model]
		tot.Requests++
		if ev.Status != "ok" {
			tot.Failures++
		}
		tot.PromptTokens += ev.Usage.PromptTokens
		tot.CompletionTokens += ev.Usage.CompletionTokens
		tot.CostUSD += ev.CostUSD
		want[ev.Model] = tot
		wire = append(wire, conv.Convert(&ev))
	}
	now := time.Now()
	api := usagev1connect.NewUsageServiceClient(http.DefaultClient, g.URL, connect.WithInterceptors(bearer(g.Token)))
	res, err := api.GetCostBreakdown(ctx, &usagev1.GetCostBreakdownRequest{GroupBy: usagev1.Dimension_DIMENSION_MODEL,
		Filter: &usagev1.Filter{StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(now.Add(time.Hour))}})
	if err != nil {
		t.Fatalf("Usage API: %v", err)
	}
	if len(res.GetGroups()) != len(want) {
		t.Errorf("Usage API groups %v, want %d models", res.GetGroups(), len(want))
	}
	for _, gr := range res.GetGroups() {
		w, tot := want[gr.GetKey()], gr.GetTotals()
		if tot.GetRequests() != w.Requests || tot.GetFailures() != w.Failures || tot.GetPromptTokens() != w.PromptTokens ||
			tot.GetCompletionTokens() != w.CompletionTokens || math.Abs(tot.GetCostUsd()-w.CostUSD) > 1e-9 {
			t.Errorf("Usage API from ClickHouse, model %s: %v, want %+v", gr.GetKey(), tot, w)
		}
	}
	st, err := embedded.Open(ctx, filepath.Join(t.TempDir(), "usage.db"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Write(ctx, wire); err != nil {
		t.Fatal(err)
	}
	chq, err := clickhouse.NewQuerier(ctx, mustParse(t, chURL))
	if err != nil {
		t.Fatal(err)
	}
	defer chq.Close()
	bq := query.BreakdownQuery{Filter: query.Filter{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}, GroupBy: query.GroupBy{Dim: query.DimModel}}
	fromCH, err := chq.Breakdown(ctx, bq)
	if err != nil {
		t.Fatal(err)
	}
	fromEmbedded, err := st.Breakdown(ctx, bq)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fromEmbedded, fromCH, cmpopts.EquateApprox(0, 1e-9)); d != "" {
		t.Errorf("ClickHouse and the embedded store disagree (-embedded +clickhouse):\n%s", d)
	}
}

func mustParse(t *testing.T, url string) clickhouse.Config {
	t.Helper()
	c, err := clickhouse.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
