// Package app wires the llmgw process: it parses flags and environment, opens storage,
// bootstraps a fresh database, applies the config file, builds the data plane and serves.
// cmd/llmgw calls Run and nothing else.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/llmgw/llmgw/gateway/breaker"
	"github.com/llmgw/llmgw/gateway/catalog"
	"github.com/llmgw/llmgw/gateway/checkpoint"
	"github.com/llmgw/llmgw/gateway/keyuse"
	"github.com/llmgw/llmgw/gateway/latency"
	"github.com/llmgw/llmgw/gateway/metrics"
	"github.com/llmgw/llmgw/gateway/oidc"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/redact"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/sticky"
	"github.com/llmgw/llmgw/gateway/tracing"
	"github.com/llmgw/llmgw/gateway/usage"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
	"github.com/llmgw/llmgw/logbuffer"
	"github.com/llmgw/llmgw/pagetrim"
	"github.com/llmgw/llmgw/secretref"
	"github.com/llmgw/llmgw/services/server"
)

const usageText = `llmgw is an AI gateway: one OpenAI-compatible API in front of every LLM provider.

Usage:
  llmgw serve   [flags]   run the gateway (control and data plane in one process)
  llmgw migrate [flags]   apply database migrations (required before serving on Postgres);
                          with --clickhouse, apply the ClickHouse analytics schema instead
  llmgw consume [flags]   load usage events from Kafka into ClickHouse
  llmgw apply -f FILE     apply a config file to a running server through its Admin API
                          (--dry-run, --show-diff; LLMGW_SERVER, LLMGW_ADMIN_TOKEN)
  llmgw get KIND          print a running server's resources as config file YAML (KIND: all,
                          provider-accounts, virtual-models, routing-rules, authz-rules,
                          rate-limits, budgets, users, teams, virtual-accounts)
  llmgw login --gateway <url>
                          log in with the gateway's identity provider (OIDC) and keep the
                          credentials in the user's config directory
  llmgw token             print a valid token of the last login: OPENAI_API_KEY=$(llmgw token)
  llmgw env               print OPENAI_* and ANTHROPIC_* variables for eval "$(llmgw env)"
  llmgw version           print the version

Run 'llmgw serve -h' (or migrate -h, consume -h, apply -h, get -h) for the flags. Every flag of
serve, migrate and consume, and --server and --timeout of apply and get, has an LLMGW_* environment
equivalent.
`

// Version is the build's version, set with -ldflags "-X github.com/llmgw/llmgw/app.Version=...".
var Version = "dev"

// Config is the process configuration from flags and environment.
type Config struct {
	Listen     string
	DB         string
	DataDir    string
	ConfigFile string
	LogLevel   string
	LogFormat  string
	// LogBuffer is how long log lines may wait to be written together (0: each at once).
	LogBuffer time.Duration
	// UsageLinger is how long usage events may wait to be handed to their sink together.
	UsageLinger     time.Duration
	MaxBody         int64
	MaxFile         int64
	UpstreamTimeout time.Duration
	ReadTimeout     time.Duration
	ReloadInterval  time.Duration
	SecretRefresh   time.Duration
	// Role is what the process serves: RoleAll (the default), RoleControl or RoleGateway.
	Role string
	// ControlPlane is a gateway replica's control-plane URL.
	ControlPlane string
	// GatewayID names a gateway replica in its control plane's logs (default: the host name).
	GatewayID  string
	RequestLog bool
	// RequestLogMaxRate caps the request-log lines written per second (0: no cap).
	RequestLogMaxRate int
	MetricsListen     string
	MetricsPublic     bool
	Pprof             bool
	Usage             UsageConfig
	// UsageRetentionDays is how many days the embedded usage store keeps events (0: forever).
	UsageRetentionDays int
}

