package anthropicapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/catalog"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

// brokenChat is a chat model whose stream sends one text chunk, then fails.
type brokenChat struct{}

func (brokenChat) Chat(context.Context, *provider.ChatCall) (*provider.ChatResult, error) {
	return nil, provider.StatusError(503, "", nil)
}

func (brokenChat) ChatStream(context.Context, *provider.ChatCall) (provider.ChatStream, error) {
	return &brokenStream{}, nil
}

type brokenStream struct{ n int }

func (s *brokenStream) Recv() (provider.Chunk, error) {
	s.n++
	if s.n == 1 {
		return provider.Chunk{JSON: []byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"par"}}]}`)}, nil
	}
	return provider.Chunk{}, provider.BadResponse(errors.New("cut"))
}

func (s *brokenStream) Close() error { return nil }

// failingNative is a native Messages model whose stream fails before its first event.
type failingNative struct{ brokenChat }

func (failingNative) Messages(context.Context, *provider.MessagesCall) (*provider.MessagesResult, error) {
	return nil, provider.StatusError(429, "7", nil)
}

func (failingNative) MessagesStream(context.Context, *provider.MessagesCall) (provider.MessagesStream, error) {
	return &failingStream{}, nil
}

func (failingNative) CountTokens(context.Context, *provider.MessagesCall) (*provider.CountTokensResult, error) {
	return nil, provider.StatusError(500, "", nil)
}

type failingStream struct{}

func (failingStream) Recv() (provider.MessagesEvent, error) {
	return provider.MessagesEvent{}, provider.StatusError(529, "", nil)
}

func (failingStream) Close() error { return nil }

type builder struct{}

func (builder) Build(cfg provider.Config) (provider.Adapter, error) {
	if cfg.Model == "native" {
		return failingNative{}, nil
	}
	return brokenChat{}, nil
}

type discard struct{}

func (discard) Record(context.Context, *usage.Event) {}

func newHandler(t *testing.T) http.Handler {
	t.Helper()
	var h snapshot.Holder
	cat, err := catalog.Parse([]byte("version: 1\nmodels: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h.Store(snapshot.Compile(&snapshot.Config{
		Accounts: []snapshot.Account{{Name: "acct", Provider: "x"}},
		Models:   []snapshot.Model{{Account: "acct", Name: "broken"}, {Account: "acct", Name: "native"}},
		Users:    []snapshot.User{{Name: "u"}},
		Keys:     []snapshot.Key{{ID: "k1", Hash: snapshot.KeyHash("secret"), User: "u"}},
		Rules:    []snapshot.Rule{{Name: "r", Models: []string{"*"}, Users: []string{"u"}}},
	}, builder{}, cat, logger))
	return New(pipeline.New(&h, discard{}, logger), logger, 1024)
}

func TestHandler(t *testing.T) {
	h := newHandler(t)
	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		want                     []string // substrings of the body, in order
	}{
		{"x-api-key is accepted", "POST", "/v1/messages", `{"model":"acct/broken","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
			map[string]string{"x-api-key": "secret"}, 503, []string{`{"type":"error","error":{"type":"overloaded_error"`}},
		{"no key", "POST", "/v1/messages", `{}`, nil, 401, []string{`"type":"authentication_error"`}},
		{"body over the limit", "POST", "/v1/messages", `{"model":"` + strings.Repeat("x", 2000) + `"}`,
			map[string]string{"x-api-key": "secret"}, 413, []string{`"type":"request_too_large"`}},
		{"wrong method", "GET", "/v1/messages", ``, nil, 405, []string{`"type":"invalid_request_error"`, "use POST"}},
		{"unknown path", "POST", "/v1/messages/batches", `{}`, nil, 404, []string{`"type":"not_found_error"`}},
		{"a translated stream that breaks ends with an error event", "POST", "/v1/messages",
			`{"model":"acct/broken","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			map[string]string{"Authorization": "Bearer secret"}, 200,
			[]string{"event: message_start", `"text_delta","text":"par"`, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\""}},
		{"a native stream that fails at once gets its status", "POST", "/v1/messages",
			`{"model":"acct/native","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			map[string]string{"x-api-key": "secret"}, 503, []string{`"type":"overloaded_error"`}},
		{"a native upstream 429 stays 429", "POST", "/v1/messages",
			`{"model":"acct/native","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
			map[string]string{"x-api-key": "secret"}, 429, []string{`"type":"rate_limit_error"`}},
		{"count_tokens on a translated model", "POST", "/v1/messages/count_tokens",
			`{"model":"acct/broken","messages":[{"role":"user","content":"hi"}]}`,
			map[string]string{"x-api-key": "secret"}, 400, []string{"count_tokens is only available for anthropic models"}},
		{"count_tokens upstream failure", "POST", "/v1/messages/count_tokens",
			`{"model":"acct/native","messages":[{"role":"user","content":"hi"}]}`,
			map[string]string{"x-api-key": "secret"}, 502, []string{`"type":"api_error"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.status, body)
			}
			rest := body
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("body lacks %q (in order):\n%s", w, body)
				}
				rest = rest[i+len(w):]
			}
			if strings.Contains(body, "message_stop") && strings.Contains(body, "event: error") {
				t.Errorf("a broken stream also ended cleanly:\n%s", body)
			}
			if rec.Header().Get("Request-Id") == "" {
				t.Error("no Request-Id header")
			}
		})
	}
}

// A refusal streamed as text keeps its place as text.
func TestStreamerRefusal(t *testing.T) {
	s := NewStreamer("m")
	r := "no"
	stop := chat.FinishContentFilter
	if err := s.Chunk(provider.Chunk{JSON: mustJSON(t, chat.Chunk{ID: "c", Choices: []chat.ChunkChoice{{Delta: chat.Delta{Refusal: &r}, FinishReason: &stop}}})}); err != nil {
		t.Fatal(err)
	}
	if err := s.End(); err != nil {
		t.Fatal(err)
	}
	out := string(s.Out)
	if !strings.Contains(out, `"text_delta","text":"no"`) || !strings.Contains(out, `"stop_reason":"refusal"`) {
		t.Errorf("events:\n%s", out)
	}
	if err := NewStreamer("m").Chunk(provider.Chunk{JSON: []byte(`{oops`)}); err == nil {
		t.Error("an undecodable chunk was accepted")
	}
}

func mustJSON(t *testing.T, c chat.Chunk) []byte {
	t.Helper()
	return chunk(t, c).JSON
}
