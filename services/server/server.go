// Package server composes llmgw's single HTTP listener: Connect, gRPC and gRPC-Web for the
// Admin, Inference and Usage services, the same services as REST through grpc-gateway under /api/,
// the OpenAI-compatible surface under /v1/, /healthz, /readyz and /metrics. It speaks HTTP/1.1
// and cleartext HTTP/2 (h2c) on one port.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/llmgw/llmgw/gateway/anthropicapi"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/openaiapi"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
	"github.com/llmgw/llmgw/gen/go/llmgw/controlplane/v1/controlplanev1connect"
	inferencev1 "github.com/llmgw/llmgw/gen/go/llmgw/inference/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/inference/v1/inferencev1connect"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/usage/v1/usagev1connect"
	"github.com/llmgw/llmgw/services/inference"
)

// Pinger reports whether the database answers; readiness shows it but never fails on it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options are the server's knobs; zero values take the defaults.
type Options struct {
	// MaxBody limits request bodies on every route but batch file uploads (default
	// edge.DefaultMaxBody).
	MaxBody int64
	// ReadTimeout bounds reading one request's body, from its first byte to its last; a client
	// slower than that is cut off (default 5 minutes; negative: no bound). Headers have their
	// own 10 s bound.
	ReadTimeout time.Duration
	// ShutdownTimeout bounds graceful shutdown; streams in flight get this long (default 30s).
	ShutdownTimeout time.Duration
	// BatchKey seals the ids of files and batches (see openaiapi.WithBatchKey); the same on
	// every replica. Nil draws a key per process.
	BatchKey []byte
	// MaxFile limits a batch input file (default openaiapi.DefaultMaxFile).
	MaxFile int64
	// Usage serves the Usage API (llmgw.usage.v1.UsageService) to any key, narrowed to what
	// the key may see; nil leaves the service out.
	Usage usagev1connect.UsageServiceHandler
	// Metrics, when set, is served at GET /metrics (Prometheus's text format). It needs the
	// admin token or an admin user's key unless MetricsPublic is set.
	Metrics       http.Handler
	MetricsPublic bool
	// Tracer, when set, traces every inference request with a server span (the pipeline's
	// attempt spans are its children), continuing the trace of a client's traceparent header.
	// Nil traces nothing.
	Tracer trace.Tracer
	// Pprof serves Go's runtime profiles under /debug/pprof/ to the admin token or an admin
	// user's key (default off: the path is then a 404).
	Pprof bool
	// ControlPlane, when set, serves llmgw.controlplane.v1.ControlPlaneService to gateway
	// replicas; it authenticates their gateway tokens itself.
	ControlPlane controlplanev1connect.ControlPlaneServiceHandler
	// NoInference leaves the inference surfaces out (a control plane's): their paths answer
	// 404 saying where inference is served.
	NoInference bool
	// Status, when set, adds its fields to the readiness answer (a replica's control-plane
	// link).
	Status func() map[string]any
	// UI, when set, serves the admin web app under /ui/ (and GET / redirects there). It
	// authenticates nothing itself: the app calls the APIs with the user's token.
	UI http.Handler
}

// DefaultReadTimeout is the default Options.ReadTimeout.
const DefaultReadTimeout = 5 * time.Minute

// Server is the composed listener.
type Server struct {
	snaps  *snapshot.Holder
	p      *pipeline.Pipeline
	admin  adminv1connect.AdminServiceHandler
	db     Pinger
	logger *slog.Logger
	opts   Options
}

// New returns a server. admin may be nil in a data-plane-only process; the gateway-only build
// serves none (admin.go is left out of it).
func New(snaps *snapshot.Holder, p *pipeline.Pipeline, admin adminv1connect.AdminServiceHandler, db Pinger, logger *slog.Logger, opts Options) *Server {
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = edge.DefaultMaxBody
	}
	if opts.MaxFile <= 0 {
		opts.MaxFile = openaiapi.DefaultMaxFile
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	return &Server{snaps: snaps, p: p, admin: admin, db: db, logger: logger, opts: opts}
}

