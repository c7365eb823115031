package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
)

// TestTargetOverrideParams: a virtual model's targets each set their own override_params and
// headers_override; a
// request that falls back from the first target to the second reaches each with that target's
// values in place of the client's, and with the client's values of the parameters the target
// does not set (the first target's temperature does not leak to the second),
// on OpenAI chat (whole and streamed, the raw body patched), the Responses API (translated) and
// Anthropic Messages (native); each target's upstream request has its own headers set and
// removed, and the gateway's credential. The real model called directly keeps the client's
// values and gets no header.
func TestTargetOverrideParams(t *testing.T) {
	oai := providertest.NewOpenAI(t)
	claude := providertest.NewAnthropicMessages(t, anthropicSecret)
	cfg := fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: down, type: integration/model/openai, model_id: fake-error-503, model_types: [chat]}
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
- name: claude
  type: provider-account/anthropic
  base_url: %q
  auth_data: {type: api-key, api_key: env://ANTHROPIC_TEST_KEY}
  integrations:
    - {name: sonnet, type: integration/model/anthropic, model_id: claude-sonnet-4-5}
---
name: prod
type: provider-account/virtual-model
integrations:
  - name: chat
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - target: fake/down
          retry_config: {attempts: 1}
          override_params: {temperature: 0.1, max_tokens: 10}
          headers_override: {set: {x-tenant: first}}
        - target: fake/gpt
          priority: 1
          override_params: {max_tokens: 50}
          headers_override: {set: {X-Tenant: second, x-extra: "1"}, remove: [accept]}
  - name: claude
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - {target: claude/sonnet, override_params: {temperature: 0.2, max_tokens: 64}}
`, oai.BaseURL(), claude.URL)
	cfgPath := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, map[string]string{"ANTHROPIC_TEST_KEY": anthropicSecret, "FAKE_OPENAI_KEY": providerSecret}, "--config", cfgPath)
	ctx := context.Background()
	oc := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.Token), option.WithMaxRetries(0))

	// want checks the OpenAI requests received since from: each upstream model got its values.
	want := func(t *testing.T, from int, got map[string]map[string]any) {
		t.Helper()
		reqs := oai.Requests()[from:]
		if len(reqs) != len(got) {
			t.Fatalf("upstream got %d requests, want %d", len(reqs), len(got))
		}
		for _, r := range reqs {
			w, ok := got[r.Body["model"].(string)]
			if !ok {
				t.Errorf("unexpected request for %v", r.Body["model"])
				continue
			}
			for k, v := range w {
				if h, ok := strings.CutPrefix(k, "header "); ok {
					if got := r.Header.Get(h); got != v {
						t.Errorf("%v: header %s = %q, want %q", r.Body["model"], h, got, v)
					}
					continue
				}
				if r.Body[k] != v {
					t.Errorf("%v: %s = %v, want %v", r.Body["model"], k, r.Body[k], v)
				}
			}
		}
	}
	chatParams := openai.ChatCompletionNewParams{
		Model:       "prod/chat",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		Temperature: openai.Float(1.5),
		MaxTokens:   openai.Int(1000),
		TopP:        openai.Float(0.9),
	}
	perTarget := map[string]map[string]any{
		"fake-error-503": {"temperature": 0.1, "max_tokens": 10.0, "top_p": 0.9, "header X-Tenant": "first", "header X-Extra": ""},
		"gpt-4o-mini":    {"temperature": 1.5, "max_tokens": 50.0, "top_p": 0.9, "header X-Tenant": "second", "header X-Extra": "1", "header Accept": "", "header Authorization": "Bearer " + providerSecret}, // the client's temperature
	}

	t.Run("chat", func(t *testing.T) {
		from := len(oai.Requests())
		if _, err := oc.Chat.Completions.New(ctx, chatParams); err != nil {
			t.Fatal(err)
		}
		want(t, from, perTarget)
	})
	t.Run("chat stream", func(t *testing.T) {
		from := len(oai.Requests())
		s := oc.Chat.Completions.NewStreaming(ctx, chatParams)
		for s.Next() {
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		want(t, from, perTarget)
	})
	t.Run("real model keeps the client's values", func(t *testing.T) {
		from := len(oai.Requests())
		p := chatParams
		p.Model = "fake/gpt"
		if _, err := oc.Chat.Completions.New(ctx, p); err != nil {
			t.Fatal(err)
		}
		want(t, from, map[string]map[string]any{"gpt-4o-mini": {"temperature": 1.5, "max_tokens": 1000.0, "top_p": 0.9, "header X-Tenant": ""}})
	})
	t.Run("responses", func(t *testing.T) {
		from := len(oai.Requests())
		_, err := oc.Responses.New(ctx, responses.ResponseNewParams{
			Model:           "prod/chat",
			Input:           responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")},
			Temperature:     openai.Float(1.5),
			MaxOutputTokens: openai.Int(1000),
		})
		if err != nil {
			t.Fatal(err)
		}
		reqs := oai.Requests()[from:]
		if len(reqs) != 2 {
			t.Fatalf("upstream got %d requests, want 2", len(reqs))
		}
		for _, r := range reqs {
			w := perTarget[r.Body["model"].(string)]
			if r.Body["temperature"] != w["temperature"] {
				t.Errorf("%v: temperature = %v, want %v", r.Body["model"], r.Body["temperature"], w["temperature"])
			}
			// The translation sends the length bound as max_completion_tokens or max_tokens;
			// either way the target's max_tokens is what it gets.
			if n := r.Body["max_tokens"]; n != nil && n != w["max_tokens"] {
				t.Errorf("%v: max_tokens = %v, want %v", r.Body["model"], n, w["max_tokens"])
			}
		}
	})
	t.Run("anthropic messages", func(t *testing.T) {
		ac := anthropic.NewClient(aoption.WithBaseURL(g.URL), aoption.WithAPIKey(g.Token), aoption.WithMaxRetries(0))
		from := len(claude.Requests())
		_, err := ac.Messages.New(ctx, anthropic.MessageNewParams{
			Model:       "prod/claude",
			MaxTokens:   1000,
			Temperature: anthropic.Float(0.9),
			TopP:        anthropic.Float(0.5),
			Messages:    []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
		})
		if err != nil {
			t.Fatal(err)
		}
		reqs := claude.Requests()[from:]
		if len(reqs) != 1 {
			t.Fatalf("upstream got %d requests, want 1", len(reqs))
		}
		b := reqs[0].Body
		if b["temperature"] != 0.2 || b["max_tokens"] != 64.0 || b["top_p"] != 0.5 {
			t.Errorf("temperature, max_tokens, top_p = %v, %v, %v; want 0.2, 64, 0.5", b["temperature"], b["max_tokens"], b["top_p"])
		}
	})
}
