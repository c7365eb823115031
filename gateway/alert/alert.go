package alert

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgw/llmgw/gateway/budget"
)

// Defaults of a Notifier's options.
const (
	// DefaultQueueSize is how many alerts wait for delivery before Notify drops them.
	DefaultQueueSize = 256
	// DefaultWorkers is how many alerts are delivered at once.
	DefaultWorkers = 4
	// DefaultMaxAttempts is how many times a delivery to one target is tried.
	DefaultMaxAttempts = 6
	// DefaultAttemptTimeout bounds one POST.
	DefaultAttemptTimeout = 10 * time.Second
	// DefaultBaseBackoff is the wait before the second attempt, doubled for each next one.
	DefaultBaseBackoff = time.Second
	// DefaultMaxBackoff caps the wait between attempts.
	DefaultMaxBackoff = 30 * time.Second
	// DefaultFlushTimeout bounds the final flush after Run's context ends.
	DefaultFlushTimeout = 5 * time.Second
	// MaxRetryAfter is the longest Retry-After a delivery waits for; a target asking for
	// longer is given up on, so one delivery never holds a worker for long.
	MaxRetryAfter = 2 * time.Minute
)

// Option configures a Notifier.
type Option func(*Notifier)

// WithTargets sets the lookup of a rule's notification targets; the default has none, so
// alerts are only logged and passed to the event hook.
func WithTargets(f Targets) Option { return func(n *Notifier) { n.targets = f } }

// WithEvent sets the hook that turns an alert into a usage-stream event. It is called once per
// alert on a delivery goroutine, with a context that outlives the Run context until the final
// flush ends; it should hand the event to a queue rather than block. The default does nothing.
func WithEvent(f func(ctx context.Context, a budget.Alert)) Option {
	return func(n *Notifier) { n.event = f }
}

// WithQueueSize sets how many alerts wait for delivery before Notify drops them; the default
// is DefaultQueueSize.
func WithQueueSize(size int) Option { return func(n *Notifier) { n.queueSize = max(size, 1) } }

// WithWorkers sets how many alerts are delivered at once, so one slow target cannot hold up
// every other alert; the default is DefaultWorkers.
func WithWorkers(w int) Option { return func(n *Notifier) { n.workers = max(w, 1) } }

// WithRetry sets the number of attempts per target (at least 1) and the exponential backoff
// between them: base before the second attempt, doubling up to maxDelay, each wait jittered
// down to half of it. The defaults are DefaultMaxAttempts, DefaultBaseBackoff and
// DefaultMaxBackoff.
func WithRetry(attempts int, base, maxDelay time.Duration) Option {
	return func(n *Notifier) { n.attempts, n.base, n.maxDelay = max(attempts, 1), base, maxDelay }
}

// WithAttemptTimeout bounds each POST, from sending the request to reading the status; the
// default is DefaultAttemptTimeout.
func WithAttemptTimeout(d time.Duration) Option { return func(n *Notifier) { n.attemptTimeout = d } }

// WithFlushTimeout bounds the final flush after Run's context ends: deliveries still running
// or queued when it expires are cancelled and logged. The default is DefaultFlushTimeout.
func WithFlushTimeout(d time.Duration) Option { return func(n *Notifier) { n.flushTimeout = d } }

// WithClock sets the clock read for a webhook's created_at and an HTTP-date Retry-After, and
// the function that waits between attempts (time.After by default), so that tests need not
// sleep.
func WithClock(now func() time.Time, after func(time.Duration) <-chan time.Time) Option {
	return func(n *Notifier) { n.now, n.after = now, after }
}

// Notifier delivers budget alerts in the background: see the package documentation. Notify
// is safe for concurrent use and never blocks; Run must be called once.
type Notifier struct {
	client *http.Client
	logger *slog.Logger

	targets        Targets
	event          func(context.Context, budget.Alert)
	queueSize      int
	workers        int
	attempts       int
	base, maxDelay time.Duration
	attemptTimeout time.Duration
	flushTimeout   time.Duration
	now            func() time.Time
	after          func(time.Duration) <-chan time.Time

	queue   chan budget.Alert
	dropped atomic.Uint64
	failed  atomic.Uint64
}

