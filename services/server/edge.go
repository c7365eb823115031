package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/tracing"
	"github.com/llmgw/llmgw/services/adminaccess"
	"github.com/llmgw/llmgw/services/usage"
)

// The edge wraps every route before its handler runs, and does the same things in the same
// order on all of them:
//
//  1. name the request: a fresh server id, returned as X-Request-Id (the client's own
//     X-Request-Id is kept apart, as an untrusted field);
//  2. refuse a declared body over the limit (Content-Length) without reading it;
//  3. on Connect, gRPC and REST, check the key from the headers before reading any of the
//     body: an unauthenticated request costs a map lookup, never a buffer;
//  4. bound the body: at most the limit is read, and reading it must finish within the read
//     timeout, so a slow client cannot hold a request open;
//  5. when the handler returns, leave one record of the request: the pipeline's usage event
//     if it reached a model, else a refusal record (status, principal, model, request id).

// hopHeader carries a REST request's identity into the gRPC hop to the same process (the REST
// gateway dials the server's own listener), so the hop is one request with one record, not
// two. Its value is the process's hop token and the request id; anything else is ignored.
const hopHeader = "x-llmgw-hop"

// hopEntry is what the REST edge knows of a request in its hop: its record and the caller it
// admitted, so the hop neither names nor admits it again.
type hopEntry struct {
	er   *edge.Request
	c    *pipeline.Caller
	span trace.Span // the request's server span, nil when not traced: the hop's spans are its children
}

// edgeRoutes holds what the edge needs across requests.
type edgeRoutes struct {
	s        *Server
	hopToken string
	hops     sync.Map // request id -> *hopEntry, while a REST request is in its hop
	errw     *connect.ErrorWriter
}

func newEdge(s *Server) *edgeRoutes {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return &edgeRoutes{s: s, hopToken: hex.EncodeToString(b[:]), errw: connect.NewErrorWriter()}
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streams through (Connect needs an http.Flusher).
func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the connection (read deadlines, flushes).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// deadlineBody clears the request's read deadline once its body has been read to the end, so
// the deadline bounds the upload and never the answer that follows it. A body that failed or
// was left unread keeps the deadline, which then also bounds the server's own attempt to
// drain it before answering; a timed-out one closes the connection after the answer.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	h    http.Header
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !b.done {
		b.done = true
		if err == io.EOF {
			_ = b.rc.SetReadDeadline(time.Time{})
		} else {
			b.h.Set("Connection", "close")
		}
	}
	return n, err
}

// bound limits what can be read of r's body to limit bytes, read within the read timeout.
func (e *edgeRoutes) bound(w http.ResponseWriter, r *http.Request, limit int64) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	rc := http.NewResponseController(w)
	if e.s.opts.ReadTimeout > 0 && rc.SetReadDeadline(time.Now().Add(e.s.opts.ReadTimeout)) == nil {
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, h: w.Header()}
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
}

// traced starts the request's server span when the server traces (Options.Tracer): a child of
// the trace context the client sent (W3C traceparent), else the root of a new trace. It
// returns r carrying the span, and the span (nil when the server does not trace).
func (e *edgeRoutes) traced(r *http.Request, er *edge.Request) (*http.Request, trace.Span) {
	t := e.s.opts.Tracer
	if t == nil {
		return r, nil
	}
	ctx := tracing.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	route := spanRoute(r.URL.Path)
	ctx, span := t.Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		tracing.HTTPMethod.String(r.Method), tracing.HTTPRoute.String(route), tracing.RequestID.String(er.ID), tracing.Surface.String(er.Surface)))
	return r.WithContext(ctx), span
}

// spanRoute is path with the ids in it replaced, so span names stay few: /v1/batches/{id},
// /v1/files/{id}/content, /v1/models/{id}.
func spanRoute(path string) string {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return path
	}
	coll, tail, ok := strings.Cut(rest, "/")
	if !ok {
		return path
	}
	switch coll {
	case "batches", "files", "responses":
		if _, after, more := strings.Cut(tail, "/"); more {
			return "/v1/" + coll + "/{id}/" + after
		}
		return "/v1/" + coll + "/{id}"
	case "models":
		return "/v1/models/{id}"
	}
	return path
}

// maxSpanModel bounds the model name a server span carries: the name is the client's, and a
// longer one is left out.
const maxSpanModel = 256

