// Package catalog is the gateway's model catalog: context windows, modalities and prices of
// common models, kept as versioned data (catalog.yaml, embedded) where every price carries the
// date it took effect. Cost calculation reads it; per-model overrides from the Admin API win.
//
// It holds data and arithmetic only: no I/O after Load.
package catalog

import (
	"bytes"
	_ "embed"
	"fmt"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/llmgw/llmgw/gateway/chat"
)

//go:embed catalog.yaml
var data []byte

// Price is a list price in US dollars per million tokens, from EffectiveFrom on.
type Price struct {
	EffectiveFrom time.Time
	Input         float64
	Output        float64
	// CachedInput prices prompt tokens read from the provider's cache; zero means the input
	// price applies to them.
	CachedInput float64
	// CacheWrite prices prompt tokens written to the provider's cache
	// (chat.Usage.CacheWriteTokens); zero means the input price applies to them.
	CacheWrite float64
	// CacheWrite1h prices the cache writes made for a one-hour lifetime
	// (chat.Usage.CacheWrite1hTokens); zero means CacheWrite's price applies to them.
	CacheWrite1h float64
}

// Cost is the price of usage u. Prompt tokens are priced in parts: those read from the cache
// at CachedInput, those written to it at CacheWrite (the one-hour writes among them at
// CacheWrite1h), the rest at Input. Completion tokens, reasoning tokens included (OpenAI's
// usage counts them in completion_tokens, and every adapter reports them so), are priced at
// Output once.
func (p Price) Cost(u chat.Usage) float64 {
	cached, written, written1h := u.CachedTokens(), u.CacheWriteTokens, u.CacheWrite1hTokens
	cachedPrice, writePrice, write1hPrice := p.CachedInput, p.CacheWrite, p.CacheWrite1h
	if cachedPrice == 0 {
		cachedPrice = p.Input
	}
	if writePrice == 0 {
		writePrice = p.Input
	}
	if write1hPrice == 0 {
		write1hPrice = writePrice
	}
	return (float64(u.PromptTokens-cached-written)*p.Input + float64(cached)*cachedPrice +
		float64(written-written1h)*writePrice + float64(written1h)*write1hPrice +
		float64(u.CompletionTokens)*p.Output) / 1e6
}

// Entry is one model of the catalog.
type Entry struct {
	Provider      string
	Model         string
	Type          string
	ContextWindow int64
	MaxOutput     int64
	Modalities    []string
	// Prices are sorted by EffectiveFrom, oldest first.
	Prices []Price
}

// PriceAt returns the price in effect at t.
func (e *Entry) PriceAt(t time.Time) (Price, bool) {
	i := sort.Search(len(e.Prices), func(i int) bool { return e.Prices[i].EffectiveFrom.After(t) })
	if i == 0 {
		return Price{}, false
	}
	return e.Prices[i-1], true
}

// Catalog looks entries up by provider and model. It is immutable and safe for concurrent use.
type Catalog struct {
	entries map[key]*Entry
	// families maps provider kinds that serve another kind's models at its prices (Azure and
	// OpenAI-compatible hosts of OpenAI models) to that kind.
	families map[string]string
}

type key struct{ provider, model string }

type fileFormat struct {
	Version int `yaml:"version"`
	Models  []struct {
		Provider      string   `yaml:"provider"`
		Model         string   `yaml:"model"`
		Type          string   `yaml:"type"`
		ContextWindow int64    `yaml:"context_window"`
		MaxOutput     int64    `yaml:"max_output"`
		Modalities    []string `yaml:"modalities"`
		Aliases       []string `yaml:"aliases"`
		Prices        []struct {
			Effective   string   `yaml:"effective"`
			Input       *float64 `yaml:"input"`
			Output      *float64 `yaml:"output"`
			CachedInput float64  `yaml:"cached_input"`
			CacheWrite  float64  `yaml:"cache_write"`
			// CacheWrite1h is the price of one-hour cache writes.
			CacheWrite1h float64 `yaml:"cache_write_1h"`
		} `yaml:"prices"`
	} `yaml:"models"`
}

// Load parses the embedded catalog.
func Load() (*Catalog, error) { return Parse(data) }

// Parse parses catalog data in catalog.yaml's format.
func Parse(b []byte) (*Catalog, error) {
	var f fileFormat
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("catalog: version %d, want 1", f.Version)
	}
	c := &Catalog{entries: map[key]*Entry{}, families: map[string]string{"azure-openai": "openai"}}
	for i, m := range f.Models {
		where := fmt.Sprintf("catalog: models[%d] (%s/%s)", i, m.Provider, m.Model)
		if m.Provider == "" || m.Model == "" || (m.Type != "chat" && m.Type != "embedding") {
			return nil, fmt.Errorf("%s: provider, model and type (chat or embedding) are required", where)
		}
		if len(m.Prices) == 0 {
			return nil, fmt.Errorf("%s: at least one price is required", where)
		}
		e := &Entry{Provider: m.Provider, Model: m.Model, Type: m.Type, ContextWindow: m.ContextWindow, MaxOutput: m.MaxOutput, Modalities: m.Modalities}
		for j, p := range m.Prices {
			t, err := time.Parse(time.DateOnly, p.Effective)
			if err != nil {
				return nil, fmt.Errorf("%s: prices[%d].effective: %w", where, j, err)
			}
			if p.Input == nil || p.Output == nil || *p.Input < 0 || *p.Output < 0 || p.CachedInput < 0 || p.CacheWrite < 0 || p.CacheWrite1h < 0 {
				return nil, fmt.Errorf("%s: prices[%d]: input and output are required and not negative", where, j)
			}
			if j > 0 && !t.After(e.Prices[j-1].EffectiveFrom) {
				return nil, fmt.Errorf("%s: prices[%d]: effective dates must increase", where, j)
			}
			e.Prices = append(e.Prices, Price{EffectiveFrom: t, Input: *p.Input, Output: *p.Output, CachedInput: p.CachedInput, CacheWrite: p.CacheWrite, CacheWrite1h: p.CacheWrite1h})
		}
		for _, name := range append([]string{m.Model}, m.Aliases...) {
			k := key{m.Provider, name}
			if _, dup := c.entries[k]; dup {
				return nil, fmt.Errorf("%s: %s/%s is listed twice", where, m.Provider, name)
			}
			c.entries[k] = e
		}
	}
	return c, nil
}

// Lookup returns the entry of model (the provider's name for it) served by provider kind.
func (c *Catalog) Lookup(provider, model string) (*Entry, bool) {
	if e, ok := c.entries[key{provider, model}]; ok {
		return e, true
	}
	if fam, ok := c.families[provider]; ok {
		e, ok := c.entries[key{fam, model}]
		return e, ok
	}
	return nil, false
}