// New returns a Notifier that POSTs with client and logs to logger. The client's transport and
// timeout are used; the Notifier works on a copy that never follows redirects (a redirect
// is a failed delivery), and a nil client means http.DefaultTransport. Call Run to start
// delivery; alerts notified before Run wait in the queue.
func New(client *http.Client, logger *slog.Logger, opts ...Option) *Notifier {
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	n := &Notifier{
		client: c, logger: logger,
		targets:   func(string) []Target { return nil },
		event:     func(context.Context, budget.Alert) {},
		queueSize: DefaultQueueSize, workers: DefaultWorkers,
		attempts: DefaultMaxAttempts, base: DefaultBaseBackoff, maxDelay: DefaultMaxBackoff,
		attemptTimeout: DefaultAttemptTimeout, flushTimeout: DefaultFlushTimeout,
		now: time.Now, after: time.After,
	}
	for _, o := range opts {
		o(n)
	}
	n.queue = make(chan budget.Alert, n.queueSize)
	return n
}

// Notify queues a for delivery and returns at once; it has the shape budget.WithAlerts
// expects. When the queue is full, a is counted in Dropped and a line says which alert was
// lost. Alerts notified after Run has returned stay queued until the queue fills.
func (n *Notifier) Notify(a budget.Alert) {
	select {
	case n.queue <- a:
	default:
		d := n.dropped.Add(1)
		n.logger.LogAttrs(context.Background(), slog.LevelError, "budget alert dropped: alert queue full",
			slog.String("rule", a.Rule), slog.String("unit", a.Unit.String()), slog.String("bucket", a.Bucket),
			slog.Int("threshold", a.Threshold), slog.Uint64("dropped_total", d))
	}
}

// Dropped is the number of alerts Notify could not queue.
func (n *Notifier) Dropped() uint64 { return n.dropped.Load() }

// Failed is the number of deliveries to a target that were given up: out of attempts, refused
// with a final status, cancelled by the end of the final flush, or to an unusable target.
func (n *Notifier) Failed() uint64 { return n.failed.Load() }

// Run delivers queued alerts until ctx ends, then keeps delivering what is queued and in
// flight for at most the flush timeout, cancels the rest, and returns. Producers should have
// stopped by then (the server has shut down).
func (n *Notifier) Run(ctx context.Context) {
	// dctx outlives ctx by the flush timeout, so a shutdown still sends what it can.
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(n.flushTimeout, cancel)
		context.AfterFunc(dctx, func() { t.Stop() })
	})
	defer stop()

	var wg sync.WaitGroup
	for range n.workers {
		wg.Go(func() {
			for {
				select {
				case a := <-n.queue:
					n.deliver(dctx, a)
				case <-ctx.Done():
					for {
						select {
						case a := <-n.queue:
							n.deliver(dctx, a)
						default:
							return
						}
					}
				}
			}
		})
	}
	wg.Wait()
}

// deliver logs a, passes it to the event hook and POSTs it to each of its rule's targets in
// turn.
func (n *Notifier) deliver(ctx context.Context, a budget.Alert) {
	cost := a.Unit.Cost()
	n.logger.LogAttrs(ctx, slog.LevelWarn, "budget threshold crossed",
		slog.String("rule", a.Rule), slog.String("unit", a.Unit.String()), slog.String("bucket", a.Bucket),
		slog.Int("threshold", a.Threshold), logAmount("spend", cost, a.Spend), logAmount("limit", cost, a.Limit),
		slog.Group("period", slog.Time("start", a.PeriodStart), slog.Time("end", a.PeriodEnd)),
		slog.Bool("audit", a.Audit))
	n.event(ctx, a)
	for _, t := range n.targets(a.Rule) {
		n.send(ctx, a, t)
	}
}

// logAmount logs cost in US dollars and tokens as they are.
func logAmount(key string, cost bool, v int64) slog.Attr {
	if cost {
		return slog.Float64(key, float64(v)/budget.NanoPerUSD)
	}
	return slog.Int64(key, v)
}
