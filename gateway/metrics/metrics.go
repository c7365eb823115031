package metrics

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/llmgw/llmgw/gateway/breaker"
	"github.com/llmgw/llmgw/gateway/latency"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

// Label values that stand for many.
const (
	// Unknown is the model (and target) label of a request for a name the snapshot does not
	// know: every such request shares one series.
	Unknown = "unknown"
	// Other is the value of a label past its cap on distinct values (maxStatuses, ...).
	Other = "other"
)

// Caps on the distinct values of labels whose values the gateway chooses but does not list
// in one place (statuses, surfaces, rule ids): past the cap, a new value is counted as Other.
const (
	maxStatuses = 64
	maxSurfaces = 16
	maxRules    = 1000
)

// opBatch is the operation of a batch's usage event (pipeline.OpBatch): it has no latency of
// its own.
const opBatch = "batch"

// Recorder receives usage events (the pipeline's Recorder).
type Recorder interface {
	Record(ctx context.Context, e *usage.Event)
}

// Metrics holds the gateway's metrics and the registry that serves them. The zero value is not
// usable; call New. It is safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	snaps   *snapshot.Holder
	breaker *breaker.Breaker
	stats   *latency.Stats // nil: no sla_cutoff is checked
	now     func() time.Time

	requests          *prometheus.CounterVec
	tokens            *prometheus.CounterVec
	cost              *prometheus.CounterVec
	duration          *prometheus.HistogramVec
	ttft              *prometheus.HistogramVec
	overhead          prometheus.Histogram
	upstreamErrors    *prometheus.CounterVec
	targetRequests    *prometheus.CounterVec
	targetTPOT        *prometheus.HistogramVec
	targetTTFT        *prometheus.HistogramVec
	rateLimitRefusals *prometheus.CounterVec
	budgetRefusals    *prometheus.CounterVec

	models   sync.Map // model name -> *modelSeries, names the snapshot knew only
	targets  sync.Map // target name -> *targetSeries, names the snapshot knew only
	reqs     sync.Map // requestKey -> prometheus.Counter, bounded label values only
	rlRules  sync.Map // rule -> prometheus.Counter
	budRules sync.Map // rule -> prometheus.Counter
	unknownM *modelSeries
	unknownT *targetSeries
	statuses labelSet
	surfaces labelSet
	rules    labelSet

	queues  queueCollector
	secrets secretCollector
}

// Option configures Metrics.
type Option func(*Metrics)

// WithClock sets the clock the snapshot's age is read with (default time.Now).
func WithClock(now func() time.Time) Option { return func(m *Metrics) { m.now = now } }

// WithLatency reads the targets' live speed from s (the pipeline's) to report the targets
// that breach their sla_cutoff (llmgw_target_sla_breached) as unhealthy. Without it no cutoff
// is checked.
func WithLatency(s *latency.Stats) Option { return func(m *Metrics) { m.stats = s } }

