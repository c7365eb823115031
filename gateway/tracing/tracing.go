// Package tracing sets the gateway's OpenTelemetry traces up from the standard OTEL_*
// environment variables, names the attributes it sets (the GenAI semantic conventions'
// gen_ai.* and a few llmgw.* of its own), and propagates W3C trace context to upstreams.
//
// The spans themselves are made where the work is: a server span per request at the edge
// (services/server), a client span per attempt in the pipeline. When tracing is not
// configured, FromEnv returns no provider and nothing is traced: callers then hold a nil
// trace.Tracer and skip every span, so an untraced gateway pays nothing for it.
//
// It is not metrics (package metrics) and exports nothing but spans.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the gateway's spans.
const ScopeName = "github.com/llmgw/llmgw"

// Attribute keys of the gateway's spans: OpenTelemetry's GenAI and HTTP semantic conventions,
// then the gateway's own.
const (
	OperationName  = attribute.Key("gen_ai.operation.name")
	ProviderName   = attribute.Key("gen_ai.provider.name")
	RequestModel   = attribute.Key("gen_ai.request.model")
	ResponseModel  = attribute.Key("gen_ai.response.model")
	InputTokens    = attribute.Key("gen_ai.usage.input_tokens")
	OutputTokens   = attribute.Key("gen_ai.usage.output_tokens")
	MaxTokens      = attribute.Key("gen_ai.request.max_tokens")
	Temperature    = attribute.Key("gen_ai.request.temperature")
	ErrorType      = attribute.Key("error.type")
	HTTPMethod     = attribute.Key("http.request.method")
	HTTPRoute      = attribute.Key("http.route")
	HTTPStatusCode = attribute.Key("http.response.status_code")
	URLPath        = attribute.Key("url.path")

	// RequestID is the gateway's id of the request (X-Request-Id).
	RequestID = attribute.Key("llmgw.request_id")
	// Surface is the dialect the request came in (usage.Event.Surface).
	Surface = attribute.Key("llmgw.surface")
	// Target is the fully qualified name of the model an attempt called.
	Target = attribute.Key("llmgw.target")
	// Try counts an attempt's tries of its target, from 1.
	Try = attribute.Key("llmgw.attempt.try")
	// Stream says whether the request streams its answer.
	Stream = attribute.Key("llmgw.stream")
)

// Propagator is how trace context travels in HTTP headers: W3C Trace Context (traceparent,
// tracestate), extracted from clients' requests and injected into upstream requests.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Operation is the GenAI operation name (gen_ai.operation.name) of a pipeline operation: the
// convention's "chat" and "embeddings" where it has one, else the operation itself.
func Operation(op string) string {
	switch op {
	case "embedding":
		return "embeddings"
	}
	return op
}

// Provider is a tracer provider and how to stop it.
type Provider struct {
	*sdktrace.TracerProvider
}

// Tracer is the gateway's tracer.
func (p *Provider) Tracer() trace.Tracer { return p.TracerProvider.Tracer(ScopeName) }

// Env is the environment variables FromEnv reads.
type Env func(string) string

