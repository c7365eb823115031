package providergoogle

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/provider"
)

func TestRequestTranslation(t *testing.T) {
	tests := []struct {
		name    string
		request string // OpenAI
		want    string // Gemini
	}{
		{
			name:    "text",
			request: `{"model":"client-name","messages":[{"role":"user","content":"Hello"}]}`,
			want:    `{"contents":[{"role":"user","parts":[{"text":"Hello"}]}]}`,
		},
		{
			name: "system and developer become systemInstruction",
			request: `{"model":"m","messages":[
				{"role":"system","content":"You are terse."},
				{"role":"developer","content":[{"type":"text","text":"Answer in French."}]},
				{"role":"user","content":"Hello"},
				{"role":"assistant","content":"Bonjour"},
				{"role":"user","content":[{"type":"text","text":"Again"}]}]}`,
			want: `{"systemInstruction":{"parts":[{"text":"You are terse."},{"text":"Answer in French."}]},
				"contents":[{"role":"user","parts":[{"text":"Hello"}]},{"role":"model","parts":[{"text":"Bonjour"}]},{"role":"user","parts":[{"text":"Again"}]}]}`,
		},
		{
			name: "images inline and by url",
			request: `{"model":"m","messages":[{"role":"user","content":[
				{"type":"text","text":"Compare these."},
				{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
				{"type":"image_url","image_url":{"url":"https://upload.example.com/cat.JPG?size=large"}},
				{"type":"image_url","image_url":{"url":"gs://bucket/dog.webp"}}]}]}`,
			want: `{"contents":[{"role":"user","parts":[
				{"text":"Compare these."},
				{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
				{"fileData":{"mimeType":"image/jpeg","fileUri":"https://upload.example.com/cat.JPG?size=large"}},
				{"fileData":{"mimeType":"image/webp","fileUri":"gs://bucket/dog.webp"}}]}]}`,
		},
		{
			name: "tools, tool calls and results found by name",
			request: `{"model":"m","messages":[
				{"role":"user","content":"Weather in Paris and Rome?"},
				{"role":"assistant","content":null,"tool_calls":[
					{"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}},
					{"id":"call_1","type":"function","function":{"name":"get_time","arguments":""}}]},
				{"role":"tool","tool_call_id":"call_0","content":"{\"temp\": 21}"},
				{"role":"tool","tool_call_id":"call_1","content":"noon"},
				{"role":"assistant","content":"21 degrees at noon.","tool_calls":[{"id":"call_0","type":"function","function":{"name":"get_news","arguments":"{}"}}]},
				{"role":"tool","tool_call_id":"call_0","content":[{"type":"text","text":"quiet day"}]},
				{"role":"user","content":"Thanks"}],
				"tools":[
					{"type":"function","function":{"name":"get_weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}},
					{"type":"function","function":{"name":"get_time"}},
					{"type":"function","function":{"name":"get_news","parameters":null}}],
				"tool_choice":"auto","parallel_tool_calls":true}`,
			want: `{"contents":[
				{"role":"user","parts":[{"text":"Weather in Paris and Rome?"}]},
				{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},{"functionCall":{"name":"get_time","args":{}}}]},
				{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp":21}}},{"functionResponse":{"name":"get_time","response":{"content":"noon"}}}]},
				{"role":"model","parts":[{"text":"21 degrees at noon."},{"functionCall":{"name":"get_news","args":{}}}]},
				{"role":"user","parts":[{"functionResponse":{"name":"get_news","response":{"content":"quiet day"}}},{"text":"Thanks"}]}],
				"tools":[{"functionDeclarations":[
					{"name":"get_weather","description":"Weather of a city","parametersJsonSchema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}},
					{"name":"get_time"},{"name":"get_news"}]}],
				"toolConfig":{"functionCallingConfig":{"mode":"AUTO"}}}`,
		},
		{
			name: "a thought signature in a call's id goes back on its functionCall part",
			request: `{"model":"m","messages":[
				{"role":"user","content":"Weather in Paris?"},
				{"role":"assistant","content":null,"tool_calls":[
					{"id":"call_0__thought__Q2lRQjBlMktiL3NpZz09","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
					{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
				{"role":"tool","tool_call_id":"call_0__thought__Q2lRQjBlMktiL3NpZz09","content":"sunny"},
				{"role":"tool","tool_call_id":"call_1","content":"rain"}],
				"tools":[{"type":"function","function":{"name":"get_weather"}}]}`,
			want: `{"contents":[
				{"role":"user","parts":[{"text":"Weather in Paris?"}]},
				{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"CiQB0e2Kb/sig=="},{"functionCall":{"name":"get_weather","args":{"city":"Rome"}}}]},
				{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"content":"sunny"}}},{"functionResponse":{"name":"get_weather","response":{"content":"rain"}}}]}],
				"tools":[{"functionDeclarations":[{"name":"get_weather"}]}]}`,
		},
		{
			name: "forced function",
			request: `{"model":"m","messages":[{"role":"user","content":"Hi"}],
				"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
			want: `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"tools":[{"functionDeclarations":[{"name":"f"}]}],
				"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}}}`,
		},
		{
			name: "required and none",
			request: `{"model":"m","messages":[{"role":"user","content":"Hi"}],
				"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}`,
			want: `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"tools":[{"functionDeclarations":[{"name":"f"}]}],
				"toolConfig":{"functionCallingConfig":{"mode":"ANY"}}}`,
		},
		{
			name:    "tool_choice none without tools asks nothing",
			request: `{"model":"m","messages":[{"role":"user","content":"Hi"}],"tool_choice":"none","parallel_tool_calls":false}`,
			want:    `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}`,
		},
		{
			name: "generation config",
			request: `{"model":"m","messages":[{"role":"user","content":"Hi"}],"temperature":0.2,"top_p":0.9,"max_tokens":50,
				"max_completion_tokens":100,"n":2,"stop":["END","STOP"],"seed":7,"presence_penalty":0.5,"frequency_penalty":-0.5,
				"logprobs":false,"top_logprobs":0,"logit_bias":{},"user":"u-1","metadata":{"k":"v"},"reasoning_effort":"low"}`,
			want: `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"temperature":0.2,"topP":0.9,
				"maxOutputTokens":100,"candidateCount":2,"stopSequences":["END","STOP"],"seed":7,"presencePenalty":0.5,"frequencyPenalty":-0.5,
				"thinkingConfig":{"thinkingBudget":1024}}}`,
		},
		{
			name:    "single stop string, n 1, reasoning none",
			request: `{"model":"m","messages":[{"role":"user","content":"Hi"}],"stop":"END","n":1,"max_tokens":5,"reasoning_effort":"none"}`,
			want: `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"stopSequences":["END"],"maxOutputTokens":5,
				"thinkingConfig":{"thinkingBudget":0}}}`,
		},
		{
			name:    "json object",
			request: `{"model":"m","messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_object"}}`,
			want:    `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"responseMimeType":"application/json"}}`,
		},
		{
			name: "json schema",
			request: `{"model":"m","messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_schema",
				"json_schema":{"name":"answer","strict":true,"schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}}}}`,
			want: `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"responseMimeType":"application/json",
				"responseJsonSchema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}}}`,
		},
		{
			name:    "response_format text asks nothing",
			request: `{"model":"m","messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"text"}}`,
			want:    `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}`,
		},
		{
			name: "assistant refusal and empty messages",
			request: `{"model":"m","messages":[{"role":"system","content":""},{"role":"user","content":"Do it"},
				{"role":"assistant","refusal":"I can't."},{"role":"assistant","content":[{"type":"refusal","refusal":"Still no."}]},{"role":"user","content":"Please"}]}`,
			want: `{"contents":[{"role":"user","parts":[{"text":"Do it"}]},{"role":"model","parts":[{"text":"I can't."},{"text":"Still no."}]},
				{"role":"user","parts":[{"text":"Please"}]}]}`,
		},
	}
	for _, kind := range kinds {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				f := newFake(t, respondJSON(minimalAnswer))
				if _, err := f.adapter(t, kind).Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, tt.request)}); err != nil {
					t.Fatalf("Chat: %v", err)
				}
				_, bodies := f.requests()
				if len(bodies) != 1 {
					t.Fatalf("upstream got %d requests", len(bodies))
				}
				if diff := cmp.Diff(jsonValue(t, tt.want), bodies[0]); diff != "" {
					t.Errorf("request body (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestInvalidRequests(t *testing.T) {
	tests := []struct {
		name      string
		request   string
		wantParam string
		wantMsg   string // a substring of the message
	}{
		{"logprobs", `{"model":"m","messages":[{"role":"user","content":"Hi"}],"logprobs":true}`, "logprobs", "logprobs is not supported by gemini models"},
		{"top_logprobs", `{"model":"m","messages":[{"role":"user","content":"Hi"}],"top_logprobs":2}`, "top_logprobs", "top_logprobs is not supported by gemini models"},
		{"logit_bias", `{"model":"m","messages":[{"role":"user","content":"Hi"}],"logit_bias":{"50256":-100}}`, "logit_bias", "logit_bias is not supported by gemini models"},
		{"parallel_tool_calls false", `{"model":"m","messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":false}`,
			"parallel_tool_calls", "parallel_tool_calls is not supported by gemini models"},
		{"strict tool", `{"model":"m","messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"f","strict":true}}]}`,
			"tools[0].function.strict", "tools[0].function.strict is not supported by gemini models"},
		{"audio part", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAA=","format":"wav"}}]}]}`,
			"messages[0].content[0]", `content part type "input_audio" is not supported by gemini models`},
		{"image in system", `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},{"role":"user","content":"Hi"}]}`,
			"messages[0].content[0]", "system messages may hold only text"},
		{"image url without extension", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/image?id=1"}}]}]}`,
			"messages[0].content[0].image_url.url", "need the image type"},
		{"image ftp url", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://example.com/a.png"}}]}]}`,
			"messages[0].content[0].image_url.url", "must be an http, https, gs or base64 data: URL"},
		{"image data not base64", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`,
			"messages[0].content[0].image_url.url", "data:<media type>;base64"},
		{"tool result without call", `{"model":"m","messages":[{"role":"user","content":"Hi"},{"role":"tool","tool_call_id":"call_9","content":"x"}]}`,
			"messages[1].tool_call_id", `no earlier assistant tool call has id "call_9"`},
		{"tool call arguments not an object", `{"model":"m","messages":[{"role":"user","content":"Hi"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`,
			"messages[1].tool_calls[0].function.arguments", "must be a JSON object"},
		{"only system", `{"model":"m","messages":[{"role":"system","content":"Be nice."}]}`, "messages", "at least one user or assistant message"},
		{"json schema without schema", `{"model":"m","messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}`,
			"response_format.json_schema.schema", "needs json_schema.schema"},
		{"unknown reasoning effort", `{"model":"m","messages":[{"role":"user","content":"Hi"}],"reasoning_effort":"extreme"}`, "reasoning_effort", "reasoning_effort must be"},
		{"tool_choice required without tools", `{"model":"m","messages":[{"role":"user","content":"Hi"}],"tool_choice":"required"}`, "tool_choice", "tool_choice needs tools"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, respondJSON(minimalAnswer))
			a := f.adapter(t, "gemini")
			req := decodeRequest(t, tt.request)
			_, chatErr := a.Chat(context.Background(), &provider.ChatCall{Request: req})
			_, streamErr := a.ChatStream(context.Background(), &provider.ChatCall{Request: req})
			for _, err := range []error{chatErr, streamErr} {
				e := asAPIErr(t, err)
				if e.Kind != apierr.KindInvalidRequest || e.Kind.HTTPStatus() != 400 || e.Param != tt.wantParam || !strings.Contains(e.Message, tt.wantMsg) {
					t.Errorf("error %+v, want 400 with param %q and a message containing %q", e, tt.wantParam, tt.wantMsg)
				}
			}
			if paths, _ := f.requests(); len(paths) != 0 {
				t.Errorf("an invalid request reached the upstream: %v", paths)
			}
		})
	}
}