// New returns metrics whose labels are checked against the snapshots of snaps and whose circuit
// states are b's (nil: every target's circuit is reported closed). Go runtime and process
// metrics are registered too.
func New(snaps *snapshot.Holder, b *breaker.Breaker, opts ...Option) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), snaps: snaps, breaker: b, now: time.Now,
		statuses: labelSet{max: maxStatuses}, surfaces: labelSet{max: maxSurfaces}, rules: labelSet{max: maxRules}}
	for _, o := range opts {
		o(m)
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmgw_requests_total",
		Help: "Requests that ended, by the model asked for, the target that served it (or failed last), the status (ok or the error code) and the client surface."},
		[]string{"model", "target", "status", "surface"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmgw_tokens_total",
		Help: "Tokens used, by model and type: prompt, completion, cached (prompt tokens read from the provider's cache, part of prompt) and reasoning (part of completion)."},
		[]string{"model", "type"})
	m.cost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmgw_cost_usd_total",
		Help: "Cost of the requests of priced models in US dollars, by model."}, []string{"model"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "llmgw_request_duration_seconds",
		Help:    "Time from a request's arrival to its end (for a stream, its last chunk), by model.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}}, []string{"model"})
	m.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "llmgw_ttft_seconds",
		Help:    "Time from a streamed request's arrival to its first token, by model.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2, 5, 10, 30}}, []string{"model"})
	m.overhead = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "llmgw_gateway_overhead_seconds",
		Help:    "A request's own time in the gateway (admission, routing, guards, retry waits): its duration less its upstream calls' time, for the requests that called an upstream.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}})
	m.upstreamErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmgw_upstream_errors_total",
		Help: "Attempts that failed at the upstream, by provider kind, target and class (upstream_5xx, upstream_429, upstream_4xx, timeout, transport, bad_response)."},
		[]string{"provider", "target", "class"})
	m.targetRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmgw_target_requests_total",
		Help: "Attempts at a target, retries and fallbacks included, by outcome: ok or the failure's class (circuit_open for a target the breaker skipped)."},
		[]string{"target", "outcome"})
	m.targetTPOT = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "llmgw_target_tpot_seconds",
		Help:    "Time per output token of a target's successful answers (after the first token for a stream).",
		Buckets: []float64{.001, .0025, .005, .01, .02, .035, .05, .075, .1, .2, .5, 1}}, []string{"target"})
	m.targetTTFT = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "llmgw_target_ttft_seconds",
		Help:    "Time from an attempt's start to its first token, for a target's successful streamed answers.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2, 5, 10, 30}}, []string{"target"})
	m.rateLimitRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmgw_ratelimit_refusals_total",
		Help: "Attempts refused by a rate limit, by the rule that refused them."}, []string{"rule"})
	m.budgetRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmgw_budget_refusals_total",
		Help: "Attempts refused by an exhausted budget, by the rule that refused them."}, []string{"rule"})
	m.reg.MustRegister(m.requests, m.tokens, m.cost, m.duration, m.ttft, m.overhead, m.upstreamErrors,
		m.targetRequests, m.targetTPOT, m.targetTTFT, m.rateLimitRefusals, m.budgetRefusals,
		targetCollector{m}, &m.queues, &m.secrets,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "llmgw_snapshot_revision",
			Help: "Revision of the configuration snapshot serving: how many snapshots this process has loaded (0 before the first)."},
			func() float64 { return float64(m.snaps.Revision()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "llmgw_snapshot_age_seconds",
			Help: "Seconds since the configuration snapshot serving was loaded (it is replaced only when the configuration changes)."},
			m.snapshotAge),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.unknownM = m.newModelSeries(Unknown)
	m.unknownT = m.newTargetSeries(Unknown, "")
	return m
}

// Handler serves the metrics in Prometheus's text format (or OpenMetrics when asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

func (m *Metrics) snapshotAge() float64 {
	at := m.snaps.LoadedAt()
	if at.IsZero() {
		return 0
	}
	return m.now().Sub(at).Seconds()
}

// Register adds c to the metrics Handler serves (collectors of other parts of the gateway,
// such as gateway/oidc's).
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }

// Wrap returns a recorder that records e's metrics, then hands e to next.
func (m *Metrics) Wrap(next Recorder) Recorder { return wrapped{m: m, next: next} }

type wrapped struct {
	m    *Metrics
	next Recorder
}

func (w wrapped) Record(ctx context.Context, e *usage.Event) {
	w.m.Observe(e)
	w.next.Record(ctx, e)
}

// modelSeries are a model's series, made once.
type modelSeries struct {
	name                                  string
	prompt, completion, cached, reasoning prometheus.Counter
	cost                                  prometheus.Counter
	duration, ttft                        prometheus.Observer
}

func (m *Metrics) newModelSeries(name string) *modelSeries {
	return &modelSeries{name: name,
		prompt: m.tokens.WithLabelValues(name, "prompt"), completion: m.tokens.WithLabelValues(name, "completion"),
		cached: m.tokens.WithLabelValues(name, "cached"), reasoning: m.tokens.WithLabelValues(name, "reasoning"),
		cost: m.cost.WithLabelValues(name), duration: m.duration.WithLabelValues(name), ttft: m.ttft.WithLabelValues(name)}
}

