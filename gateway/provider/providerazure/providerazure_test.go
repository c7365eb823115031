package providerazure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	testKey   = "azure-key-1234"
	testToken = "eyJ0eXAiOiJKV1QiLCJhbGciOi.entra"
	// leaked is quoted by the fake's error bodies; it must never reach a public message.
	leaked = "LEAKED-upstream-detail"
)

// Deployments the fake Azure upstream treats specially; any other name answers normally.
const (
	depContentFilter = "dep-content-filter"
	depErrorPrefix   = "dep-error-" // dep-error-<status>
	depRedirect      = "dep-redirect"
)

// seen is one request the fake received.
type seen struct {
	Path, APIVersion, APIKey, Authorization string
	Body                                    map[string]any
	Raw                                     string
}

// fakeAzure is a fake Azure OpenAI resource: it checks the api-version query and the credential
// the way Azure does and answers in OpenAI's JSON, SSE and error shapes, with Azure's extras
// (prompt_filter_results, content filter errors).
type fakeAzure struct {
	*httptest.Server
	version string
	mu      sync.Mutex
	reqs    []seen
	// redirectTo is where depRedirect sends its caller.
	redirectTo string
}

func newFakeAzure(t *testing.T) *fakeAzure {
	t.Helper()
	f := &fakeAzure{version: DefaultAPIVersion}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", f.chat)
	mux.HandleFunc("POST /openai/deployments/{deployment}/embeddings", f.embeddings)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAzure) last() seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		return seen{}
	}
	return f.reqs[len(f.reqs)-1]
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "7")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": nil, "param": nil, "code": code, "status": status}})
}

// admit records the request and answers the failures Azure would; it reports whether the
// handler should go on.
func (f *fakeAzure) admit(w http.ResponseWriter, r *http.Request) (seen, bool) {
	raw, _ := io.ReadAll(r.Body)
	s := seen{Path: r.URL.Path, APIVersion: r.URL.Query().Get("api-version"), APIKey: r.Header.Get("api-key"),
		Authorization: r.Header.Get("Authorization"), Raw: string(raw)}
	if err := json.Unmarshal(raw, &s.Body); err != nil {
		writeError(w, 400, "BadRequest", "could not parse body")
		return s, false
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, s)
	f.mu.Unlock()
	dep := r.PathValue("deployment")
	switch {
	case s.APIVersion != f.version:
		writeError(w, 404, "404", "Resource not found: "+leaked)
	case s.APIKey != testKey && s.Authorization != "Bearer "+testToken:
		writeError(w, 401, "401", "Access denied due to invalid subscription key or wrong API endpoint: "+leaked)
	case dep == depContentFilter:
		writeError(w, 400, "content_filter", "The response was filtered due to the prompt triggering Azure OpenAI's content management policy: "+leaked)
	case strings.HasPrefix(dep, depErrorPrefix):
		status, _ := strconv.Atoi(strings.TrimPrefix(dep, depErrorPrefix))
		writeError(w, status, "upstream_code", "upstream says no: "+leaked)
	case dep == depRedirect:
		http.Redirect(w, r, f.redirectTo, http.StatusTemporaryRedirect)
	default:
		return s, true
	}
	return s, false
}