// flags defines the flags of a subcommand with their defaults taken from the LLMGW_*
// environment variables. A variable whose value does not parse is an error naming it, never
// silently the default.
func flags(name string, getenv func(string) string, stderr io.Writer) (*flag.FlagSet, *Config, error) {
	e := &envReader{getenv: getenv}
	env, envBytes, envDuration, envBool := e.str, e.bytes, e.duration, e.bool
	c := &Config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Listen, "listen", env("LLMGW_LISTEN", ":8080"), "address to listen on (LLMGW_LISTEN)")
	fs.StringVar(&c.DB, "db", env("LLMGW_DB", "sqlite:data/llmgw.db"), "database: sqlite:<path> or postgres://... (LLMGW_DB)")
	fs.StringVar(&c.DataDir, "data-dir", env("LLMGW_DATA_DIR", ""), "directory for master.key when LLMGW_MASTER_KEY is unset (default: the SQLite file's directory, else ./data) (LLMGW_DATA_DIR)")
	fs.StringVar(&c.ConfigFile, "config", env("LLMGW_CONFIG", ""), "declarative config file to apply at start (LLMGW_CONFIG)")
	fs.StringVar(&c.LogLevel, "log-level", env("LLMGW_LOG_LEVEL", "info"), "debug, info, warn or error (LLMGW_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("LLMGW_LOG_FORMAT", "text"), "text or json (LLMGW_LOG_FORMAT)")
	fs.DurationVar(&c.LogBuffer, "log-buffer", envDuration("LLMGW_LOG_BUFFER", 100*time.Millisecond), "hold info and debug log lines up to this long and write them together, saving a write per request; warnings and errors go at once, with every line before them; 0 writes each line at once (LLMGW_LOG_BUFFER)")
	fs.DurationVar(&c.UsageLinger, "usage-linger", envDuration("LLMGW_USAGE_LINGER", 20*time.Millisecond), "how long usage events may wait for more before they go to Kafka or the embedded store together (at most 128 wait: a full batch goes at once); fewer, larger writes at modest rates; 0 hands each wake-up's events at once (LLMGW_USAGE_LINGER)")
	fs.Int64Var(&c.MaxBody, "max-body", envBytes("LLMGW_MAX_BODY", 32<<20), "largest accepted request body in bytes (LLMGW_MAX_BODY)")
	fs.Int64Var(&c.MaxFile, "max-file", envBytes("LLMGW_MAX_FILE", 200<<20), "largest accepted batch input file in bytes (LLMGW_MAX_FILE)")
	fs.DurationVar(&c.UpstreamTimeout, "upstream-timeout", envDuration("LLMGW_UPSTREAM_TIMEOUT", 10*time.Minute), "bound on one upstream call, streams included (LLMGW_UPSTREAM_TIMEOUT)")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", envDuration("LLMGW_READ_TIMEOUT", server.DefaultReadTimeout), "bound on receiving one request body; slower clients get 408 (LLMGW_READ_TIMEOUT)")
	fs.DurationVar(&c.SecretRefresh, "secret-refresh", envDuration("LLMGW_SECRET_REFRESH", secretref.DefaultInterval), "how often the config file's secret-manager references (aws-ssm://, aws-sm://, gcp-sm://, azure-kv://, vault://) are read again; a changed value rebuilds the configuration (LLMGW_SECRET_REFRESH)")
	fs.DurationVar(&c.ReloadInterval, "reload-interval", envDuration("LLMGW_RELOAD_INTERVAL", time.Second), "how often to check the database's config revision for changes made by other processes; the config is read only when it moved (LLMGW_RELOAD_INTERVAL)")
	fs.StringVar(&c.Role, "role", env("LLMGW_ROLE", RoleAll), "all (one process: database, Admin API and inference), control (database, Admin and Usage APIs, config pushed to gateways) or gateway (inference only, config from --control-plane) (LLMGW_ROLE)")
	fs.StringVar(&c.ControlPlane, "control-plane", env("LLMGW_CONTROL_PLANE", ""), "a gateway's control-plane URL, such as https://control:8080; the gateway token is LLMGW_GATEWAY_TOKEN (LLMGW_CONTROL_PLANE)")
	fs.StringVar(&c.GatewayID, "gateway-id", env("LLMGW_GATEWAY_ID", ""), "this gateway's name in the control plane's logs (default: the host name) (LLMGW_GATEWAY_ID)")
	fs.BoolVar(&c.RequestLog, "request-log", envBool("LLMGW_REQUEST_LOG", true), "write one log line per request that reaches a surface (LLMGW_REQUEST_LOG)")
	fs.IntVar(&c.RequestLogMaxRate, "request-log-max-rate", e.count("LLMGW_REQUEST_LOG_MAX_RATE", 1000, 0), "most request-log lines written per second; the next second's first line counts those left out (usage events still record every request); 0 for no cap (LLMGW_REQUEST_LOG_MAX_RATE)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", env("LLMGW_METRICS_LISTEN", ""), "also serve GET /metrics, without authentication, on this address, such as :9090 (LLMGW_METRICS_LISTEN)")
	fs.BoolVar(&c.MetricsPublic, "metrics-public", envBool("LLMGW_METRICS_PUBLIC", false), "serve GET /metrics on the main listener without the admin token (LLMGW_METRICS_PUBLIC)")
	fs.BoolVar(&c.Pprof, "pprof", envBool("LLMGW_PPROF", false), "serve Go's runtime profiles under /debug/pprof/ to the admin token (LLMGW_PPROF)")
	usageFlags(fs, &c.Usage, env, envBytes, envBool)
	fs.IntVar(&c.UsageRetentionDays, "usage-retention-days", e.count("LLMGW_USAGE_RETENTION_DAYS", 30, 0), "days the embedded usage store keeps events, 0 for no limit (LLMGW_USAGE_RETENTION_DAYS)")
	return fs, c, e.err()
}

