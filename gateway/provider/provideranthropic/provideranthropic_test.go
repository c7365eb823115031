package provideranthropic

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

const (
	testKey   = "sk-ant-test-key"
	testModel = "claude-sonnet-4-5-20250929"
	// upstreamSecret is planted in upstream error messages; it must never reach a public message.
	upstreamSecret = "upstream-secret-detail"
)

var testNow = time.Unix(1_700_000_000, 0)

// fakeUpstream is an Anthropic Messages API: it checks every request as Anthropic would
// (path, method, headers, JSON body) and answers with respond.
type fakeUpstream struct {
	t       *testing.T
	srv     *httptest.Server
	respond http.HandlerFunc

	mu     sync.Mutex
	bodies []map[string]any
}

func newFake(t *testing.T, respond http.HandlerFunc) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{t: t, respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeUpstream) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		f.t.Errorf("upstream got %s %s, want POST /v1/messages", r.Method, r.URL.Path)
		writeError(w, http.StatusNotFound, "not_found_error", "Not found")
		return
	}
	for h, want := range map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01", "content-type": "application/json"} {
		if got := r.Header.Get(h); got != want {
			f.t.Errorf("upstream header %s = %q, want %q", h, got, want)
		}
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.t.Errorf("upstream body is not JSON: %v", err)
		writeError(w, http.StatusBadRequest, "invalid_request_error", "bad json")
		return
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	f.respond(w, r)
}

// requests returns the request bodies the upstream received.
func (f *fakeUpstream) requests() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.bodies...)
}

// adapter returns an adapter on the fake whose clock is testNow.
func (f *fakeUpstream) adapter(t *testing.T) *adapter {
	t.Helper()
	a, err := New(provider.Config{Kind: "anthropic", BaseURL: f.srv.URL, APIKey: testKey, Model: testModel, HTTPClient: f.srv.Client()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ad := a.(*adapter)
	ad.now = func() time.Time { return testNow }
	return ad
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
	_, _ = w.Write(b)
}

// respondJSON answers with a documented non-streaming Message.
func respondJSON(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

const minimalMessage = `{"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
"content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":2}}`

func decodeRequest(t *testing.T, js string) *chat.Request {
	t.Helper()
	r, err := chat.DecodeRequest([]byte(js))
	if err != nil {
		t.Fatalf("DecodeRequest(%s): %v", js, err)
	}
	return r
}

func jsonValue(t *testing.T, js string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("bad JSON in test: %v\n%s", err, js)
	}
	return v
}

func asAPIErr(t *testing.T, err error) *apierr.Error {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *apierr.Error", err, err)
	}
	return e
}

func TestNew(t *testing.T) {
	client := http.DefaultClient
	tests := []struct {
		name         string
		cfg          provider.Config
		wantEndpoint string
		wantErr      bool
	}{
		{"default base", provider.Config{APIKey: "k", Model: "m", HTTPClient: client}, "https://api.anthropic.com/v1/messages", false},
		{"base without v1", provider.Config{BaseURL: "https://proxy.example/anthropic", APIKey: "k", Model: "m", HTTPClient: client}, "https://proxy.example/anthropic/v1/messages", false},
		{"base with v1", provider.Config{BaseURL: "https://proxy.example/anthropic/v1", APIKey: "k", Model: "m", HTTPClient: client}, "https://proxy.example/anthropic/v1/messages", false},
		{"base with v1 and slash", provider.Config{BaseURL: "https://api.anthropic.com/v1/", APIKey: "k", Model: "m", HTTPClient: client}, "https://api.anthropic.com/v1/messages", false},
		{"base with slash", provider.Config{BaseURL: "http://localhost:8080/", APIKey: "k", Model: "m", HTTPClient: client}, "http://localhost:8080/v1/messages", false},
		{"no model", provider.Config{APIKey: "k", HTTPClient: client}, "", true},
		{"no key", provider.Config{Model: "m", HTTPClient: client}, "", true},
		{"no client", provider.Config{APIKey: "k", Model: "m"}, "", true},
		{"relative base", provider.Config{BaseURL: "api.anthropic.com", APIKey: "k", Model: "m", HTTPClient: client}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.cfg)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("New succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := a.(*adapter).target.URL(false); got != tt.wantEndpoint {
				t.Errorf("endpoint = %q, want %q", got, tt.wantEndpoint)
			}
			if _, ok := a.(provider.Embedder); ok {
				t.Errorf("adapter implements provider.Embedder; Anthropic has no embeddings API")
			}
		})
	}
}

