package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	inferencev1 "github.com/llmgw/llmgw/gen/go/llmgw/inference/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/inference/v1/inferencev1connect"
)

const anthropicSecret = "sk-ant-test-secret-5c4b3a"

// anthropicConfigFor is a config file with an Anthropic account pointed at the fake upstream,
// and a second account whose key the upstream refuses.
func anthropicConfigFor(upstream string) string {
	return fmt.Sprintf(`
- name: claude
  type: provider-account/anthropic
  base_url: %[1]q
  auth_data: {type: api-key, api_key: env://ANTHROPIC_TEST_KEY}
  integrations:
    - {name: sonnet, type: integration/model/anthropic, model_id: claude-sonnet-4-5}
    - {name: busy, type: integration/model/anthropic, model_id: fake-error-529}
    - {name: limited, type: integration/model/anthropic, model_id: fake-error-429}
    - {name: mid-error, type: integration/model/anthropic, model_id: fake-mid-error}
- name: claude-wrong-key
  type: provider-account/anthropic
  base_url: %[1]q
  auth_data: {type: api-key, api_key: env://ANTHROPIC_WRONG_KEY}
  integrations:
    - {name: sonnet, type: integration/model/anthropic, model_id: claude-sonnet-4-5}
`, upstream)
}

// anthropicWant is the usage every answer of the fake reports, as the gateway translates it.
var anthropicWant = struct{ prompt, cached, completion, total int64 }{
	prompt:     providertest.AnthropicInputTokens + providertest.AnthropicCacheReadTokens,
	cached:     providertest.AnthropicCacheReadTokens,
	completion: providertest.AnthropicOutputTokens,
	total:      providertest.AnthropicInputTokens + providertest.AnthropicCacheReadTokens + providertest.AnthropicOutputTokens,
}

