package providercohere

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
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
	testKey   = "co-test-key"
	testModel = "command-a-03-2025"
	// upstreamSecret is planted in upstream error messages; it must never reach a public message.
	upstreamSecret = "upstream-secret-detail"
)

var testNow = time.Unix(1_700_000_000, 0)

// fakeCohere is Cohere's v2 API: it checks every request as Cohere would (method, path, bearer
// key, JSON body) and answers with respond.
type fakeCohere struct {
	t       *testing.T
	srv     *httptest.Server
	path    string // the path every request must have
	respond http.HandlerFunc

	mu     sync.Mutex
	bodies []map[string]any
}

func newFake(t *testing.T, path string, respond http.HandlerFunc) *fakeCohere {
	t.Helper()
	f := &fakeCohere{t: t, path: path, respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCohere) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != f.path {
		f.t.Errorf("upstream got %s %s, want POST %s", r.Method, r.URL.Path, f.path)
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	if got, want := r.Header.Get("Authorization"), "Bearer "+testKey; got != want {
		f.t.Errorf("Authorization = %q, want %q", got, want)
		writeError(w, http.StatusUnauthorized, "no api key supplied")
		return
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		f.t.Errorf("Content-Type = %q, want application/json", got)
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.t.Errorf("upstream body is not JSON: %v", err)
		writeError(w, http.StatusBadRequest, "invalid json")
		return
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	f.respond(w, r)
}

// requests returns the request bodies the upstream received.
func (f *fakeCohere) requests() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.bodies...)
}

// adapter returns an adapter on the fake whose clock is testNow.
func (f *fakeCohere) adapter(t *testing.T, settings map[string]string) *adapter {
	t.Helper()
	a, err := New(provider.Config{Kind: "cohere", BaseURL: f.srv.URL, APIKey: testKey, Model: testModel, Settings: settings, HTTPClient: f.srv.Client()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ad := a.(*adapter)
	ad.now = func() time.Time { return testNow }
	return ad
}

// writeError answers as Cohere does: a status and {"message": ...}.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"message": msg})
	_, _ = w.Write(b)
}

// respondJSON answers with a documented JSON body.
func respondJSON(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

const textAnswer = `{"id":"c14c80c3-18eb-4519-9460-6c92edd8cfb4","finish_reason":"COMPLETE",
"message":{"role":"assistant","content":[{"type":"text","text":"LLMs are neural networks."}]},
"usage":{"billed_units":{"input_tokens":5,"output_tokens":418},"tokens":{"input_tokens":71,"output_tokens":418}}}`

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
		name          string
		cfg           provider.Config
		wantBase      string
		wantInputType string
		wantErr       string // a substring of the error; empty for success
	}{
		{"default base", provider.Config{APIKey: "k", Model: "m", HTTPClient: client}, "https://api.cohere.com", DefaultInputType, ""},
		{"base with v2 and slash", provider.Config{BaseURL: "https://proxy.example/cohere/v2/", APIKey: "k", Model: "m", HTTPClient: client}, "https://proxy.example/cohere", DefaultInputType, ""},
		{"base with slash", provider.Config{BaseURL: "http://localhost:8080/", APIKey: "k", Model: "m", HTTPClient: client}, "http://localhost:8080", DefaultInputType, ""},
		{"input_type setting", provider.Config{APIKey: "k", Model: "m", HTTPClient: client, Settings: map[string]string{"input_type": "search_query"}}, "https://api.cohere.com", "search_query", ""},
		{"unknown setting", provider.Config{APIKey: "k", Model: "m", HTTPClient: client, Settings: map[string]string{"input_type": "clustering", "truncate": "END"}}, "", "", `unknown setting "truncate"`},
		{"unknown input_type", provider.Config{APIKey: "k", Model: "m", HTTPClient: client, Settings: map[string]string{"input_type": "image"}}, "", "", `input_type "image"`},
		{"no model", provider.Config{APIKey: "k", HTTPClient: client}, "", "", "model is required"},
		{"no key", provider.Config{Model: "m", HTTPClient: client}, "", "", "api key is required"},
		{"no client", provider.Config{APIKey: "k", Model: "m"}, "", "", "http client is required"},
		{"relative base", provider.Config{BaseURL: "api.cohere.com", APIKey: "k", Model: "m", HTTPClient: client}, "", "", "absolute http or https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			ad := a.(*adapter)
			if ad.base != tt.wantBase || ad.inputType != tt.wantInputType {
				t.Errorf("base, input type = %q, %q; want %q, %q", ad.base, ad.inputType, tt.wantBase, tt.wantInputType)
			}
			if ad.client == client || ad.client.CheckRedirect == nil {
				t.Errorf("the adapter uses the shared client as is; it must copy it and refuse redirects")
			}
			if _, ok := a.(provider.Embedder); !ok {
				t.Errorf("adapter does not implement provider.Embedder")
			}
			if _, ok := a.(provider.Reranker); !ok {
				t.Errorf("adapter does not implement provider.Reranker")
			}
		})
	}
}

