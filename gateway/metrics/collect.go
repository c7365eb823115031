package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmgw/llmgw/gateway/breaker"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

var (
	circuitDesc = prometheus.NewDesc("llmgw_target_circuit_state",
		"State of a target's circuit breaker: 0 closed, 1 half-open (probing), 2 open (skipped).", []string{"target"}, nil)
	healthDesc = prometheus.NewDesc("llmgw_target_healthy",
		"1 when a target can take traffic: its model is configured (its adapter built, its secret set), its circuit is not open and it breaches no sla_cutoff; else 0.", []string{"target"}, nil)
	slaDesc = prometheus.NewDesc("llmgw_target_sla_breached",
		"For a target with an sla_cutoff: 1 when its average TPOT or TTFT over the last 3 minutes exceeds a cutoff set on it (priority routing then skips it), else 0.", []string{"target"}, nil)
	depthDesc = prometheus.NewDesc("llmgw_usage_queue_depth",
		"Usage events waiting in a stage on their way out (queue: the request path's bounded queue; kafka: the Kafka producer's disk spool), by stage.", []string{"stage"}, nil)
	bytesDesc = prometheus.NewDesc("llmgw_usage_queue_bytes",
		"Bytes of usage events a stage holds in memory, by stage.", []string{"stage"}, nil)
	spoolDesc = prometheus.NewDesc("llmgw_usage_spool_bytes",
		"Bytes of usage events a stage holds on disk (the Kafka producer's spool while Kafka is unreachable), by stage.", []string{"stage"}, nil)
	droppedDesc = prometheus.NewDesc("llmgw_usage_events_dropped_total",
		"Usage events lost because a stage could not take them (a full queue, a full spool), by stage.", []string{"stage"}, nil)
)

// circuitValue is a circuit state as llmgw_target_circuit_state reports it.
func circuitValue(s breaker.State) float64 {
	switch s {
	case breaker.HalfOpen:
		return 1
	case breaker.Open:
		return 2
	}
	return 0
}

// targetCollector reports every configured model's circuit state and health, read from the
// breaker and the current snapshot at each scrape.
type targetCollector struct{ m *Metrics }

func (c targetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- circuitDesc
	ch <- healthDesc
	ch <- slaDesc
}

func (c targetCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.m.snaps.Load()
	if snap == nil {
		return
	}
	states := map[string]breaker.State{}
	if c.m.breaker != nil {
		for _, s := range c.m.breaker.States() {
			states[s.Target] = s.State
		}
	}
	breached := c.m.slaBreaches(snap)
	for target, b := range breached {
		v := 0.0
		if b {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(slaDesc, prometheus.GaugeValue, v, target)
	}
	for _, ep := range snap.Models(&snapshot.Principal{Admin: true}) {
		if ep.Virtual {
			continue
		}
		st := states[ep.FQN]
		healthy := 0.0
		if ep.Adapter != nil && ep.BuildErr == nil && st != breaker.Open && !breached[ep.FQN] {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(circuitDesc, prometheus.GaugeValue, circuitValue(st), ep.FQN)
		ch <- prometheus.MustNewConstMetric(healthDesc, prometheus.GaugeValue, healthy, ep.FQN)
	}
}

// Stage is a stage of the usage events' way out of the process (the request path's queue, the
// Kafka producer and its spool), as the metrics report it. Its functions are called at every
// scrape, on the scraper's goroutine, and must be safe for concurrent use; a nil one is not
// reported.
type Stage struct {
	// Name is the stage label: "queue", "kafka", ...
	Name string
	// Depth is how many events wait in the stage (llmgw_usage_queue_depth).
	Depth func() int64
	// Bytes is how many bytes of events the stage holds in memory (llmgw_usage_queue_bytes).
	Bytes func() int64
	// Spool is how many bytes of events the stage holds on disk (llmgw_usage_spool_bytes).
	Spool func() int64
	// Dropped is how many events the stage has lost since the process started
	// (llmgw_usage_events_dropped_total).
	Dropped func() uint64
}

// slaBreaches maps every target with an sla_cutoff in snap's virtual models and routing rules
// to whether it breaches one of its cutoffs now; nil without latency statistics.
func (m *Metrics) slaBreaches(snap *snapshot.Snapshot) map[string]bool {
	cfg := snap.Config()
	if m.stats == nil || cfg == nil {
		return nil
	}
	out := map[string]bool{}
	check := func(ts []snapshot.VirtualTarget) {
		for _, t := range ts {
			if t.SLA.Set() {
				out[t.Model] = out[t.Model] || m.stats.Breaches(t.Model, t.SLA.TPOT, t.SLA.TTFT)
			}
		}
	}
	for i := range cfg.VirtualModels {
		check(cfg.VirtualModels[i].Targets)
	}
	for i := range cfg.RoutingRules {
		check(cfg.RoutingRules[i].Targets)
	}
	return out
}

// queueCollector reports the stages watched (WatchUsage).
type queueCollector struct {
	mu     sync.Mutex
	stages []Stage
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- bytesDesc
	ch <- spoolDesc
	ch <- droppedDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	stages := c.stages
	c.mu.Unlock()
	gauge := func(d *prometheus.Desc, f func() int64, stage string) {
		if f != nil {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(f()), stage)
		}
	}
	for _, s := range stages {
		gauge(depthDesc, s.Depth, s.Name)
		gauge(bytesDesc, s.Bytes, s.Name)
		gauge(spoolDesc, s.Spool, s.Name)
		if s.Dropped != nil {
			ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(s.Dropped()), s.Name)
		}
	}
}

// WatchUsage reports stage s of the usage events' way out; each stage is watched once (a name
// watched twice is reported twice, which Prometheus refuses at the scrape).
func (m *Metrics) WatchUsage(s Stage) {
	m.queues.mu.Lock()
	defer m.queues.mu.Unlock()
	m.queues.stages = append(m.queues.stages, s)
}
