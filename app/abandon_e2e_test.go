package app

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	"github.com/llmgw/llmgw/gateway/sse"
	"github.com/llmgw/llmgw/gateway/tokens"
	"github.com/llmgw/llmgw/gateway/usage"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
)

// words is the prompt of every stream here: the fakes echo it back as "echo:" and its nine
// words, ten text chunks, and hold the last one (ModelGated, ModelStall).
const words = "one two three four five six seven eight nine"

// TestAbandonedStreamsAreCounted checks that a stream the client leaves, or that the upstream
// cuts or stalls, is still counted and costed: with the upstream's own usage when the gateway
// can read the stream on to its end, else with usage it estimates from what it saw.
func TestAbandonedStreamsAreCounted(t *testing.T) {
	oa := providertest.NewOpenAI(t)
	an := providertest.NewAnthropic(t, anthropicSecret)
	cfgPath := filepath.Join(t.TempDir(), "gateway.yaml")
	cfg := fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: plain, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
- name: claude
  type: provider-account/anthropic
  base_url: %q
  auth_data: {type: api-key, api_key: env://ANTHROPIC_TEST_KEY}
  integrations:
    - {name: sonnet, type: integration/model/anthropic, model_id: claude-sonnet-4-5}
`, oa.BaseURL(), an.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// The upstream timeout bounds how long a stalled stream is read on.
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret, "ANTHROPIC_TEST_KEY": anthropicSecret}, "--config", cfgPath, "--upstream-timeout", "2s")
	admin := adminv1connect.NewAdminServiceClient(http.DefaultClient, g.URL, connect.WithInterceptors(bearer(g.Token)))
	// The fakes' behaviours are picked by the upstream model's name; a price makes every
	// event's cost show whether it was costed. The OpenAI ones end in a gpt-4o name so that
	// their estimates use o200k_base.
	for _, m := range []struct{ account, name, upstream string }{
		{"fake", "gated", "gpt-4o-" + providertest.ModelGated},
		{"fake", "stall", "gpt-4o-" + providertest.ModelStall},
		{"fake", "cut", providertest.ModelCut},
		{"fake", "garbled", "gpt-4o-" + providertest.ModelGarbled},
		{"claude", "gated", "claude-" + providertest.ModelGated},
		{"claude", "stall", "claude-" + providertest.ModelStall},
		{"claude", "cut", providertest.ModelCut},
	} {
		_, err := admin.CreateModel(context.Background(), &adminv1.CreateModelRequest{Model: &adminv1.Model{
			Account: m.account, Name: m.name, UpstreamModel: m.upstream, Types: []string{"chat"},
			Pricing: &adminv1.Pricing{InputPerMtok: 1, OutputPerMtok: 4},
		}})
		if err != nil {
			t.Fatalf("create %s/%s: %v", m.account, m.name, err)
		}
	}

	chatBody := func(model string) string {
		return fmt.Sprintf(`{"model":%q,"stream":true,"messages":[{"role":"user","content":%q}]}`, model, words)
	}
	messagesBody := func(model string) string {
		return fmt.Sprintf(`{"model":%q,"stream":true,"max_tokens":100,"messages":[{"role":"user","content":%q}]}`, model, words)
	}
	// The estimate of an OpenAI stream that stalled before its last word, counted as the
	// gateway documents: the prompt's text, 3 tokens for its message and 3 for the answer;
	// the nine words streamed.
	c := tokens.NewCounter()
	stalled := usageOf(c.Count("gpt-4o", []byte(words+"\n"))+6, c.Count("gpt-4o", []byte("echo: one two three four five six seven eight")))
	upstreamUsage := usageOf(11, 7) // what the OpenAI fake reports
	anthropicUsage := usageOf(anthropicWant.prompt, anthropicWant.completion)

	tests := []struct {
		name, path, body string
		leave            bool          // leave after nine text chunks
		gate             chan struct{} // opened once the client has left
		want             usage.Event   // Status ("": either), Usage (its token counts) and UsageEstimated
	}{
		{name: "chat: normal stream", path: "/v1/chat/completions", body: chatBody("fake/plain"),
			want: usage.Event{Status: "ok", Usage: upstreamUsage}},
		{name: "chat: client leaves after 9 of 10 chunks, the stream is read on to its usage", path: "/v1/chat/completions", body: chatBody("fake/gated"),
			leave: true, gate: oa.Gate, want: usage.Event{Usage: upstreamUsage}},
		{name: "chat: client leaves a stream that stalls", path: "/v1/chat/completions", body: chatBody("fake/stall"),
			leave: true, want: usage.Event{Status: "timeout", Usage: stalled, UsageEstimated: true}},
		{name: "chat: upstream timeout mid-stream", path: "/v1/chat/completions", body: chatBody("fake/stall"),
			want: usage.Event{Status: "timeout", Usage: stalled, UsageEstimated: true}},
		{name: "chat: upstream cuts mid-stream", path: "/v1/chat/completions", body: chatBody("fake/cut"),
			want: usage.Event{Status: "upstream_unavailable", UsageEstimated: true}},
		{name: "messages native: normal stream", path: "/v1/messages", body: messagesBody("claude/sonnet"),
			want: usage.Event{Status: "ok", Usage: anthropicUsage}},
		{name: "messages native: client leaves after 9 of 10 deltas, the stream is read on to its usage", path: "/v1/messages", body: messagesBody("claude/gated"),
			leave: true, gate: an.Gate, want: usage.Event{Usage: anthropicUsage}},
		{name: "messages native: client leaves a stream that stalls", path: "/v1/messages", body: messagesBody("claude/stall"),
			leave: true, want: usage.Event{Status: "timeout", UsageEstimated: true}},
		{name: "messages native: upstream timeout mid-stream", path: "/v1/messages", body: messagesBody("claude/stall"),
			want: usage.Event{Status: "timeout", UsageEstimated: true}},
		{name: "messages native: upstream cuts mid-stream", path: "/v1/messages", body: messagesBody("claude/cut"),
			want: usage.Event{Status: "upstream_unavailable", UsageEstimated: true}},
		{name: "messages translated: normal stream", path: "/v1/messages", body: messagesBody("fake/plain"),
			want: usage.Event{Status: "ok", Usage: upstreamUsage}},
		{name: "messages translated: client leaves after 9 of 10 deltas, the stream is read on to its usage", path: "/v1/messages", body: messagesBody("fake/gated"),
			leave: true, gate: oa.Gate, want: usage.Event{Usage: upstreamUsage}},
		{name: "messages translated: client leaves a stream that stalls", path: "/v1/messages", body: messagesBody("fake/stall"),
			leave: true, want: usage.Event{Status: "timeout", UsageEstimated: true}},
		{name: "messages translated: upstream cuts mid-stream", path: "/v1/messages", body: messagesBody("fake/cut"),
			want: usage.Event{Status: "upstream_unavailable", UsageEstimated: true}},
		{name: "messages translated: a chunk that cannot be translated is the upstream's bad answer", path: "/v1/messages", body: messagesBody("fake/garbled"),
			want: usage.Event{Status: "upstream_bad_response", Usage: upstreamUsage}},
		{name: "responses: a chunk that cannot be translated is the upstream's bad answer", path: "/v1/responses",
			body: fmt.Sprintf(`{"model":"fake/garbled","stream":true,"input":%q}`, words),
			want: usage.Event{Status: "upstream_bad_response", Usage: upstreamUsage}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("req-abandon-%d", i)
			ctx, leave := context.WithCancel(context.Background())
			defer leave()
			req, err := http.NewRequestWithContext(ctx, "POST", g.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+g.Token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("anthropic-version", providertest.AnthropicVersion)
			req.Header.Set("X-Request-Id", id)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			r := sse.NewReader(resp.Body)
			n := 0
			for {
				ev, err := r.Next()
				if err != nil {
					break
				}
				if isText(ev) {
					n++
				}
				if tt.leave && n == 9 {
					leave() // the client hangs up
					resp.Body.Close()
					break
				}
			}
			if tt.leave && n != 9 {
				t.Fatalf("read %d text events, want 9 before leaving", n)
			}
			if tt.gate != nil {
				select {
				case tt.gate <- struct{}{}: // the upstream is still there: let it finish
				case <-time.After(10 * time.Second):
					t.Fatal("the upstream stream was canceled when the client left, not read on")
				}
			}
			ev := g.Events.waitFor(t, id) // fails on a second event
			if (tt.want.Status != "" && ev.Status != tt.want.Status) || ev.UsageEstimated != tt.want.UsageEstimated || ev.UsageMissing {
				t.Errorf("status %q estimated %v missing %v, want %q %v false", ev.Status, ev.UsageEstimated, ev.UsageMissing, tt.want.Status, tt.want.UsageEstimated)
			}
			if tt.want.Usage.TotalTokens != 0 && (ev.Usage.PromptTokens != tt.want.Usage.PromptTokens || ev.Usage.CompletionTokens != tt.want.Usage.CompletionTokens) {
				t.Errorf("usage %d+%d tokens, want %d+%d", ev.Usage.PromptTokens, ev.Usage.CompletionTokens, tt.want.Usage.PromptTokens, tt.want.Usage.CompletionTokens)
			}
			if ev.Usage.PromptTokens <= 0 || ev.Usage.CompletionTokens <= 0 || !ev.Priced || ev.CostUSD <= 0 {
				t.Errorf("event %+v: the stream was counted as free", ev)
			}
		})
	}
}

// TestUntranslatableAnswerIsTheUpstreamsBadAnswer checks that a whole answer the gateway reads
// but cannot translate to the client's dialect is recorded as a bad upstream answer with the
// usage it reported, not as ok.
func TestUntranslatableAnswerIsTheUpstreamsBadAnswer(t *testing.T) {
	f := newFixture(t)
	if _, err := f.admin.CreateModel(context.Background(), &adminv1.CreateModelRequest{Model: &adminv1.Model{
		Account: "fake", Name: "garbled", UpstreamModel: providertest.ModelGarbled, Types: []string{"chat"},
		Pricing: &adminv1.Pricing{InputPerMtok: 1, OutputPerMtok: 4},
	}}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, body string }{
		{"/v1/messages", `{"model":"fake/garbled","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/responses", `{"model":"fake/garbled","input":"hi"}`},
	} {
		t.Run(tt.path, func(t *testing.T) {
			id := "req-garbled" + strings.ReplaceAll(tt.path, "/", "-")
			req, _ := http.NewRequest("POST", f.g.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+f.g.Token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("anthropic-version", providertest.AnthropicVersion)
			req.Header.Set("X-Request-Id", id)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 502 {
				t.Errorf("status %d, want 502", resp.StatusCode)
			}
			ev := f.g.Events.waitFor(t, id)
			if ev.Status != "upstream_bad_response" || ev.HTTPStatus != 502 || ev.Usage.TotalTokens != 18 || ev.UsageMissing || ev.CostUSD <= 0 {
				t.Errorf("event %+v, want upstream_bad_response with the answer's usage", ev)
			}
		})
	}
}

// isText reports whether a streamed event carries answer text: an OpenAI chunk with content,
// or an Anthropic text delta.
func isText(ev sse.Event) bool {
	if ev.Name != "" {
		return ev.Name == "content_block_delta"
	}
	return bytes.Contains(ev.Data, []byte(`"content":"`)) && !bytes.Contains(ev.Data, []byte(`"content":""`))
}

func usageOf(prompt, completion int64) chat.Usage {
	return chat.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}