func TestChatText(t *testing.T) {
	f := newFake(t, "/v2/chat", respondJSON(textAnswer))
	res, err := f.adapter(t, nil).Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"cohere/command","messages":[{"role":"user","content":"What is an LLM?"}]}`)})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	want := `{"id":"c14c80c3-18eb-4519-9460-6c92edd8cfb4","object":"chat.completion","created":1700000000,"model":"command-a-03-2025",
		"choices":[{"index":0,"message":{"role":"assistant","content":"LLMs are neural networks."},"finish_reason":"stop"}],
		"usage":{"prompt_tokens":5,"completion_tokens":418,"total_tokens":423}}`
	if diff := cmp.Diff(jsonValue(t, want), jsonValue(t, string(res.JSON))); diff != "" {
		t.Errorf("answer mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(chat.Usage{PromptTokens: 5, CompletionTokens: 418, TotalTokens: 423}, res.Usage); diff != "" {
		t.Errorf("usage mismatch (-want +got):\n%s", diff)
	}
	if got := f.requests()[0]["stream"]; got != false {
		t.Errorf("stream = %v, want false", got)
	}
}

func TestChatToolCalls(t *testing.T) {
	answer := `{"id":"2d3d5f53-1e8a-4a2b-9d8a-3b2b7f6d0f00","finish_reason":"TOOL_CALL",
	"message":{"role":"assistant","tool_plan":"I will look up the weather in Toronto and Madrid.",
	"tool_calls":[
		{"id":"get_weather_1byjy32y4hvq","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Toronto\"}"}},
		{"id":"get_weather_2abxz","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Madrid\"}"}}]},
	"usage":{"billed_units":{"input_tokens":37,"output_tokens":28},"tokens":{"input_tokens":1003,"output_tokens":72}}}`
	f := newFake(t, "/v2/chat", respondJSON(answer))
	res, err := f.adapter(t, nil).Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"Weather?"}],
		"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}`)})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	want := `{"id":"2d3d5f53-1e8a-4a2b-9d8a-3b2b7f6d0f00","object":"chat.completion","created":1700000000,"model":"command-a-03-2025",
		"choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"I will look up the weather in Toronto and Madrid.","tool_calls":[
			{"id":"get_weather_1byjy32y4hvq","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Toronto\"}"}},
			{"id":"get_weather_2abxz","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Madrid\"}"}}]}}],
		"usage":{"prompt_tokens":37,"completion_tokens":28,"total_tokens":65}}`
	if diff := cmp.Diff(jsonValue(t, want), jsonValue(t, string(res.JSON))); diff != "" {
		t.Errorf("answer mismatch (-want +got):\n%s", diff)
	}
}

