package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/protobuf/proto"

	"github.com/llmgw/llmgw/analytics/spool"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

const e2eTopic = "e2e.usage"

func kafkaConfig(upstream string) string {
	return fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: down, type: integration/model/openai, model_id: %s503, model_types: [chat]}
- authz_rules:
    - models: [fake/*]
      users: [alice]
`, upstream, providertest.ModelErrorPrefix)
}

func e2ePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func e2eBroker(t *testing.T, port int) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, e2eTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// readUsage reads n usage events from the topic (failing after 20 s) and makes sure no more
// follow; it returns them by key, checking each key is its event's id.
func readUsage(t *testing.T, addr string, n int) map[string]*usagev1.UsageEvent {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{addr}, Topic: e2eTopic, Partition: 0, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := map[string]*usagev1.UsageEvent{}
	for i := 0; i < n; i++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %d of %d usage events: %v", i, n, err)
		}
		ev := &usagev1.UsageEvent{}
		if err := proto.Unmarshal(m.Value, ev); err != nil {
			t.Fatalf("message %s: %v", m.Key, err)
		}
		if ev.GetEventId() != string(m.Key) {
			t.Fatalf("message key %s holds event %s", m.Key, ev.GetEventId())
		}
		out[string(m.Key)] = ev
	}
	extra, cancelExtra := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelExtra()
	if m, err := r.ReadMessage(extra); err == nil {
		t.Fatalf("a usage event beyond the %d requests: %s", n, m.Key)
	}
	return out
}

func keys(m map[string]*usagev1.UsageEvent) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestUsageEventsReachKafka drives a gateway started with --kafka-brokers with openai-go: every
// request, streamed, plain or failed, is one message on the topic, keyed by the X-Request-Id
// the client got, with the event's fields.
func TestUsageEventsReachKafka(t *testing.T) {
	up := providertest.NewOpenAI(t)
	addr := e2eBroker(t, e2ePort(t))
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret, "LLMGW_KAFKA_BROKERS": addr},
		"--config", writeConfig(t, kafkaConfig(up.BaseURL())), "--kafka-topic", e2eTopic, "--replica", "gw-e2e-1", "--region", "eu-test-1")
	ctx := context.Background()
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.userKey(t, "alice")), option.WithMaxRetries(0))

	type sent struct {
		model, status string
		stream        bool
	}
	want := map[string]sent{}
	for i := range 3 {
		var resp *http.Response
		if _, err := c.Chat.Completions.New(ctx, chatParams("fake/gpt", 0), option.WithResponseInto(&resp), option.WithHeader("X-LLMGW-Metadata", fmt.Sprintf(`{"n":"%d"}`, i))); err != nil {
			t.Fatal(err)
		}
		want[resp.Header.Get("X-Request-Id")] = sent{"fake/gpt", "ok", false}
	}
	var resp *http.Response
	stream := c.Chat.Completions.NewStreaming(ctx, chatParams("fake/gpt", 0), option.WithResponseInto(&resp))
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	want[resp.Header.Get("X-Request-Id")] = sent{"fake/gpt", "ok", true}
	if _, err := c.Chat.Completions.New(ctx, chatParams("fake/down", 0), option.WithResponseInto(&resp)); err == nil {
		t.Fatal("the 503 model answered")
	}
	want[resp.Header.Get("X-Request-Id")] = sent{"fake/down", "", false}

	got := readUsage(t, addr, len(want))
	for id, w := range want {
		ev, ok := got[id]
		if !ok {
			t.Errorf("request %s: no usage event on the topic (have %v)", id, keys(got))
			continue
		}
		local := g.Events.waitFor(t, id) // the same event, as the request log got it
		if ev.GetModel() != w.model || ev.GetStream() != w.stream || ev.GetReplica() != "gw-e2e-1" || ev.GetRegion() != "eu-test-1" ||
			ev.GetUser() != "alice" || ev.GetTarget().GetAccount() != "fake" || ev.GetTarget().GetProvider() != "openai" || ev.GetTime() == nil {
			t.Errorf("request %s: event %v", id, ev)
		}
		if ev.GetTokens().GetPrompt() != local.Usage.PromptTokens || ev.GetTokens().GetCompletion() != local.Usage.CompletionTokens || ev.GetCostUsd() != local.CostUSD {
			t.Errorf("request %s: tokens %v cost %v, want the request's %+v %v", id, ev.GetTokens(), ev.GetCostUsd(), local.Usage, local.CostUSD)
		}
		if ev.GetLatencyUs() <= 0 || ev.GetUpstreamUs() > ev.GetLatencyUs() || ev.GetOverheadUs() != ev.GetLatencyUs()-ev.GetUpstreamUs() {
			t.Errorf("request %s: latency %d upstream %d overhead %d", id, ev.GetLatencyUs(), ev.GetUpstreamUs(), ev.GetOverheadUs())
		}
		if w.status == "ok" {
			if ev.GetStatus() != "ok" || ev.GetHttpStatus() != 200 || ev.GetTokens().GetPrompt() == 0 || ev.GetErrorClass() != "" || ev.GetUpstreamUs() == 0 {
				t.Errorf("request %s: status %q %d tokens %v class %q", id, ev.GetStatus(), ev.GetHttpStatus(), ev.GetTokens(), ev.GetErrorClass())
			}
		} else if ev.GetStatus() == "ok" || ev.GetErrorClass() != "upstream_5xx" || ev.GetHttpStatus() < 500 {
			t.Errorf("failed request %s: status %q class %q http %d", id, ev.GetStatus(), ev.GetErrorClass(), ev.GetHttpStatus())
		}
	}
}

// TestUsageEventsSurviveAKafkaOutageAndARestart: with Kafka unreachable every request still
// succeeds; on shutdown their events are in the spool under the data dir; the next start
// delivers them once Kafka is up.
func TestUsageEventsSurviveAKafkaOutageAndARestart(t *testing.T) {
	up := providertest.NewOpenAI(t)
	port := e2ePort(t) // no broker yet
	data := t.TempDir()
	env := map[string]string{"FAKE_OPENAI_KEY": providerSecret, "LLMGW_KAFKA_BROKERS": fmt.Sprintf("127.0.0.1:%d", port)}
	args := []string{"--config", writeConfig(t, kafkaConfig(up.BaseURL())), "--kafka-topic", e2eTopic, "--data-dir", data}
	g := startGateway(t, env, args...)
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.Token), option.WithMaxRetries(0))
	var ids []string
	for range 5 {
		var resp *http.Response
		if _, err := c.Chat.Completions.New(context.Background(), chatParams("fake/gpt", 0), option.WithResponseInto(&resp)); err != nil {
			t.Fatalf("a request failed while Kafka is down: %v", err)
		}
		ids = append(ids, resp.Header.Get("X-Request-Id"))
	}
	g.stop() // SIGTERM: the queue is delivered to the spool

	sp, err := spool.Open(filepath.Join(data, "spool"), 1<<30, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if sp.Len() != 5 {
		t.Fatalf("after shutdown the spool holds %d events, want 5", sp.Len())
	}
	sp.Close()

	addr := e2eBroker(t, port)
	startGateway(t, env, args...)
	got := readUsage(t, addr, 5)
	for _, id := range ids {
		if ev := got[id]; ev.GetModel() != "fake/gpt" || ev.GetStatus() != "ok" {
			t.Errorf("request %s: event %v", id, ev)
		}
	}
}

// TestUsageEventsDrainedToKafkaOnShutdown: requests answered just before SIGTERM have their
// events on the topic after serve returns: the queue is delivered before exit.
func TestUsageEventsDrainedToKafkaOnShutdown(t *testing.T) {
	up := providertest.NewOpenAI(t)
	addr := e2eBroker(t, e2ePort(t))
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret, "LLMGW_KAFKA_BROKERS": addr},
		"--config", writeConfig(t, kafkaConfig(up.BaseURL())), "--kafka-topic", e2eTopic)
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.Token), option.WithMaxRetries(0))
	const n = 40
	ids := make([]string, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			var resp *http.Response
			_, err := c.Chat.Completions.New(context.Background(), chatParams("fake/gpt", 0), option.WithResponseInto(&resp))
			if err == nil {
				ids[i] = resp.Header.Get("X-Request-Id")
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	g.stop()
	got := readUsage(t, addr, n)
	for _, id := range ids {
		if got[id] == nil {
			t.Errorf("request %s: no usage event after shutdown", id)
		}
	}
}
