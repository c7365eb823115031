package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"
	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	inferencev1 "github.com/llmgw/llmgw/gen/go/llmgw/inference/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/inference/v1/inferencev1connect"
)

// TestAnswerModelIsTheRequestedName: on every surface, streamed or not, an answer's model is
// the fully qualified name the client asked for, whatever the provider calls the model
// (the fake OpenAI answers gpt-4o-mini, Anthropic claude-sonnet-4-5, the mock echo).
func TestAnswerModelIsTheRequestedName(t *testing.T) {
	oai := providertest.NewOpenAI(t)
	claude := providertest.NewAnthropicMessages(t, anthropicSecret)
	cfg := fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini}
    - {name: emb, type: integration/model/openai, model_id: text-embedding-3-small, model_types: [embedding]}
- name: claude
  type: provider-account/anthropic
  base_url: %q
  auth_data: {type: api-key, api_key: env://ANTHROPIC_TEST_KEY}
  integrations:
    - {name: sonnet, type: integration/model/anthropic, model_id: claude-sonnet-4-5}
`, oai.BaseURL(), claude.URL)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret, "ANTHROPIC_TEST_KEY": anthropicSecret}, "--config", path)
	ctx := context.Background()
	oc := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.Token), option.WithMaxRetries(0))
	ac := anthropic.NewClient(anthropicoption.WithBaseURL(g.URL), anthropicoption.WithAPIKey(g.Token), anthropicoption.WithMaxRetries(0))
	cc := inferencev1connect.NewInferenceServiceClient(h2cClient(), g.URL, connect.WithInterceptors(bearer(g.Token)))

	// Each surface returns the model names its answer carried: one for a whole answer, one per
	// event or chunk that names a model for a stream.
	type surface func(t *testing.T, model string, stream bool) []string
	chatCompletions := func(t *testing.T, model string, stream bool) []string {
		params := openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("name yourself")}}
		if !stream {
			resp, err := oc.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			return []string{resp.Model}
		}
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		s := oc.Chat.Completions.NewStreaming(ctx, params)
		var got []string
		for s.Next() {
			got = append(got, s.Current().Model)
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	responsesAPI := func(t *testing.T, model string, stream bool) []string {
		params := responses.ResponseNewParams{Model: model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("name yourself")}}
		if !stream {
			resp, err := oc.Responses.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			return []string{resp.Model}
		}
		s := oc.Responses.NewStreaming(ctx, params)
		var got []string
		for s.Next() {
			if r := s.Current().Response; r.ID != "" {
				got = append(got, r.Model)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	messages := func(t *testing.T, model string, stream bool) []string {
		params := anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 50, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("name yourself"))}}
		if !stream {
			msg, err := ac.Messages.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			return []string{string(msg.Model)}
		}
		s := ac.Messages.NewStreaming(ctx, params)
		var got []string
		for s.Next() {
			if ev := s.Current(); ev.Type == "message_start" {
				got = append(got, string(ev.Message.Model))
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	connectChat := func(t *testing.T, model string, stream bool) []string {
		req := &inferencev1.ChatCompletionRequest{Model: model, Messages: []*inferencev1.Message{
			{Role: inferencev1.Role_ROLE_USER, Content: []*inferencev1.ContentPart{{Part: &inferencev1.ContentPart_Text{Text: "name yourself"}}}},
		}}
		if !stream {
			resp, err := cc.ChatCompletion(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			return []string{resp.GetModel()}
		}
		s, err := cc.StreamChatCompletion(ctx, &inferencev1.StreamChatCompletionRequest{Request: req, IncludeUsage: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for s.Receive() {
			got = append(got, s.Msg().GetModel())
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	embeddings := func(t *testing.T, model string, _ bool) []string {
		resp, err := oc.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: model, Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("name yourself")}})
		if err != nil {
			t.Fatal(err)
		}
		return []string{resp.Model}
	}
	connectEmbed := func(t *testing.T, model string, _ bool) []string {
		resp, err := cc.Embed(ctx, &inferencev1.EmbedRequest{Model: model, Input: []string{"name yourself"}})
		if err != nil {
			t.Fatal(err)
		}
		return []string{resp.GetModel()}
	}

	// The provider's own name goes to the usage event.
	if _, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "fake/gpt", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, option.WithHeader("X-Request-Id", "req-model")); err != nil {
		t.Fatal(err)
	}
	if ev := g.Events.waitFor(t, "req-model"); ev.Model != "fake/gpt" || ev.UpstreamModel != "gpt-4o-mini" {
		t.Errorf("usage event model %q upstream %q", ev.Model, ev.UpstreamModel)
	}

	chatModels := []string{"fake/gpt", "claude/sonnet", "mock/echo"}
	tests := []struct {
		name    string
		call    surface
		models  []string
		streams []bool
	}{
		{"chat completions", chatCompletions, chatModels, []bool{false, true}},
		{"responses", responsesAPI, chatModels, []bool{false, true}},
		{"anthropic messages", messages, chatModels, []bool{false, true}}, // claude/sonnet native, the others translated
		{"connect chat", connectChat, chatModels, []bool{false, true}},
		{"embeddings", embeddings, []string{"fake/emb", "mock/embed"}, []bool{false}},
		{"connect embed", connectEmbed, []string{"fake/emb", "mock/embed"}, []bool{false}},
	}
	for _, tt := range tests {
		for _, model := range tt.models {
			for _, stream := range tt.streams {
				t.Run(fmt.Sprintf("%s/%s/stream=%v", tt.name, model, stream), func(t *testing.T) {
					got := tt.call(t, model, stream)
					if len(got) == 0 {
						t.Fatal("no answer named a model")
					}
					for i, m := range got {
						if m != model {
							t.Errorf("answer %d of %d names model %q, want %q", i+1, len(got), m, model)
						}
					}
				})
			}
		}
	}
}