// asJSON re-encodes v so that parts of a recorded request compare as JSON text.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAnthropicThroughTheGateway(t *testing.T) {
	up := providertest.NewAnthropic(t, anthropicSecret)
	cfgPath := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(anthropicConfigFor(up.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, map[string]string{"ANTHROPIC_TEST_KEY": anthropicSecret, "ANTHROPIC_WRONG_KEY": "sk-ant-wrong"}, "--config", cfgPath)
	ctx := context.Background()
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.Token), option.WithMaxRetries(0))

	weatherTool := openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name:        "weather",
		Description: openai.String("Current weather in a city"),
		Parameters: openai.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"city": map[string]any{"type": "string"}},
			"required":   []string{"city"},
		},
	})

	t.Run("the fake speaks Anthropic's error shape", func(t *testing.T) {
		tests := []struct {
			name, key, model string
			status           int
			typ, retryAfter  string
		}{
			{"wrong key", "sk-ant-wrong", "claude-sonnet-4-5", 401, "authentication_error", ""},
			{"overloaded", anthropicSecret, "fake-error-529", 529, "overloaded_error", ""},
			{"rate limited", anthropicSecret, "fake-error-429", 429, "rate_limit_error", "5"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				body := `{"model":"` + tt.model + `","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
				req, _ := http.NewRequest("POST", up.URL+"/v1/messages", strings.NewReader(body))
				req.Header.Set("x-api-key", tt.key)
				req.Header.Set("anthropic-version", "2023-06-01")
				req.Header.Set("content-type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var e struct {
					Type  string `json:"type"`
					Error struct {
						Type    string `json:"type"`
						Message string `json:"message"`
					} `json:"error"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tt.status || e.Type != "error" || e.Error.Type != tt.typ || e.Error.Message == "" {
					t.Errorf("status %d body %+v, want %d %s", resp.StatusCode, e, tt.status, tt.typ)
				}
				if got := resp.Header.Get("retry-after"); got != tt.retryAfter {
					t.Errorf("retry-after %q, want %q", got, tt.retryAfter)
				}
			})
		}
	})

	t.Run("text with a system message", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "claude/sonnet",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be terse"), openai.UserMessage("hello claude")},
		})
		if err != nil {
			t.Fatal(err)
		}
		got := up.LastRequest()
		if got.APIKey != anthropicSecret || got.Version != providertest.AnthropicVersion || got.Body["model"] != "claude-sonnet-4-5" {
			t.Errorf("upstream got key %q version %q model %v", got.APIKey, got.Version, got.Body["model"])
		}
		if s := asJSON(t, got.Body["system"]); s != `[{"text":"be terse","type":"text"}]` {
			t.Errorf("upstream system = %s, want the system message as the top-level system prompt", s)
		}
		if m := asJSON(t, got.Body["messages"]); m != `[{"content":[{"text":"hello claude","type":"text"}],"role":"user"}]` {
			t.Errorf("upstream messages = %s", m)
		}
		if got.Body["stream"] == true {
			t.Errorf("a non-streaming request asked for a stream: %s", got.Raw)
		}
		if n := len(resp.Choices); n != 1 {
			t.Fatalf("%d choices", n)
		}
		if got := resp.Choices[0].Message.Content; got != "echo: hello claude" {
			t.Errorf("content %q", got)
		}
		if resp.Choices[0].FinishReason != "stop" {
			t.Errorf("finish reason %q", resp.Choices[0].FinishReason)
		}
		u := resp.Usage
		if u.PromptTokens != anthropicWant.prompt || u.PromptTokensDetails.CachedTokens != anthropicWant.cached ||
			u.CompletionTokens != anthropicWant.completion || u.TotalTokens != anthropicWant.total {
			t.Errorf("usage %+v, want %+v", u, anthropicWant)
		}
	})

	// streamText streams claude/sonnet, checks it ended cleanly with finish reason stop, and
	// returns the text and the usage chunks.
	streamText := func(t *testing.T, prompt, requestID string, includeUsage bool) (string, []openai.CompletionUsage) {
		t.Helper()
		params := openai.ChatCompletionNewParams{
			Model:    "claude/sonnet",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
		}
		if includeUsage {
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		stream := c.Chat.Completions.NewStreaming(ctx, params, option.WithHeader("X-Request-Id", requestID))
		var text strings.Builder
		var usages []openai.CompletionUsage
		finish := ""
		for stream.Next() {
			ch := stream.Current()
			if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
				usages = append(usages, ch.Usage)
			}
			for _, choice := range ch.Choices {
				text.WriteString(choice.Delta.Content)
				if choice.FinishReason != "" {
					finish = choice.FinishReason
				}
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if finish != "stop" {
			t.Errorf("finish reason %q, want stop", finish)
		}
		if s, _ := up.LastRequest().Body["stream"].(bool); !s {
			t.Errorf("upstream was not asked to stream: %s", up.LastRequest().Raw)
		}
		return text.String(), usages
	}

	t.Run("streamed text with usage asked shows it once", func(t *testing.T) {
		text, usages := streamText(t, "stream me please", "req-anthropic-stream-usage", true)
		if text != "echo: stream me please" {
			t.Errorf("text %q", text)
		}
		if len(usages) != 1 {
			t.Fatalf("%d usage chunks, want 1: %+v", len(usages), usages)
		}
		u := usages[0]
		if u.PromptTokens != anthropicWant.prompt || u.PromptTokensDetails.CachedTokens != anthropicWant.cached ||
			u.CompletionTokens != anthropicWant.completion || u.TotalTokens != anthropicWant.total {
			t.Errorf("usage chunk %+v, want %+v", u, anthropicWant)
		}
	})

	t.Run("streamed text without usage asked records it anyway", func(t *testing.T) {
		text, usages := streamText(t, "quietly count tokens", "req-anthropic-stream-hidden-usage", false)
		if text != "echo: quietly count tokens" {
			t.Errorf("text %q", text)
		}
		if len(usages) != 0 {
			t.Errorf("client got %d usage chunks it did not ask for: %+v", len(usages), usages)
		}
		ev := g.Events.waitFor(t, "req-anthropic-stream-hidden-usage")
		u := ev.Usage
		if u.PromptTokens != anthropicWant.prompt || u.CachedTokens() != anthropicWant.cached ||
			u.CompletionTokens != anthropicWant.completion || u.TotalTokens != anthropicWant.total {
			t.Errorf("usage event tokens %+v, want %+v", u, anthropicWant)
		}
		if ev.UsageMissing || !ev.Stream || ev.Status != "ok" || ev.Model != "claude/sonnet" {
			t.Errorf("usage event %+v", ev)
		}
	})

	t.Run("tool call and tool result", func(t *testing.T) {
		question := openai.UserMessage("what is the weather in Paris?")
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "claude/sonnet",
			Messages: []openai.ChatCompletionMessageParamUnion{question},
			Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
		})
		if err != nil {
			t.Fatal(err)
		}
		tools := asJSON(t, up.LastRequest().Body["tools"])
		if want := `[{"description":"Current weather in a city","input_schema":{"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"},"name":"weather"}]`; tools != want {
			t.Errorf("upstream tools = %s\nwant %s", tools, want)
		}
		if len(resp.Choices) != 1 {
			t.Fatalf("%d choices", len(resp.Choices))
		}
		msg := resp.Choices[0].Message
		if len(msg.ToolCalls) != 1 {
			t.Fatalf("tool calls %+v, want one", msg.ToolCalls)
		}
		call := msg.ToolCalls[0]
		if call.ID != providertest.AnthropicToolUseID || call.Type != "function" || call.Function.Name != "weather" || call.Function.Arguments != `{"city":"Paris"}` {
			t.Errorf("tool call %+v", call)
		}
		if resp.Choices[0].FinishReason != "tool_calls" {
			t.Errorf("finish reason %q", resp.Choices[0].FinishReason)
		}

		resp, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "claude/sonnet",
			Messages: []openai.ChatCompletionMessageParamUnion{question, msg.ToParam(), openai.ToolMessage("18C and sunny", call.ID)},
			Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
		})
		if err != nil {
			t.Fatal(err)
		}
		var sent []map[string]any
		if err := json.Unmarshal([]byte(asJSON(t, up.LastRequest().Body["messages"])), &sent); err != nil {
			t.Fatal(err)
		}
		want := []map[string]any{
			{"role": "user", "content": []any{map[string]any{"type": "text", "text": "what is the weather in Paris?"}}},
			{"role": "assistant", "content": []any{map[string]any{"type": "tool_use", "id": "toolu_01", "name": "weather", "input": map[string]any{"city": "Paris"}}}},
			{"role": "user", "content": []any{map[string]any{"type": "tool_result", "tool_use_id": "toolu_01", "content": []any{map[string]any{"type": "text", "text": "18C and sunny"}}}}},
		}
		if diff := cmp.Diff(want, sent); diff != "" {
			t.Errorf("upstream messages (-want +got):\n%s", diff)
		}
		if got := resp.Choices[0].Message.Content; got != "echo: 18C and sunny" || resp.Choices[0].FinishReason != "stop" || len(resp.Choices[0].Message.ToolCalls) != 0 {
			t.Errorf("answer to the tool result: %q, finish %q, tool calls %+v", got, resp.Choices[0].FinishReason, resp.Choices[0].Message.ToolCalls)
		}
	})

	t.Run("streamed tool call", func(t *testing.T) {
		stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    "claude/sonnet",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather in Paris, please")},
			Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
		})
		type call struct{ id, name, args string }
		calls := map[int64]*call{}
		finish, content := "", ""
		for stream.Next() {
			for _, choice := range stream.Current().Choices {
				content += choice.Delta.Content
				if choice.FinishReason != "" {
					finish = choice.FinishReason
				}
				for _, tc := range choice.Delta.ToolCalls {
					cl := calls[tc.Index]
					if cl == nil {
						cl = &call{}
						calls[tc.Index] = cl
					}
					cl.id += tc.ID
					cl.name += tc.Function.Name
					cl.args += tc.Function.Arguments
				}
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if len(calls) != 1 || calls[0] == nil {
			t.Fatalf("tool calls %v, want one at index 0", calls)
		}
		if got := *calls[0]; got != (call{providertest.AnthropicToolUseID, "weather", `{"city": "Paris"}`}) {
			t.Errorf("accumulated tool call %+v", got)
		}
		if finish != "tool_calls" || content != "" {
			t.Errorf("finish %q content %q", finish, content)
		}
	})

	t.Run("upstream errors", func(t *testing.T) {
		tests := []struct {
			name, model      string
			status           int
			code, retryAfter string
		}{
			{"overloaded is unavailable", "claude/busy", 503, "upstream_unavailable", ""},
			{"rate limited keeps Retry-After", "claude/limited", 429, "upstream_rate_limited", "5"},
			{"refused key hides the upstream message", "claude-wrong-key/sonnet", 502, "upstream_auth_failed", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var resp *http.Response
				_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
					Model:    tt.model,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
				}, option.WithResponseInto(&resp))
				e := apiError(t, err)
				if e.StatusCode != tt.status || e.Code != tt.code {
					t.Errorf("status %d code %q, want %d %q (%s)", e.StatusCode, e.Code, tt.status, tt.code, e.RawJSON())
				}
				for _, leak := range []string{providertest.LeakedKey, "upstream says no", "invalid x-api-key", "sk-ant-"} {
					if strings.Contains(e.RawJSON(), leak) || strings.Contains(err.Error(), leak) {
						t.Errorf("upstream text %q reached the client: %s", leak, e.RawJSON())
					}
				}
				if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
					t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
				}
			})
		}
	})

	t.Run("a stream broken by an error event ends with an error", func(t *testing.T) {
		stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    "claude/mid-error",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("a b c d")},
		}, option.WithHeader("X-Request-Id", "req-anthropic-mid-error"))
		n := 0
		for stream.Next() {
			n++
		}
		err := stream.Err()
		if err == nil || n == 0 {
			t.Fatalf("%d chunks then err %v; want chunks then an error", n, err)
		}
		if strings.Contains(err.Error(), providertest.LeakedKey) {
			t.Errorf("upstream text leaked into the stream error: %v", err)
		}
		if ev := g.Events.waitFor(t, "req-anthropic-mid-error"); ev.Status == "ok" || ev.UsageMissing || !ev.UsageEstimated || ev.Usage.CompletionTokens == 0 {
			t.Errorf("event %+v should record a failed stream with the usage the gateway counted", ev)
		}
	})

	t.Run("a parameter Anthropic cannot honour is a 400 naming it", func(t *testing.T) {
		before := len(up.Requests())
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "claude/sonnet",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("two answers please")},
			N:        openai.Int(2),
		})
		e := apiError(t, err)
		if e.StatusCode != 400 || e.Param != "n" || !strings.Contains(e.Message, "n is not supported") {
			t.Errorf("status %d param %q message %q", e.StatusCode, e.Param, e.Message)
		}
		if after := len(up.Requests()); after != before {
			t.Errorf("the upstream received %d requests for a rejected call", after-before)
		}
	})

	t.Run("grpc", func(t *testing.T) {
		client := inferencev1connect.NewInferenceServiceClient(h2cClient(), g.URL, connect.WithGRPC(), connect.WithInterceptors(bearer(g.Token)))
		resp, err := client.ChatCompletion(ctx, &inferencev1.ChatCompletionRequest{Model: "claude/sonnet", Messages: []*inferencev1.Message{
			{Role: inferencev1.Role_ROLE_SYSTEM, Content: []*inferencev1.ContentPart{{Part: &inferencev1.ContentPart_Text{Text: "be terse"}}}},
			{Role: inferencev1.Role_ROLE_USER, Content: []*inferencev1.ContentPart{{Part: &inferencev1.ContentPart_Text{Text: "over grpc"}}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		got := up.LastRequest()
		if s := asJSON(t, got.Body["system"]); s != `[{"text":"be terse","type":"text"}]` || got.Body["model"] != "claude-sonnet-4-5" {
			t.Errorf("upstream system %s model %v", s, got.Body["model"])
		}
		if len(resp.GetChoices()) != 1 || len(resp.GetChoices()[0].GetMessage().GetContent()) != 1 {
			t.Fatalf("response %v", resp)
		}
		if text := resp.GetChoices()[0].GetMessage().GetContent()[0].GetText(); text != "echo: over grpc" {
			t.Errorf("content %q", text)
		}
		if resp.GetChoices()[0].GetFinishReason() != inferencev1.FinishReason_FINISH_REASON_STOP {
			t.Errorf("finish reason %v", resp.GetChoices()[0].GetFinishReason())
		}
		u := resp.GetUsage()
		if u.GetPromptTokens() != anthropicWant.prompt || u.GetCachedTokens() != anthropicWant.cached ||
			u.GetCompletionTokens() != anthropicWant.completion || u.GetTotalTokens() != anthropicWant.total {
			t.Errorf("usage %v, want %+v", u, anthropicWant)
		}
	})
}
