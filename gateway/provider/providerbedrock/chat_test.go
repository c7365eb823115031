package providerbedrock

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
)

func TestRequestTranslation(t *testing.T) {
	tests := []struct {
		name    string
		request string // OpenAI
		want    string // Converse
	}{
		{
			name: "system developer user and inference config",
			request: `{"model":"m","max_tokens":100,"temperature":0.2,"top_p":0.9,"stop":["END","STOP"],"user":"u-1","messages":[
				{"role":"system","content":"You are terse."},
				{"role":"developer","content":[{"type":"text","text":"Answer in French."}]},
				{"role":"user","content":"Hello"}]}`,
			want: `{"system":[{"text":"You are terse."},{"text":"Answer in French."}],
				"messages":[{"role":"user","content":[{"text":"Hello"}]}],
				"inferenceConfig":{"maxTokens":100,"temperature":0.2,"topP":0.9,"stopSequences":["END","STOP"]}}`,
		},
		{
			name:    "max_completion_tokens wins and a stop string",
			request: `{"model":"m","max_tokens":100,"max_completion_tokens":50,"stop":"END","messages":[{"role":"user","content":"x"}]}`,
			want:    `{"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"maxTokens":50,"stopSequences":["END"]}}`,
		},
		{
			name:    "no-op values of unsupported parameters",
			request: `{"model":"m","n":1,"logprobs":false,"presence_penalty":0,"frequency_penalty":0,"response_format":{"type":"text"},"parallel_tool_calls":true,"messages":[{"role":"user","content":"x"}]}`,
			want:    `{"messages":[{"role":"user","content":[{"text":"x"}]}]}`,
		},
		{
			name: "structured output: a JSON schema as a string, and a strict tool",
			request: `{"model":"m","messages":[{"role":"user","content":"Where?"}],
				"response_format":{"type":"json_schema","json_schema":{"name":"place","description":"A place","schema":{"type":"object","properties":{"city":{"type":"string"}}}}},
				"tools":[{"type":"function","function":{"name":"f","strict":true,"parameters":{"type":"object"}}}]}`,
			want: `{"messages":[{"role":"user","content":[{"text":"Where?"}]}],
				"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}},"strict":true}}]},
				"outputConfig":{"textFormat":{"type":"json_schema","structure":{"jsonSchema":{"schema":"{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}","name":"place","description":"A place"}}}}}`,
		},
		{
			name: "images from data URLs",
			request: `{"model":"m","messages":[{"role":"user","content":[
				{"type":"text","text":"Compare these."},
				{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
				{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}},
				{"type":"image_url","image_url":{"url":"data:image/webp;base64,UklGRg=="}}]}]}`,
			want: `{"messages":[{"role":"user","content":[
				{"text":"Compare these."},
				{"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}},
				{"image":{"format":"jpeg","source":{"bytes":"/9j/4AAQ"}}},
				{"image":{"format":"webp","source":{"bytes":"UklGRg=="}}}]}]}`,
		},
		{
			name: "tools with auto choice and default schema",
			request: `{"model":"m","messages":[{"role":"user","content":"Weather?"}],"tool_choice":"auto","tools":[
				{"type":"function","function":{"name":"get_weather","description":"Get the weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}},
				{"type":"function","function":{"name":"get_time"}}]}`,
			want: `{"messages":[{"role":"user","content":[{"text":"Weather?"}]}],"toolConfig":{"tools":[
				{"toolSpec":{"name":"get_weather","description":"Get the weather","inputSchema":{"json":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}},
				{"toolSpec":{"name":"get_time","inputSchema":{"json":{"type":"object"}}}}],
				"toolChoice":{"auto":{}}}}`,
		},
		{
			name:    "tools without choice",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}`,
			want:    `{"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}]}}`,
		},
		{
			name:    "tool choice required is any",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"required","tools":[{"type":"function","function":{"name":"f"}}]}`,
			want:    `{"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"any":{}}}}`,
		},
		{
			name:    "tool choice named is tool",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"f"}},"tools":[{"type":"function","function":{"name":"f"}}]}`,
			want:    `{"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"tool":{"name":"f"}}}}`,
		},
		{
			name:    "tool choice none withholds the tools",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"none","tools":[{"type":"function","function":{"name":"f"}}]}`,
			want:    `{"messages":[{"role":"user","content":[{"text":"x"}]}]}`,
		},
		{
			name: "assistant tool calls and merged tool results",
			request: `{"model":"m","tools":[{"type":"function","function":{"name":"get_weather"}},{"type":"function","function":{"name":"get_time"}}],"messages":[
				{"role":"user","content":"Weather in Paris and time in Tokyo?"},
				{"role":"assistant","content":"Checking.","tool_calls":[
					{"id":"tooluse_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\": \"Paris\"}"}},
					{"id":"tooluse_2","type":"function","function":{"name":"get_time","arguments":""}}]},
				{"role":"tool","tool_call_id":"tooluse_1","content":"18C, cloudy"},
				{"role":"tool","tool_call_id":"tooluse_2","content":""},
				{"role":"user","content":"Thanks. Summarise."}]}`,
			want: `{"messages":[
				{"role":"user","content":[{"text":"Weather in Paris and time in Tokyo?"}]},
				{"role":"assistant","content":[{"text":"Checking."},
					{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"location":"Paris"}}},
					{"toolUse":{"toolUseId":"tooluse_2","name":"get_time","input":{}}}]},
				{"role":"user","content":[
					{"toolResult":{"toolUseId":"tooluse_1","content":[{"text":"18C, cloudy"}]}},
					{"toolResult":{"toolUseId":"tooluse_2","content":[{"text":"(no output)"}]}},
					{"text":"Thanks. Summarise."}]}],
				"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{"type":"object"}}}},{"toolSpec":{"name":"get_time","inputSchema":{"json":{"type":"object"}}}}]}}`,
		},
		{
			name: "consecutive user messages merge and empty assistant is left out",
			request: `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"text","text":"b"},{"type":"text","text":""}]},
				{"role":"assistant","content":""},{"role":"user","content":"c"}]}`,
			want: `{"messages":[{"role":"user","content":[{"text":"a"},{"text":"b"},{"text":"c"}]}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, respondJSON(minimalAnswer))
			if _, err := f.chatAdapter(t).Chat(context.Background(), call(t, tt.request)); err != nil {
				t.Fatalf("Chat: %v", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(reqs))
			}
			if want := testModelPath + "converse"; reqs[0].path != want {
				t.Errorf("path = %q, want %q", reqs[0].path, want)
			}
			if diff := cmp.Diff(jsonValue(t, tt.want), jsonValue(t, string(reqs[0].body))); diff != "" {
				t.Errorf("Converse request mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestRefused(t *testing.T) {
	const tool = `"tools":[{"type":"function","function":{"name":"f"}}]`
	tests := []struct {
		name      string
		request   string
		wantParam string
		wantMsg   string // a substring of the public message
	}{
		{"n", `{"model":"m","n":2,"messages":[{"role":"user","content":"x"}]}`, "n", "n is not supported by bedrock models"},
		{"logprobs", `{"model":"m","logprobs":true,"messages":[{"role":"user","content":"x"}]}`, "logprobs", "not supported by bedrock models"},
		{"top_logprobs", `{"model":"m","top_logprobs":2,"messages":[{"role":"user","content":"x"}]}`, "top_logprobs", "not supported by bedrock models"},
		{"logit_bias", `{"model":"m","logit_bias":{"50256":-100},"messages":[{"role":"user","content":"x"}]}`, "logit_bias", "not supported by bedrock models"},
		{"presence_penalty", `{"model":"m","presence_penalty":0.5,"messages":[{"role":"user","content":"x"}]}`, "presence_penalty", "not supported by bedrock models"},
		{"frequency_penalty", `{"model":"m","frequency_penalty":0.5,"messages":[{"role":"user","content":"x"}]}`, "frequency_penalty", "not supported by bedrock models"},
		{"seed", `{"model":"m","seed":7,"messages":[{"role":"user","content":"x"}]}`, "seed", "not supported by bedrock models"},
		{"response_format json", `{"model":"m","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"x"}]}`, "response_format", "json_object is not supported by bedrock models"},
		{"json_schema without a schema", `{"model":"m","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":null}},"messages":[{"role":"user","content":"x"}]}`, "response_format.json_schema.schema", "needs a schema"},
		{"reasoning_effort", `{"model":"m","reasoning_effort":"high","messages":[{"role":"user","content":"x"}]}`, "reasoning_effort", "not supported by bedrock models"},
		{"parallel_tool_calls false", `{"model":"m","parallel_tool_calls":false,` + tool + `,"messages":[{"role":"user","content":"x"}]}`, "parallel_tool_calls", "not supported by bedrock models"},
		{"http image url", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`, "messages[0].content[1].image_url.url", "image URLs are not supported by bedrock models"},
		{"bmp image", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,Qk0="}}]}]}`, "messages[0].content[0].image_url.url", "not supported by bedrock models"},
		{"audio part", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAA=","format":"wav"}}]}]}`, "messages[0].content[0]", "not supported by bedrock models"},
		{"image in system", `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO"}}]},{"role":"user","content":"x"}]}`, "messages[0].content[0]", "only text"},
		{"tool choice none with tool history", `{"model":"m","tool_choice":"none",` + tool + `,"messages":[{"role":"user","content":"x"},
			{"role":"assistant","tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"t1","content":"ok"}]}`, "tool_choice", `tool_choice "none" is not supported by bedrock models`},
		{"tool history without tools", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"t1","content":"ok"}]}`, "tools", "need the tools declared"},
		{"required without tools", `{"model":"m","tool_choice":"required","messages":[{"role":"user","content":"x"}]}`, "tool_choice", "needs tools"},
		{"tool arguments not an object", `{"model":"m",` + tool + `,"messages":[{"role":"assistant","tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[0].tool_calls[0].function.arguments", "must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, respondJSON(minimalAnswer))
			a := f.chatAdapter(t)
			for _, stream := range []bool{false, true} {
				var err error
				if stream {
					_, err = a.ChatStream(context.Background(), call(t, tt.request))
				} else {
					_, err = a.Chat(context.Background(), call(t, tt.request))
				}
				if err == nil {
					t.Fatalf("stream=%v: request accepted, want an invalid-request error", stream)
				}
				e := asAPIErr(t, err)
				if e.Kind != apierr.KindInvalidRequest || e.Kind.HTTPStatus() != http.StatusBadRequest {
					t.Errorf("stream=%v: kind = %v, want invalid request", stream, e.Kind)
				}
				if e.Param != tt.wantParam {
					t.Errorf("stream=%v: param = %q, want %q", stream, e.Param, tt.wantParam)
				}
				if !strings.Contains(e.Message, tt.wantMsg) {
					t.Errorf("stream=%v: message %q lacks %q", stream, e.Message, tt.wantMsg)
				}
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("upstream got %d requests, want none", n)
			}
		})
	}
}