func TestChatFinishReasonsAndUsage(t *testing.T) {
	tests := []struct {
		name       string
		reason     string
		usage      string
		wantFinish string
		wantUsage  chat.Usage
		wantStatus int // non-zero: the answer is this error
	}{
		{"complete", "COMPLETE", `{"tokens":{"input_tokens":10,"output_tokens":2}}`, "stop", chat.Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12}, 0},
		{"stop sequence", "STOP_SEQUENCE", `{"tokens":{"input_tokens":10,"output_tokens":2}}`, "stop", chat.Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12}, 0},
		{"max tokens", "MAX_TOKENS", `{"tokens":{"input_tokens":10,"output_tokens":2}}`, "length", chat.Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12}, 0},
		{"tool call", "TOOL_CALL", `{"tokens":{"input_tokens":10,"output_tokens":2}}`, "tool_calls", chat.Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12}, 0},
		{"unknown reason is a stop", "SOMETHING_NEW", `{"tokens":{"input_tokens":10,"output_tokens":2}}`, "stop", chat.Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12}, 0},
		{"billed units when tokens are absent", "COMPLETE", `{"billed_units":{"input_tokens":5.0,"output_tokens":7}}`, "stop", chat.Usage{PromptTokens: 5, CompletionTokens: 7, TotalTokens: 12}, 0},
		{"billed units over tokens", "COMPLETE", `{"billed_units":{"input_tokens":5,"output_tokens":7},"tokens":{"input_tokens":71,"output_tokens":7}}`, "stop", chat.Usage{PromptTokens: 5, CompletionTokens: 7, TotalTokens: 12}, 0},
		{"no usage", "COMPLETE", `null`, "stop", chat.Usage{}, 0},
		{"error", "ERROR", `{"tokens":{"input_tokens":10,"output_tokens":2}}`, "", chat.Usage{}, http.StatusBadGateway},
		{"timeout", "TIMEOUT", `{"tokens":{"input_tokens":10,"output_tokens":2}}`, "", chat.Usage{}, http.StatusGatewayTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer := `{"id":"x","finish_reason":"` + tt.reason + `","message":{"role":"assistant","content":[{"type":"text","text":"Hi"}]},"usage":` + tt.usage + `}`
			f := newFake(t, "/v2/chat", respondJSON(answer))
			res, err := f.adapter(t, nil).Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
			if tt.wantStatus != 0 {
				if err == nil {
					t.Fatalf("Chat succeeded, want a %d error", tt.wantStatus)
				}
				if got := asAPIErr(t, err).Kind.HTTPStatus(); got != tt.wantStatus {
					t.Errorf("status = %d, want %d", got, tt.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			var got chat.Response
			if err := json.Unmarshal(res.JSON, &got); err != nil {
				t.Fatal(err)
			}
			if got.Choices[0].FinishReason != tt.wantFinish {
				t.Errorf("finish_reason = %q, want %q", got.Choices[0].FinishReason, tt.wantFinish)
			}
			if diff := cmp.Diff(tt.wantUsage, res.Usage); diff != "" {
				t.Errorf("usage mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(&tt.wantUsage, got.Usage); diff != "" {
				t.Errorf("usage in the JSON mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChatBadResponse(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":       `<html>oops</html>`,
		"content object": `{"id":"x","finish_reason":"COMPLETE","message":{"content":{"type":"text"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, "/v2/chat", respondJSON(body))
			_, err := f.adapter(t, nil).Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
			if err == nil {
				t.Fatal("Chat succeeded on a malformed answer")
			}
			if e := asAPIErr(t, err); e.Kind != apierr.KindUpstreamBadResponse || e.Code != "upstream_bad_response" {
				t.Errorf("error = %v (kind %v, code %q), want a bad response", e, e.Kind, e.Code)
			}
		})
	}
}

func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
		wantStatus int
		wantCode   string
		wantRetry  time.Duration
	}{
		{http.StatusBadRequest, "", http.StatusBadRequest, "", 0},
		{http.StatusUnauthorized, "", http.StatusBadGateway, "upstream_auth_failed", 0},
		{http.StatusPaymentRequired, "", http.StatusBadGateway, "upstream_payment_required", 0},
		{http.StatusNotFound, "", http.StatusBadGateway, "upstream_not_found", 0},
		{http.StatusTooManyRequests, "7", http.StatusTooManyRequests, "upstream_rate_limited", 7 * time.Second},
		{statusInvalidToken, "", http.StatusBadGateway, "upstream_auth_failed", 0},
		{499, "", http.StatusBadGateway, "upstream_error", 0},
		{http.StatusInternalServerError, "", http.StatusBadGateway, "upstream_error", 0},
		{http.StatusServiceUnavailable, "", http.StatusServiceUnavailable, "upstream_unavailable", 0},
		{http.StatusGatewayTimeout, "", http.StatusGatewayTimeout, "timeout", 0},
	}
	calls := map[string]func(a *adapter) error{
		"chat": func(a *adapter) error {
			_, err := a.Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
			return err
		},
		"stream": func(a *adapter) error {
			_, err := a.ChatStream(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}`)})
			return err
		},
		"embed": func(a *adapter) error {
			_, err := a.Embed(context.Background(), &provider.EmbedCall{Request: &chat.EmbeddingRequest{Model: "m", Input: chat.Input{"x"}}})
			return err
		},
		"rerank": func(a *adapter) error {
			_, err := a.Rerank(context.Background(), &provider.RerankCall{Model: "m", Query: "q", Documents: []string{"d"}})
			return err
		},
	}
	paths := map[string]string{"chat": "/v2/chat", "stream": "/v2/chat", "embed": "/v2/embed", "rerank": "/v2/rerank"}
	for _, tt := range tests {
		for name, call := range calls {
			t.Run(name+"/"+http.StatusText(tt.status), func(t *testing.T) {
				f := newFake(t, paths[name], func(w http.ResponseWriter, r *http.Request) {
					if tt.retryAfter != "" {
						w.Header().Set("Retry-After", tt.retryAfter)
					}
					writeError(w, tt.status, "invalid request: key "+upstreamSecret+" rejected")
				})
				err := call(f.adapter(t, nil))
				if err == nil {
					t.Fatalf("call succeeded on status %d", tt.status)
				}
				e := asAPIErr(t, err)
				body := e.OpenAI()
				if got := e.Kind.HTTPStatus(); got != tt.wantStatus {
					t.Errorf("status = %d, want %d", got, tt.wantStatus)
				}
				code := ""
				if body.Error.Code != nil {
					code = *body.Error.Code
				}
				if code != tt.wantCode {
					t.Errorf("code = %q, want %q", code, tt.wantCode)
				}
				if e.RetryAfter != tt.wantRetry {
					t.Errorf("retry after = %v, want %v", e.RetryAfter, tt.wantRetry)
				}
				if strings.Contains(body.Error.Message, upstreamSecret) || strings.Contains(body.Error.Message, "invalid request: key") {
					t.Errorf("the public message quotes the upstream: %q", body.Error.Message)
				}
				if !strings.Contains(e.Error(), upstreamSecret) {
					t.Errorf("the cause (for the log) lost the upstream message: %v", e)
				}
			})
		}
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var leaked sync.Mutex
	gotKey := ""
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Lock()
		gotKey = r.Header.Get("Authorization")
		leaked.Unlock()
		respondJSON(textAnswer)(w, r)
	}))
	t.Cleanup(other.Close)
	f := newFake(t, "/v2/chat", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/v2/chat", http.StatusTemporaryRedirect)
	})
	_, err := f.adapter(t, nil).Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
	if err == nil {
		t.Fatal("Chat followed the redirect and succeeded")
	}
	if got := asAPIErr(t, err).Kind.HTTPStatus(); got != http.StatusBadGateway {
		t.Errorf("status = %d, want 502", got)
	}
	leaked.Lock()
	defer leaked.Unlock()
	if gotKey != "" {
		t.Errorf("the key reached the redirect target: %q", gotKey)
	}
}

