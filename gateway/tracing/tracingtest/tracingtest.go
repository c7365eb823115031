// Package tracingtest is an OTLP trace receiver for tests: a real HTTP server (and optionally
// a gRPC one) that decodes the protobuf export requests OpenTelemetry exporters send, and
// keeps the spans with their resources.
//
// It is for tests only; nothing in a server imports it.
package tracingtest

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Span is a received span with its resource's attributes.
type Span struct {
	*tracepb.Span
	Resource map[string]string
}

// TraceID and SpanID are the span's ids in hex, as traceparent writes them.
func (s Span) TraceID() string      { return hex.EncodeToString(s.Span.TraceId) }
func (s Span) SpanID() string       { return hex.EncodeToString(s.Span.SpanId) }
func (s Span) ParentSpanID() string { return hex.EncodeToString(s.Span.ParentSpanId) }

// Attr returns the span's attribute key as a string (ints in decimal), and whether it is set.
func (s Span) Attr(key string) (string, bool) { return attr(s.Attributes, key) }

// Int returns the span's int attribute key.
func (s Span) Int(key string) (int64, bool) {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			if v, ok := kv.Value.Value.(*commonpb.AnyValue_IntValue); ok {
				return v.IntValue, true
			}
		}
	}
	return 0, false
}

func attr(kvs []*commonpb.KeyValue, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			switch v := kv.Value.Value.(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue, true
			default:
				return kv.Value.String(), true
			}
		}
	}
	return "", false
}

// Receiver collects the spans exported to it. It is safe for concurrent use.
type Receiver struct {
	// URL is the HTTP receiver's base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans are posted to
	// URL/v1/traces.
	URL string
	// GRPCAddr is the gRPC receiver's address, after StartGRPC.
	GRPCAddr string

	mu      sync.Mutex
	spans   []Span
	changed chan struct{}
}

// NewReceiver starts an OTLP/HTTP receiver, closed when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{changed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
			http.NotFound(w, req)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var in coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.add(&in)
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// StartGRPC starts an OTLP/gRPC receiver too, stopped when the test ends.
func (r *Receiver) StartGRPC(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(s, grpcService{r: r})
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	r.GRPCAddr = ln.Addr().String()
}

type grpcService struct {
	coltracepb.UnimplementedTraceServiceServer
	r *Receiver
}

func (g grpcService) Export(_ context.Context, in *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.r.add(in)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *Receiver) add(in *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range in.ResourceSpans {
		res := map[string]string{}
		for _, kv := range rs.GetResource().GetAttributes() {
			res[kv.Key], _ = attr([]*commonpb.KeyValue{kv}, kv.Key)
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				r.spans = append(r.spans, Span{Span: sp, Resource: res})
			}
		}
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// Spans returns the spans received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Changed is closed when spans next arrive.
func (r *Receiver) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}
