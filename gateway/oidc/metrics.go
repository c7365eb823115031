package oidc

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmgw/llmgw/gateway/snapshot"
)

var (
	loadedDesc = prometheus.NewDesc("llmgw_oidc_keys_loaded",
		"1 when an identity provider's signing keys have been read (its tokens can be verified), else 0, by provider.", []string{"provider"}, nil)
	ageDesc = prometheus.NewDesc("llmgw_oidc_keys_age_seconds",
		"Seconds since an identity provider's signing keys were last read successfully, by provider (absent before the first read).", []string{"provider"}, nil)
	failuresDesc = prometheus.NewDesc("llmgw_oidc_key_read_failures_total",
		"Failed reads of an identity provider's discovery document or JWKS since its keys were first wanted, by provider; the cached keys stay in use.", []string{"provider"}, nil)
)

// Collector reports the keys of the identity providers of h's current snapshot at each scrape.
func (v *Verifier) Collector(h *snapshot.Holder) prometheus.Collector { return collector{v: v, h: h} }

type collector struct {
	v *Verifier
	h *snapshot.Holder
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- loadedDesc
	ch <- ageDesc
	ch <- failuresDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Load()
	if s == nil {
		return
	}
	now := c.v.now()
	c.v.mu.RLock()
	defer c.v.mu.RUnlock()
	for _, p := range s.Config().IdentityProviders {
		ks := c.v.sets[source{issuer: p.Issuer, jwksURL: p.JWKSURL}]
		loaded, failures := 0.0, 0.0
		if ks != nil {
			failures = float64(ks.failures)
			if ks.keys != nil {
				loaded = 1
				ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, now.Sub(ks.fetched).Seconds(), p.Name)
			}
		}
		ch <- prometheus.MustNewConstMetric(loadedDesc, prometheus.GaugeValue, loaded, p.Name)
		ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.CounterValue, failures, p.Name)
	}
}