func TestRequestTranslation(t *testing.T) {
	tests := []struct {
		name    string
		request string // OpenAI
		want    string // Anthropic
	}{
		{
			name: "system developer and user, default max_tokens",
			request: `{"model":"client-name","messages":[
				{"role":"system","content":"You are terse."},
				{"role":"developer","content":[{"type":"text","text":"Answer in French."}]},
				{"role":"user","content":"Hello"}]}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,
				"system":[{"type":"text","text":"You are terse."},{"type":"text","text":"Answer in French."}],
				"messages":[{"role":"user","content":[{"type":"text","text":"Hello"}]}]}`,
		},
		{
			name: "images base64 and url",
			request: `{"model":"m","messages":[{"role":"user","content":[
				{"type":"text","text":"Compare these."},
				{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
				{"type":"image_url","image_url":{"url":"https://upload.example.com/cat.jpg"}}]}]}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"messages":[{"role":"user","content":[
				{"type":"text","text":"Compare these."},
				{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
				{"type":"image","source":{"type":"url","url":"https://upload.example.com/cat.jpg"}}]}]}`,
		},
		{
			name: "structured output: a JSON schema and a strict tool",
			request: `{"model":"m","messages":[{"role":"user","content":"Where?"}],
				"response_format":{"type":"json_schema","json_schema":{"name":"place","strict":true,"schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}},
				"tools":[{"type":"function","function":{"name":"f","strict":true,"parameters":{"type":"object","properties":{},"additionalProperties":false}}},{"type":"function","function":{"name":"g","strict":false}}]}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"Where?"}]}],
				"tools":[{"name":"f","input_schema":{"type":"object","properties":{},"additionalProperties":false},"strict":true},{"name":"g","input_schema":{"type":"object"},"strict":false}],
				"output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}}`,
		},
		{
			name: "tools with auto choice and default schema",
			request: `{"model":"m","messages":[{"role":"user","content":"Weather?"}],"tool_choice":"auto","tools":[
				{"type":"function","function":{"name":"get_weather","description":"Get the weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}},
				{"type":"function","function":{"name":"get_time"}}]}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"Weather?"}]}],
				"tools":[
					{"name":"get_weather","description":"Get the weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}},
					{"name":"get_time","input_schema":{"type":"object"}}],
				"tool_choice":{"type":"auto"}}`,
		},
		{
			name:    "tool choice required",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"required","tools":[{"type":"function","function":{"name":"f"}}]}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
				"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"}}`,
		},
		{
			name:    "tool choice none",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"none","tools":[{"type":"function","function":{"name":"f"}}]}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
				"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"none"}}`,
		},
		{
			name:    "tool choice named",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"f"}},"tools":[{"type":"function","function":{"name":"f"}}]}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
				"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"}}`,
		},
		{
			name:    "parallel tool calls off without choice",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"parallel_tool_calls":false,"tools":[{"type":"function","function":{"name":"f"}}]}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
				"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"auto","disable_parallel_tool_use":true}}`,
		},
		{
			name:    "parallel tool calls off with required",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"parallel_tool_calls":false,"tool_choice":"required","tools":[{"type":"function","function":{"name":"f"}}]}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
				"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"any","disable_parallel_tool_use":true}}`,
		},
		{
			name:    "tool choice auto without tools is not sent",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"auto","parallel_tool_calls":false}`,
			want:    `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`,
		},
		{
			name: "assistant tool calls and merged tool results",
			request: `{"model":"m","messages":[
				{"role":"user","content":"Weather in Paris and time in Tokyo?"},
				{"role":"assistant","content":"Checking.","tool_calls":[
					{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\": \"Paris\"}"}},
					{"id":"toolu_2","type":"function","function":{"name":"get_time","arguments":""}}]},
				{"role":"tool","tool_call_id":"toolu_1","content":"18C, cloudy"},
				{"role":"tool","tool_call_id":"toolu_2","content":[{"type":"text","text":"09:00"}]},
				{"role":"user","content":"Thanks. Summarise."}]}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"messages":[
				{"role":"user","content":[{"type":"text","text":"Weather in Paris and time in Tokyo?"}]},
				{"role":"assistant","content":[
					{"type":"text","text":"Checking."},
					{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"Paris"}},
					{"type":"tool_use","id":"toolu_2","name":"get_time","input":{}}]},
				{"role":"user","content":[
					{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"18C, cloudy"}]},
					{"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"09:00"}]},
					{"type":"text","text":"Thanks. Summarise."}]}]}`,
		},
		{
			name: "consecutive same-role messages merged",
			request: `{"model":"m","messages":[
				{"role":"user","content":"one"},{"role":"user","content":"two"},
				{"role":"assistant","content":"three"},{"role":"assistant","content":"four"},
				{"role":"user","content":""}]}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"messages":[
				{"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]},
				{"role":"assistant","content":[{"type":"text","text":"three"},{"type":"text","text":"four"}]}]}`,
		},
		{
			name:    "stop string, max_tokens, sampling and user",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"stop":"END","max_tokens":100,"temperature":0.5,"top_p":0.9,"user":"user-42"}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
				"stop_sequences":["END"],"temperature":0.5,"top_p":0.9,"metadata":{"user_id":"u-6d894aa3ee802549d7f340e7c1cf0d1c"}}`,
		},
		{
			name:    "stop array and max_completion_tokens wins",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"stop":["a","b"],"max_tokens":100,"max_completion_tokens":200}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":200,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
				"stop_sequences":["a","b"]}`,
		},
		{
			name: "no-op values of unsupported parameters are accepted",
			request: `{"model":"m","messages":[{"role":"user","content":"x"}],"n":1,"logprobs":false,"top_logprobs":0,
				"presence_penalty":0,"frequency_penalty":0,"logit_bias":{},"response_format":{"type":"text"}}`,
			want: `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, respondJSON(minimalMessage))
			if _, err := f.adapter(t).Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, tt.request)}); err != nil {
				t.Fatalf("Chat: %v", err)
			}
			got := f.requests()
			if len(got) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(got))
			}
			if diff := cmp.Diff(jsonValue(t, tt.want), got[0]); diff != "" {
				t.Errorf("Anthropic request mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStreamRequestSetsStream(t *testing.T) {
	f := newFake(t, respondSSE(t, "stream_text.sse"))
	s, err := f.adapter(t).ChatStream(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":false}}`)})
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer s.Close()
	want := jsonValue(t, `{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`)
	if diff := cmp.Diff(want, f.requests()[0]); diff != "" {
		t.Errorf("Anthropic request mismatch (-want +got):\n%s", diff)
	}
}

func TestInvalidRequests(t *testing.T) {
	tests := []struct {
		name        string
		request     string
		wantParam   string
		wantMessage string // substring of the public message
	}{
		{"n", `{"n":2}`, "n", "n is not supported by anthropic models"},
		{"logprobs", `{"logprobs":true}`, "logprobs", "logprobs is not supported by anthropic models"},
		{"top_logprobs", `{"top_logprobs":3}`, "top_logprobs", "top_logprobs is not supported by anthropic models"},
		{"logit_bias", `{"logit_bias":{"1234":-100}}`, "logit_bias", "logit_bias is not supported by anthropic models"},
		{"presence_penalty", `{"presence_penalty":0.5}`, "presence_penalty", "presence_penalty is not supported by anthropic models"},
		{"frequency_penalty", `{"frequency_penalty":-0.5}`, "frequency_penalty", "frequency_penalty is not supported by anthropic models"},
		{"seed", `{"seed":0}`, "seed", "seed is not supported by anthropic models"},
		{"response_format json_object", `{"response_format":{"type":"json_object"}}`, "response_format", "response_format json_object is not supported by anthropic models; send json_schema"},
		{"response_format json_schema without a schema", `{"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}`, "response_format.json_schema.schema", "needs a schema"},
		{"reasoning_effort", `{"reasoning_effort":"high"}`, "reasoning_effort", "reasoning_effort is not supported by anthropic models"},
		{"tool_choice required without tools", `{"tool_choice":"required"}`, "tool_choice", "tool_choice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case adds its parameters to a valid request.
			req := `{"model":"m","messages":[{"role":"user","content":"x"}],` + strings.TrimPrefix(tt.request, "{")
			checkInvalid(t, decodeRequest(t, req), tt.wantParam, tt.wantMessage)
		})
	}
}

func TestInvalidMessages(t *testing.T) {
	tests := []struct {
		name        string
		request     string
		wantParam   string
		wantMessage string
	}{
		{
			name: "tool call arguments not JSON",
			request: `{"model":"m","messages":[{"role":"user","content":"x"},
				{"role":"assistant","tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}]}`,
			wantParam:   "messages[1].tool_calls[0].function.arguments",
			wantMessage: "messages[1]",
		},
		{
			name: "tool call arguments not an object",
			request: `{"model":"m","messages":[{"role":"user","content":"x"},
				{"role":"assistant","tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`,
			wantParam:   "messages[1].tool_calls[0].function.arguments",
			wantMessage: "messages[1]",
		},
		{
			name:        "unknown part type",
			request:     `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"input_audio","input_audio":{"data":"AAA=","format":"wav"}}]}]}`,
			wantParam:   "messages[0].content[1]",
			wantMessage: `messages[0].content[1]: content part type "input_audio" is not supported by anthropic models`,
		},
		{
			name:        "image with ftp url",
			request:     `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://example.com/a.png"}}]}]}`,
			wantParam:   "messages[0].content[0].image_url.url",
			wantMessage: "messages[0].content[0].image_url.url",
		},
		{
			name:        "image data url not base64",
			request:     `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`,
			wantParam:   "messages[0].content[0].image_url.url",
			wantMessage: "base64",
		},
		{
			name:        "image in system message",
			request:     `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]},{"role":"user","content":"x"}]}`,
			wantParam:   "messages[0].content[0]",
			wantMessage: "only text",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkInvalid(t, decodeRequest(t, tt.request), tt.wantParam, tt.wantMessage)
		})
	}
}

