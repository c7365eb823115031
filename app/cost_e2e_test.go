package app

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// TestCacheWriteCost: an Anthropic model whose answers write to the prompt cache (five-minute
// and one-hour writes), priced by an Admin API override with cache-write prices, is recorded
// with its cache writes and the exact cost, the same for a whole answer and a stream, on the
// OpenAI surface and on the Anthropic surface (native Messages). OpenAI clients never see a
// cache-write member; Anthropic clients see cache_creation_input_tokens.
func TestCacheWriteCost(t *testing.T) {
	claude := providertest.NewAnthropic(t, anthropicSecret)
	cfg := writeConfig(t, fmt.Sprintf(`
- name: claude
  type: provider-account/anthropic
  base_url: %q
  auth_data: {type: api-key, api_key: env://ANTHROPIC_TEST_KEY}
  integrations: []
`, claude.URL))
	g := startGateway(t, map[string]string{"ANTHROPIC_TEST_KEY": anthropicSecret}, "--config", cfg)
	if _, err := g.adminClient().CreateModel(context.Background(), &adminv1.CreateModelRequest{Model: &adminv1.Model{
		Account: "claude", Name: "cached", UpstreamModel: "claude-sonnet-4-5-" + providertest.ModelCacheWrite, Types: []string{"chat"},
		Pricing: &adminv1.Pricing{InputPerMtok: 3, OutputPerMtok: 15, CachedInputPerMtok: 0.3, CacheWritePerMtok: 3.75, CacheWrite_1HPerMtok: 6},
	}}); err != nil {
		t.Fatal(err)
	}
	const (
		in, read, write, write1h, out = providertest.AnthropicInputTokens, providertest.AnthropicCacheReadTokens,
			providertest.AnthropicCacheWriteTokens, providertest.AnthropicCacheWrite1hTokens, providertest.AnthropicOutputTokens
	)
	wantCost := (in*3 + read*0.3 + (write-write1h)*3.75 + write1h*6 + out*15) / 1e6
	chatBody := `{"model":"claude/cached","messages":[{"role":"user","content":"hi"}]}`
	messagesBody := `{"model":"claude/cached","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`
	for _, tc := range []struct{ name, path, body string }{
		{"chat", "/v1/chat/completions", chatBody},
		{"chat stream", "/v1/chat/completions", strings.Replace(chatBody, `{`, `{"stream":true,"stream_options":{"include_usage":true},`, 1)},
		{"messages", "/v1/messages", messagesBody},
		{"messages stream", "/v1/messages", strings.Replace(messagesBody, `{`, `{"stream":true,`, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, answer, id := g.send(t, tc.path, tc.body, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, answer)
			}
			ev := g.Events.waitFor(t, id)
			u := ev.Usage
			if u.PromptTokens != in+read+write || u.CachedTokens() != read || u.CacheWriteTokens != write || u.CacheWrite1hTokens != write1h || u.CompletionTokens != out {
				t.Errorf("usage %+v, want prompt %d (cached %d, written %d, %d for 1h), completion %d", u, in+read+write, read, write, write1h, out)
			}
			if !ev.Priced || math.Abs(ev.CostUSD-wantCost) > 1e-12 {
				t.Errorf("cost %.12f USD (priced %v), want %.12f", ev.CostUSD, ev.Priced, wantCost)
			}
			if strings.HasPrefix(tc.path, "/v1/chat") && strings.Contains(answer, "cache_creation") || strings.Contains(answer, "cache_write") {
				t.Errorf("the OpenAI answer shows a cache-write member: %s", answer)
			}
			if strings.HasPrefix(tc.path, "/v1/messages") && !strings.Contains(answer, fmt.Sprintf(`"cache_creation_input_tokens":%d`, write)) {
				t.Errorf("the Messages answer does not report the cache writes: %s", answer)
			}
		})
	}
}