func TestChat(t *testing.T) {
	tests := []struct {
		name      string
		upstream  string // Converse answer
		want      string // OpenAI chat.completion
		wantUsage chat.Usage
	}{
		{
			name: "text",
			upstream: `{"output":{"message":{"role":"assistant","content":[{"text":"Hi! I am "},{"text":"Claude."}]}},"stopReason":"end_turn",
				"usage":{"inputTokens":12,"outputTokens":6,"totalTokens":18},"metrics":{"latencyMs":321}}`,
			want: `{"id":"chatcmpl-0b1a6f8e-0c2f-4a0b-9d7e-2f1f1c3d4e5f","object":"chat.completion","created":1700000000,"model":"us.anthropic.claude-3-5-sonnet-20240620-v1:0",
				"choices":[{"index":0,"message":{"role":"assistant","content":"Hi! I am Claude."},"finish_reason":"stop"}],
				"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":0}}}`,
			wantUsage: chat.Usage{PromptTokens: 12, CompletionTokens: 6, TotalTokens: 18, PromptTokensDetails: &chat.PromptTokensDetails{}},
		},
		{
			name: "tool use with reasoning",
			upstream: `{"output":{"message":{"role":"assistant","content":[
					{"reasoningContent":{"reasoningText":{"text":"The user wants weather.","signature":"abc"}}},
					{"text":"I'll check."},
					{"toolUse":{"toolUseId":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q","name":"get_weather","input":{"location": "Paris", "unit": "celsius"}}},
					{"toolUse":{"toolUseId":"tooluse_2","name":"get_time","input":{}}}]}},
				"stopReason":"tool_use","usage":{"inputTokens":400,"outputTokens":60,"totalTokens":460}}`,
			want: `{"id":"chatcmpl-0b1a6f8e-0c2f-4a0b-9d7e-2f1f1c3d4e5f","object":"chat.completion","created":1700000000,"model":"us.anthropic.claude-3-5-sonnet-20240620-v1:0",
				"choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"I'll check.","tool_calls":[
					{"id":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\",\"unit\":\"celsius\"}"}},
					{"id":"tooluse_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]}}],
				"usage":{"prompt_tokens":400,"completion_tokens":60,"total_tokens":460,"prompt_tokens_details":{"cached_tokens":0}}}`,
			wantUsage: chat.Usage{PromptTokens: 400, CompletionTokens: 60, TotalTokens: 460, PromptTokensDetails: &chat.PromptTokensDetails{}},
		},
		{
			name: "usage with cache tokens",
			upstream: `{"output":{"message":{"role":"assistant","content":[{"text":"ok"}]}},"stopReason":"end_turn",
				"usage":{"inputTokens":21,"outputTokens":393,"totalTokens":189500,"cacheReadInputTokens":1000,"cacheWriteInputTokens":188086}}`,
			want: `{"id":"chatcmpl-0b1a6f8e-0c2f-4a0b-9d7e-2f1f1c3d4e5f","object":"chat.completion","created":1700000000,"model":"us.anthropic.claude-3-5-sonnet-20240620-v1:0",
				"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],
				"usage":{"prompt_tokens":189107,"completion_tokens":393,"total_tokens":189500,"prompt_tokens_details":{"cached_tokens":1000}}}`,
			wantUsage: chat.Usage{PromptTokens: 189107, CompletionTokens: 393, TotalTokens: 189500, PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 1000}, CacheWriteTokens: 188086},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, respondJSON(tt.upstream))
			res, err := f.chatAdapter(t).Chat(context.Background(), call(t, simpleRequest))
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
	tests := map[string]string{
		"end_turn":                      "stop",
		"stop_sequence":                 "stop",
		"max_tokens":                    "length",
		"model_context_window_exceeded": "length",
		"tool_use":                      "tool_calls",
		"guardrail_intervened":          "content_filter",
		"content_filtered":              "content_filter",
		"some_future_reason":            "stop",
	}
	for stop, want := range tests {
		t.Run(stop, func(t *testing.T) {
			f := newFake(t, respondJSON(`{"output":{"message":{"role":"assistant","content":[{"text":"x"}]}},"stopReason":"`+stop+`","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}`))
			res, err := f.chatAdapter(t).Chat(context.Background(), call(t, simpleRequest))
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			got := jsonValue(t, string(res.JSON)).(map[string]any)["choices"].([]any)[0].(map[string]any)["finish_reason"]
			if got != want {
				t.Errorf("finish_reason = %v, want %s", got, want)
			}
		})
	}
}

