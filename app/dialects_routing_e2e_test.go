package app

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	inferencev1 "github.com/llmgw/llmgw/gen/go/llmgw/inference/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/inference/v1/inferencev1connect"
)

// TestEveryDialectRoutes: a virtual model whose first target answers 503 falls back to its
// second on every surface: Anthropic Messages with anthropic-sdk-go (to an OpenAI target,
// translated, and to a native Anthropic one), the Responses API and embeddings with openai-go,
// and gRPC with the generated Connect client.
func TestEveryDialectRoutes(t *testing.T) {
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
    - {name: emb-down, type: integration/model/openai, model_id: fake-error-503, model_types: [embedding]}
    - {name: emb, type: integration/model/openai, model_id: text-embedding-3-small, model_types: [embedding]}
- name: claude
  type: provider-account/anthropic
  base_url: %q
  auth_data: {type: api-key, api_key: env://ANTHROPIC_TEST_KEY}
  integrations:
    - {name: down, type: integration/model/anthropic, model_id: fake-error-503}
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
        - {target: fake/down, priority: 0, retry_config: {attempts: 1}}
        - {target: fake/gpt, priority: 1}
  - name: claude
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - {target: claude/down, priority: 0, retry_config: {attempts: 1}}
        - {target: claude/sonnet, priority: 1}
  - name: emb
    type: integration/model/virtual
    model_types: [embedding]
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - {target: fake/emb-down, priority: 0, retry_config: {attempts: 1}}
        - {target: fake/emb, priority: 1}
`, oai.BaseURL(), claude.URL)
	cfgPath := writeConfig(t, cfg)
	g := startGateway(t, map[string]string{"ANTHROPIC_TEST_KEY": anthropicSecret, "FAKE_OPENAI_KEY": providerSecret}, "--config", cfgPath)
	ctx := context.Background()
	routed := func(t *testing.T, h http.Header, model, target string) {
		t.Helper()
		if got := h.Get("x-llmgw-resolved-model"); got != target {
			t.Errorf("x-llmgw-resolved-model %q, want %q", got, target)
		}
		if got := h.Get("x-llmgw-attempts"); got != "2" {
			t.Errorf("x-llmgw-attempts %q, want 2", got)
		}
		if ev := g.Events.waitFor(t, h.Get("X-Request-Id")); ev.Model != model || ev.HTTPStatus != 200 {
			t.Errorf("usage event %q %d, want %s 200", ev.Model, ev.HTTPStatus, model)
		}
	}

	ac := anthropic.NewClient(aoption.WithBaseURL(g.URL), aoption.WithAPIKey(g.Token), aoption.WithMaxRetries(0))
	for _, tc := range []struct{ name, model, target string }{
		{"messages translated", "prod/chat", "fake/gpt"},
		{"messages native", "prod/claude", "claude/sonnet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := anthropic.MessageNewParams{Model: anthropic.Model(tc.model), MaxTokens: 100, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello"))}}
			var resp *http.Response
			msg, err := ac.Messages.New(ctx, params, aoption.WithResponseInto(&resp))
			if err != nil {
				t.Fatal(err)
			}
			if len(msg.Content) == 0 || msg.Content[0].Text == "" {
				t.Errorf("message %+v, want the second target's answer", msg)
			}
			routed(t, resp.Header, tc.model, tc.target)

			stream := ac.Messages.NewStreaming(ctx, params, aoption.WithResponseInto(&resp))
			var acc anthropic.Message
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.Err(); err != nil || len(acc.Content) == 0 || acc.Content[0].Text == "" {
				t.Fatalf("stream: err %v, message %+v", err, acc)
			}
			routed(t, resp.Header, tc.model, tc.target)
		})
	}

	oc := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.Token), option.WithMaxRetries(0))
	t.Run("responses", func(t *testing.T) {
		var resp *http.Response
		out, err := oc.Responses.New(ctx, responses.ResponseNewParams{
			Model: "prod/chat",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hello responses")},
		}, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if out.OutputText() == "" || out.Status != "completed" {
			t.Errorf("output %q status %q", out.OutputText(), out.Status)
		}
		routed(t, resp.Header, "prod/chat", "fake/gpt")
	})
	t.Run("embeddings", func(t *testing.T) {
		var resp *http.Response
		out, err := oc.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "prod/emb",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
		}, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Data) != 2 {
			t.Errorf("%d embeddings, want 2", len(out.Data))
		}
		routed(t, resp.Header, "prod/emb", "fake/emb")
	})
	t.Run("grpc", func(t *testing.T) {
		client := inferencev1connect.NewInferenceServiceClient(h2cClient(), g.URL, connect.WithGRPC(), connect.WithInterceptors(bearer(g.Token)))
		req := &inferencev1.ChatCompletionRequest{Model: "prod/chat", Messages: []*inferencev1.Message{
			{Role: inferencev1.Role_ROLE_USER, Content: []*inferencev1.ContentPart{{Part: &inferencev1.ContentPart_Text{Text: "over grpc"}}}},
		}}
		cctx, info := connect.NewClientContext(ctx)
		resp, err := client.ChatCompletion(cctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetChoices()) == 0 {
			t.Errorf("answer %+v", resp)
		}
		routed(t, info.ResponseHeader(), "prod/chat", "fake/gpt")

		stream, err := client.StreamChatCompletion(ctx, &inferencev1.StreamChatCompletionRequest{Request: req, IncludeUsage: true})
		if err != nil {
			t.Fatal(err)
		}
		chunks := 0
		for stream.Receive() {
			chunks++
		}
		if err := stream.Err(); err != nil || chunks == 0 {
			t.Fatalf("stream: err %v after %d chunks", err, chunks)
		}
		routed(t, stream.ResponseHeader(), "prod/chat", "fake/gpt")
		stream.Close()

		cctx, info = connect.NewClientContext(ctx)
		emb, err := client.Embed(cctx, &inferencev1.EmbedRequest{Model: "prod/emb", Input: []string{"a", "b"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(emb.GetEmbeddings()) != 2 {
			t.Errorf("%d embeddings, want 2", len(emb.GetEmbeddings()))
		}
		routed(t, info.ResponseHeader(), "prod/emb", "fake/emb")
	})
}