var fakeUsage = map[string]any{"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}

func (f *fakeAzure) chat(w http.ResponseWriter, r *http.Request) {
	s, ok := f.admit(w, r)
	if !ok {
		return
	}
	model, _ := s.Body["model"].(string)
	if stream, _ := s.Body["stream"].(bool); !stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-az", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024-08-06",
			"prompt_filter_results": []any{map[string]any{"prompt_index": 0, "content_filter_results": map[string]any{}}},
			"choices":               []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": "hello from " + model}, "finish_reason": "stop", "content_filter_results": map[string]any{}}},
			"usage":                 fakeUsage,
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	flusher := w.(http.Flusher)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		flusher.Flush()
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": "chatcmpl-az", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-2024-08-06",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}, "usage": nil}
	}
	// Azure opens a stream with the prompt's filter results and no choices.
	send(map[string]any{"id": "", "object": "", "created": 0, "model": "", "choices": []any{},
		"prompt_filter_results": []any{map[string]any{"prompt_index": 0, "content_filter_results": map[string]any{}}}})
	send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	send(chunk(map[string]any{"content": "hello"}, nil))
	send(chunk(map[string]any{}, "stop"))
	if so, _ := s.Body["stream_options"].(map[string]any); so["include_usage"] == true {
		send(map[string]any{"id": "chatcmpl-az", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-2024-08-06", "choices": []any{}, "usage": fakeUsage})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	flusher.Flush()
}

func (f *fakeAzure) embeddings(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.admit(w, r); !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "model": "text-embedding-3-small",
		"data":  []any{map[string]any{"object": "embedding", "index": 0, "embedding": []float64{0.1, -0.2}}},
		"usage": map[string]any{"prompt_tokens": 5, "total_tokens": 5}})
}

func config(baseURL, model string, settings map[string]string) provider.Config {
	return provider.Config{Kind: Kind, BaseURL: baseURL, APIKey: testKey, Model: model, Settings: settings, HTTPClient: http.DefaultClient}
}

func build(t *testing.T, cfg provider.Config) provider.Adapter {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func call(t *testing.T, body string) *provider.ChatCall {
	t.Helper()
	r, err := chat.DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return &provider.ChatCall{Request: r, Body: []byte(body)}
}

func TestNewRefusesBadConfig(t *testing.T) {
	const base = "https://res.openai.azure.com"
	tests := []struct {
		name    string
		cfg     provider.Config
		wantErr string // a fragment the error must name
	}{
		{"unknown setting", config(base, "m", map[string]string{"deployment": "d", "api-version": "x"}), `"api-version"`},
		{"unknown setting beside known ones", config(base, "m", map[string]string{"region": "eu"}), `"region"`},
		{"no base url", config("", "m", nil), "base URL"},
		{"base url without scheme", config("res.openai.azure.com", "m", nil), "http"},
		{"no deployment and no model", config(base, "", nil), "deployment"},
		{"empty deployment", config(base, "m", map[string]string{"deployment": " "}), "deployment"},
		{"empty api version", config(base, "m", map[string]string{"api_version": ""}), "api_version"},
		{"unknown auth", config(base, "m", map[string]string{"auth": "managed-identity"}), "managed-identity"},
		{"no credential", provider.Config{Kind: Kind, BaseURL: base, Model: "m", HTTPClient: http.DefaultClient}, "credential"},
		{"no http client", provider.Config{Kind: Kind, BaseURL: base, APIKey: testKey, Model: "m"}, "HTTP client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.cfg)
			if err == nil {
				t.Fatalf("New succeeded: %v", a)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not name %s", err, tt.wantErr)
			}
		})
	}
}

