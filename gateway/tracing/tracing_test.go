package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmgw/llmgw/gateway/tracing"
	"github.com/llmgw/llmgw/gateway/tracing/tracingtest"
)

func envOf(m map[string]string) tracing.Env { return func(k string) string { return m[k] } }

// TestFromEnvOff: without an endpoint, or switched off, there is no provider.
func TestFromEnvOff(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none"},
	} {
		p, err := tracing.FromEnv(context.Background(), envOf(env), "test")
		if err != nil || p != nil {
			t.Errorf("%v: provider %v, error %v; want neither", env, p, err)
		}
	}
}

// TestFromEnvRefusesWhatItCannotUse: a value that would be ignored is an error naming its
// variable.
func TestFromEnvRefusesWhatItCannotUse(t *testing.T) {
	base := "http://127.0.0.1:1"
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_TRACES_SAMPLER": "jaeger_remote"}, "OTEL_TRACES_SAMPLER"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, "OTEL_EXPORTER_OTLP_HEADERS"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": base, "OTEL_SDK_DISABLED": "maybe"}, "OTEL_SDK_DISABLED"},
	} {
		_, err := tracing.FromEnv(context.Background(), envOf(tt.env), "test")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one naming %s", tt.env, err, tt.want)
		}
	}
}

// export makes one span with the provider FromEnv builds from env, and waits until r has it.
func export(t *testing.T, r *tracingtest.Receiver, env map[string]string) tracingtest.Span {
	t.Helper()
	p, err := tracing.FromEnv(context.Background(), envOf(env), "v1.2.3")
	if err != nil || p == nil {
		t.Fatalf("provider %v, error %v", p, err)
	}
	changed := r.Changed()
	_, span := p.Tracer().Start(context.Background(), "probe")
	span.End()
	if err := p.Shutdown(context.Background()); err != nil { // flushes
		t.Fatal(err)
	}
	<-changed
	spans := r.Spans()
	if len(spans) != 1 || spans[0].Name != "probe" {
		t.Fatalf("received %+v, want the one span", spans)
	}
	return spans[0]
}

// TestExportOverHTTPAndGRPC: the standard variables reach a real OTLP receiver, over HTTP
// (the default protocol, the base endpoint with /v1/traces added, or the traces endpoint as
// is) and over gRPC, with the service name, the version and the headers.
func TestExportOverHTTPAndGRPC(t *testing.T) {
	t.Run("http base endpoint", func(t *testing.T) {
		r := tracingtest.NewReceiver(t)
		s := export(t, r, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": r.URL, "OTEL_SERVICE_NAME": "gw-http"})
		if s.Resource["service.name"] != "gw-http" || s.Resource["service.version"] != "v1.2.3" {
			t.Errorf("resource %v", s.Resource)
		}
	})
	t.Run("http traces endpoint", func(t *testing.T) {
		r := tracingtest.NewReceiver(t)
		s := export(t, r, map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": r.URL + "/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"})
		if s.Resource["service.name"] != "llmgw" {
			t.Errorf("default service name %q, want llmgw", s.Resource["service.name"])
		}
	})
	t.Run("grpc", func(t *testing.T) {
		r := tracingtest.NewReceiver(t)
		r.StartGRPC(t)
		s := export(t, r, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + r.GRPCAddr, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_SERVICE_NAME": "gw-grpc"})
		if s.Resource["service.name"] != "gw-grpc" {
			t.Errorf("resource %v", s.Resource)
		}
	})
	t.Run("headers", func(t *testing.T) {
		var got http.Header
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r.Header.Clone()
			w.WriteHeader(http.StatusOK)
		}))
		defer srv.Close()
		p, err := tracing.FromEnv(context.Background(), envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL,
			"OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=a%20b,x-other=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-other=2"}), "t")
		if err != nil {
			t.Fatal(err)
		}
		_, span := p.Tracer().Start(context.Background(), "probe")
		span.End()
		_ = p.Shutdown(context.Background())
		if got.Get("X-Tenant") != "a b" || got.Get("X-Other") != "2" {
			t.Errorf("headers %v", got)
		}
	})
}

// TestSampler: always_off samples nothing; the default follows a sampled parent.
func TestSampler(t *testing.T) {
	r := tracingtest.NewReceiver(t)
	p, err := tracing.FromEnv(context.Background(), envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": r.URL, "OTEL_TRACES_SAMPLER": "always_off"}), "t")
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.Tracer().Start(context.Background(), "probe")
	if span.IsRecording() {
		t.Error("always_off recorded a span")
	}
	span.End()
	_ = p.Shutdown(context.Background())
	if n := len(r.Spans()); n != 0 {
		t.Errorf("always_off exported %d spans", n)
	}
}

// TestTransportInjectsTraceparent: an upstream request made under a span carries its
// traceparent; one made without carries none, and the caller's request is never modified.
func TestTransportInjectsTraceparent(t *testing.T) {
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Traceparent"))
	}))
	defer up.Close()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	client := &http.Client{Transport: tracing.Transport(http.DefaultTransport)}
	ctx, span := tp.Tracer("t").Start(context.Background(), "attempt")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	span.End()
	if req.Header.Get("Traceparent") != "" {
		t.Error("the caller's request was modified")
	}
	req2, _ := http.NewRequest(http.MethodGet, up.URL, nil)
	resp, err = client.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := span.SpanContext()
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if len(got) != 2 || got[0] != want || got[1] != "" {
		t.Errorf("upstream saw traceparent %q, want %q then none", got, want)
	}
	// The propagator reads it back as the same span.
	back := trace.SpanContextFromContext(tracing.Propagator.Extract(context.Background(), propagation.HeaderCarrier(http.Header{"Traceparent": {got[0]}})))
	if back.TraceID() != sc.TraceID() || back.SpanID() != sc.SpanID() {
		t.Errorf("extracted %v, want %v", back, sc)
	}
}
