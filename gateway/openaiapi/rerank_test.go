package openaiapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

const (
	rerankKey      = "co-upstream-key"
	rerankUpstream = "rerank-v3.5"
	// rerankSecret is planted in upstream error messages; it must never reach a client.
	rerankSecret = "upstream-secret-detail"
)

// eventRecorder keeps the usage events the pipeline records.
type eventRecorder struct {
	mu  sync.Mutex
	evs []usage.Event
}

func (r *eventRecorder) Record(_ context.Context, e *usage.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, *e)
	r.mu.Unlock()
}

func (r *eventRecorder) events() []usage.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]usage.Event(nil), r.evs...)
}

// fakeCohereRerank is Cohere's POST /v2/rerank. It answers status with a {"message"} body when
// status is not 200, and records the request bodies.
type fakeCohereRerank struct {
	t      *testing.T
	status int
	mu     sync.Mutex
	bodies []map[string]any
}

func (f *fakeCohereRerank) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v2/rerank" {
		f.t.Errorf("upstream got %s %s, want POST /v2/rerank", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+rerankKey {
		f.t.Errorf("Authorization = %q", got)
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.t.Errorf("upstream body: %v", err)
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if f.status != http.StatusOK {
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, `{"message":"internal error `+rerankSecret+`"}`)
		return
	}
	_, _ = io.WriteString(w, `{"id":"07734bd2-2473-4f07-94e1-0d9f0e6843cf",
		"results":[{"index":1,"relevance_score":0.98},{"index":0,"relevance_score":0.12}],
		"meta":{"api_version":{"version":"2"},"billed_units":{"search_units":1}}}`)
}

func (f *fakeCohereRerank) requests() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.bodies...)
}

// rerankHandler returns the /v1 handler on a snapshot with a Cohere rerank model (co/rerank), a
// Cohere chat model (co/chat), and a rerank model whose adapter cannot rerank (oai/rerank), all
// allowed to the key "client-key".
func rerankHandler(t *testing.T, upstreamStatus int) (*Handler, *fakeCohereRerank, *eventRecorder) {
	t.Helper()
	fake := &fakeCohereRerank{t: t, status: upstreamStatus}
	up := httptest.NewServer(fake)
	t.Cleanup(up.Close)
	cfg := &snapshot.Config{
		Accounts: []snapshot.Account{
			{Name: "co", Provider: "cohere", BaseURL: up.URL, APIKey: rerankKey},
			{Name: "oai", Provider: "self-hosted-model", BaseURL: up.URL + "/v1"},
		},
		Models: []snapshot.Model{
			{Account: "co", Name: "rerank", UpstreamModel: rerankUpstream, Types: []string{snapshot.TypeRerank}, Pricing: &snapshot.Pricing{Input: 2000}},
			{Account: "co", Name: "chat", UpstreamModel: "command-a-03-2025"},
			{Account: "oai", Name: "rerank", Types: []string{snapshot.TypeRerank}},
		},
		Users: []snapshot.User{{Name: "alice"}},
		Keys:  []snapshot.Key{{ID: "k1", Hash: snapshot.KeyHash("client-key"), User: "alice"}},
		Rules: []snapshot.Rule{{Name: "all", Models: []string{"*"}, Users: []string{"alice"}}},
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var snaps snapshot.Holder
	snaps.Store(snapshot.Compile(cfg, registry.New(up.Client()), nil, logger))
	rec := &eventRecorder{}
	return New(pipeline.New(&snaps, rec, logger), logger, 0), fake, rec
}

func serveRerank(h *Handler, method, key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/v1/rerank", strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRerank(t *testing.T) {
	h, fake, rec := rerankHandler(t, http.StatusOK)
	resp := serveRerank(h, http.MethodPost, "client-key", `{"model":"co/rerank","query":"capital of France?",
		"documents":["Berlin is in Germany.",{"text":"Paris is the capital of France."}],"top_n":2,"return_documents":true}`)
	if resp.Code != http.StatusOK {
		t.Fatalf("status %d: %s", resp.Code, resp.Body)
	}
	if ct := resp.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var got, want map[string]any
	if err := json.Unmarshal(resp.Body.Bytes(), &got); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	_ = json.Unmarshal([]byte(`{"id":"07734bd2-2473-4f07-94e1-0d9f0e6843cf","model":"rerank-v3.5",
		"results":[{"index":1,"relevance_score":0.98,"document":{"text":"Paris is the capital of France."}},
			{"index":0,"relevance_score":0.12,"document":{"text":"Berlin is in Germany."}}],
		"meta":{"billed_units":{"search_units":1}},"usage":{"search_units":1}}`), &want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answer mismatch (-want +got):\n%s", diff)
	}
	var wantUp map[string]any
	_ = json.Unmarshal([]byte(`{"model":"rerank-v3.5","query":"capital of France?","top_n":2,
		"documents":["Berlin is in Germany.","Paris is the capital of France."]}`), &wantUp)
	if reqs := fake.requests(); len(reqs) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(reqs))
	} else if diff := cmp.Diff(wantUp, reqs[0]); diff != "" {
		t.Errorf("upstream request mismatch (-want +got):\n%s", diff)
	}
	evs := rec.events()
	if len(evs) != 1 {
		t.Fatalf("%d usage events, want exactly 1: %+v", len(evs), evs)
	}
	ev := evs[0]
	if ev.Operation != "rerank" || ev.Model != "co/rerank" || ev.User != "alice" || ev.KeyID != "k1" || ev.Status != "ok" || ev.HTTPStatus != 200 || ev.UsageMissing || ev.Stream {
		t.Errorf("event = %+v", ev)
	}
	if diff := cmp.Diff(chat.Usage{PromptTokens: 1, TotalTokens: 1}, ev.Usage); diff != "" {
		t.Errorf("usage mismatch (-want +got):\n%s", diff)
	}
	// One search at $2000 per million searches is $0.002.
	if !ev.Priced || ev.CostUSD < 0.002-1e-12 || ev.CostUSD > 0.002+1e-12 {
		t.Errorf("cost = %v (priced %v), want 0.002", ev.CostUSD, ev.Priced)
	}
}

