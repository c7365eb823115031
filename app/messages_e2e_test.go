package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
)

// toolCaller is an OpenAI-compatible upstream that calls a tool: when the request has tools
// and its last message is a user message, it answers with a call of the first tool (id
// "call_1", arguments {"city":"Paris"}); otherwise with "done: <the last message's text>".
// Usage is always 9 prompt and 4 completion tokens. It records the requests it gets.
type toolCaller struct {
	*httptest.Server
	mu       sync.Mutex
	requests []map[string]any
}

func newToolCaller(t *testing.T) *toolCaller {
	tc := &toolCaller{}
	tc.Server = httptest.NewServer(http.HandlerFunc(tc.serve))
	t.Cleanup(tc.Close)
	return tc
}

func (tc *toolCaller) last() map[string]any {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if len(tc.requests) == 0 {
		return nil
	}
	return tc.requests[len(tc.requests)-1]
}

func (tc *toolCaller) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"bad request","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	tc.mu.Lock()
	tc.requests = append(tc.requests, body)
	tc.mu.Unlock()
	msgs, _ := body["messages"].([]any)
	lastMsg, _ := msgs[len(msgs)-1].(map[string]any)
	tools, _ := body["tools"].([]any)
	call := len(tools) > 0 && lastMsg["role"] == "user"
	toolName := ""
	if call {
		fn, _ := tools[0].(map[string]any)["function"].(map[string]any)
		toolName, _ = fn["name"].(string)
	}
	text, _ := lastMsg["content"].(string)
	usage := map[string]any{"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
	if stream, _ := body["stream"].(bool); !stream {
		msg := map[string]any{"role": "assistant", "content": "done: " + text}
		finish := "stop"
		if call {
			msg = map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
				"id": "call_1", "type": "function", "function": map[string]any{"name": toolName, "arguments": `{"city":"Paris"}`}}}}
			finish = "tool_calls"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-tool", "object": "chat.completion", "created": 1, "model": "tool-caller",
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}}, "usage": usage})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	chunk := func(choices []any, u any) {
		b, _ := json.Marshal(map[string]any{"id": "chatcmpl-tool", "object": "chat.completion.chunk", "created": 1, "model": "tool-caller", "choices": choices, "usage": u})
		fmt.Fprintf(w, "data: %s\n\n", b)
		w.(http.Flusher).Flush()
	}
	delta := func(d map[string]any, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": d, "finish_reason": finish}}
	}
	chunk(delta(map[string]any{"role": "assistant", "content": ""}, nil), nil)
	if call {
		chunk(delta(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "id": "call_1", "type": "function", "function": map[string]any{"name": toolName, "arguments": ""}}}}, nil), nil)
		for _, part := range []string{`{"city":`, ` "Paris"}`} {
			chunk(delta(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": part}}}}, nil), nil)
		}
		chunk(delta(map[string]any{}, "tool_calls"), nil)
	} else {
		chunk(delta(map[string]any{"content": "done: " + text}, nil), nil)
		chunk(delta(map[string]any{}, "stop"), nil)
	}
	chunk([]any{}, usage)
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// sentBodies captures the bodies the Anthropic SDK sends, so a test can compare them with what
// the upstream received.
type sentBodies struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (s *sentBodies) middleware(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		s.mu.Lock()
		s.bodies = append(s.bodies, b)
		s.mu.Unlock()
	}
	return next(req)
}

func (s *sentBodies) last() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[len(s.bodies)-1]
}

// anthropicErr returns err as the Anthropic SDK's error.
func anthropicErr(t *testing.T, err error) *anthropic.Error {
	t.Helper()
	var e *anthropic.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *anthropic.Error", err, err)
	}
	return e
}

func weatherTool() []anthropic.ToolUnionParam {
	return []anthropic.ToolUnionParam{anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
		Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"},
	}, "weather")}
}

