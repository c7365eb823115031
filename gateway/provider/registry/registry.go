// Package registry is the one place that knows every provider kind: a map from kind to the
// adapter factory. Everything else asks the registry or an adapter, never switches on a kind.
package registry

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/provider/provideranthropic"
	"github.com/llmgw/llmgw/gateway/provider/providerazure"
	"github.com/llmgw/llmgw/gateway/provider/providerbedrock"
	"github.com/llmgw/llmgw/gateway/provider/providercohere"
	"github.com/llmgw/llmgw/gateway/provider/providergoogle"
	"github.com/llmgw/llmgw/gateway/provider/providermock"
	"github.com/llmgw/llmgw/gateway/provider/provideropenai"
)

// openAICompatible returns a factory for an OpenAI-compatible kind with a default base URL
// ("" when the server is self-hosted and the URL must be configured).
func openAICompatible(defaultBaseURL string) provider.Factory {
	return func(cfg provider.Config) (provider.Adapter, error) {
		return provideropenai.New(cfg, defaultBaseURL)
	}
}

// openAI is OpenAI itself: the compatible adapter with OpenAI's Files and Batch APIs, whose
// tokens cost half the standard price.
func openAI(cfg provider.Config) (provider.Adapter, error) {
	a, err := provideropenai.New(cfg, provideropenai.DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	return provideropenai.Batching(a, provideropenai.BatchAPI{Root: a.BaseURL(), PriceFactor: 0.5})
}

// builtin is every provider kind the gateway supports.
func builtin() map[string]provider.Factory {
	return map[string]provider.Factory{
		"openai":            openAI,
		"self-hosted-model": openAICompatible(""),
		"vllm":              openAICompatible(""),
		"tgi":               openAICompatible(""),
		"ollama":            openAICompatible("http://localhost:11434/v1"),
		"groq":              openAICompatible("https://api.groq.com/openai/v1"),
		"mistral":           openAICompatible("https://api.mistral.ai/v1"),
		"together":          openAICompatible("https://api.together.xyz/v1"),
		"perplexity":        openAICompatible("https://api.perplexity.ai"),
		"anthropic":         provideranthropic.New,
		"bedrock":           providerbedrock.New,
		"cohere":            providercohere.New,
		"gemini":            providergoogle.NewGemini,
		"vertex":            providergoogle.NewVertex,
		"vertex-anthropic":  providergoogle.NewVertexAnthropic,
		"mock": func(cfg provider.Config) (provider.Adapter, error) {
			return providermock.New(cfg)
		},
		// DeepSeek documents https://api.deepseek.com as its OpenAI base URL (/v1 is an accepted alias).
		"deepseek":     openAICompatible("https://api.deepseek.com"),
		"xai":          openAICompatible("https://api.x.ai/v1"),
		"fireworks":    openAICompatible("https://api.fireworks.ai/inference/v1"),
		"openrouter":   openAICompatible("https://openrouter.ai/api/v1"),
		"lmstudio":     openAICompatible("http://localhost:1234/v1"), // a local server; no key by default
		"azure-openai": providerazure.New,
	}
}

// Registry builds adapters. It is safe for concurrent use.
type Registry struct {
	factories map[string]provider.Factory
	client    *http.Client
	creds     provider.Credentials // exchanged credentials, kept across snapshot rebuilds
}

// New returns the registry of built-in kinds; every adapter shares client.
func New(client *http.Client) *Registry {
	return &Registry{factories: builtin(), client: client}
}

// Kinds lists the supported kinds, sorted.
func (r *Registry) Kinds() []string {
	kinds := make([]string, 0, len(r.factories))
	for k := range r.factories {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// Validate reports whether kind is supported.
func (r *Registry) Validate(kind string) error {
	if _, ok := r.factories[kind]; !ok {
		return fmt.Errorf("unknown provider %q; supported: %v", kind, r.Kinds())
	}
	return nil
}

// Check reports whether an adapter can be built for cfg: the kind is known and the adapter
// accepts the settings, URL and secret. It makes no network call and caches no credential, so
// the Admin API can refuse a model that would only answer 503.
func (r *Registry) Check(cfg provider.Config) error {
	f, ok := r.factories[cfg.Kind]
	if !ok {
		return r.Validate(cfg.Kind)
	}
	cfg.HTTPClient, cfg.Credentials = r.client, nil
	_, err := f(cfg)
	return err
}

// Build returns the adapter for cfg, with the shared HTTP client filled in.
func (r *Registry) Build(cfg provider.Config) (provider.Adapter, error) {
	f, ok := r.factories[cfg.Kind]
	if !ok {
		return nil, r.Validate(cfg.Kind)
	}
	cfg.HTTPClient, cfg.Credentials = r.client, &r.creds
	return f(cfg)
}