func TestRerankErrors(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		key        string
		body       string
		upstream   int
		wantStatus int
		wantParam  string
		wantCode   string
		wantEvents int // usage events: only requests that reached a provider record one
	}{
		{"wrong method", http.MethodGet, "client-key", "", http.StatusOK, http.StatusMethodNotAllowed, "", "method_not_allowed", 0},
		{"no key", http.MethodPost, "", `{"model":"co/rerank","query":"q","documents":["a"]}`, http.StatusOK, http.StatusUnauthorized, "", "invalid_api_key", 0},
		{"not JSON", http.MethodPost, "client-key", `{"model":`, http.StatusOK, http.StatusBadRequest, "", "", 0},
		{"no model", http.MethodPost, "client-key", `{"query":"q","documents":["a"]}`, http.StatusOK, http.StatusBadRequest, "model", "", 0},
		{"no query", http.MethodPost, "client-key", `{"model":"co/rerank","documents":["a"]}`, http.StatusOK, http.StatusBadRequest, "query", "", 0},
		{"query not a string", http.MethodPost, "client-key", `{"model":"co/rerank","query":5,"documents":["a"]}`, http.StatusOK, http.StatusBadRequest, "query", "", 0},
		{"no documents", http.MethodPost, "client-key", `{"model":"co/rerank","query":"q","documents":[]}`, http.StatusOK, http.StatusBadRequest, "documents", "", 0},
		{"document without text", http.MethodPost, "client-key", `{"model":"co/rerank","query":"q","documents":["a",{"title":"b"}]}`, http.StatusOK, http.StatusBadRequest, "documents[1]", "", 0},
		{"top_n zero", http.MethodPost, "client-key", `{"model":"co/rerank","query":"q","documents":["a"],"top_n":0}`, http.StatusOK, http.StatusBadRequest, "top_n", "", 0},
		{"unsupported member", http.MethodPost, "client-key", `{"model":"co/rerank","query":"q","documents":["a"],"rank_fields":["title"]}`, http.StatusOK, http.StatusBadRequest, "rank_fields", "", 0},
		{"unknown model", http.MethodPost, "client-key", `{"model":"co/nope","query":"q","documents":["a"]}`, http.StatusOK, http.StatusNotFound, "model", "model_not_found", 0},
		{"chat model", http.MethodPost, "client-key", `{"model":"co/chat","query":"q","documents":["a"]}`, http.StatusOK, http.StatusBadRequest, "model", "", 0},
		{"adapter cannot rerank", http.MethodPost, "client-key", `{"model":"oai/rerank","query":"q","documents":["a"]}`, http.StatusOK, http.StatusBadRequest, "model", "", 0},
		{"upstream fails", http.MethodPost, "client-key", `{"model":"co/rerank","query":"q","documents":["a"]}`, http.StatusInternalServerError, http.StatusBadGateway, "", "upstream_error", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, fake, rec := rerankHandler(t, tt.upstream)
			resp := serveRerank(h, tt.method, tt.key, tt.body)
			if resp.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", resp.Code, tt.wantStatus, resp.Body)
			}
			var body struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(resp.Body.Bytes(), &body); err != nil || body.Error.Message == "" {
				t.Fatalf("body is not an OpenAI error: %s", resp.Body)
			}
			param, code := "", ""
			if body.Error.Param != nil {
				param = *body.Error.Param
			}
			if body.Error.Code != nil {
				code = *body.Error.Code
			}
			if param != tt.wantParam || code != tt.wantCode {
				t.Errorf("param, code = %q, %q; want %q, %q (%s)", param, code, tt.wantParam, tt.wantCode, resp.Body)
			}
			if strings.Contains(resp.Body.String(), rerankSecret) {
				t.Errorf("the answer quotes the upstream: %s", resp.Body)
			}
			evs := rec.events()
			if len(evs) != tt.wantEvents {
				t.Fatalf("%d usage events, want %d: %+v", len(evs), tt.wantEvents, evs)
			}
			if tt.wantEvents == 1 && (!evs[0].UsageMissing || evs[0].HTTPStatus != tt.wantStatus || evs[0].Operation != "rerank") {
				t.Errorf("event = %+v", evs[0])
			}
			if tt.wantEvents == 0 && len(fake.requests()) != 0 {
				t.Errorf("the upstream was called for a request the gateway refuses")
			}
		})
	}
}