func TestTransportError(t *testing.T) {
	f := newFake(t, "/v2/chat", respondJSON(textAnswer))
	a := f.adapter(t, nil)
	f.srv.Close()
	_, err := a.Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
	if e := asAPIErr(t, err); e.Kind != apierr.KindUpstreamUnavailable {
		t.Errorf("kind = %v, want upstream unavailable", e.Kind)
	}
}

// floats decodes OpenAI's base64 embedding.
func floats(t *testing.T, s string) []float32 {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("bad base64 embedding %q: %v", s, err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

const embedAnswer = `{"id":"da6e531f-54c6-4a73-bf92-f60566d8d753","texts":["hello","goodbye"],
"embeddings":{"float":[[0.016296387,-0.008354187,-0.04699707],[0.5,0.25,-1.5]]},
"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":2}},"response_type":"embeddings_by_type"}`

func TestEmbed(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		request  string
		wantBody string
		base64   bool
	}{
		{
			name:     "float with the default input type",
			request:  `{"model":"cohere/embed","input":["hello","goodbye"]}`,
			wantBody: `{"model":"command-a-03-2025","texts":["hello","goodbye"],"input_type":"search_document","embedding_types":["float"]}`,
		},
		{
			name:     "base64, dimensions and an input type setting",
			settings: map[string]string{"input_type": "search_query"},
			request:  `{"model":"cohere/embed","input":["hello","goodbye"],"encoding_format":"base64","dimensions":256,"user":"u1"}`,
			wantBody: `{"model":"command-a-03-2025","texts":["hello","goodbye"],"input_type":"search_query","embedding_types":["float"],"output_dimension":256}`,
			base64:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "/v2/embed", respondJSON(embedAnswer))
			req, err := chat.DecodeEmbeddingRequest([]byte(tt.request))
			if err != nil {
				t.Fatal(err)
			}
			res, err := f.adapter(t, tt.settings).Embed(context.Background(), &provider.EmbedCall{Request: req, Body: []byte(tt.request)})
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			if diff := cmp.Diff(jsonValue(t, tt.wantBody), f.requests()[0]); diff != "" {
				t.Errorf("upstream body mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(chat.Usage{PromptTokens: 2, TotalTokens: 2}, res.Usage); diff != "" {
				t.Errorf("usage mismatch (-want +got):\n%s", diff)
			}
			var got struct {
				Object string `json:"object"`
				Model  string `json:"model"`
				Data   []struct {
					Object    string          `json:"object"`
					Index     int64           `json:"index"`
					Embedding json.RawMessage `json:"embedding"`
				} `json:"data"`
				Usage chat.Usage `json:"usage"`
			}
			if err := json.Unmarshal(res.JSON, &got); err != nil {
				t.Fatalf("answer is not JSON: %v", err)
			}
			want := [][]float32{{0.016296387, -0.008354187, -0.04699707}, {0.5, 0.25, -1.5}}
			if got.Object != "list" || got.Model != testModel || len(got.Data) != 2 || got.Usage.PromptTokens != 2 {
				t.Fatalf("answer = %s", res.JSON)
			}
			for i, d := range got.Data {
				var v []float32
				if tt.base64 {
					var s string
					if err := json.Unmarshal(d.Embedding, &s); err != nil {
						t.Fatalf("embedding %d is not a base64 string: %s", i, d.Embedding)
					}
					v = floats(t, s)
				} else if err := json.Unmarshal(d.Embedding, &v); err != nil {
					t.Fatalf("embedding %d is not floats: %s", i, d.Embedding)
				}
				if d.Object != "embedding" || d.Index != int64(i) {
					t.Errorf("data[%d] = %+v", i, d)
				}
				if diff := cmp.Diff(want[i], v); diff != "" {
					t.Errorf("embedding %d mismatch (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

func TestEmbedInvalid(t *testing.T) {
	tests := []struct {
		name      string
		req       *chat.EmbeddingRequest
		wantParam string
	}{
		{"no input", &chat.EmbeddingRequest{Model: "m"}, "input"},
		{"encoding format", &chat.EmbeddingRequest{Model: "m", Input: chat.Input{"x"}, EncodingFormat: "int8"}, "encoding_format"},
		{"dimensions", &chat.EmbeddingRequest{Model: "m", Input: chat.Input{"x"}, Dimensions: new(int64(0))}, "dimensions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "/v2/embed", respondJSON(embedAnswer))
			_, err := f.adapter(t, nil).Embed(context.Background(), &provider.EmbedCall{Request: tt.req})
			e := asAPIErr(t, err)
			if e.Kind != apierr.KindInvalidRequest || e.Param != tt.wantParam {
				t.Errorf("error = %v (kind %v, param %q), want invalid %q", e, e.Kind, e.Param, tt.wantParam)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("upstream got %d requests, want none", n)
			}
		})
	}
}

func TestEmbedBadResponse(t *testing.T) {
	for name, body := range map[string]string{
		"fewer vectors": `{"embeddings":{"float":[[0.1]]},"meta":{"billed_units":{"input_tokens":2}}}`,
		"empty vector":  `{"embeddings":{"float":[[0.1],[]]},"meta":{"billed_units":{"input_tokens":2}}}`,
		"not JSON":      `nope`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, "/v2/embed", respondJSON(body))
			_, err := f.adapter(t, nil).Embed(context.Background(), &provider.EmbedCall{Request: &chat.EmbeddingRequest{Model: "m", Input: chat.Input{"a", "b"}}})
			if e := asAPIErr(t, err); e.Kind != apierr.KindUpstreamBadResponse {
				t.Errorf("kind = %v, want a bad response", e.Kind)
			}
		})
	}
}

const rerankAnswer = `{"id":"07734bd2-2473-4f07-94e1-0d9f0e6843cf",
"results":[{"index":2,"relevance_score":0.999071},{"index":0,"relevance_score":0.7867867},{"index":1,"relevance_score":0.32713068}],
"meta":{"api_version":{"version":"2"},"billed_units":{"search_units":1}}}`

func TestRerank(t *testing.T) {
	docs := []string{"Carson City is the capital of Nevada.", "Saipan is the capital of the Northern Mariana Islands.", "Washington, D.C. is the capital of the United States."}
	tests := []struct {
		name     string
		call     provider.RerankCall
		wantBody string
		want     string
	}{
		{
			name:     "scores only",
			call:     provider.RerankCall{Model: "cohere/rerank", Query: "What is the capital of the United States?", Documents: docs},
			wantBody: `{"model":"command-a-03-2025","query":"What is the capital of the United States?","documents":["Carson City is the capital of Nevada.","Saipan is the capital of the Northern Mariana Islands.","Washington, D.C. is the capital of the United States."]}`,
			want: `{"id":"07734bd2-2473-4f07-94e1-0d9f0e6843cf","model":"command-a-03-2025",
				"results":[{"index":2,"relevance_score":0.999071},{"index":0,"relevance_score":0.7867867},{"index":1,"relevance_score":0.32713068}],
				"meta":{"billed_units":{"search_units":1}},"usage":{"search_units":1}}`,
		},
		{
			name:     "top_n and documents",
			call:     provider.RerankCall{Model: "cohere/rerank", Query: "capital of the US", Documents: docs, TopN: new(int64(3)), ReturnDocuments: true},
			wantBody: `{"model":"command-a-03-2025","query":"capital of the US","top_n":3,"documents":["Carson City is the capital of Nevada.","Saipan is the capital of the Northern Mariana Islands.","Washington, D.C. is the capital of the United States."]}`,
			want: `{"id":"07734bd2-2473-4f07-94e1-0d9f0e6843cf","model":"command-a-03-2025",
				"results":[
					{"index":2,"relevance_score":0.999071,"document":{"text":"Washington, D.C. is the capital of the United States."}},
					{"index":0,"relevance_score":0.7867867,"document":{"text":"Carson City is the capital of Nevada."}},
					{"index":1,"relevance_score":0.32713068,"document":{"text":"Saipan is the capital of the Northern Mariana Islands."}}],
				"meta":{"billed_units":{"search_units":1}},"usage":{"search_units":1}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "/v2/rerank", respondJSON(rerankAnswer))
			res, err := f.adapter(t, nil).Rerank(context.Background(), &tt.call)
			if err != nil {
				t.Fatalf("Rerank: %v", err)
			}
			if diff := cmp.Diff(jsonValue(t, tt.wantBody), f.requests()[0]); diff != "" {
				t.Errorf("upstream body mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(jsonValue(t, tt.want), jsonValue(t, string(res.JSON))); diff != "" {
				t.Errorf("answer mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(chat.Usage{PromptTokens: 1, TotalTokens: 1}, res.Usage); diff != "" {
				t.Errorf("usage mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRerankSortsResults(t *testing.T) {
	f := newFake(t, "/v2/rerank", respondJSON(`{"id":"r","results":[{"index":0,"relevance_score":0.1},{"index":1,"relevance_score":0.9}],"meta":{"billed_units":{"search_units":1}}}`))
	res, err := f.adapter(t, nil).Rerank(context.Background(), &provider.RerankCall{Query: "q", Documents: []string{"a", "b"}})
	if err != nil {
		t.Fatalf("Rerank: %v", err)
	}
	var got struct {
		Results []struct {
			Index int64 `json:"index"`
		} `json:"results"`
	}
	if err := json.Unmarshal(res.JSON, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 2 || got.Results[0].Index != 1 || got.Results[1].Index != 0 {
		t.Errorf("results = %+v, want index 1 then 0", got.Results)
	}
}

func TestRerankInvalid(t *testing.T) {
	tests := []struct {
		name      string
		call      provider.RerankCall
		wantParam string
	}{
		{"no query", provider.RerankCall{Documents: []string{"a"}}, "query"},
		{"no documents", provider.RerankCall{Query: "q"}, "documents"},
		{"top_n zero", provider.RerankCall{Query: "q", Documents: []string{"a"}, TopN: new(int64(0))}, "top_n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "/v2/rerank", respondJSON(rerankAnswer))
			_, err := f.adapter(t, nil).Rerank(context.Background(), &tt.call)
			e := asAPIErr(t, err)
			if e.Kind != apierr.KindInvalidRequest || e.Param != tt.wantParam {
				t.Errorf("error = %v (kind %v, param %q), want invalid %q", e, e.Kind, e.Param, tt.wantParam)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("upstream got %d requests, want none", n)
			}
		})
	}
}

func TestRerankBadResponse(t *testing.T) {
	for name, body := range map[string]string{
		"index out of range": `{"id":"r","results":[{"index":5,"relevance_score":0.1}]}`,
		"negative index":     `{"id":"r","results":[{"index":-1,"relevance_score":0.1}]}`,
		"not JSON":           `[`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, "/v2/rerank", respondJSON(body))
			_, err := f.adapter(t, nil).Rerank(context.Background(), &provider.RerankCall{Query: "q", Documents: []string{"a"}})
			if e := asAPIErr(t, err); e.Kind != apierr.KindUpstreamBadResponse {
				t.Errorf("kind = %v, want a bad response", e.Kind)
			}
		})
	}
}