// model returns the series of the model named name: its own when the current snapshot knows
// it (as a model or a virtual model) and the empty name's for a request that named none, else
// Unknown's. A name is kept once the snapshot knew it,
// so the series are bounded by the models ever configured in the process.
func (m *Metrics) model(name string) *modelSeries {
	if v, ok := m.models.Load(name); ok {
		return v.(*modelSeries)
	}
	if name == "" { // a request that named no model (a key refused first, a model list)
		v, _ := m.models.LoadOrStore(name, m.newModelSeries(""))
		return v.(*modelSeries)
	}
	snap := m.snaps.Load()
	if snap == nil {
		return m.unknownM
	}
	if _, ok := snap.Model(name); !ok {
		if _, ok := snap.VirtualModel(name); !ok {
			return m.unknownM
		}
	}
	v, _ := m.models.LoadOrStore(name, m.newModelSeries(name))
	return v.(*modelSeries)
}

// Outcomes of an attempt (llmgw_target_requests_total's outcome): ok, then the classes.
var outcomes = [...]string{"ok", usage.ClassUpstream5xx, usage.ClassUpstream429, usage.ClassTimeout, usage.ClassTransport,
	usage.ClassUpstream4xx, usage.ClassBadResponse, usage.ClassRefused, usage.ClassCanceled, usage.ClassGateway, usage.ClassCircuitOpen, Other}

// outcome is the index in outcomes of an attempt's class ("" for success).
func outcome(class string) int {
	switch class {
	case "":
		return 0
	case usage.ClassUpstream5xx:
		return 1
	case usage.ClassUpstream429:
		return 2
	case usage.ClassTimeout:
		return 3
	case usage.ClassTransport:
		return 4
	case usage.ClassUpstream4xx:
		return 5
	case usage.ClassBadResponse:
		return 6
	case usage.ClassRefused:
		return 7
	case usage.ClassCanceled:
		return 8
	case usage.ClassGateway:
		return 9
	case usage.ClassCircuitOpen:
		return 10
	}
	return len(outcomes) - 1
}

// upstreamFailure reports whether outcome i is a failure at the upstream.
func upstreamFailure(i int) bool { return i >= 1 && i <= 6 }

// lazyCounter is a series made on first use, so a target has series only for what happened.
type lazyCounter struct {
	once sync.Once
	c    prometheus.Counter
}

func (l *lazyCounter) get(make func() prometheus.Counter) prometheus.Counter {
	l.once.Do(func() { l.c = make() })
	return l.c
}

// targetSeries are a target's series.
type targetSeries struct {
	name, provider string
	outcomes       [len(outcomes)]lazyCounter
	errors         [len(outcomes)]lazyCounter // upstream failures only
	tpot, ttft     prometheus.Observer
}

func (m *Metrics) newTargetSeries(name, provider string) *targetSeries {
	return &targetSeries{name: name, provider: provider, tpot: m.targetTPOT.WithLabelValues(name), ttft: m.targetTTFT.WithLabelValues(name)}
}

// target returns the series of the target named name, as model does for models.
func (m *Metrics) target(name string) *targetSeries {
	if v, ok := m.targets.Load(name); ok {
		return v.(*targetSeries)
	}
	snap := m.snaps.Load()
	if snap == nil {
		return m.unknownT
	}
	ep, ok := snap.Model(name)
	if !ok {
		return m.unknownT
	}
	v, _ := m.targets.LoadOrStore(name, m.newTargetSeries(name, ep.Provider))
	return v.(*targetSeries)
}

// attempt counts one attempt that ended with class.
func (m *Metrics) attempt(t *targetSeries, class string) {
	i := outcome(class)
	t.outcomes[i].get(func() prometheus.Counter { return m.targetRequests.WithLabelValues(t.name, outcomes[i]) }).Inc()
	if upstreamFailure(i) {
		t.errors[i].get(func() prometheus.Counter { return m.upstreamErrors.WithLabelValues(t.provider, t.name, outcomes[i]) }).Inc()
	}
}

type requestKey struct{ model, target, status, surface string }

// requestCounter returns the llmgw_requests_total series of k, whose model and target are
// already bounded; status and surface are capped (labelSet) before a series is made.
func (m *Metrics) requestCounter(k requestKey) prometheus.Counter {
	if v, ok := m.reqs.Load(k); ok {
		return v.(prometheus.Counter)
	}
	k.status, k.surface = m.statuses.get(k.status), m.surfaces.get(k.surface)
	if v, ok := m.reqs.Load(k); ok {
		return v.(prometheus.Counter)
	}
	v, _ := m.reqs.LoadOrStore(k, m.requests.WithLabelValues(k.model, k.target, k.status, k.surface))
	return v.(prometheus.Counter)
}

