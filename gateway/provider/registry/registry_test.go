package registry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

const answer = `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`

// posted is what an upstream saw of one request.
type posted struct {
	Method, URL, Authorization, APIKey string
}

// recorder answers every request with a canned chat completion and records it, without any
// network: it stands in for the providers' public endpoints.
type recorder struct {
	mu   sync.Mutex
	last posted
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	r.mu.Lock()
	r.last = posted{req.Method, req.URL.String(), req.Header.Get("Authorization"), req.Header.Get("api-key")}
	r.mu.Unlock()
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(answer)), Request: req}, nil
}

func (r *recorder) posted() posted {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func chatOnce(t *testing.T, a provider.Adapter) {
	t.Helper()
	body := `{"model":"client-name","messages":[{"role":"user","content":"hi"}]}`
	req, err := chat.DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Chat(context.Background(), &provider.ChatCall{Request: req, Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Usage.TotalTokens != 2 {
		t.Errorf("usage %+v", res.Usage)
	}
}

func TestPresetsUseTheirDocumentedBaseURL(t *testing.T) {
	// The kinds with a documented default base URL, and where a chat request to model "m" with
	// key "k" must go.
	presets := []struct {
		kind string
		want posted
	}{
		{"openai", posted{"POST", "https://api.openai.com/v1/chat/completions", "Bearer k", ""}},
		{"ollama", posted{"POST", "http://localhost:11434/v1/chat/completions", "Bearer k", ""}},
		{"groq", posted{"POST", "https://api.groq.com/openai/v1/chat/completions", "Bearer k", ""}},
		{"mistral", posted{"POST", "https://api.mistral.ai/v1/chat/completions", "Bearer k", ""}},
		{"together", posted{"POST", "https://api.together.xyz/v1/chat/completions", "Bearer k", ""}},
		{"perplexity", posted{"POST", "https://api.perplexity.ai/chat/completions", "Bearer k", ""}},
		{"deepseek", posted{"POST", "https://api.deepseek.com/chat/completions", "Bearer k", ""}},
		{"xai", posted{"POST", "https://api.x.ai/v1/chat/completions", "Bearer k", ""}},
		{"fireworks", posted{"POST", "https://api.fireworks.ai/inference/v1/chat/completions", "Bearer k", ""}},
		{"openrouter", posted{"POST", "https://openrouter.ai/api/v1/chat/completions", "Bearer k", ""}},
		{"lmstudio", posted{"POST", "http://localhost:1234/v1/chat/completions", "Bearer k", ""}},
	}
	for _, tt := range presets {
		t.Run(tt.kind, func(t *testing.T) {
			rec := &recorder{}
			a, err := New(&http.Client{Transport: rec}).Build(provider.Config{Kind: tt.kind, APIKey: "k", Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			chatOnce(t, a)
			if diff := cmp.Diff(tt.want, rec.posted()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBaseURLOverride(t *testing.T) {
	var mu sync.Mutex
	var got posted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = posted{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("api-key")}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		kind     string
		key      string
		settings map[string]string
		want     posted
	}{
		{"deepseek", "k", nil, posted{"POST", "/v1/chat/completions", "Bearer k", ""}},
		{"xai", "k", nil, posted{"POST", "/v1/chat/completions", "Bearer k", ""}},
		{"fireworks", "k", nil, posted{"POST", "/v1/chat/completions", "Bearer k", ""}},
		{"openrouter", "k", nil, posted{"POST", "/v1/chat/completions", "Bearer k", ""}},
		{"lmstudio", "k", nil, posted{"POST", "/v1/chat/completions", "Bearer k", ""}},
		{"lmstudio", "", nil, posted{"POST", "/v1/chat/completions", "", ""}},
		{"vllm", "", nil, posted{"POST", "/v1/chat/completions", "", ""}},
		{"azure-openai", "k", nil, posted{"POST", "/v1/openai/deployments/m/chat/completions?api-version=2024-10-21", "", "k"}},
		{"azure-openai", "tok", map[string]string{"auth": "entra", "deployment": "d"},
			posted{"POST", "/v1/openai/deployments/d/chat/completions?api-version=2024-10-21", "Bearer tok", ""}},
	}
	r := New(srv.Client())
	for _, tt := range tests {
		t.Run(tt.kind+"/key="+tt.key, func(t *testing.T) {
			a, err := r.Build(provider.Config{Kind: tt.kind, BaseURL: srv.URL + "/v1", APIKey: tt.key, Model: "m", Settings: tt.settings})
			if err != nil {
				t.Fatal(err)
			}
			chatOnce(t, a)
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildRefuses(t *testing.T) {
	tests := []struct {
		name    string
		cfg     provider.Config
		wantErr string
	}{
		{"unknown kind", provider.Config{Kind: "azure", Model: "m"}, `unknown provider "azure"`},
		{"empty kind", provider.Config{Model: "m"}, `unknown provider ""`},
		{"self-hosted without a base URL", provider.Config{Kind: "vllm", Model: "m"}, "base URL"},
		{"azure without its resource endpoint", provider.Config{Kind: "azure-openai", APIKey: "k", Model: "m"}, "base URL"},
		{"azure with an unknown setting", provider.Config{Kind: "azure-openai", BaseURL: "https://r.openai.azure.com", APIKey: "k", Model: "m",
			Settings: map[string]string{"resource": "r"}}, `"resource"`},
		{"bedrock with a wrong region", provider.Config{Kind: "bedrock", APIKey: "secret", Model: "anthropic.claude-3-haiku",
			Settings: map[string]string{"region": "us_east_1", "access_key_id": "AKIA"}}, `region "us_east_1"`},
		{"vertex with a service account that is not JSON", provider.Config{Kind: "vertex", APIKey: "not json", Model: "gemini-2.0-flash"}, "vertex"},
	}
	r := New(http.DefaultClient)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := r.Build(tt.cfg)
			if err == nil {
				t.Fatalf("Build succeeded: %T", a)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %s", err, tt.wantErr)
			}
			// Check refuses the same configs, for the Admin API to refuse them on write.
			if err := r.Check(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Check: %v, want an error that says %s", err, tt.wantErr)
			}
		})
	}
	ok := provider.Config{Kind: "bedrock", APIKey: "secret", Model: "anthropic.claude-3-haiku", Settings: map[string]string{"region": "eu-west-1", "access_key_id": "AKIA"}}
	if err := r.Check(ok); err != nil {
		t.Errorf("Check of a valid bedrock model: %v", err)
	}
	if err := r.Validate("azure"); err == nil {
		t.Error(`Validate("azure") succeeded`)
	}
}

func TestKindsListsEveryPreset(t *testing.T) {
	kinds := New(http.DefaultClient).Kinds()
	for _, want := range []string{"azure-openai", "deepseek", "xai", "fireworks", "openrouter", "lmstudio"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("Kinds() = %v lacks %q", kinds, want)
		}
	}
}