// checkInvalid asserts that both Chat and ChatStream refuse req with a 400 naming wantParam,
// without calling the upstream.
func checkInvalid(t *testing.T, req *chat.Request, wantParam, wantMessage string) {
	t.Helper()
	f := newFake(t, respondJSON(minimalMessage))
	a := f.adapter(t)
	_, chatErr := a.Chat(context.Background(), &provider.ChatCall{Request: req})
	s, streamErr := a.ChatStream(context.Background(), &provider.ChatCall{Request: req})
	if s != nil {
		s.Close()
	}
	for name, err := range map[string]error{"Chat": chatErr, "ChatStream": streamErr} {
		if err == nil {
			t.Errorf("%s succeeded, want a 400", name)
			continue
		}
		e := asAPIErr(t, err)
		if e.Kind != apierr.KindInvalidRequest || e.Kind.HTTPStatus() != http.StatusBadRequest {
			t.Errorf("%s: kind %v (status %d), want invalid request (400)", name, e.Kind, e.Kind.HTTPStatus())
		}
		if e.Param != wantParam {
			t.Errorf("%s: param = %q, want %q", name, e.Param, wantParam)
		}
		if !strings.Contains(e.Message, wantMessage) {
			t.Errorf("%s: message %q does not contain %q", name, e.Message, wantMessage)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("upstream got %d requests, want none", n)
	}
}

func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		status         int
		errType        string
		retryAfter     string
		wantKind       apierr.Kind
		wantStatus     int
		wantRetryAfter time.Duration
	}{
		{400, "invalid_request_error", "", apierr.KindInvalidRequest, 400, 0},
		{401, "authentication_error", "", apierr.KindUpstreamBadResponse, 502, 0},
		{403, "permission_error", "", apierr.KindUpstreamBadResponse, 502, 0},
		{404, "not_found_error", "", apierr.KindUpstreamBadResponse, 502, 0},
		{413, "request_too_large", "", apierr.KindInvalidRequest, 400, 0},
		{429, "rate_limit_error", "17", apierr.KindRateLimited, 429, 17 * time.Second},
		{500, "api_error", "", apierr.KindUpstreamBadResponse, 502, 0},
		{529, "overloaded_error", "", apierr.KindUpstreamUnavailable, 503, 0},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status)+" "+tt.errType, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("retry-after", tt.retryAfter)
				}
				writeError(w, tt.status, tt.errType, "Bad thing for key sk-ant-xyz: "+upstreamSecret)
			})
			a := f.adapter(t)
			req := decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)
			_, chatErr := a.Chat(context.Background(), &provider.ChatCall{Request: req})
			s, streamErr := a.ChatStream(context.Background(), &provider.ChatCall{Request: req})
			if s != nil {
				s.Close()
			}
			for name, err := range map[string]error{"Chat": chatErr, "ChatStream": streamErr} {
				if err == nil {
					t.Errorf("%s succeeded, want an error", name)
					continue
				}
				e := asAPIErr(t, err)
				if e.Kind != tt.wantKind || e.Kind.HTTPStatus() != tt.wantStatus {
					t.Errorf("%s: kind %v (status %d), want %v (status %d)", name, e.Kind, e.Kind.HTTPStatus(), tt.wantKind, tt.wantStatus)
				}
				if e.RetryAfter != tt.wantRetryAfter {
					t.Errorf("%s: RetryAfter = %v, want %v", name, e.RetryAfter, tt.wantRetryAfter)
				}
				if strings.Contains(e.Message, upstreamSecret) || strings.Contains(e.Message, "sk-ant") {
					t.Errorf("%s: public message %q leaks the upstream message", name, e.Message)
				}
				if !strings.Contains(e.Error(), upstreamSecret) {
					t.Errorf("%s: cause %q lost the upstream body, which the log needs", name, e.Error())
				}
			}
		})
	}
}