// parseFlags parses the flags of a subcommand from args and the environment.
func parseFlags(name string, args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	fs, cfg, err := flags(name, getenv, stderr)
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Run runs the llmgw command line.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		cfg, err := parseFlags("serve", args, getenv, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, getenv, stderr, nil)
	case "migrate":
		return runMigrate(ctx, args, getenv, stdout, stderr)
	case "consume":
		return runConsume(ctx, args, getenv, stderr)
	case "apply":
		return apply(ctx, args, getenv, stdout, stderr)
	case "get":
		return get(ctx, args, getenv, stdout, stderr)
	case "login":
		return login(ctx, args, getenv, stdout, stderr)
	case "token":
		return printToken(ctx, args, getenv, stdout, stderr)
	case "env":
		return printEnv(ctx, args, getenv, stdout, stderr)
	case "version":
		if build == "full" {
			fmt.Fprintln(stdout, "llmgw", Version)
		} else {
			fmt.Fprintf(stdout, "llmgw %s (%s build)\n", Version, build)
		}
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	fmt.Fprint(stderr, usageText)
	return fmt.Errorf("unknown command %q", cmd)
}

// newLogger returns the process's logger, in cfg's format and level. When secrets is not nil,
// every record is passed through redact.Handler with the secrets of the current snapshot, so
// no provider credential the gateway holds reaches the log, whatever logged it.
func newLogger(cfg *Config, w io.Writer, secrets *snapshot.Holder) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch cfg.LogFormat {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: want text or json", cfg.LogFormat)
	}
	if lb, ok := w.(*logbuffer.Writer); ok {
		h = logbuffer.Handler(h, lb) // warnings and errors are written at once
	}
	if secrets != nil {
		h = redact.NewHandler(h, secrets.Redactor)
	}
	return slog.New(h), nil
}

func dataDir(cfg *Config) string {
	if cfg.DataDir != "" {
		return cfg.DataDir
	}
	if p, ok := strings.CutPrefix(cfg.DB, "sqlite:"); ok {
		return filepath.Dir(p)
	}
	return "data"
}