// FromEnv returns a tracer provider configured from getenv's OpenTelemetry variables, or nil
// when tracing is not configured: neither OTEL_EXPORTER_OTLP_TRACES_ENDPOINT nor
// OTEL_EXPORTER_OTLP_ENDPOINT is set, OTEL_TRACES_EXPORTER is "none" or OTEL_SDK_DISABLED is
// true. What it reads:
//
//   - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), else OTEL_EXPORTER_OTLP_ENDPOINT (with
//     /v1/traces added for HTTP);
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf
//     (the default) or grpc;
//   - OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_TRACES_HEADERS (key=value,...);
//   - OTEL_SERVICE_NAME (default llmgw), with service.version set to version;
//   - OTEL_TRACES_SAMPLER: always_on, always_off, traceidratio, parentbased_always_on (the
//     default), parentbased_always_off or parentbased_traceidratio, with
//     OTEL_TRACES_SAMPLER_ARG the ratio (default 1).
//
// The exporter and the batch span processor read their other standard variables (timeouts,
// compression, certificates, OTEL_BSP_*) from the process environment themselves. A value
// FromEnv cannot use is an error naming the variable. Shut the provider down to flush its
// spans.
func FromEnv(ctx context.Context, getenv Env, version string) (*Provider, error) {
	if v := getenv("OTEL_SDK_DISABLED"); v != "" {
		off, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("OTEL_SDK_DISABLED=%q: want true or false", v)
		}
		if off {
			return nil, nil
		}
	}
	switch v := getenv("OTEL_TRACES_EXPORTER"); v {
	case "", "otlp":
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp and none are supported", v)
	}
	endpoint, base := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint == "" && base == "" {
		return nil, nil
	}
	protocol, protoVar := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	if protocol == "" {
		protocol, protoVar = getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), "OTEL_EXPORTER_OTLP_PROTOCOL"
	}
	headers, err := parseHeaders(getenv, "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS")
	if err != nil {
		return nil, err
	}
	sampler, err := parseSampler(getenv)
	if err != nil {
		return nil, err
	}
	var exp *otlptrace.Exporter
	switch protocol {
	case "", "http/protobuf":
		if endpoint == "" {
			endpoint = strings.TrimRight(base, "/") + "/v1/traces"
		}
		if _, err := url.Parse(endpoint); err != nil {
			return nil, fmt.Errorf("OTLP traces endpoint %q: %w", endpoint, err)
		}
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint), otlptracehttp.WithHeaders(headers))
	case "grpc":
		if endpoint == "" {
			endpoint = base
		}
		if _, err := url.Parse(endpoint); err != nil {
			return nil, fmt.Errorf("OTLP traces endpoint %q: %w", endpoint, err)
		}
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint), otlptracegrpc.WithHeaders(headers))
	default:
		return nil, fmt.Errorf("%s=%q: want http/protobuf or grpc", protoVar, protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	service := getenv("OTEL_SERVICE_NAME")
	if service == "" {
		service = "llmgw"
	}
	res := resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.version", version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res), sdktrace.WithSampler(sampler))
	return &Provider{TracerProvider: tp}, nil
}

// parseHeaders reads the OTLP header variables, later ones overriding earlier ones: a list of
// key=value pairs separated by commas, values URL-encoded.
func parseHeaders(getenv Env, vars ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range vars {
		v := getenv(name)
		if v == "" {
			continue
		}
		for _, kv := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return nil, fmt.Errorf("%s: %q is not key=value", name, kv)
			}
			dec, err := url.PathUnescape(strings.TrimSpace(val))
			if err != nil {
				return nil, fmt.Errorf("%s: the value of %s is not URL-encoded", name, k)
			}
			out[k] = dec
		}
	}
	return out, nil
}

// parseSampler reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
func parseSampler(getenv Env) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		v := getenv("OTEL_TRACES_SAMPLER_ARG")
		if v == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio from 0 to 1", v)
		}
		return r, nil
	}
	switch v := getenv("OTEL_TRACES_SAMPLER"); v {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		if v == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	default:
		return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%q: want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio", v)
	}
}

// Transport returns base with the trace context of each request's context injected into its
// headers (traceparent), so the upstream's spans join the attempt's trace. A request whose
// context carries no span goes through unchanged.
func Transport(base http.RoundTripper) http.RoundTripper { return transport{base: base} }

type transport struct{ base http.RoundTripper }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !trace.SpanContextFromContext(req.Context()).IsValid() {
		return t.base.RoundTrip(req)
	}
	// A RoundTripper must not modify its request: inject into a copy's headers.
	out := req.Clone(req.Context())
	Propagator.Inject(req.Context(), propagation.HeaderCarrier(out.Header))
	return t.base.RoundTrip(out)
}