func TestTransportError(t *testing.T) {
	f := newFake(t, respondJSON(minimalMessage))
	a := f.adapter(t)
	f.srv.Close()
	_, err := a.Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
	if e := asAPIErr(t, err); e.Kind != apierr.KindUpstreamUnavailable {
		t.Errorf("kind = %v, want upstream unavailable", e.Kind)
	}
}

func TestCancelAbortsUpstream(t *testing.T) {
	req := decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	t.Run("chat", func(t *testing.T) {
		entered, aborted := make(chan struct{}), make(chan struct{})
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-r.Context().Done()
			close(aborted)
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-entered
			cancel()
		}()
		_, err := f.adapter(t).Chat(ctx, &provider.ChatCall{Request: req})
		if e := asAPIErr(t, err); e.Kind != apierr.KindCanceled {
			t.Errorf("kind = %v, want canceled", e.Kind)
		}
		waitClosed(t, aborted, "the upstream request was not aborted")
	})
	t.Run("stream", func(t *testing.T) {
		aborted := make(chan struct{})
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("content-type", "text/event-stream")
			_, _ = io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			close(aborted)
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s, err := f.adapter(t).ChatStream(ctx, &provider.ChatCall{Request: req})
		if err != nil {
			t.Fatalf("ChatStream: %v", err)
		}
		defer s.Close()
		if _, err := s.Recv(); err != nil {
			t.Fatalf("first Recv: %v", err)
		}
		cancel()
		_, err = s.Recv()
		if e := asAPIErr(t, err); e.Kind != apierr.KindCanceled {
			t.Errorf("kind = %v, want canceled", e.Kind)
		}
		waitClosed(t, aborted, "the upstream request was not aborted")
	})
}

func waitClosed(t *testing.T, c <-chan struct{}, msg string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatal(msg)
	}
}