// hooks let tests observe a running server; production passes nil.
type hooks struct {
	// ready receives the bound address once the server accepts connections.
	ready func(addr string)
	// recorder replaces the request-log recorder.
	recorder usage.Sink
	// guards are added to the pipeline's (pipeline.WithGuards), after the rate limits and
	// budgets.
	guards []pipeline.Guard
	// clock, when set, is what the rate-limit and budget engines, the circuit breaker, the
	// latency statistics and the sticky sessions read.
	clock func() time.Time
	// governance receives the rate limits and budgets once their state is loaded, before the
	// server accepts connections.
	governance func(*governance)
	// metricsReady receives the --metrics-listen listener's bound address.
	metricsReady func(addr string)
	// heartbeat replaces the control-plane streams' heartbeat interval.
	heartbeat time.Duration
	// backoff replaces a replica's first reconnection wait (the longest is 20 times it).
	backoff time.Duration
	// secretTicker replaces the ticker of the secret-manager refresh (secretref.WithTicker).
	secretTicker func(d time.Duration) (<-chan time.Time, func())
	// logAfter schedules the log buffer's flushes (logbuffer.New); nil is time.AfterFunc.
	logAfter func(time.Duration, func()) (stop func() bool)
	// usageTimer arms the usage queue's linger (usage.Queue.NewTimer); nil is time.NewTimer.
	usageTimer func(time.Duration) (<-chan time.Time, func() bool)
}