func TestChatBadResponse(t *testing.T) {
	for name, body := range map[string]string{
		"not json":   `<html>`,
		"no message": `{"output":{},"stopReason":"end_turn","usage":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, respondJSON(body))
			_, err := f.chatAdapter(t).Chat(context.Background(), call(t, simpleRequest))
			if e := asAPIErr(t, err); e.Kind != apierr.KindUpstreamBadResponse || e.Code != "upstream_bad_response" {
				t.Errorf("error = %v (kind %v, code %q), want a bad response", e, e.Kind, e.Code)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		status     int
		typ        string
		wantKind   apierr.Kind
		wantStatus int
	}{
		{400, "ValidationException", apierr.KindInvalidRequest, 400},
		{403, "AccessDeniedException", apierr.KindUpstreamBadResponse, 502},
		{403, "UnrecognizedClientException", apierr.KindUpstreamBadResponse, 502},
		{404, "ResourceNotFoundException", apierr.KindUpstreamBadResponse, 502},
		{429, "ThrottlingException", apierr.KindRateLimited, 429},
		{400, "ServiceQuotaExceededException", apierr.KindRateLimited, 429},
		{429, "ModelNotReadyException", apierr.KindUpstreamUnavailable, 503},
		{503, "ServiceUnavailableException", apierr.KindUpstreamUnavailable, 503},
		{408, "ModelTimeoutException", apierr.KindUpstreamTimeout, 504},
		{500, "InternalServerException", apierr.KindUpstreamBadResponse, 502},
		{424, "ModelErrorException", apierr.KindUpstreamBadResponse, 502},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			f := newFake(t, respondError(tt.status, tt.typ))
			a := f.chatAdapter(t)
			_, chatErr := a.Chat(context.Background(), call(t, simpleRequest))
			_, streamErr := a.ChatStream(context.Background(), call(t, simpleRequest))
			for _, err := range []error{chatErr, streamErr} {
				e := asAPIErr(t, err)
				if e.Kind != tt.wantKind || e.Kind.HTTPStatus() != tt.wantStatus {
					t.Errorf("kind = %v (status %d), want %v (status %d)", e.Kind, e.Kind.HTTPStatus(), tt.wantKind, tt.wantStatus)
				}
				if strings.Contains(e.Message, upstreamSecret) || strings.Contains(e.Message, tt.typ) {
					t.Errorf("public message %q shows upstream text", e.Message)
				}
				if !strings.Contains(e.Error(), upstreamSecret) || !strings.Contains(e.Error(), tt.typ) {
					t.Errorf("cause %q lacks the upstream type and message (the log needs them)", e.Error())
				}
			}
		})
	}
}