// endTraced ends a request's server span (nil: none) with the status it was answered with and
// the model it asked for.
func endTraced(span trace.Span, er *edge.Request, sw *statusWriter) {
	if span == nil {
		return
	}
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	span.SetAttributes(tracing.HTTPStatusCode.Int(status))
	if m := er.Outcome().Model; m != "" && len(m) <= maxSpanModel {
		span.SetAttributes(tracing.RequestModel.String(m)) // the client's text: bounded
	}
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// settle leaves the request's one record when the pipeline left none.
func (e *edgeRoutes) settle(ctx context.Context, er *edge.Request, sw *statusWriter) {
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	e.s.p.Settle(ctx, er, status)
}

// surface wraps a /v1 surface (OpenAI or Anthropic dialect). The surfaces check the key before
// reading the body themselves, and bound the body with their own limits (a batch input file
// has a larger one).
func (e *edgeRoutes) surface(surface string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		er := edge.NewRequest(r.Header, surface, time.Now())
		r, span := e.traced(r, er)
		w.Header().Set("X-Request-Id", er.ID)
		if surface == edge.SurfaceAnthropic {
			w.Header().Set("Request-Id", er.ID) // where Anthropic's SDKs look for it
		}
		limit := e.s.opts.MaxBody
		if r.Method == http.MethodPost && r.URL.Path == "/v1/files" {
			limit = e.s.opts.MaxFile
		}
		e.bound(w, r, limit)
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(edge.WithRequest(r.Context(), er))
		defer endTraced(span, er, sw) // after the record
		defer e.settle(r.Context(), er, sw)
		next.ServeHTTP(sw, r)
	})
}

// isConnectUnary reports whether r is a unary call in the Connect protocol (a plain JSON or
// protobuf body), which the edge reads whole before the handler; the other protocols frame
// their messages and are bounded per message by connect.WithReadMaxBytes.
func isConnectUnary(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(strings.ToLower(ct))
	return r.Method == http.MethodPost && (ct == "application/json" || ct == "application/proto")
}

// connectFail answers err, found before the service ran, in the protocol the request speaks.
// On the Connect protocol's unary calls the HTTP status is the kind's (413 for a body over the
// limit, 408 for a body too slow), with Connect's code in the body, which is what Connect
// clients read; Connect's own table would answer 429 and 504, which tell clients to retry.
// gRPC and gRPC-Web carry the code in their trailers.
func (e *edgeRoutes) connectFail(w http.ResponseWriter, r *http.Request, er *edge.Request, err error) {
	ae := apierr.From(err)
	if er != nil {
		er.Failed(ae)
	}
	if isConnectUnary(r) || !e.errw.IsSupported(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ae.Kind.HTTPStatus())
		b, _ := json.Marshal(map[string]string{"code": ae.Kind.ConnectCode().String(), "message": ae.Message})
		_, _ = w.Write(b)
		return
	}
	_ = e.errw.Write(w, r, apierr.ConnectError(ae))
}

// readAll reads a bounded body whole and puts it back as a buffer, so a body over the limit is
// refused before a decoder sees a byte of it.
func readAll(r *http.Request, limit int64) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return edge.BodyError(err, limit)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

// access is what a service asks of a key.
type access int

const (
	// accessInference admits any key as the pipeline's caller, and leaves a request record.
	accessInference access = iota
	// accessAdmin needs the admin token or an admin-scoped key of a user with an Admin API
	// role; the Admin API's role table decides the rest.
	accessAdmin
	// accessUsage admits any key, as the Usage API's viewer (which narrows what it sees).
	accessUsage
	// accessCaller admits any key: GetCaller's route, which tells a caller what it may do.
	accessCaller
	// accessGateway is the control-plane service's: it takes gateway tokens, not keys, and
	// checks them itself.
	accessGateway
)