func TestChatURLAuthAndBody(t *testing.T) {
	up := newFakeAzure(t)
	tests := []struct {
		name       string
		cfg        func(base string) provider.Config
		version    string
		wantPath   string
		wantAPIKey string
		wantAuthz  string
		wantModel  string
	}{
		{
			name:     "deployment from model name, api-key, default version",
			cfg:      func(b string) provider.Config { return config(b+"/", "gpt-4o", nil) },
			wantPath: "/openai/deployments/gpt-4o/chat/completions", wantAPIKey: testKey, wantModel: "gpt-4o",
		},
		{
			name: "deployment from settings",
			cfg: func(b string) provider.Config {
				return config(b, "gpt-4o", map[string]string{"deployment": "prod-4o", "auth": "api-key"})
			},
			wantPath: "/openai/deployments/prod-4o/chat/completions", wantAPIKey: testKey, wantModel: "prod-4o",
		},
		{
			name: "entra bearer token",
			cfg: func(b string) provider.Config {
				c := config(b, "gpt-4o", map[string]string{"auth": "entra"})
				c.APIKey = testToken
				return c
			},
			wantPath: "/openai/deployments/gpt-4o/chat/completions", wantAuthz: "Bearer " + testToken, wantModel: "gpt-4o",
		},
		{
			name: "api version from settings",
			cfg: func(b string) provider.Config {
				return config(b, "gpt-4o", map[string]string{"api_version": "2025-04-01-preview"})
			},
			version:  "2025-04-01-preview",
			wantPath: "/openai/deployments/gpt-4o/chat/completions", wantAPIKey: testKey, wantModel: "gpt-4o",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up.version = DefaultAPIVersion
			if tt.version != "" {
				up.version = tt.version
			}
			body := `{"model":"acct/gpt","messages":[{"role":"user","content":"hi"}],"logit_bias":{"50256":-100},"user":"u1"}`
			res, err := build(t, tt.cfg(up.URL)).Chat(context.Background(), call(t, body))
			if err != nil {
				t.Fatal(err)
			}
			got := up.last()
			want := seen{Path: tt.wantPath, APIVersion: up.version, APIKey: tt.wantAPIKey, Authorization: tt.wantAuthz,
				Raw: strings.Replace(body, `"acct/gpt"`, strconv.Quote(tt.wantModel), 1)}
			got.Body = nil
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("upstream request (-want +got):\n%s", diff)
			}
			if res.Usage.TotalTokens != 18 || res.Usage.PromptTokens != 11 {
				t.Errorf("usage %+v", res.Usage)
			}
			if !strings.Contains(string(res.JSON), `"hello from `+tt.wantModel+`"`) {
				t.Errorf("answer %s", res.JSON)
			}
		})
	}
}

