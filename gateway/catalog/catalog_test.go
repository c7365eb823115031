package catalog

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
)

func TestEmbeddedCatalogLoads(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct{ provider, model string }{
		{"openai", "gpt-4o"}, {"openai", "gpt-4o-2024-08-06"}, {"azure-openai", "gpt-4o-mini"},
		{"anthropic", "claude-sonnet-4-5"}, {"gemini", "gemini-2.5-flash"}, {"mock", "echo"},
	} {
		e, ok := c.Lookup(k.provider, k.model)
		if !ok {
			t.Errorf("%s/%s not found", k.provider, k.model)
			continue
		}
		if _, ok := e.PriceAt(time.Now()); !ok || e.ContextWindow == 0 {
			t.Errorf("%s/%s: no current price or context window", k.provider, k.model)
		}
	}
	if _, ok := c.Lookup("anthropic", "gpt-4o"); ok {
		t.Error("a model was found under the wrong provider")
	}
}

func TestCost(t *testing.T) {
	p := Price{Input: 3, Output: 15, CachedInput: 0.30}
	u := chat.Usage{PromptTokens: 1_000_000, CompletionTokens: 100_000, PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 400_000}}
	// 600k uncached * $3 + 400k cached * $0.30 + 100k out * $15, per million.
	if got, want := p.Cost(u), 1.8+0.12+1.5; math.Abs(got-want) > 1e-9 {
		t.Errorf("cost %v, want %v", got, want)
	}
	noCachePrice := Price{Input: 2, Output: 8}
	if got, want := noCachePrice.Cost(u), 2.0+0.8; math.Abs(got-want) > 1e-9 {
		t.Errorf("cost without a cached price %v, want %v (cached tokens at the input price)", got, want)
	}
}

func TestCostPricesCacheWrites(t *testing.T) {
	p := Price{Input: 3, Output: 15, CachedInput: 0.30, CacheWrite: 3.75}
	u := chat.Usage{PromptTokens: 1_000_000, CompletionTokens: 100_000, CacheWriteTokens: 200_000,
		PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 400_000}}
	// 400k plain * $3 + 400k read * $0.30 + 200k written * $3.75 + 100k out * $15, per million.
	if got, want := p.Cost(u), 1.2+0.12+0.75+1.5; math.Abs(got-want) > 1e-9 {
		t.Errorf("cost %v, want %v", got, want)
	}
	noWritePrice := Price{Input: 3, Output: 15, CachedInput: 0.30}
	if got, want := noWritePrice.Cost(u), 1.8+0.12+1.5; math.Abs(got-want) > 1e-9 {
		t.Errorf("cost without a cache-write price %v, want %v (written tokens at the input price)", got, want)
	}
	// One-hour writes are priced at CacheWrite1h; without it, at CacheWrite.
	u.CacheWrite1hTokens = 50_000
	p1h := p
	p1h.CacheWrite1h = 6
	if got, want := p1h.Cost(u), 1.2+0.12+0.5625+0.3+1.5; math.Abs(got-want) > 1e-9 {
		t.Errorf("cost with one-hour writes %v, want %v", got, want)
	}
	if got, want := p.Cost(u), 1.2+0.12+0.75+1.5; math.Abs(got-want) > 1e-9 {
		t.Errorf("cost without a one-hour price %v, want %v (one-hour writes at the cache-write price)", got, want)
	}
	// Reasoning tokens are part of completion tokens: priced once, at the output price.
	r := chat.Usage{PromptTokens: 0, CompletionTokens: 1_000_000, CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: 600_000}}
	if got, want := p.Cost(r), 15.0; math.Abs(got-want) > 1e-9 {
		t.Errorf("reasoning cost %v, want %v", got, want)
	}
}

func TestEmbeddedAnthropicPricesCacheWrites(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"} {
		e, ok := c.Lookup("anthropic", m)
		if !ok {
			t.Fatalf("%s not found", m)
		}
		p, _ := e.PriceAt(time.Now())
		if math.Abs(p.CacheWrite-1.25*p.Input) > 1e-9 || math.Abs(p.CacheWrite1h-2*p.Input) > 1e-9 {
			t.Errorf("%s: cache_write %v and cache_write_1h %v, want 1.25 and 2 x input %v", m, p.CacheWrite, p.CacheWrite1h, p.Input)
		}
	}
}

func TestPriceAtFollowsEffectiveDates(t *testing.T) {
	c, err := Parse([]byte(`version: 1
models:
  - {provider: p, model: m, type: chat, prices: [{effective: 2025-01-01, input: 1, output: 2}, {effective: 2025-06-01, input: 0.5, output: 1}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := c.Lookup("p", "m")
	tests := []struct {
		at    string
		input float64
		ok    bool
	}{{"2024-12-31", 0, false}, {"2025-01-01", 1, true}, {"2025-05-31", 1, true}, {"2025-06-01", 0.5, true}, {"2026-01-01", 0.5, true}}
	for _, tt := range tests {
		at, _ := time.Parse(time.DateOnly, tt.at)
		p, ok := e.PriceAt(at)
		if ok != tt.ok || p.Input != tt.input {
			t.Errorf("PriceAt(%s) = %v, %v; want input %v, %v", tt.at, p, ok, tt.input, tt.ok)
		}
	}
}

func TestParseRejectsBadData(t *testing.T) {
	tests := map[string]string{
		"unknown field":       "version: 1\nmodels:\n  - {provider: p, model: m, type: chat, cost: 1, prices: [{effective: 2025-01-01, input: 1, output: 1}]}\n",
		"no prices":           "version: 1\nmodels:\n  - {provider: p, model: m, type: chat}\n",
		"missing output":      "version: 1\nmodels:\n  - {provider: p, model: m, type: chat, prices: [{effective: 2025-01-01, input: 1}]}\n",
		"dates out of order":  "version: 1\nmodels:\n  - {provider: p, model: m, type: chat, prices: [{effective: 2025-02-01, input: 1, output: 1}, {effective: 2025-01-01, input: 1, output: 1}]}\n",
		"duplicate":           "version: 1\nmodels:\n  - {provider: p, model: m, type: chat, prices: [{effective: 2025-01-01, input: 1, output: 1}]}\n  - {provider: p, model: m, type: chat, prices: [{effective: 2025-01-01, input: 1, output: 1}]}\n",
		"bad type":            "version: 1\nmodels:\n  - {provider: p, model: m, type: image, prices: [{effective: 2025-01-01, input: 1, output: 1}]}\n",
		"unsupported version": "version: 2\nmodels: []\n",
		"negative price":      "version: 1\nmodels:\n  - {provider: p, model: m, type: chat, prices: [{effective: 2025-01-01, input: -1, output: 1}]}\n",
	}
	for name, text := range tests {
		if _, err := Parse([]byte(text)); err == nil || !strings.Contains(err.Error(), "catalog") {
			t.Errorf("%s: got %v, want a catalog error", name, err)
		}
	}
}
