package pipeline_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/pipeline/pipelinetest"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/tracing"
	"github.com/llmgw/llmgw/gateway/usage"
)

type discard struct{}

func (discard) Record(context.Context, *usage.Event) {}

// tracedPipeline is a pipeline tracing into an in-memory span recorder, with real OpenAI
// adapters on the fake upstream sending through tracing.Transport, and a virtual model
// prod/ha that falls back from a model answering 503 (tried once) to one that works.
func tracedPipeline(t *testing.T, traced bool, extra ...pipeline.Option) (*pipeline.Pipeline, *pipeline.Caller, *tracetest.SpanRecorder, *sdktrace.TracerProvider, *providertest.OpenAI) {
	t.Helper()
	up := providertest.NewOpenAI(t)
	client := &http.Client{Transport: tracing.Transport(http.DefaultTransport)}
	cfg := &snapshot.Config{
		Accounts: []snapshot.Account{{Name: "fake", Provider: "openai", BaseURL: up.BaseURL(), APIKey: "sk-test"}},
		Models:   []snapshot.Model{{Account: "fake", Name: "down", UpstreamModel: "fake-error-503"}, {Account: "fake", Name: "gpt", UpstreamModel: "gpt-4o-mini"}},
		VirtualModels: []snapshot.VirtualModel{{Account: "prod", Name: "ha", Strategy: snapshot.RoutingPriority, Targets: []snapshot.VirtualTarget{
			{Model: "fake/down", Retry: snapshot.Retry{Attempts: 1}, FallbackStatus: []int{503}, FallbackCandidate: true},
			{Model: "fake/gpt", Priority: 1, FallbackCandidate: true},
		}}},
		Users: []snapshot.User{{Name: "u"}},
		Keys:  []snapshot.Key{{ID: "k1", Hash: snapshot.KeyHash("secret"), User: "u"}},
		Rules: []snapshot.Rule{{Name: "r", Models: []string{"*"}, Users: []string{"u"}}},
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var h snapshot.Holder
	h.Store(snapshot.Compile(cfg, registry.New(client), nil, logger))
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	var opts []pipeline.Option
	if traced {
		opts = append(opts, pipeline.WithTracer(tp.Tracer("test")))
	}
	p := pipeline.New(&h, discard{}, logger, append(opts, extra...)...)
	c, err := p.Admit("secret", "req-1")
	if err != nil {
		t.Fatal(err)
	}
	return p, c, sr, tp, up
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

// TestAttemptSpans: a routed request that falls back has one client span per attempt, both
// children of the request's span, with the GenAI attributes; the failed one carries its error
// class; each upstream call carried the traceparent of its own attempt's span.
func TestAttemptSpans(t *testing.T) {
	p, c, sr, tp, up := tracedPipeline(t, true)
	ctx, parent := tp.Tracer("test").Start(context.Background(), "POST /v1/chat/completions", trace.WithSpanKind(trace.SpanKindServer))
	temp, maxTok := 0.5, int64(64)
	call := &provider.ChatCall{Request: &chat.Request{Model: "prod/ha", Temperature: &temp, MaxTokens: &maxTok,
		Messages: []chat.Message{{Role: "user", Content: chat.TextContent("hi")}}}}
	if _, err := p.Chat(ctx, c, call); err != nil {
		t.Fatal(err)
	}
	parent.End()
	spans := sr.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want two attempts and the parent", len(spans))
	}
	down, gpt := spans[0], spans[1]
	for _, s := range []sdktrace.ReadOnlySpan{down, gpt} {
		if s.SpanKind() != trace.SpanKindClient || s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("span %q: kind %v parent %v, want a client child of the request's span", s.Name(), s.SpanKind(), s.Parent().SpanID())
		}
	}
	if down.Name() != "chat fake-error-503" || gpt.Name() != "chat gpt-4o-mini" {
		t.Errorf("span names %q, %q", down.Name(), gpt.Name())
	}
	a := attrs(gpt)
	want := map[attribute.Key]attribute.Value{
		tracing.OperationName: attribute.StringValue("chat"),
		tracing.ProviderName:  attribute.StringValue("openai"),
		tracing.RequestModel:  attribute.StringValue("gpt-4o-mini"),
		tracing.ResponseModel: attribute.StringValue("gpt-4o-mini"),
		tracing.InputTokens:   attribute.Int64Value(11),
		tracing.OutputTokens:  attribute.Int64Value(7),
		tracing.MaxTokens:     attribute.Int64Value(64),
		tracing.Temperature:   attribute.Float64Value(0.5),
		tracing.Target:        attribute.StringValue("fake/gpt"),
		tracing.RequestID:     attribute.StringValue("req-1"),
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("%s = %v, want %v", k, a[k].Emit(), v.Emit())
		}
	}
	if gpt.Status().Code == codes.Error {
		t.Errorf("the answering attempt is an error: %v", gpt.Status())
	}
	if d := attrs(down); d[tracing.ErrorType] != attribute.StringValue(usage.ClassUpstream5xx) || down.Status().Code != codes.Error {
		t.Errorf("the failed attempt: error.type %v status %v", d[tracing.ErrorType].Emit(), down.Status())
	}
	if _, ok := attrs(down)[tracing.InputTokens]; ok {
		t.Error("the failed attempt reports usage")
	}
	reqs := up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d upstream requests, want 2", len(reqs))
	}
	for i, s := range []sdktrace.ReadOnlySpan{down, gpt} {
		sc := s.SpanContext()
		if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; reqs[i].Header.Get("Traceparent") != want {
			t.Errorf("upstream request %d: traceparent %q, want %q (its attempt's span)", i, reqs[i].Header.Get("Traceparent"), want)
		}
	}
}

