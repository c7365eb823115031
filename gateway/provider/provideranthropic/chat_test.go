package provideranthropic

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

func TestChat(t *testing.T) {
	tests := []struct {
		name      string
		upstream  string // Anthropic Message
		want      string // OpenAI chat.completion
		wantUsage chat.Usage
	}{
		{
			name: "text",
			upstream: `{"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
				"content":[{"type":"text","text":"Hi! My name is "},{"type":"text","text":"Claude."}],
				"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":2095,"output_tokens":503}}`,
			want: `{"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","object":"chat.completion","created":1700000000,"model":"claude-sonnet-4-5-20250929",
				"choices":[{"index":0,"message":{"role":"assistant","content":"Hi! My name is Claude."},"finish_reason":"stop"}],
				"usage":{"prompt_tokens":2095,"completion_tokens":503,"total_tokens":2598,"prompt_tokens_details":{"cached_tokens":0}}}`,
			wantUsage: chat.Usage{PromptTokens: 2095, CompletionTokens: 503, TotalTokens: 2598, PromptTokensDetails: &chat.PromptTokensDetails{}},
		},
		{
			name: "tool use with thinking",
			upstream: `{"id":"msg_01Aq9w938a90dw8q","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
				"content":[
					{"type":"thinking","thinking":"The user wants the weather.","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3h"},
					{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix"},
					{"type":"text","text":"I'll check."},
					{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location": "San Francisco, CA", "unit": "celsius"}},
					{"type":"tool_use","id":"toolu_02","name":"get_time","input":{}}],
				"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":400,"output_tokens":60}}`,
			want: `{"id":"msg_01Aq9w938a90dw8q","object":"chat.completion","created":1700000000,"model":"claude-sonnet-4-5-20250929",
				"choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"I'll check.","tool_calls":[
					{"id":"toolu_01A09q90qw90lq917835lq9","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"}},
					{"id":"toolu_02","type":"function","function":{"name":"get_time","arguments":"{}"}}]}}],
				"usage":{"prompt_tokens":400,"completion_tokens":60,"total_tokens":460,"prompt_tokens_details":{"cached_tokens":0}}}`,
			wantUsage: chat.Usage{PromptTokens: 400, CompletionTokens: 60, TotalTokens: 460, PromptTokensDetails: &chat.PromptTokensDetails{}},
		},
		{
			name: "tool use only has no content",
			upstream: `{"id":"msg_2","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
				"content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":[1, 2]}}],
				"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`,
			want: `{"id":"msg_2","object":"chat.completion","created":1700000000,"model":"claude-sonnet-4-5-20250929",
				"choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","tool_calls":[
					{"id":"toolu_1","type":"function","function":{"name":"f","arguments":"{\"a\":[1,2]}"}}]}}],
				"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"prompt_tokens_details":{"cached_tokens":0}}}`,
			wantUsage: chat.Usage{PromptTokens: 1, CompletionTokens: 1, TotalTokens: 2, PromptTokensDetails: &chat.PromptTokensDetails{}},
		},
		{
			name: "usage with cache tokens",
			upstream: `{"id":"msg_3","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
				"content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,
				"usage":{"input_tokens":21,"cache_creation_input_tokens":188086,"cache_read_input_tokens":1000,"output_tokens":393}}`,
			want: `{"id":"msg_3","object":"chat.completion","created":1700000000,"model":"claude-sonnet-4-5-20250929",
				"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],
				"usage":{"prompt_tokens":189107,"completion_tokens":393,"total_tokens":189500,"prompt_tokens_details":{"cached_tokens":1000}}}`,
			wantUsage: chat.Usage{PromptTokens: 189107, CompletionTokens: 393, TotalTokens: 189500, PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 1000}, CacheWriteTokens: 188086},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, respondJSON(tt.upstream))
			res, err := f.adapter(t).Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if diff := cmp.Diff(jsonValue(t, tt.want), jsonValue(t, string(res.JSON))); diff != "" {
				t.Errorf("completion mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantUsage, res.Usage); diff != "" {
				t.Errorf("usage mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStopReasons(t *testing.T) {
	tests := []struct{ stop, want string }{
		{"end_turn", "stop"},
		{"stop_sequence", "stop"},
		{"pause_turn", "stop"},
		{"max_tokens", "length"},
		{"model_context_window_exceeded", "length"},
		{"tool_use", "tool_calls"},
		{"refusal", "content_filter"},
	}
	for _, tt := range tests {
		t.Run(tt.stop, func(t *testing.T) {
			f := newFake(t, respondJSON(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
				"content":[{"type":"text","text":"x"}],"stop_reason":"`+tt.stop+`","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`))
			res, err := f.adapter(t).Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			got := jsonValue(t, string(res.JSON))["choices"].([]any)[0].(map[string]any)["finish_reason"]
			if got != tt.want {
				t.Errorf("finish_reason = %v, want %q", got, tt.want)
			}
		})
	}
}

func TestChatBadResponse(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":    `<html>gateway error</html>`,
		"not message": `{"type":"error","error":{"type":"api_error","message":"x"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, respondJSON(body))
			_, err := f.adapter(t).Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
			if e := asAPIErr(t, err); e.Code != "upstream_bad_response" {
				t.Errorf("error %v, want a bad response", e)
			}
		})
	}
}
