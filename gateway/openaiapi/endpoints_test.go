package openaiapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

type eventLog struct {
	mu  sync.Mutex
	evs []usage.Event
}

func (l *eventLog) Record(_ context.Context, e *usage.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, *e)
	l.mu.Unlock()
}

// byRequest waits briefly for request id's events and returns them.
func (l *eventLog) byRequest(id string) []usage.Event {
	var out []usage.Event
	for range 100 {
		l.mu.Lock()
		out = out[:0]
		for _, e := range l.evs {
			if e.RequestID == id || e.ClientRequestID == id { // the server's id, or the one the client sent
				out = append(out, e)
			}
		}
		l.mu.Unlock()
		if len(out) > 0 {
			return out
		}
		time.Sleep(5 * time.Millisecond)
	}
	return out
}

// forwardServer is the /v1 handler, served over HTTP, in front of the fake OpenAI (account
// "oai"), the mock provider (which has no forwarded endpoints) and an upstream that breaks its
// answers ("broken").
func forwardServer(t *testing.T) (*httptest.Server, *providertest.OpenAI, *eventLog) {
	t.Helper()
	up := providertest.NewOpenAI(t)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, `{"results":[`)
		// Return without the promised bytes: the client connection is cut short.
	}))
	t.Cleanup(broken.Close)
	cfg := &snapshot.Config{
		Accounts: []snapshot.Account{
			{Name: "oai", Provider: "openai", BaseURL: up.BaseURL(), APIKey: "sk-central"},
			{Name: "mock", Provider: "mock"},
			{Name: "broken", Provider: "self-hosted-model", BaseURL: broken.URL + "/v1"},
		},
		Models: []snapshot.Model{
			{Account: "oai", Name: "instruct", UpstreamModel: "gpt-3.5-turbo-instruct"},
			{Account: "oai", Name: "cut", UpstreamModel: providertest.ModelCut},
			{Account: "oai", Name: "img", UpstreamModel: "gpt-image-1"},
			{Account: "oai", Name: "tts", UpstreamModel: "gpt-4o-mini-tts"},
			{Account: "oai", Name: "mod", UpstreamModel: "omni-moderation-latest", Types: []string{snapshot.TypeEmbedding}},
			{Account: "oai", Name: "err429", UpstreamModel: providertest.ModelErrorPrefix + "429"},
			{Account: "mock", Name: "echo"},
			{Account: "broken", Name: "mod", UpstreamModel: "m"},
		},
		AdminTokenHash: snapshot.KeyHash("tok"),
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var snaps snapshot.Holder
	snaps.Store(snapshot.Compile(cfg, registry.New(http.DefaultClient), nil, logger))
	rec := &eventLog{}
	srv := httptest.NewServer(New(pipeline.New(&snaps, rec, logger), logger, 1<<20))
	t.Cleanup(srv.Close)
	return srv, up, rec
}

func multipartBody(t *testing.T, fields map[string]string, file []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	if file != nil {
		p, _ := w.CreateFormFile("image", "in.png")
		_, _ = p.Write(file)
	}
	_ = w.Close()
	return w.FormDataContentType(), b.Bytes()
}