// connectService wraps the Connect handler of a service, checking keys as acc says.
func (e *edgeRoutes) connectService(acc access, next http.Handler) http.Handler {
	limit := e.s.opts.MaxBody
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var er *edge.Request
		var hopped *hopEntry
		if acc == accessInference {
			if hopped = e.hop(r); hopped != nil {
				er = hopped.er // the REST edge that made the hop records it
				if hopped.span != nil {
					r = r.WithContext(trace.ContextWithSpan(r.Context(), hopped.span))
				}
			} else {
				er = edge.NewRequest(r.Header, edge.SurfaceConnect, time.Now())
				var span trace.Span
				r, span = e.traced(r, er)
				sw := &statusWriter{ResponseWriter: w}
				w = sw
				defer endTraced(span, er, sw) // after the record
				defer e.settle(r.Context(), er, sw)
			}
			w.Header().Set("X-Request-Id", er.ID)
			r = r.WithContext(edge.WithRequest(r.Context(), er))
		}
		if r.ContentLength > limit {
			e.connectFail(w, r, er, edge.TooLarge(limit))
			return
		}
		if hopped != nil {
			r = r.WithContext(pipeline.WithCaller(r.Context(), hopped.c)) // admitted by the REST edge
		} else {
			ctx, err := e.authenticate(r, er, acc)
			if err != nil {
				e.connectFail(w, r, er, err)
				return
			}
			r = r.WithContext(ctx)
		}
		if isConnectUnary(r) {
			e.bound(w, r, limit)
			if err := readAll(r, limit); err != nil {
				e.connectFail(w, r, er, err)
				return
			}
		} else {
			// gRPC and streaming framing: connect.WithReadMaxBytes bounds each message; this
			// bounds the whole body, with room for the framing.
			e.bound(w, r, limit+64<<10)
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate checks the request's key from its headers, before its body is read. For the
// inference service it admits the caller into the context; for the Admin API it requires an
// admin principal; for the Usage API it puts the key's viewer into the context.
func (e *edgeRoutes) authenticate(r *http.Request, er *edge.Request, acc access) (context.Context, error) {
	if acc == accessGateway {
		return r.Context(), nil
	}
	if acc == accessAdmin && (r.URL.Path == callerPath || adminaccess.OpenToAll(r.URL.Path)) {
		acc = accessCaller // a method open to every caller (GetCaller), over REST or Connect/gRPC
	}
	if acc != accessInference {
		p, err := e.s.principal(r.Header)
		if err != nil {
			return nil, err
		}
		if acc == accessUsage {
			return usage.WithViewer(r.Context(), usage.ViewerOf(p)), nil
		}
		if acc == accessCaller {
			return r.Context(), nil
		}
		if !adminaccess.MayUse(p) {
			return nil, errAdminAccess
		}
		return r.Context(), nil
	}
	c, err := e.s.p.AdmitEdge(er, edge.Secret(r.Header))
	if err != nil {
		return nil, err
	}
	return pipeline.WithCaller(r.Context(), c), nil
}

// hop returns the REST request a gRPC hop carries, or nil when r is not one.
func (e *edgeRoutes) hop(r *http.Request) *hopEntry {
	vs := r.Header.Values(hopHeader)
	if len(vs) == 0 {
		return nil
	}
	r.Header.Del(hopHeader)
	for _, v := range vs { // a REST client may have sent one of its own
		if token, id, ok := strings.Cut(v, ":"); ok && token == e.hopToken {
			if h, ok := e.hops.Load(id); ok {
				return h.(*hopEntry)
			}
		}
	}
	return nil
}

// hopMetadata is the REST gateway's metadata annotator: it carries the request's identity into
// the hop.
func (e *edgeRoutes) hopMetadata(ctx context.Context, r *http.Request) metadata.MD {
	er := edge.FromContext(r.Context())
	if er == nil {
		return nil
	}
	return metadata.Pairs(hopHeader, e.hopToken+":"+er.ID)
}

// rest wraps the REST gateway. Inference routes get a request record and a caller; Admin
// routes need an admin principal; Usage routes any key (the Usage API narrows what it shows
// in the hop, where the key travels in the Authorization header). All are checked from the
// headers, then the body is read whole under the limit, before the gateway decodes it.
func (e *edgeRoutes) rest(next http.Handler) http.Handler {
	limit := e.s.opts.MaxBody
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acc := accessAdmin
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/v1/inference/"):
			acc = accessInference
		case strings.HasPrefix(r.URL.Path, "/api/v1/usage/"):
			acc = accessUsage
		}
		var er *edge.Request
		var span trace.Span
		if acc == accessInference {
			er = edge.NewRequest(r.Header, edge.SurfaceREST, time.Now())
			r, span = e.traced(r, er)
			w.Header().Set("X-Request-Id", er.ID)
			sw := &statusWriter{ResponseWriter: w}
			w = sw
			r = r.WithContext(edge.WithRequest(r.Context(), er))
			defer endTraced(span, er, sw) // after the record
			defer e.settle(r.Context(), er, sw)
		}
		if r.ContentLength > limit {
			e.restFail(w, er, edge.TooLarge(limit))
			return
		}
		ctx, err := e.authenticate(r, er, acc)
		if err != nil {
			e.restFail(w, er, err)
			return
		}
		e.bound(w, r, limit)
		if err := readAll(r, limit); err != nil {
			e.restFail(w, er, err)
			return
		}
		if er != nil {
			e.hops.Store(er.ID, &hopEntry{er: er, c: pipeline.CallerFrom(ctx), span: span})
			defer e.hops.Delete(er.ID)
		}
		next.ServeHTTP(w, r)
	})
}

// restFail answers err as the REST gateway answers errors: {"code","message","details"} with
// the kind's HTTP status.
func (e *edgeRoutes) restFail(w http.ResponseWriter, er *edge.Request, err error) {
	ae := apierr.From(err)
	if er != nil {
		er.Failed(ae)
	}
	writeREST(w, ae)
}

func writeREST(w http.ResponseWriter, ae *apierr.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ae.Kind.HTTPStatus())
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []any  `json:"details"`
	}{int(ae.Kind.ConnectCode()), ae.Message, []any{}})
	_, _ = w.Write(b)
}