func TestStreamAlwaysAsksForUsage(t *testing.T) {
	up := newFakeAzure(t)
	tests := []struct {
		name string
		body string
	}{
		{"client did not ask", `{"model":"a","stream":true,"messages":[{"role":"user","content":"x"}]}`},
		{"client refused", `{"model":"a","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"x"}]}`},
		{"client asked", `{"model":"a","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := build(t, config(up.URL, "gpt-4o", nil)).ChatStream(context.Background(), call(t, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			so, _ := up.last().Body["stream_options"].(map[string]any)
			if so["include_usage"] != true {
				t.Errorf("upstream stream_options %v, want include_usage true", so)
			}
			type got struct {
				Usage     int64
				UsageOnly bool
			}
			var chunks []got
			var text strings.Builder
			for {
				ch, err := s.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				g := got{UsageOnly: ch.UsageOnly}
				if ch.Usage != nil {
					g.Usage = ch.Usage.TotalTokens
				}
				chunks = append(chunks, g)
				var c struct {
					Choices []struct {
						Delta struct{ Content string }
					}
				}
				if err := json.Unmarshal(ch.JSON, &c); err != nil {
					t.Fatalf("chunk %s: %v", ch.JSON, err)
				}
				for _, ch := range c.Choices {
					text.WriteString(ch.Delta.Content)
				}
			}
			// prompt_filter_results, role, content, finish, usage-only.
			want := []got{{}, {}, {}, {}, {Usage: 18, UsageOnly: true}}
			if diff := cmp.Diff(want, chunks); diff != "" {
				t.Errorf("chunks (-want +got):\n%s", diff)
			}
			if text.String() != "hello" {
				t.Errorf("text %q", text.String())
			}
			if err := s.Close(); err != nil {
				t.Errorf("second close: %v", err)
			}
		})
	}
}

func TestEmbed(t *testing.T) {
	up := newFakeAzure(t)
	a := build(t, config(up.URL, "text-embedding-3-small", map[string]string{"deployment": "emb"}))
	e, ok := a.(provider.Embedder)
	if !ok {
		t.Fatalf("%T does not implement provider.Embedder", a)
	}
	body := `{"model":"acct/emb","input":["x"],"dimensions":2}`
	r, err := chat.DecodeEmbeddingRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Embed(context.Background(), &provider.EmbedCall{Request: r, Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	got := up.last()
	if got.Path != "/openai/deployments/emb/embeddings" || got.APIVersion != DefaultAPIVersion || got.APIKey != testKey ||
		got.Raw != `{"model":"emb","input":["x"],"dimensions":2}` {
		t.Errorf("upstream got %+v", got)
	}
	if res.Usage.PromptTokens != 5 || !strings.Contains(string(res.JSON), `"embedding"`) {
		t.Errorf("answer %s usage %+v", res.JSON, res.Usage)
	}
}

func TestUpstreamErrors(t *testing.T) {
	up := newFakeAzure(t)
	tests := []struct {
		name       string
		cfg        provider.Config
		kind       apierr.Kind
		status     int
		code       string
		retryAfter time.Duration
	}{
		{"content filter", config(up.URL, depContentFilter, nil), apierr.KindInvalidRequest, 400, "", 0},
		{"bad request", config(up.URL, depErrorPrefix+"400", nil), apierr.KindInvalidRequest, 400, "", 0},
		{"wrong key", func() provider.Config { c := config(up.URL, "gpt-4o", nil); c.APIKey = "wrong"; return c }(),
			apierr.KindUpstreamBadResponse, 502, "upstream_auth_failed", 0},
		{"api key sent as entra token", config(up.URL, "gpt-4o", map[string]string{"auth": "entra"}),
			apierr.KindUpstreamBadResponse, 502, "upstream_auth_failed", 0},
		{"unknown api version", config(up.URL, "gpt-4o", map[string]string{"api_version": "1999-01-01"}),
			apierr.KindUpstreamBadResponse, 502, "upstream_not_found", 0},
		{"rate limited", config(up.URL, depErrorPrefix+"429", nil), apierr.KindRateLimited, 429, "upstream_rate_limited", 7 * time.Second},
		{"server error", config(up.URL, depErrorPrefix+"500", nil), apierr.KindUpstreamBadResponse, 502, "", 0},
		{"unavailable", config(up.URL, depErrorPrefix+"503", nil), apierr.KindUpstreamUnavailable, 503, "", 0},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tt.name, stream), func(t *testing.T) {
				a := build(t, tt.cfg)
				var err error
				if stream {
					_, err = a.ChatStream(context.Background(), call(t, `{"model":"a","stream":true,"messages":[{"role":"user","content":"x"}]}`))
				} else {
					_, err = a.Chat(context.Background(), call(t, `{"model":"a","messages":[{"role":"user","content":"x"}]}`))
				}
				var e *apierr.Error
				if !errors.As(err, &e) {
					t.Fatalf("err %v is not an *apierr.Error", err)
				}
				got := struct {
					Kind       apierr.Kind
					Status     int
					Code       string
					RetryAfter time.Duration
				}{e.Kind, e.Kind.HTTPStatus(), e.Code, e.RetryAfter}
				want := got
				want.Kind, want.Status, want.Code, want.RetryAfter = tt.kind, tt.status, tt.code, tt.retryAfter
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("error %v (-want +got):\n%s", err, diff)
				}
				if strings.Contains(e.Message, leaked) || !strings.Contains(e.Error(), leaked) {
					t.Errorf("public message %q must hide, and the logged cause keep, the upstream text", e.Message)
				}
			})
		}
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	up := newFakeAzure(t)
	var hit bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit = true
		http.Error(w, "nope", http.StatusTeapot)
	}))
	t.Cleanup(other.Close)
	up.redirectTo = other.URL + "/elsewhere"
	_, err := build(t, config(up.URL, depRedirect, nil)).Chat(context.Background(), call(t, `{"model":"a","messages":[{"role":"user","content":"x"}]}`))
	if e := apierr.From(err); e.Kind != apierr.KindUpstreamBadResponse {
		t.Fatalf("a redirect answered %v; want a bad-gateway error", err)
	}
	if hit {
		t.Error("the redirect was followed: the api-key header could have reached another host")
	}
	if up.last().APIKey != testKey {
		t.Errorf("the resource itself got api-key %q", up.last().APIKey)
	}
}
