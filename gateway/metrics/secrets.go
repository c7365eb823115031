package metrics

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

var secretFailuresDesc = prometheus.NewDesc("llmgw_secret_refresh_failures_total",
	"Reads of secret-manager references that failed (the last value read is kept), by scheme: aws-ssm, aws-sm, gcp-sm, azure-kv, vault.",
	[]string{"scheme"}, nil)

// secretCollector reports the secret-manager read failures watched (WatchSecrets).
type secretCollector struct {
	mu       sync.Mutex
	failures func() map[string]int64
}

func (c *secretCollector) Describe(ch chan<- *prometheus.Desc) { ch <- secretFailuresDesc }

func (c *secretCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	f := c.failures
	c.mu.Unlock()
	if f == nil {
		return
	}
	counts := f()
	schemes := make([]string, 0, len(counts))
	for s := range counts {
		schemes = append(schemes, s)
	}
	sort.Strings(schemes)
	for _, s := range schemes {
		ch <- prometheus.MustNewConstMetric(secretFailuresDesc, prometheus.CounterValue, float64(counts[s]), s)
	}
}

// WatchSecrets reports failures, the counts of failed secret-manager reads by scheme since
// the process started (secretref.Cache.Failures), as llmgw_secret_refresh_failures_total. A
// later call replaces the earlier one.
func (m *Metrics) WatchSecrets(failures func() map[string]int64) {
	m.secrets.mu.Lock()
	defer m.secrets.mu.Unlock()
	m.secrets.failures = failures
}