func TestMessagesSurfaceWithAnthropicSDK(t *testing.T) {
	claude := providertest.NewAnthropicMessages(t, anthropicSecret)
	oai := providertest.NewOpenAI(t)
	tools := newToolCaller(t)
	cfg := fmt.Sprintf(`
- name: claude
  type: provider-account/anthropic
  base_url: %q
  auth_data: {type: api-key, api_key: env://ANTHROPIC_TEST_KEY}
  integrations:
    - {name: sonnet, type: integration/model/anthropic, model_id: claude-sonnet-4-5}
    - {name: mid-error, type: integration/model/anthropic, model_id: fake-mid-error}
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
- name: tooly
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: caller, type: integration/model/openai, model_id: tool-caller, model_types: [chat]}
- authz_rules:
    - models: [mock/*]
      users: [alice]
`, claude.URL, oai.BaseURL(), tools.URL+"/v1")
	cfgPath := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, map[string]string{"ANTHROPIC_TEST_KEY": anthropicSecret, "FAKE_OPENAI_KEY": providerSecret}, "--config", cfgPath)
	ctx := context.Background()
	sent := &sentBodies{}
	c := anthropic.NewClient(option.WithBaseURL(g.URL), option.WithAPIKey(g.Token), option.WithMaxRetries(0), option.WithMiddleware(sent.middleware))
	reqID := func(id string) option.RequestOption { return option.WithHeader("X-Request-Id", id) }
	user := func(text string) anthropic.MessageParam {
		return anthropic.NewUserMessage(anthropic.NewTextBlock(text))
	}

	// patched is the SDK's last body as the upstream must get it: only the model replaced.
	patched := func(t *testing.T, from, to string) string {
		t.Helper()
		b := string(sent.last())
		if !strings.Contains(b, `"model":"`+from+`"`) {
			t.Fatalf("the SDK sent %s", b)
		}
		return strings.Replace(b, `"model":"`+from+`"`, `"model":"`+to+`"`, 1)
	}

	t.Run("native text", func(t *testing.T) {
		msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: "claude/sonnet", MaxTokens: 100, Messages: []anthropic.MessageParam{user("hello claude")},
			System: []anthropic.TextBlockParam{{Text: "be terse"}},
		}, reqID("req-msg-native-text"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(claude.LastRequest().Raw), patched(t, "claude/sonnet", "claude-sonnet-4-5"); got != want {
			t.Errorf("upstream body:\n%s\nwant the SDK's body with only the model patched:\n%s", got, want)
		}
		if claude.LastRequest().APIKey != anthropicSecret {
			t.Errorf("upstream key %q: the gateway must send its provider key, not the client's", claude.LastRequest().APIKey)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != "echo: hello claude" || msg.StopReason != anthropic.StopReasonEndTurn {
			t.Errorf("message %+v", msg)
		}
		if msg.Usage.InputTokens != providertest.AnthropicInputTokens || msg.Usage.CacheReadInputTokens != providertest.AnthropicCacheReadTokens || msg.Usage.OutputTokens != providertest.AnthropicOutputTokens {
			t.Errorf("usage %+v", msg.Usage)
		}
		ev := g.Events.waitFor(t, "req-msg-native-text")
		if u := ev.Usage; u.PromptTokens != anthropicWant.prompt || u.CachedTokens() != anthropicWant.cached || u.CompletionTokens != anthropicWant.completion || u.TotalTokens != anthropicWant.total {
			t.Errorf("usage event tokens %+v, want %+v", u, anthropicWant)
		}
		if ev.Stream || ev.Status != "ok" || ev.Model != "claude/sonnet" || ev.UsageMissing {
			t.Errorf("usage event %+v", ev)
		}
	})

	t.Run("native streaming", func(t *testing.T) {
		stream := c.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
			Model: "claude/sonnet", MaxTokens: 100, Messages: []anthropic.MessageParam{user("stream me please")},
		}, reqID("req-msg-native-stream"))
		var msg anthropic.Message
		for stream.Next() {
			if err := msg.Accumulate(stream.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != "echo: stream me please" || msg.StopReason != anthropic.StopReasonEndTurn {
			t.Errorf("accumulated message %+v", msg)
		}
		if s, _ := claude.LastRequest().Body["stream"].(bool); !s {
			t.Errorf("upstream was not asked to stream: %s", claude.LastRequest().Raw)
		}
		ev := g.Events.waitFor(t, "req-msg-native-stream")
		if u := ev.Usage; u.PromptTokens != anthropicWant.prompt || u.CompletionTokens != anthropicWant.completion || !ev.Stream || ev.Status != "ok" {
			t.Errorf("usage event %+v", ev)
		}
	})

	t.Run("native tool use round trip", func(t *testing.T) {
		question := user("what is the weather in Paris?")
		msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: "claude/sonnet", MaxTokens: 100, Messages: []anthropic.MessageParam{question}, Tools: weatherTool(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Type != "tool_use" || msg.Content[0].ID != providertest.AnthropicToolUseID ||
			msg.Content[0].Name != "weather" || string(msg.Content[0].Input) != `{"city":"Paris"}` || msg.StopReason != anthropic.StopReasonToolUse {
			t.Fatalf("message %+v", msg)
		}
		msg, err = c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: "claude/sonnet", MaxTokens: 100, Tools: weatherTool(),
			Messages: []anthropic.MessageParam{question, msg.ToParam(), anthropic.NewUserMessage(anthropic.NewToolResultBlock(msg.Content[0].ID, "18C and sunny", false))},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(claude.LastRequest().Raw), patched(t, "claude/sonnet", "claude-sonnet-4-5"); got != want {
			t.Errorf("upstream body %s, want %s", got, want)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != "echo: 18C and sunny" {
			t.Errorf("message %+v", msg)
		}
	})

	t.Run("native thinking blocks round-trip byte for byte", func(t *testing.T) {
		params := anthropic.MessageNewParams{
			Model: "claude/sonnet", MaxTokens: 2048, Thinking: anthropic.ThinkingConfigParamOfEnabled(1024),
			Messages: []anthropic.MessageParam{user("think first")},
		}
		msg, err := c.Messages.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 2 || msg.Content[0].Type != "thinking" || msg.Content[0].Thinking != providertest.AnthropicThinking ||
			msg.Content[0].Signature != providertest.AnthropicSignature || msg.Content[1].Text != "echo: think first" {
			t.Fatalf("message %+v", msg)
		}
		params.Messages = append(params.Messages, msg.ToParam(), user("and again"))
		next, err := c.Messages.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		got := claude.LastRequest()
		if want := patched(t, "claude/sonnet", "claude-sonnet-4-5"); string(got.Raw) != want {
			t.Errorf("upstream body:\n%s\nwant the SDK's body with only the model patched:\n%s", got.Raw, want)
		}
		history := asJSON(t, got.Body["messages"].([]any)[1])
		if !strings.Contains(history, `"signature":"`+providertest.AnthropicSignature+`"`) || !strings.Contains(history, `"type":"thinking"`) {
			t.Errorf("the thinking block did not reach the upstream: %s", history)
		}
		if next.Content[1].Text != "echo: and again" {
			t.Errorf("message %+v", next)
		}

		stream := c.Messages.NewStreaming(ctx, params)
		var acc anthropic.Message
		for stream.Next() {
			if err := acc.Accumulate(stream.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if len(acc.Content) != 2 || acc.Content[0].Thinking != providertest.AnthropicThinking || acc.Content[0].Signature != providertest.AnthropicSignature {
			t.Errorf("streamed message %+v", acc)
		}
	})

	t.Run("native count_tokens", func(t *testing.T) {
		res, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{
			Model: "claude/sonnet", Messages: []anthropic.MessageParam{user("count me")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.InputTokens != providertest.AnthropicCountTokens {
			t.Errorf("input tokens %d", res.InputTokens)
		}
		got := claude.LastRequest()
		if want := patched(t, "claude/sonnet", "claude-sonnet-4-5"); got.Path != "/v1/messages/count_tokens" || string(got.Raw) != want {
			t.Errorf("upstream got %s %s, want %s", got.Path, got.Raw, want)
		}
	})

	t.Run("native stream that breaks ends with an error", func(t *testing.T) {
		stream := c.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
			Model: "claude/mid-error", MaxTokens: 100, Messages: []anthropic.MessageParam{user("one two three")},
		}, reqID("req-msg-native-mid-error"))
		events := 0
		for stream.Next() {
			events++
		}
		err := stream.Err()
		if err == nil || events == 0 {
			t.Fatalf("%d events, error %v; want events then an error", events, err)
		}
		if strings.Contains(err.Error(), providertest.LeakedKey) {
			t.Errorf("upstream text leaked: %v", err)
		}
		if ev := g.Events.waitFor(t, "req-msg-native-mid-error"); ev.Status == "ok" {
			t.Errorf("event %+v should record a failed stream", ev)
		}
	})

	t.Run("translated text", func(t *testing.T) {
		for _, tt := range []struct {
			model, want, id         string
			input, cached, output   int64
			eventPrompt, eventTotal int64
		}{
			// mock counts words: "be terse" + "hello gateway" in, "hello gateway" out.
			{"mock/echo", "hello gateway", "req-msg-mock", 4, 0, 2, 4, 6},
			// the fake OpenAI reports 11 prompt tokens of which 3 cached, and 7 completion tokens.
			{"fake/gpt", "echo: hello gateway", "req-msg-openai", 8, 3, 7, 11, 18},
		} {
			t.Run(tt.model, func(t *testing.T) {
				msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{
					Model: tt.model, MaxTokens: 50, Messages: []anthropic.MessageParam{user("hello gateway")},
					System: []anthropic.TextBlockParam{{Text: "be terse"}},
				}, reqID(tt.id))
				if err != nil {
					t.Fatal(err)
				}
				if len(msg.Content) != 1 || msg.Content[0].Text != tt.want || msg.StopReason != anthropic.StopReasonEndTurn || msg.Model != tt.model || msg.Type != "message" {
					t.Errorf("message %+v", msg)
				}
				if msg.Usage.InputTokens != tt.input || msg.Usage.CacheReadInputTokens != tt.cached || msg.Usage.OutputTokens != tt.output {
					t.Errorf("usage %+v", msg.Usage)
				}
				ev := g.Events.waitFor(t, tt.id)
				if ev.Usage.PromptTokens != tt.eventPrompt || ev.Usage.TotalTokens != tt.eventTotal || ev.Status != "ok" || ev.Model != tt.model {
					t.Errorf("usage event %+v", ev)
				}
			})
		}
		sentUp := oai.LastRequest().Body
		if m := asJSON(t, sentUp["messages"]); m != `[{"content":"be terse","role":"system"},{"content":"hello gateway","role":"user"}]` {
			t.Errorf("upstream messages %s", m)
		}
		if sentUp["model"] != "gpt-4o-mini" || sentUp["max_tokens"] != float64(50) {
			t.Errorf("upstream model %v max_tokens %v", sentUp["model"], sentUp["max_tokens"])
		}
	})

	t.Run("translated streaming", func(t *testing.T) {
		for _, tt := range []struct {
			model, want, id string
			input, output   int64
		}{
			{"mock/echo", "one two three", "req-msg-mock-stream", 3, 3},
			{"fake/gpt", "echo: one two three", "req-msg-openai-stream", 8, 7},
		} {
			t.Run(tt.model, func(t *testing.T) {
				stream := c.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
					Model: tt.model, MaxTokens: 50, Messages: []anthropic.MessageParam{user("one two three")},
				}, reqID(tt.id))
				var msg anthropic.Message
				var names []string
				for stream.Next() {
					ev := stream.Current()
					names = append(names, ev.Type)
					if err := msg.Accumulate(ev); err != nil {
						t.Fatal(err)
					}
				}
				if err := stream.Err(); err != nil {
					t.Fatal(err)
				}
				if len(msg.Content) != 1 || msg.Content[0].Text != tt.want || msg.StopReason != anthropic.StopReasonEndTurn {
					t.Errorf("accumulated message %+v", msg)
				}
				if msg.Usage.InputTokens != tt.input || msg.Usage.OutputTokens != tt.output {
					t.Errorf("accumulated usage %+v", msg.Usage)
				}
				if names[0] != "message_start" || names[1] != "content_block_start" || names[len(names)-2] != "message_delta" || names[len(names)-1] != "message_stop" {
					t.Errorf("event sequence %v", names)
				}
				ev := g.Events.waitFor(t, tt.id)
				if !ev.Stream || ev.Status != "ok" || ev.UsageMissing || ev.Usage.CompletionTokens != tt.output {
					t.Errorf("usage event %+v", ev)
				}
			})
		}
	})

	t.Run("translated tool use round trip", func(t *testing.T) {
		question := user("what is the weather in Paris?")
		msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: "tooly/caller", MaxTokens: 50, Messages: []anthropic.MessageParam{question}, Tools: weatherTool(),
			ToolChoice: anthropic.ToolChoiceUnionParam{OfAny: &anthropic.ToolChoiceAnyParam{}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Type != "tool_use" || msg.Content[0].ID != "call_1" || msg.Content[0].Name != "weather" ||
			string(msg.Content[0].Input) != `{"city":"Paris"}` || msg.StopReason != anthropic.StopReasonToolUse {
			t.Fatalf("message %+v", msg)
		}
		up := tools.last()
		if tl := asJSON(t, up["tools"]); tl != `[{"function":{"name":"weather","parameters":{"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"}},"type":"function"}]` {
			t.Errorf("upstream tools %s", tl)
		}
		if up["tool_choice"] != "required" {
			t.Errorf("upstream tool_choice %v", up["tool_choice"])
		}

		msg, err = c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: "tooly/caller", MaxTokens: 50, Tools: weatherTool(),
			Messages: []anthropic.MessageParam{question, msg.ToParam(), anthropic.NewUserMessage(anthropic.NewToolResultBlock("call_1", "18C and sunny", false))},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != "done: 18C and sunny" {
			t.Errorf("message %+v", msg)
		}
		want := `[{"content":"what is the weather in Paris?","role":"user"},` +
			`{"role":"assistant","tool_calls":[{"function":{"arguments":"{\"city\":\"Paris\"}","name":"weather"},"id":"call_1","type":"function"}]},` +
			`{"content":"18C and sunny","role":"tool","tool_call_id":"call_1"}]`
		if m := asJSON(t, tools.last()["messages"]); m != want {
			t.Errorf("upstream messages:\n%s\nwant\n%s", m, want)
		}

		stream := c.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
			Model: "tooly/caller", MaxTokens: 50, Messages: []anthropic.MessageParam{question}, Tools: weatherTool(),
		})
		var acc anthropic.Message
		for stream.Next() {
			if err := acc.Accumulate(stream.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		var input bytes.Buffer
		if len(acc.Content) == 1 {
			_ = json.Compact(&input, acc.Content[0].Input) // the fragments keep the upstream's spacing
		}
		if len(acc.Content) != 1 || acc.Content[0].ID != "call_1" || input.String() != `{"city":"Paris"}` || acc.StopReason != anthropic.StopReasonToolUse {
			t.Errorf("streamed message %+v", acc)
		}
	})

	// alice may use only mock/*.
	admin := adminv1connect.NewAdminServiceClient(http.DefaultClient, g.URL, connect.WithInterceptors(bearer(g.Token)))
	if _, err := admin.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "alice"}}); err != nil {
		t.Fatal(err)
	}
	k, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: "alice-laptop", Owner: &adminv1.ApiKey_User{User: "alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	alice := k.GetSecret()

	t.Run("errors in Anthropic's shape", func(t *testing.T) {
		hi := []anthropic.MessageParam{user("hi")}
		tests := []struct {
			name   string
			key    string
			params anthropic.MessageNewParams
			status int
			typ    string
			says   string
		}{
			{"wrong x-api-key", "llmgw-wrong", anthropic.MessageNewParams{Model: "mock/echo", MaxTokens: 5, Messages: hi}, 401, "authentication_error", ""},
			{"unknown model", g.Token, anthropic.MessageNewParams{Model: "nope/model", MaxTokens: 5, Messages: hi}, 404, "not_found_error", "nope/model"},
			{"forbidden model", "", anthropic.MessageNewParams{Model: "fake/gpt", MaxTokens: 5, Messages: hi}, 403, "permission_error", "fake/gpt"},
			{"top_k to a non-Anthropic model", g.Token, anthropic.MessageNewParams{Model: "fake/gpt", MaxTokens: 5, Messages: hi, TopK: anthropic.Int(5)}, 400, "invalid_request_error", "top_k"},
			{"thinking to a non-Anthropic model", g.Token, anthropic.MessageNewParams{Model: "fake/gpt", MaxTokens: 2048, Messages: hi, Thinking: anthropic.ThinkingConfigParamOfEnabled(1024)}, 400, "invalid_request_error", "thinking"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				key := tt.key
				if key == "" {
					key = alice
				}
				before := len(oai.Requests())
				_, err := c.Messages.New(ctx, tt.params, option.WithAPIKey(key))
				e := anthropicErr(t, err)
				if e.StatusCode != tt.status || string(e.Type()) != tt.typ {
					t.Errorf("status %d type %q, want %d %q: %s", e.StatusCode, e.Type(), tt.status, tt.typ, e.RawJSON())
				}
				if !strings.Contains(e.RawJSON(), tt.says) {
					t.Errorf("error %s does not name %q", e.RawJSON(), tt.says)
				}
				if after := len(oai.Requests()); after != before {
					t.Errorf("a refused request reached the upstream")
				}
			})
		}
		// alice's key is good for mock/*, sent as x-api-key.
		msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{Model: "mock/echo", MaxTokens: 5, Messages: hi}, option.WithAPIKey(alice))
		if err != nil || msg.Content[0].Text != "hi" {
			t.Errorf("alice on mock/echo: %+v, %v", msg, err)
		}
	})

	t.Run("a wrong method is a 405 in Anthropic's shape", func(t *testing.T) {
		resp, body := g.do(t, "GET", "/v1/messages", g.Token, "")
		if resp.StatusCode != 405 || !strings.Contains(body, `"type":"error"`) || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET /v1/messages: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("count_tokens is only for Anthropic models", func(t *testing.T) {
		_, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "fake/gpt", Messages: []anthropic.MessageParam{user("hi")}})
		e := anthropicErr(t, err)
		if e.StatusCode != 400 || !strings.Contains(e.RawJSON(), "count_tokens is only available for anthropic models") {
			t.Errorf("status %d: %s", e.StatusCode, e.RawJSON())
		}
	})

	t.Run("bearer keys work too, and the OpenAI surface is unchanged", func(t *testing.T) {
		resp, body := g.do(t, "POST", "/v1/messages", g.Token, `{"model":"mock/echo","max_tokens":5,"messages":[{"role":"user","content":"by bearer"}]}`)
		if resp.StatusCode != 200 || !strings.Contains(body, `"text":"by bearer"`) {
			t.Errorf("status %d body %s", resp.StatusCode, body)
		}
		resp, body = g.do(t, "POST", "/v1/chat/completions", g.Token, `{"model":"mock/echo","messages":[{"role":"user","content":"still openai"}]}`)
		if resp.StatusCode != 200 || !strings.Contains(body, `"object":"chat.completion"`) {
			t.Errorf("chat completions: status %d body %s", resp.StatusCode, body)
		}
		resp, body = g.do(t, "POST", "/v1/messages", g.Token, `{"model":"mock/echo","messages":[{"role":"user","content":"no max"}]}`)
		if resp.StatusCode != 400 || !strings.Contains(body, `"type":"invalid_request_error"`) || !strings.Contains(body, "max_tokens") {
			t.Errorf("missing max_tokens: status %d body %s", resp.StatusCode, body)
		}
	})
}