// TestStreamAttemptSpanEndsWithTheStream: a stream's attempt span ends when the stream does,
// with its usage.
func TestStreamAttemptSpanEndsWithTheStream(t *testing.T) {
	p, c, sr, _, _ := tracedPipeline(t, true)
	call := &provider.ChatCall{Request: &chat.Request{Model: "fake/gpt", Stream: true, StreamOptions: &chat.StreamOptions{IncludeUsage: true},
		Messages: []chat.Message{{Role: "user", Content: chat.TextContent("hi")}}}}
	st, err := p.ChatStream(context.Background(), c, call)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sr.Ended()); n != 0 {
		t.Fatalf("%d spans ended before the stream", n)
	}
	for {
		if _, err := st.Recv(); err != nil {
			break
		}
	}
	_ = st.Close()
	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	a := attrs(spans[0])
	if a[tracing.Stream] != attribute.BoolValue(true) || a[tracing.OutputTokens] != attribute.Int64Value(7) || spans[0].Parent().IsValid() {
		t.Errorf("stream span: %v, parent %v", spans[0].Attributes(), spans[0].Parent())
	}
}

// TestUntracedPipelineMakesNoSpans: without WithTracer the pipeline makes no span; the
// upstream sees only the span the caller's context carried.
func TestUntracedPipelineMakesNoSpans(t *testing.T) {
	p, c, sr, tp, up := tracedPipeline(t, false)
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	call := &provider.ChatCall{Request: &chat.Request{Model: "fake/gpt", Messages: []chat.Message{{Role: "user", Content: chat.TextContent("hi")}}}}
	if _, err := p.Chat(ctx, c, call); err != nil {
		t.Fatal(err)
	}
	parent.End()
	if n := len(sr.Ended()); n != 1 {
		t.Errorf("%d spans, want only the test's own", n)
	}
	// The transport still propagates the caller's span: the pipeline made none of its own.
	if got, want := up.LastRequest().Header.Get("Traceparent"), "00-"+parent.SpanContext().TraceID().String()+"-"+parent.SpanContext().SpanID().String()+"-01"; got != want {
		t.Errorf("traceparent %q, want the caller's %q", got, want)
	}
}

// TestRefusedAttemptSpan: an attempt the guards refuse has its span, failed with
// refused_by_guard, and sent nothing upstream.
func TestRefusedAttemptSpan(t *testing.T) {
	refuse := &pipelinetest.Guard{Name: "limits", Refuse: func(*pipeline.Attempt) error {
		return &apierr.Error{Kind: apierr.KindRateLimited, Message: "rate limit r reached"}
	}}
	p, c, sr, _, up := tracedPipeline(t, true, pipeline.WithGuards(refuse))
	call := &provider.ChatCall{Request: &chat.Request{Model: "fake/gpt", Messages: []chat.Message{{Role: "user", Content: chat.TextContent("hi")}}}}
	if _, err := p.Chat(context.Background(), c, call); err == nil {
		t.Fatal("the refused request succeeded")
	}
	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	if a := attrs(spans[0]); a[tracing.ErrorType] != attribute.StringValue(usage.ClassRefused) || spans[0].Status().Code != codes.Error {
		t.Errorf("refused attempt: error.type %v status %v", a[tracing.ErrorType].Emit(), spans[0].Status())
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("%d upstream requests, want none", n)
	}
}
