package snapshot

import (
	"io"
	"log/slog"
	"testing"
)

func TestPricingOverridePricesCacheWrites(t *testing.T) {
	cfg := testConfig()
	cfg.Models[0].Pricing = &Pricing{Input: 3, Output: 15, CachedInput: 0.3, CacheWrite: 3.75, CacheWrite1h: 6}
	s := Compile(cfg, builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m, ok := s.Model("openai/gpt-4o")
	if !ok {
		t.Fatal("no model")
	}
	p, ok := m.PriceAt(now)
	if !ok || p.CacheWrite != 3.75 || p.CacheWrite1h != 6 {
		t.Errorf("price %+v, want the override's cache-write prices", p)
	}
}