func serve(ctx context.Context, cfg *Config, getenv func(string) string, stderr io.Writer, h *hooks) error {
	if h == nil {
		h = &hooks{}
	}
	profileHeap(cfg.Pprof)
	snaps := snapshot.Holder{Now: h.clock}
	var lb *logbuffer.Writer
	if cfg.LogBuffer > 0 {
		lb = logbuffer.New(stderr, cfg.LogBuffer, h.logAfter)
		defer func() { _ = lb.Close() }() // last: every line, the shutdown's included
		stderr = lb
	}
	logger, err := newLogger(cfg, stderr, &snaps)
	if err != nil {
		return err
	}
	cat, err := catalog.Load()
	if err != nil {
		return err
	}
	client := &http.Client{Transport: upstreamTransport()}
	// Traces, when the OTEL_* environment configures them: a server span per request, a
	// client span per attempt, and the attempt's traceparent on every upstream request.
	tp, err := tracing.FromEnv(ctx, getenv, Version)
	if err != nil {
		return err
	}
	var tracer trace.Tracer
	if tp != nil {
		tracer = tp.Tracer()
		client.Transport = tracing.Transport(client.Transport)
		defer func() {
			// Last: every request has ended; flush their spans, within a bound.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				logger.Warn("could not flush traces", "error", err)
			}
		}()
		logger.Info("tracing to OTLP")
	}
	reg := registry.New(client)
	// OIDC tokens: verified against keys read in the background (Run below); users created on
	// first use are stored in the database, by a replica through its control plane.
	users := &lazyUsers{}
	vopts := []oidc.Option{oidc.WithUserStore(users)}
	if h.clock != nil {
		vopts = append(vopts, oidc.WithClock(h.clock))
	}
	verifier := oidc.New(logger.With("component", "oidc"), vopts...)
	snaps.Tokens = verifier
	if err := checkRole(cfg, getenv); err != nil {
		return err
	}
	var pl *plane
	if cfg.Role == RoleGateway {
		pl, err = gatewayPlane(cfg, getenv, &snaps, reg, cat, h, logger)
	} else {
		pl, err = storePlane(ctx, cfg, getenv, stderr, &snaps, reg, cat, h, logger)
	}
	if err != nil {
		return err
	}
	defer pl.close()
	users.u = pl.users
	// Usage events leave the request path through a bounded queue: a stalled log disk or a
	// Kafka producer must never add latency to a request.
	sink := requestLog(cfg, logger, h.clock)
	if h.recorder != nil {
		sink = h.recorder
	}
	events, err := newUsageSink(ctx, cfg, getenv, &snaps, sink, logger)
	if err != nil {
		return err
	}
	defer events.close(ctx) // when serve fails before it serves; else a no-op
	queue := usage.NewQueue(usageQueueBytes, events.sink, logger)
	queue.Linger, queue.NewTimer = cfg.UsageLinger, h.usageTimer
	// Metrics are recorded on the request path, in front of the queue: a full queue drops
	// events, never counts.
	routing := routingState{snaps: &snaps, breaker: breaker.New(h.clock, logger), latency: latency.New(h.clock)}
	mopts := []metrics.Option{metrics.WithLatency(routing.latency)}
	if h.clock != nil {
		mopts = append(mopts, metrics.WithClock(h.clock))
	}
	m := metrics.New(&snaps, routing.breaker, mopts...)
	m.WatchUsage(metrics.Stage{Name: "queue", Depth: queue.Len, Bytes: queue.Bytes, Dropped: queue.Dropped})
	if pl.secretFailures != nil {
		m.WatchSecrets(pl.secretFailures)
	}
	events.watch(m)
	if err := m.Register(verifier.Collector(&snaps)); err != nil {
		return err
	}
	rec := m.Wrap(queue)
	gov := newGovernance(&snaps, client, logger, h.clock, queue, m, pl.leases)
	saver := checkpoint.New(pl.state, gov.limits, gov.ledger, logger)
	if err := saver.Load(ctx); err != nil {
		return fmt.Errorf("load rate-limit and budget state: %w", err)
	}
	if h.governance != nil {
		h.governance(gov)
	}

	tracker := keyuse.NewTracker()
	guards := append([]pipeline.Guard{gov.guard}, h.guards...)
	p := pipeline.New(&snaps, rec, logger, pipeline.WithKeyUse(tracker), pipeline.WithUpstreamTimeout(cfg.UpstreamTimeout), pipeline.WithGuards(guards...), pipeline.WithBreaker(routing.breaker), pipeline.WithLatency(routing.latency), pipeline.WithSessions(sticky.New(h.clock, sticky.DefaultMax)), pipeline.WithTracer(tracer))
	opts := server.Options{MaxBody: cfg.MaxBody, MaxFile: cfg.MaxFile, ReadTimeout: cfg.ReadTimeout, BatchKey: pl.batchKey,
		Metrics: m.Handler(), MetricsPublic: cfg.MetricsPublic, Tracer: tracer, Usage: events.api, Pprof: cfg.Pprof, NoInference: cfg.Role == RoleControl}
	var adminHandler adminv1connect.AdminServiceHandler
	var db server.Pinger
	if pl.control != nil {
		if adminHandler, db, err = pl.control(ctx, controlDeps{cfg: cfg, h: h, snaps: &snaps, gov: gov, routing: routing, opts: &opts}); err != nil {
			return err
		}
	}
	if pl.replica != nil {
		opts.Status = func() map[string]any {
			st := pl.replica.Status()
			hl := pl.leases.Health()
			st["limits"] = "leased"
			if !hl.Reachable {
				st["limits"] = "local accounting (control plane unreachable; rules fail open unless set to fail closed)"
			}
			if !hl.LastSync.IsZero() {
				st["limits_last_sync"] = hl.LastSync.UTC().Format(time.RFC3339Nano)
			}
			var keys []map[string]any
			for _, ls := range pl.leases.Status() {
				keys = append(keys, map[string]any{"rule": ls.Key.Rule, "kind": ls.Key.Kind.String(), "bucket": ls.Key.Bucket,
					"mode": ls.Mode.String(), "remaining": ls.Remaining, "pending": ls.Pending, "limit": ls.Limit})
			}
			if keys != nil {
				st["leases"] = keys
			}
			return st
		}
	}
	opts.Status = withIdentityStatus(opts.Status, &snaps, verifier)
	srv := server.New(&snaps, p, adminHandler, db, logger, opts)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		stop := serveMetrics(mln, m.Handler(), logger)
		defer stop()
		if h.metricsReady != nil {
			h.metricsReady(mln.Addr().String())
		}
	}
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	qctx, stopQueue := context.WithCancel(context.WithoutCancel(ctx))
	defer stopQueue()
	go queue.Run(qctx, 10*time.Second)
	// The sink outlives the queue: the queue's last delivery, at shutdown, must find it
	// running (events.close stops it once the queue is done).
	events.start(context.WithoutCancel(ctx))
	// Budget alerts are delivered off the request path until the last request has settled.
	nctx, stopNotifier := context.WithCancel(context.WithoutCancel(ctx))
	defer stopNotifier()
	notified := make(chan struct{})
	go func() {
		gov.notifier.Run(nctx)
		close(notified)
	}()
	pl.run(bg, cfg.ReloadInterval)
	go verifier.Run(bg, &snaps, time.Second)
	go gov.prune(bg, pruneEvery)
	// Not under bg: the final save must wait until every request has settled (below).
	sctx, stopSaver := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSaver()
	saved := make(chan struct{})
	go func() {
		saver.Run(sctx, checkpoint.DefaultInterval)
		close(saved)
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if pl.touchKeys != nil {
			tracker.Run(bg, 30*time.Second, pl.touchKeys, logger)
		}
	}()
	trimTicker := time.NewTicker(trimEvery)
	defer trimTicker.Stop()
	go trimPages(bg, trimTicker.C, pagetrim.Executable, logger)
	logger.Info("llmgw serving", "addr", ln.Addr().String(), "role", cfg.Role, "db", pl.dialect, "version", Version, "build", build)
	if lb != nil {
		lb.Flush() // the start's lines (a generated admin token among them) show at once
	}
	if h.ready != nil {
		h.ready(ln.Addr().String())
	}
	err = srv.Serve(ctx, ln)
	// Streams whose clients left are still being read on for their usage: give them a
	// bounded while, then cut them short (they record estimated usage), before the queue's
	// last delivery.
	dctx, stopDrains := context.WithTimeout(context.WithoutCancel(ctx), drainGrace)
	p.Drain(dctx)
	stopDrains()
	stopSaver() // every request has settled its reservations: the final save holds them all
	<-saved
	stopNotifier() // every request has settled: deliver the alerts queued, within the notifier's bound
	<-notified
	stopBG()
	stopQueue() // requests have finished: deliver what is queued
	<-queue.Done()
	if cerr := events.close(ctx); cerr != nil {
		logger.Error("usage events", "error", cerr)
	}
	<-done // the last key-use flush
	return err
}