// Handler returns the composed handler; restAddr is the listener's own address, which the
// REST gateway dials (empty disables REST).
func (s *Server) Handler(ctx context.Context, restAddr string) (http.Handler, func(), error) {
	mux := http.NewServeMux()
	e := newEdge(s)
	// Every message is bounded too, for the protocols that frame several in one body.
	readMax := connect.WithReadMaxBytes(int(min(s.opts.MaxBody, math.MaxInt32)))
	if s.opts.NoInference {
		mux.Handle("/"+inferencev1connect.InferenceServiceName+"/", http.HandlerFunc(noInference))
		mux.Handle("/v1/", http.HandlerFunc(noInference))
		mux.Handle("/api/v1/inference/", http.HandlerFunc(noInference))
	} else {
		path, h := inferencev1connect.NewInferenceServiceHandler(inference.New(s.p, s.logger), readMax, strictConnectJSON())
		mux.Handle(path, e.connectService(accessInference, h))
		oai := []openaiapi.Option{openaiapi.WithMaxFile(s.opts.MaxFile)}
		if s.opts.BatchKey != nil {
			oai = append(oai, openaiapi.WithBatchKey(s.opts.BatchKey))
		}
		mux.Handle("/v1/", e.surface(edge.SurfaceOpenAI, openaiapi.New(s.p, s.logger, s.opts.MaxBody, oai...)))
		// Anthropic's Messages surface; these patterns are more specific than /v1/, so they win.
		messages := e.surface(edge.SurfaceAnthropic, anthropicapi.New(s.p, s.logger, s.opts.MaxBody))
		// Every method: the Anthropic handler answers a wrong one with a 405 in Anthropic's shape.
		mux.Handle("/v1/messages", messages)
		mux.Handle("/v1/messages/count_tokens", messages)
	}
	if s.opts.ControlPlane != nil {
		path, h := controlplanev1connect.NewControlPlaneServiceHandler(s.opts.ControlPlane, readMax, strictConnectJSON())
		mux.Handle(path, e.connectService(accessGateway, h))
	}
	if s.admin != nil {
		if err := s.mountAdmin(mux, e, readMax); err != nil {
			return nil, nil, err
		}
	}
	if s.opts.Usage != nil {
		path, h := usagev1connect.NewUsageServiceHandler(s.opts.Usage, readMax, strictConnectJSON())
		mux.Handle(path, e.connectService(accessUsage, h))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.HandleFunc("GET "+AuthConfigPath, s.authConfig)
	if s.opts.Metrics != nil {
		h := s.opts.Metrics
		if !s.opts.MetricsPublic {
			h = s.adminOnly(h)
		}
		mux.Handle("GET /metrics", h)
	}
	if s.opts.Pprof {
		s.routePprof(mux)
	}
	if s.opts.UI != nil {
		mux.Handle("/ui/", s.opts.UI)
		mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	}
	cleanup := func() {}
	if restAddr != "" {
		// The hop carries what the REST edge admitted: up to MaxBody out (the edge has bounded
		// the JSON, and its protobuf form is no larger), and answers of any size back.
		conn, err := grpc.NewClient("passthrough:///"+restAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(int(min(s.opts.MaxBody, math.MaxInt32))), grpc.MaxCallRecvMsgSize(math.MaxInt32)))
		if err != nil {
			return nil, nil, err
		}
		cleanup = func() { _ = conn.Close() }
		rest := runtime.NewServeMux(runtime.WithIncomingHeaderMatcher(restHeader), runtime.WithMetadata(e.hopMetadata), strictRESTJSON())
		if !s.opts.NoInference {
			if err := inferencev1.RegisterInferenceServiceHandler(ctx, rest, conn); err != nil {
				return nil, nil, err
			}
		}
		if s.admin != nil {
			if err := registerAdminREST(ctx, rest, conn); err != nil {
				return nil, nil, err
			}
		}
		if s.opts.Usage != nil {
			if err := usagev1.RegisterUsageServiceHandler(ctx, rest, conn); err != nil {
				return nil, nil, err
			}
		}
		mux.Handle("/api/", e.rest(rest))
	}
	return mux, cleanup, nil
}

// restHeader forwards the key to the services, besides what grpc-gateway forwards by default
// (Authorization included). The request's identity travels in the hop header (hopMetadata).
func restHeader(key string) (string, bool) {
	switch strings.ToLower(key) {
	case "x-api-key":
		return "x-api-key", true
	}
	return runtime.DefaultHeaderMatcher(key)
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	status := map[string]any{"snapshot": "loaded"}
	code := http.StatusOK
	if snap := s.snaps.Load(); snap == nil {
		status["snapshot"] = "not loaded"
		code = http.StatusServiceUnavailable
	} else if u := snap.Unavailable(); len(u) > 0 {
		// Accounts and models without their secret answer 503; the rest serves, so the
		// gateway stays ready.
		status["unavailable"] = u
	}
	if s.db != nil { // a gateway replica has none
		status["database"] = "ok"
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := s.db.Ping(ctx); err != nil {
			// Inference goes on from the snapshot; readiness says so but does not fail.
			status["database"] = "unreachable"
		}
	}
	if s.opts.Status != nil {
		maps.Copy(status, s.opts.Status())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(status)
}

// noInference answers an inference path on a control plane.
func noInference(w http.ResponseWriter, _ *http.Request) {
	apierr.WriteOpenAI(w, apierr.New(apierr.KindNotFound, "this llmgw is a control plane (--role control): send inference requests to a gateway replica"))
}

// adminOnly lets through only requests with the admin token or an admin-scoped key of a user
// with the admin role, and answers others in OpenAI's error shape (401, 403).
func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principal(r.Header)
		if err == nil && (!p.Admin || !p.CanAdmin()) {
			err = apierr.New(apierr.KindPermissionDenied, "this needs the admin token or an admin-scoped key of a user with the admin role")
		}
		if err != nil {
			apierr.WriteOpenAI(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// principal authenticates the key h carries against the current snapshot.
func (s *Server) principal(h http.Header) (*snapshot.Principal, error) {
	snap := s.snaps.Load()
	if snap == nil {
		return nil, apierr.New(apierr.KindUnavailable, "the gateway is starting; retry shortly")
	}
	return snap.Authenticate(edge.Secret(h), time.Now())
}

// Serve serves on ln until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	h, cleanup, err := s.Handler(ctx, ln.Addr().String())
	if err != nil {
		return err
	}
	defer cleanup()
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		// No WriteTimeout: streams may last minutes; the pipeline bounds upstream calls.
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.logger.Info("shutting down", "grace", s.opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// callerPath is GetCaller's REST route, which any authenticated caller may use.
const callerPath = "/api/v1/caller"

// errAdminAccess refuses a key the Admin API never admits.
var errAdminAccess = apierr.New(apierr.KindPermissionDenied, "the Admin API needs the admin token or an admin-scoped key of a user with an admin, viewer or team-admin role")
