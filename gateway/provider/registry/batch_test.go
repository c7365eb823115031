package registry

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/provider"
)

// TestBatchers checks which kinds serve files and batches, and where each sends them.
func TestBatchers(t *testing.T) {
	rec := &recorder{}
	r := New(&http.Client{Transport: rec})
	for _, tt := range []struct {
		kind, baseURL string
		settings      map[string]string
		model         string // BatchTarget("/v1/chat/completions")
		endpoint      string
		want          posted // a GET of files/file-1 with the client's limit
	}{
		{"openai", "", nil, "gpt-4o-mini", "/v1/chat/completions",
			posted{"GET", "https://api.openai.com/v1/files/file-1?limit=5", "Bearer k", ""}},
		{"azure-openai", "https://res.openai.azure.com", map[string]string{"deployment": "batch-dep", "api_version": "2025-03-01-preview"}, "batch-dep", "/chat/completions",
			posted{"GET", "https://res.openai.azure.com/openai/files/file-1?api-version=2025-03-01-preview&limit=5", "", "k"}},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			a, err := r.Build(provider.Config{Kind: tt.kind, BaseURL: tt.baseURL, APIKey: "k", Model: "gpt-4o-mini", Settings: tt.settings})
			if err != nil {
				t.Fatal(err)
			}
			b, ok := a.(provider.Batcher)
			if !ok {
				t.Fatalf("%s is not a Batcher", tt.kind)
			}
			if _, ok := a.(provider.Forwarder); !ok {
				t.Errorf("%s lost its other endpoints", tt.kind)
			}
			if model, endpoint := b.BatchTarget("/v1/chat/completions"); model != tt.model || endpoint != tt.endpoint || b.BatchPriceFactor() != 0.5 {
				t.Errorf("model %q endpoint %q factor %v", model, endpoint, b.BatchPriceFactor())
			}
			resp, err := b.BatchDo(context.Background(), &provider.BatchRequest{Method: http.MethodGet, Path: "files/file-1", Query: url.Values{"limit": {"5"}}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if rec.last != tt.want {
				t.Errorf("sent %+v; want %+v", rec.last, tt.want)
			}
		})
	}
	// Kinds without OpenAI's batch API must not claim it: their models are refused by name.
	for _, kind := range []string{"groq", "vllm", "mistral", "anthropic"} {
		a, err := r.Build(provider.Config{Kind: kind, BaseURL: "https://example.com/v1", APIKey: "k", Model: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := a.(provider.Batcher); ok {
			t.Errorf("%s claims a batch API", kind)
		}
	}
	if _, err := r.Build(provider.Config{Kind: "openai", BaseURL: "ftp://x", APIKey: "k", Model: "m"}); err == nil || !strings.Contains(err.Error(), "http") {
		t.Errorf("a bad base URL: %v", err)
	}
}
