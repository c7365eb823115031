package anthropicapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
)

func ptr[T any](v T) *T { return &v }

func TestDecodeRequestRefuses(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name, body, field string
		countTokens       bool
	}{
		{"empty body", ``, "", false},
		{"not an object", `[1]`, "", false},
		{"bad JSON", `{"model":`, "", false},
		{"no model", `{"max_tokens":5,` + msgs + `}`, "model", false},
		{"no max_tokens", `{"model":"m",` + msgs + `}`, "max_tokens", false},
		{"zero max_tokens", `{"model":"m","max_tokens":0,` + msgs + `}`, "max_tokens", false},
		{"max_tokens of the wrong type", `{"model":"m","max_tokens":"5",` + msgs + `}`, "max_tokens", false},
		{"no messages", `{"model":"m","max_tokens":5}`, "messages", false},
		{"count_tokens without messages", `{"model":"m"}`, "messages", true},
		{"bad role", `{"model":"m","max_tokens":5,"messages":[{"role":"tool","content":"hi"}]}`, "messages[0].role", false},
		{"image in a system turn", `{"model":"m","max_tokens":5,"messages":[{"role":"system","content":[{"type":"image","source":{"type":"url","url":"https://x"}}]}]}`, "messages[0].content[0].type", false},
		{"no content", `{"model":"m","max_tokens":5,"messages":[{"role":"user"}]}`, "messages[0].content", false},
		{"block without type", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"text":"x"}]}]}`, "messages[0].content[0].type", false},
		{"image without source", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image"}]}]}`, "messages[0].content[0].source", false},
		{"base64 image without data", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png"}}]}]}`, "messages[0].content[0].source", false},
		{"tool_use input not an object", `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":[1]}]}]}`, "messages[0].content[0].input", false},
		{"tool_result without id", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`, "messages[0].content[0].tool_use_id", false},
		{"thinking without signature", `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"hm"}]}]}`, "messages[0].content[0]", false},
		{"temperature above 1", `{"model":"m","max_tokens":5,"temperature":1.5,` + msgs + `}`, "temperature", false},
		{"tool without schema", `{"model":"m","max_tokens":5,"tools":[{"name":"f"}],` + msgs + `}`, "tools[0].input_schema", false},
		{"tool_choice tool without name", `{"model":"m","max_tokens":5,"tool_choice":{"type":"tool"},` + msgs + `}`, "tool_choice.name", false},
		{"unknown tool_choice", `{"model":"m","max_tokens":5,"tool_choice":{"type":"maybe"},` + msgs + `}`, "tool_choice.type", false},
		{"system image", `{"model":"m","max_tokens":5,"system":[{"type":"image"}],` + msgs + `}`, "system[0].type", false},
	}
	_, err := DecodeRequest([]byte(`{"model":"m","max_tokens":1.5,`+msgs+`}`), false)
	if e := apierr.From(err); e.Message != "max_tokens: invalid type: expected an integer, got number 1.5" {
		t.Errorf("max_tokens 1.5: %q", e.Message)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(tt.body), tt.countTokens)
			var e *apierr.Error
			if !errors.As(err, &e) || e.Kind != apierr.KindInvalidRequest {
				t.Fatalf("error %v, want an invalid request", err)
			}
			if e.Param != tt.field || !strings.Contains(e.Message, tt.field) {
				t.Errorf("param %q message %q, want both to name %q", e.Param, e.Message, tt.field)
			}
		})
	}
}

func TestDecodeRequestAccepts(t *testing.T) {
	for _, body := range []string{
		// count_tokens needs no max_tokens.
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		// Block types and fields newer than the gateway pass for native models.
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","data":"x"},"cache_control":{"type":"ephemeral"}}]}],"context_management":{}}`,
	} {
		if _, err := DecodeRequest([]byte(body), true); err != nil {
			t.Errorf("DecodeRequest(%s): %v", body, err)
		}
	}
}