func post(t *testing.T, srv *httptest.Server, method, path, ct string, body []byte, id string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("X-Request-Id", id)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestForwardedEndpoints(t *testing.T) {
	srv, up, rec := forwardServer(t)
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00binary\r\n--x")
	imgCT, imgBody := multipartBody(t, map[string]string{"model": "oai/img", "prompt": "add a hat"}, png)
	noModelCT, noModelBody := multipartBody(t, map[string]string{"prompt": "add a hat"}, png)
	tests := []struct {
		name, method, path, ct, body string
		wantStatus                   int
		wantCT                       string
		wantIn                       []string // substrings of the answer
		wantNotIn                    string
		wantUpstream                 string // the model the upstream got; "" when none is called
		wantEvent                    bool
		wantUsage                    int64 // the event's total tokens
		wantEstimated                bool  // counted by the gateway: the upstream reported none
	}{
		{name: "completion", path: "/v1/completions", body: `{"model":"oai/instruct","prompt":"hi there"}`,
			wantStatus: 200, wantCT: "application/json", wantIn: []string{`"text":"echo: hi there"`}, wantUpstream: "gpt-3.5-turbo-instruct", wantEvent: true, wantUsage: 10},
		{name: "completion stream hides the usage it asked for", path: "/v1/completions", body: `{"model":"oai/instruct","prompt":"a b","stream":true}`,
			wantStatus: 200, wantCT: "text/event-stream", wantIn: []string{`"text":"echo:"`, `"text":" b"`, "data: [DONE]\n\n"}, wantNotIn: `"usage"`, wantUpstream: "gpt-3.5-turbo-instruct", wantEvent: true, wantUsage: 10},
		{name: "a cut stream ends with an error event", path: "/v1/completions", body: `{"model":"oai/cut","prompt":"a b c","stream":true}`,
			wantStatus: 200, wantCT: "text/event-stream", wantIn: []string{`"text":"echo:"`, "\ndata: {\"error\":{"}, wantNotIn: "[DONE]", wantUpstream: providertest.ModelCut, wantEvent: true,
			// Estimated by bytes (the fake model has no tokenizer): the prompt "a b c" is 2
			// tokens, the text streamed before the cut ("echo:", " a") 2.
			wantUsage: 4, wantEstimated: true},
		{name: "moderation on an embedding-typed model", path: "/v1/moderations", body: `{"model":"oai/mod","input":"violent words"}`,
			wantStatus: 200, wantCT: "application/json", wantIn: []string{`"flagged":true`}, wantUpstream: "omni-moderation-latest", wantEvent: true},
		{name: "image generation", path: "/v1/images/generations", body: `{"model":"oai/img","prompt":"a fox"}`,
			wantStatus: 200, wantCT: "application/json", wantIn: []string{`"b64_json"`}, wantUpstream: "gpt-image-1", wantEvent: true, wantUsage: 150},
		{name: "image edit", path: "/v1/images/edits", ct: imgCT, body: string(imgBody),
			wantStatus: 200, wantCT: "application/json", wantIn: []string{`"b64_json"`}, wantUpstream: "gpt-image-1", wantEvent: true, wantUsage: 150},
		{name: "speech", path: "/v1/audio/speech", body: `{"model":"oai/tts","input":"hello","voice":"alloy"}`,
			wantStatus: 200, wantCT: "audio/mpeg", wantIn: []string{providertest.FakeSpeech + "hello"}, wantUpstream: "gpt-4o-mini-tts", wantEvent: true},
		{name: "no model in JSON", path: "/v1/moderations", body: `{"input":"x"}`, wantStatus: 400, wantIn: []string{`"param":"model"`}},
		{name: "a model that is not a string", path: "/v1/completions", body: `{"model":7,"prompt":"x"}`, wantStatus: 400, wantIn: []string{`"param":"model"`}},
		{name: "no model in the form", path: "/v1/images/edits", ct: noModelCT, body: string(noModelBody), wantStatus: 400, wantIn: []string{`"param":"model"`}},
		{name: "malformed JSON", path: "/v1/images/generations", body: `{"model":`, wantStatus: 400, wantIn: []string{`"invalid_request_error"`}},
		{name: "multipart without a boundary", path: "/v1/audio/transcriptions", ct: "multipart/form-data", body: "x", wantStatus: 400, wantIn: []string{"boundary"}},
		{name: "malformed multipart", path: "/v1/audio/transcriptions", ct: "multipart/form-data; boundary=zz", body: "--zz\r\nbroken", wantStatus: 400, wantIn: []string{"malformed"}},
		{name: "a provider without the endpoint", path: "/v1/audio/speech", body: `{"model":"mock/echo","input":"x"}`,
			wantStatus: 400, wantIn: []string{`does not support audio/speech`, `"param":"model"`, "mock/echo"}},
		{name: "completions need a chat model", path: "/v1/completions", body: `{"model":"oai/mod","prompt":"x"}`, wantStatus: 400, wantIn: []string{`"param":"model"`}},
		{name: "unknown model", path: "/v1/moderations", body: `{"model":"oai/none","input":"x"}`, wantStatus: 404, wantIn: []string{`"model_not_found"`}},
		{name: "upstream rate limit", path: "/v1/audio/speech", body: `{"model":"oai/err429","input":"x"}`, wantStatus: 429, wantIn: []string{"rate_limit"}, wantNotIn: providertest.LeakedKey,
			wantUpstream: providertest.ModelErrorPrefix + "429", wantEvent: true},
		{name: "wrong method", method: "GET", path: "/v1/audio/transcriptions", wantStatus: 405, wantIn: []string{"method_not_allowed"}},
		{name: "too large", path: "/v1/moderations", body: `{"model":"oai/mod","input":"` + strings.Repeat("x", 1<<20) + `"}`, wantStatus: 413},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "req-forward-" + string(rune('a'+i))
			method, ct := tt.method, tt.ct
			if method == "" {
				method = "POST"
			}
			if ct == "" {
				ct = "application/json"
			}
			before := len(up.Requests())
			resp, got, err := post(t, srv, method, tt.path, ct, []byte(tt.body), id)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if resp.StatusCode != tt.wantStatus || (tt.wantCT != "" && resp.Header.Get("Content-Type") != tt.wantCT) {
				t.Fatalf("status %d %q, want %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), tt.wantStatus, tt.wantCT, got)
			}
			if tt.wantStatus == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
			for _, s := range tt.wantIn {
				if !bytes.Contains(got, []byte(s)) {
					t.Errorf("answer lacks %q:\n%s", s, got)
				}
			}
			if tt.wantNotIn != "" && bytes.Contains(got, []byte(tt.wantNotIn)) {
				t.Errorf("answer has %q:\n%s", tt.wantNotIn, got)
			}
			if tt.wantStatus/100 != 2 && !json.Valid(got) {
				t.Errorf("error body is not JSON: %s", got)
			}
			reqs := up.Requests()
			if tt.wantUpstream == "" && len(reqs) != before {
				t.Errorf("the upstream was called")
			}
			if tt.wantUpstream != "" && (len(reqs) != before+1 || reqs[before].Body["model"] != tt.wantUpstream || reqs[before].Authorization != "Bearer sk-central") {
				t.Errorf("upstream requests %+v, want one for %q", reqs[before:], tt.wantUpstream)
			}
			if !tt.wantEvent {
				return
			}
			evs := rec.byRequest(id)
			if len(evs) != 1 {
				t.Fatalf("%d usage events, want 1", len(evs))
			}
			if ev := evs[0]; ev.Usage.TotalTokens != tt.wantUsage || ev.UsageMissing != (tt.wantUsage == 0) || ev.UsageEstimated != tt.wantEstimated || ev.Operation != strings.TrimPrefix(tt.path, "/v1/") {
				t.Errorf("event %+v", ev)
			}
		})
	}
}

func TestForwardedAnswerBrokenMidwayIsNotACleanEnd(t *testing.T) {
	srv, _, rec := forwardServer(t)
	// The gateway aborts the connection: the client fails at the headers or in the body.
	resp, got, err := post(t, srv, "POST", "/v1/moderations", "application/json", []byte(`{"model":"broken/mod","input":"x"}`), "req-broken")
	if err == nil {
		t.Errorf("the client read a clean answer (%d): %s", resp.StatusCode, got)
	}
	evs := rec.byRequest("req-broken")
	if len(evs) != 1 || evs[0].Status == "ok" || !evs[0].UsageMissing {
		t.Errorf("events %+v, want one failed", evs)
	}
}