func seconds(d time.Duration) float64 { return float64(d) / float64(time.Second) }

// Observe records the metrics of a request's usage event: the request, its tokens and cost,
// its durations, and each of its attempts. It does not keep e.
func (m *Metrics) Observe(e *usage.Event) {
	ms := m.model(e.Model)
	target := ""
	if e.Target != "" {
		target = m.target(e.Target).name
	}
	m.requestCounter(requestKey{model: ms.name, target: target, status: e.Status, surface: e.Surface}).Inc()
	u := &e.Usage
	if u.PromptTokens > 0 {
		ms.prompt.Add(float64(u.PromptTokens))
	}
	if u.CompletionTokens > 0 {
		ms.completion.Add(float64(u.CompletionTokens))
	}
	if n := u.CachedTokens(); n > 0 {
		ms.cached.Add(float64(n))
	}
	if n := u.ReasoningTokens(); n > 0 {
		ms.reasoning.Add(float64(n))
	}
	if e.Priced && e.CostUSD > 0 {
		ms.cost.Add(e.CostUSD)
	}
	if e.Operation != opBatch && e.Latency > 0 {
		ms.duration.Observe(seconds(e.Latency))
	}
	if e.TimeToFirstToken > 0 {
		ms.ttft.Observe(seconds(e.TimeToFirstToken))
	}
	if len(e.Attempts) == 0 {
		return
	}
	var last *targetSeries
	for i := range e.Attempts {
		a := &e.Attempts[i]
		last = m.target(a.Target)
		m.attempt(last, a.ErrorClass)
	}
	if e.Upstream > 0 {
		m.overhead.Observe(seconds(max(e.Latency-e.Upstream, 0)))
	}
	a := &e.Attempts[len(e.Attempts)-1]
	if a.ErrorClass != "" || e.Status != "ok" || u.CompletionTokens <= 0 || a.Latency <= 0 {
		return
	}
	// The attempt's own time to first token: the request's, less the time before the last
	// attempt began (the request's duration less the attempt's, both taken at its end).
	var ttft time.Duration
	if e.TimeToFirstToken > 0 {
		ttft = max(e.TimeToFirstToken-(e.Latency-a.Latency), 0)
	}
	tpot, _ := latency.Speed(a.Latency, ttft, u.CompletionTokens)
	if ttft > 0 && ttft <= a.Latency {
		last.ttft.Observe(seconds(ttft))
	}
	last.tpot.Observe(seconds(tpot))
}

// Record records e's metrics (see Observe): Metrics is a Recorder of its own.
func (m *Metrics) Record(_ context.Context, e *usage.Event) { m.Observe(e) }

// RateLimited counts an attempt refused by the rate limit rule (quota.Refusals).
func (m *Metrics) RateLimited(rule string) {
	m.ruleCounter(&m.rlRules, m.rateLimitRefusals, rule).Inc()
}

// BudgetExhausted counts an attempt refused by the budget rule (quota.Refusals).
func (m *Metrics) BudgetExhausted(rule string) {
	m.ruleCounter(&m.budRules, m.budgetRefusals, rule).Inc()
}

func (m *Metrics) ruleCounter(cache *sync.Map, vec *prometheus.CounterVec, rule string) prometheus.Counter {
	if v, ok := cache.Load(rule); ok {
		return v.(prometheus.Counter)
	}
	rule = m.rules.get(rule)
	v, _ := cache.LoadOrStore(rule, vec.WithLabelValues(rule))
	return v.(prometheus.Counter)
}

// labelSet caps the distinct values of a label: the first max values are themselves, later
// ones Other. It is safe for concurrent use.
type labelSet struct {
	max  int32
	n    atomic.Int32
	seen sync.Map // value -> struct{}
}

func (s *labelSet) get(v string) string {
	if _, ok := s.seen.Load(v); ok {
		return v
	}
	if s.n.Add(1) > s.max {
		s.n.Add(-1)
		return Other
	}
	if _, dup := s.seen.LoadOrStore(v, struct{}{}); dup {
		s.n.Add(-1)
	}
	return v
}