// requestLog is the request-log sink cfg asks for: a line per request, capped per second, or
// none.
func requestLog(cfg *Config, logger *slog.Logger, clock func() time.Time) usage.Sink {
	if !cfg.RequestLog {
		return discard{}
	}
	lr := usage.LogRecorder{Logger: logger}
	if cfg.RequestLogMaxRate > 0 {
		lr.Cap = &usage.LineCap{PerSecond: int64(cfg.RequestLogMaxRate), Now: clock}
	}
	return lr
}

// serveMetrics serves GET /metrics from h on ln, without authentication (the address is the
// operator's to protect), until the returned stop is called.
func serveMetrics(ln net.Listener, h http.Handler, logger *slog.Logger) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "error", err)
		}
	}()
	logger.Info("serving metrics", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
}

// trimEvery is how often a serving process gives back the pages of its binary it has not
// touched since the last time (pagetrim), the first time as it starts serving.
const trimEvery = time.Minute

// trimPages releases the executable's resident pages (release is pagetrim.Executable) now
// and at every tick until ctx ends, or until a release fails: what failed once (no /proc, a
// locked mapping) fails again. Pages in use come back at their next touch, so the resident set
// is what the last period used.
func trimPages(ctx context.Context, tick <-chan time.Time, release func() (pagetrim.Result, error), logger *slog.Logger) {
	level := slog.LevelInfo // the first time; the rest at debug
	for {
		r, err := release()
		switch {
		case err != nil:
			logger.Warn("could not release the binary's resident pages; not trying again", "error", err)
			return
		case r.Mappings > 0:
			logger.Log(ctx, level, "released the binary's resident pages", "kb", r.Resident>>10, "mappings", r.Mappings)
		}
		level = slog.LevelDebug
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}

// drainGrace bounds how long shutdown waits for abandoned streams still being read on for
// their usage (pipeline.Drain), after the server's own grace for requests in flight.
const drainGrace = 10 * time.Second

type discard struct{}

func (discard) Record(context.Context, *usage.Event) {}

func upstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2048
	t.MaxIdleConnsPerHost = 512
	t.IdleConnTimeout = 90 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return t
}
