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
		"1 when a target can take traffic: its model is configured (its adapter built, its secret set) and its circuit is not open; else 0.", []string{"target"}, nil)
	depthDesc = prometheus.NewDesc("llmgw_usage_queue_depth",
		"Usage events waiting in a queue on their way to the request log or the analytics pipeline, by stage.", []string{"stage"}, nil)
	droppedDesc = prometheus.NewDesc("llmgw_usage_events_dropped_total",
		"Usage events dropped because a stage could not take them (a full queue, a full spool), by stage.", []string{"stage"}, nil)
	spoolDesc = prometheus.NewDesc("llmgw_usage_spool_bytes",
		"Bytes of usage events spooled to disk while the analytics queue is unreachable, by stage.", []string{"stage"}, nil)
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
	for _, ep := range snap.Models(&snapshot.Principal{Admin: true}) {
		if ep.Virtual {
			continue
		}
		st := states[ep.FQN]
		healthy := 0.0
		if ep.Adapter != nil && ep.BuildErr == nil && st != breaker.Open {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(circuitDesc, prometheus.GaugeValue, circuitValue(st), ep.FQN)
		ch <- prometheus.MustNewConstMetric(healthDesc, prometheus.GaugeValue, healthy, ep.FQN)
	}
}

// queueCollector reports the usage stages watched (WatchUsageQueue, WatchSpool).
type queueCollector struct {
	mu     sync.Mutex
	queues []watchedQueue
	spools []watchedSpool
}

type watchedQueue struct {
	stage   string
	depth   func() int
	dropped func() uint64
}

type watchedSpool struct {
	stage string
	bytes func() int64
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- droppedDesc
	ch <- spoolDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	qs, ss := c.queues, c.spools
	c.mu.Unlock()
	for _, q := range qs {
		if q.depth != nil {
			ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(q.depth()), q.stage)
		}
		if q.dropped != nil {
			ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(q.dropped()), q.stage)
		}
	}
	for _, s := range ss {
		ch <- prometheus.MustNewConstMetric(spoolDesc, prometheus.GaugeValue, float64(s.bytes()), s.stage)
	}
}

// WatchUsageQueue reports a stage of the usage events' way out (stage "queue" is the request
// path's bounded queue; the analytics producer adds its own): depth is how many events wait in
// it, dropped how many it has dropped since the process started. Either may be nil. They are
// called at every scrape, on the scraper's goroutine, and must be safe for concurrent use.
// A stage watched twice is reported twice; watch each once.
func (m *Metrics) WatchUsageQueue(stage string, depth func() int, dropped func() uint64) {
	m.queues.mu.Lock()
	defer m.queues.mu.Unlock()
	m.queues.queues = append(m.queues.queues, watchedQueue{stage: stage, depth: depth, dropped: dropped})
}

// WatchSpool reports the bytes a stage holds on disk (the analytics producer's spool), read at
// every scrape as WatchUsageQueue's functions are.
func (m *Metrics) WatchSpool(stage string, bytes func() int64) {
	m.queues.mu.Lock()
	defer m.queues.mu.Unlock()
	m.queues.spools = append(m.queues.spools, watchedSpool{stage: stage, bytes: bytes})
}
