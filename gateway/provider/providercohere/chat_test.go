package providercohere

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/provider"
)

// TestRequestTranslation sends OpenAI requests through the adapter and compares the body the
// fake Cohere received with the documented v2 request.
func TestRequestTranslation(t *testing.T) {
	tests := []struct {
		name    string
		request string // OpenAI
		want    string // Cohere
	}{
		{
			name:    "user text",
			request: `{"model":"cohere/command","messages":[{"role":"user","content":"What is an LLM?"}]}`,
			want:    `{"model":"command-a-03-2025","stream":false,"messages":[{"role":"user","content":"What is an LLM?"}]}`,
		},
		{
			name: "system and developer become system",
			request: `{"model":"m","messages":[
				{"role":"system","content":"You are terse."},
				{"role":"developer","content":[{"type":"text","text":"Answer "},{"type":"text","text":"in French."}]},
				{"role":"user","content":"Hello"}]}`,
			want: `{"model":"command-a-03-2025","stream":false,"messages":[
				{"role":"system","content":"You are terse."},
				{"role":"system","content":"Answer in French."},
				{"role":"user","content":"Hello"}]}`,
		},
		{
			name: "images",
			request: `{"model":"m","messages":[{"role":"user","content":[
				{"type":"text","text":"Compare these."},
				{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
				{"type":"image_url","image_url":{"url":"https://upload.example.com/cat.jpg"}}]}]}`,
			want: `{"model":"command-a-03-2025","stream":false,"messages":[{"role":"user","content":[
				{"type":"text","text":"Compare these."},
				{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
				{"type":"image_url","image_url":{"url":"https://upload.example.com/cat.jpg"}}]}]}`,
		},
		{
			name: "sampling parameters",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],
				"temperature":0.3,"top_p":0.9,"max_tokens":100,"seed":42,"stop":"END",
				"frequency_penalty":0.5,"presence_penalty":0.25,"n":1,"logprobs":false,"top_logprobs":0,"user":"u1","metadata":{"k":"v"}}`,
			want: `{"model":"command-a-03-2025","stream":false,"messages":[{"role":"user","content":"x"}],
				"temperature":0.3,"p":0.9,"max_tokens":100,"seed":42,"stop_sequences":["END"],
				"frequency_penalty":0.5,"presence_penalty":0.25}`,
		},
		{
			name:    "max_completion_tokens wins over max_tokens",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":100,"max_completion_tokens":200,"stop":["a","b"]}`,
			want:    `{"model":"command-a-03-2025","stream":false,"messages":[{"role":"user","content":"x"}],"max_tokens":200,"stop_sequences":["a","b"]}`,
		},
		{
			name: "tools and tool results",
			request: `{"model":"m","messages":[
				{"role":"user","content":"Weather in Toronto?"},
				{"role":"assistant","content":"I will look it up.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Toronto\"}"}},
					{"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},
				{"role":"tool","tool_call_id":"call_1","content":"{\"temperature\":\"20C\"}"},
				{"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]},
				{"role":"assistant","content":"It is 20C at noon."},
				{"role":"user","content":"Thanks"}],
				"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather by city","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}},
					{"type":"function","function":{"name":"get_time"}}],
				"tool_choice":"auto","parallel_tool_calls":true}`,
			want: `{"model":"command-a-03-2025","stream":false,"messages":[
				{"role":"user","content":"Weather in Toronto?"},
				{"role":"assistant","tool_plan":"I will look it up.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Toronto\"}"}},
					{"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
				{"role":"tool","tool_call_id":"call_1","content":"{\"temperature\":\"20C\"}"},
				{"role":"tool","tool_call_id":"call_2","content":"noon"},
				{"role":"assistant","content":"It is 20C at noon."},
				{"role":"user","content":"Thanks"}],
				"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather by city","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}},
					{"type":"function","function":{"name":"get_time"}}]}`,
		},
		{
			name: "tool_choice required and strict tools",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"required",
				"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"},"strict":true}},{"type":"function","function":{"name":"g","strict":true}}]}`,
			want: `{"model":"command-a-03-2025","stream":false,"messages":[{"role":"user","content":"x"}],"tool_choice":"REQUIRED","strict_tools":true,
				"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}},{"type":"function","function":{"name":"g"}}]}`,
		},
		{
			name:    "tool_choice none",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"none","tools":[{"type":"function","function":{"name":"f"}}]}`,
			want:    `{"model":"command-a-03-2025","stream":false,"messages":[{"role":"user","content":"x"}],"tool_choice":"NONE","tools":[{"type":"function","function":{"name":"f"}}]}`,
		},
		{
			name:    "tool_choice none without tools asks for nothing",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"none","parallel_tool_calls":false}`,
			want:    `{"model":"command-a-03-2025","stream":false,"messages":[{"role":"user","content":"x"}]}`,
		},
		{
			name:    "response_format json_object",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}`,
			want:    `{"model":"command-a-03-2025","stream":false,"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}`,
		},
		{
			name:    "response_format json_schema",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"person","strict":true,"schema":{"type":"object","properties":{"name":{"type":"string"}}}}}}`,
			want:    `{"model":"command-a-03-2025","stream":false,"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object","json_schema":{"type":"object","properties":{"name":{"type":"string"}}}}}`,
		},
		{
			name:    "response_format text asks for nothing",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"text"}}`,
			want:    `{"model":"command-a-03-2025","stream":false,"messages":[{"role":"user","content":"x"}]}`,
		},
		{
			name:    "assistant refusal is its content",
			request: `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","refusal":"I can't."},{"role":"user","content":"y"}]}`,
			want:    `{"model":"command-a-03-2025","stream":false,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"I can't."},{"role":"user","content":"y"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "/v2/chat", respondJSON(textAnswer))
			if _, err := f.adapter(t, nil).Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, tt.request), Body: []byte(tt.request)}); err != nil {
				t.Fatalf("Chat: %v", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(reqs))
			}
			if diff := cmp.Diff(jsonValue(t, tt.want), reqs[0]); diff != "" {
				t.Errorf("Cohere request mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInvalidRequests covers parameters Cohere cannot honour and messages it cannot take: each
// is a 400 naming the parameter, and nothing reaches the upstream.
func TestInvalidRequests(t *testing.T) {
	tools := `"tools":[{"type":"function","function":{"name":"f"}}]`
	tests := []struct {
		name        string
		request     string
		wantParam   string
		wantMessage string
	}{
		{"n", `{"model":"m","messages":[{"role":"user","content":"x"}],"n":2}`, "n", "n is not supported by cohere models"},
		{"logprobs", `{"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":true}`, "logprobs", "logprobs is not supported by cohere models"},
		{"top_logprobs", `{"model":"m","messages":[{"role":"user","content":"x"}],"top_logprobs":3}`, "top_logprobs", "top_logprobs is not supported by cohere models"},
		{"logit_bias", `{"model":"m","messages":[{"role":"user","content":"x"}],"logit_bias":{"123":5}}`, "logit_bias", "logit_bias is not supported by cohere models"},
		{"reasoning_effort", `{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"high"}`, "reasoning_effort", "reasoning_effort is not supported by cohere models"},
		{"parallel_tool_calls false", `{"model":"m","messages":[{"role":"user","content":"x"}],"parallel_tool_calls":false,` + tools + `}`, "parallel_tool_calls", "parallel_tool_calls is not supported by cohere models"},
		{"named tool_choice", `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"f"}},` + tools + `}`, "tool_choice", `tool_choice naming a function is not supported by cohere models; use "required"`},
		{"required tool_choice without tools", `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"required"}`, "tool_choice", "tool_choice needs tools"},
		{"mixed strict tools", `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","strict":true}},{"type":"function","function":{"name":"g"}}]}`, "tools[1].function.strict", "tools[1].function.strict must be true like the other tools' strict: cohere models make all tools strict or none"},
		{"json_schema without schema", `{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s"}}}`, "response_format.json_schema.schema", "response_format json_schema needs a schema for cohere models"},
		{"audio part", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}`, "messages[0].content[0]", `messages[0].content[0]: content part type "input_audio" is not supported by cohere models`},
		{"image in system", `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x.example/a.png"}}]},{"role":"user","content":"x"}]}`, "messages[0].content[0]", "messages[0].content[0]: system messages may hold only text for cohere models"},
		{"image in tool result", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"c","content":[{"type":"image_url","image_url":{"url":"https://x.example/a.png"}}]}]}`, "messages[1].content[0]", "messages[1].content[0]: tool messages may hold only text for cohere models"},
		{"image with a bad url", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x.example/a.png"}}]}]}`, "messages[0].content[0].image_url.url", "messages[0].content[0].image_url.url must be an http, https or base64 data: URL"},
		{"tool call without id", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "messages[1].tool_calls[0]", "messages[1].tool_calls[0] must have an id and a function name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "/v2/chat", respondJSON(textAnswer))
			a := f.adapter(t, nil)
			for _, stream := range []bool{false, true} {
				var err error
				call := &provider.ChatCall{Request: decodeRequest(t, tt.request)}
				if stream {
					_, err = a.ChatStream(context.Background(), call)
				} else {
					_, err = a.Chat(context.Background(), call)
				}
				if err == nil {
					t.Fatalf("stream=%v: the request succeeded, want a 400", stream)
				}
				e := asAPIErr(t, err)
				if e.Kind != apierr.KindInvalidRequest || e.Kind.HTTPStatus() != http.StatusBadRequest {
					t.Errorf("stream=%v: kind = %v, want invalid request", stream, e.Kind)
				}
				if e.Param != tt.wantParam || e.Message != tt.wantMessage {
					t.Errorf("stream=%v: param, message = %q, %q; want %q, %q", stream, e.Param, e.Message, tt.wantParam, tt.wantMessage)
				}
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("upstream got %d requests, want none", n)
			}
		})
	}
}