func TestToChat(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *chat.Request
	}{
		{
			// The shape Claude Code 2.1 sends: a system turn in the conversation, adaptive
			// thinking, an effort hint and context management, all hints a model without
			// Anthropic's thinking satisfies as it is.
			name: "Claude Code's request",
			body: `{"model":"mock/echo","max_tokens":32000,"system":[{"type":"text","text":"You are Claude Code."}],
				"messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>ctx</system-reminder>"},{"type":"text","text":"hello"}]},{"role":"system","content":"Use tools wisely."}],
				"thinking":{"type":"adaptive"},"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},"output_config":{"effort":"high"},
				"metadata":{"user_id":"{\"session_id\":\"s\"}"},"stream":true}`,
			want: &chat.Request{
				Model: "mock/echo", MaxTokens: ptr[int64](32000), User: `{"session_id":"s"}`,
				Stream: true, StreamOptions: &chat.StreamOptions{IncludeUsage: true},
				Messages: []chat.Message{
					{Role: "system", Content: chat.TextContent("You are Claude Code.")},
					{Role: "user", Content: &chat.Content{Parts: []chat.Part{{Type: "text", Text: "<system-reminder>ctx</system-reminder>"}, {Type: "text", Text: "hello"}}}},
					{Role: "system", Content: chat.TextContent("Use tools wisely.")},
				},
			},
		},
		{
			name: "structured output and a strict tool",
			body: `{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"Where?"}],
				"output_config":{"effort":"low","format":{"type":"json_schema","schema":{"type":"object","properties":{"city":{"type":"string"}}}}},
				"tools":[{"name":"f","input_schema":{"type":"object"},"strict":true}]}`,
			want: &chat.Request{
				Model: "m", MaxTokens: ptr[int64](50),
				Messages: []chat.Message{{Role: "user", Content: chat.TextContent("Where?")}},
				Tools:    []chat.Tool{{Type: "function", Function: chat.Function{Name: "f", Parameters: json.RawMessage(`{"type":"object"}`), Strict: ptr(true)}}},
				ResponseFormat: &chat.ResponseFormat{Type: "json_schema", JSONSchema: &chat.JSONSchema{
					Name: "output", Schema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`), Strict: ptr(true)}},
			},
		},
		{
			name: "text, system blocks, parameters",
			body: `{"model":"openai/gpt","max_tokens":100,"system":[{"type":"text","text":"be terse","cache_control":{"type":"ephemeral"}},{"type":"text","text":"be kind"}],
				"messages":[{"role":"user","content":"hi"}],"temperature":0.5,"top_p":0.9,"stop_sequences":["END"],"metadata":{"user_id":"u1"},"stream":true,"thinking":{"type":"disabled"},"service_tier":"auto"}`,
			want: &chat.Request{
				Model: "openai/gpt", MaxTokens: ptr[int64](100), Temperature: ptr(0.5), TopP: ptr(0.9), Stop: chat.Stop{"END"}, User: "u1",
				Stream: true, StreamOptions: &chat.StreamOptions{IncludeUsage: true},
				Messages: []chat.Message{
					{Role: "system", Content: chat.TextContent("be terse")},
					{Role: "system", Content: chat.TextContent("be kind")},
					{Role: "user", Content: chat.TextContent("hi")},
				},
			},
		},
		{
			name: "images, tool round trip, thinking dropped",
			body: `{"model":"m","max_tokens":5,"system":"sys",
				"tools":[{"name":"weather","description":"Weather","input_schema":{"type":"object"}}],
				"tool_choice":{"type":"any","disable_parallel_tool_use":true},
				"messages":[
				{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}},{"type":"image","source":{"type":"url","url":"https://x/y.jpg"}}]},
				{"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"sig"},{"type":"redacted_thinking","data":"xx"},{"type":"text","text":"let me check"},
					{"type":"tool_use","id":"toolu_1","name":"weather","input":{ "city" : "Paris" }},{"type":"tool_use","id":"toolu_2","name":"weather","input":{}}]},
				{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"18C"},{"type":"text","text":"sunny"}]},
					{"type":"tool_result","tool_use_id":"toolu_2","content":"no such city","is_error":true},{"type":"text","text":"thanks"}]}]}`,
			want: &chat.Request{
				Model: "m", MaxTokens: ptr[int64](5),
				Tools:             []chat.Tool{{Type: "function", Function: chat.Function{Name: "weather", Description: "Weather", Parameters: []byte(`{"type":"object"}`)}}},
				ToolChoice:        &chat.ToolChoice{Mode: "required"},
				ParallelToolCalls: ptr(false),
				Messages: []chat.Message{
					{Role: "system", Content: chat.TextContent("sys")},
					{Role: "user", Content: &chat.Content{Parts: []chat.Part{
						{Type: "text", Text: "what is this?"},
						{Type: "image_url", ImageURL: &chat.ImageURL{URL: "data:image/png;base64,iVBOR"}},
						{Type: "image_url", ImageURL: &chat.ImageURL{URL: "https://x/y.jpg"}},
					}}},
					{Role: "assistant", Content: chat.TextContent("let me check"), ToolCalls: []chat.ToolCall{
						{ID: "toolu_1", Type: "function", Function: chat.FunctionCall{Name: "weather", Arguments: `{"city":"Paris"}`}},
						{ID: "toolu_2", Type: "function", Function: chat.FunctionCall{Name: "weather", Arguments: `{}`}},
					}},
					{Role: "tool", ToolCallID: "toolu_1", Content: chat.TextContent("18C\nsunny")},
					{Role: "tool", ToolCallID: "toolu_2", Content: chat.TextContent("Error: no such city")},
					{Role: "user", Content: chat.TextContent("thanks")},
				},
			},
		},
		{
			name: "tool choice by name, an assistant turn of only tool calls",
			body: `{"model":"m","max_tokens":5,"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"tool","name":"f"},
				"messages":[{"role":"user","content":"go"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},
				{"role":"user","content":[{"type":"tool_result","tool_use_id":"t"}]}]}`,
			want: &chat.Request{
				Model: "m", MaxTokens: ptr[int64](5),
				Tools:      []chat.Tool{{Type: "function", Function: chat.Function{Name: "f", Parameters: []byte(`{}`)}}},
				ToolChoice: &chat.ToolChoice{Function: "f"},
				Messages: []chat.Message{
					{Role: "user", Content: chat.TextContent("go")},
					{Role: "assistant", ToolCalls: []chat.ToolCall{{ID: "t", Type: "function", Function: chat.FunctionCall{Name: "f", Arguments: `{}`}}}},
					{Role: "tool", ToolCallID: "t", Content: chat.TextContent("")},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeRequest([]byte(tt.body), false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ToChat(r, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("chat request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestToChatRefusesWhatItCannotCarry(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct{ name, body, field string }{
		{"top_k", `{"model":"m","max_tokens":5,"top_k":5,` + msgs + `}`, "top_k"},
		{"thinking enabled", `{"model":"m","max_tokens":2000,"thinking":{"type":"enabled","budget_tokens":1024},` + msgs + `}`, "thinking"},
		{"unknown top-level field", `{"model":"m","max_tokens":5,"container":"c",` + msgs + `}`, "container"},
		{"an output format without a schema", `{"model":"m","max_tokens":5,"output_config":{"effort":"low","format":{"type":"json_schema"}},` + msgs + `}`, "output_config.format"},
		{"another output_config field", `{"model":"m","max_tokens":5,"output_config":{"verbosity":"low"},` + msgs + `}`, "output_config.verbosity"},
		{"server tool", `{"model":"m","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}],` + msgs + `}`, "tools[0].type"},
		{"document block", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","data":"x"}}]}]}`, "messages[0].content[0].type"},
		{"file image", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}`, "messages[0].content[0].source.type"},
		{"image in a tool result", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"url","url":"https://x"}}]}]}]}`, "messages[0].content[0].content[0].type"},
		{"tool_use in a user turn", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]}]}`, "messages[0].content[0]"},
		// The translated request is validated as a chat request: only thinking leaves no message.
		{"nothing left after translation", `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"s"}]}]}`, "messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeRequest([]byte(tt.body), false)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ToChat(r, []byte(tt.body))
			var e *apierr.Error
			if !errors.As(err, &e) || e.Kind != apierr.KindInvalidRequest {
				t.Fatalf("error %v, want an invalid request", err)
			}
			if e.Param != tt.field || !strings.HasPrefix(e.Message, tt.field) {
				t.Errorf("param %q message %q, want both to name %q", e.Param, e.Message, tt.field)
			}
		})
	}
}
