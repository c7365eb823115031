package pipeline

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/tracing"
	"github.com/llmgw/llmgw/gateway/usage"
)

// WithTracer makes the pipeline trace every attempt with a client span of t, a child of the
// span the request's context carries (the edge's server span), with the GenAI semantic
// conventions' attributes; the span is in the context of the attempt's upstream calls, so a
// transport that propagates it (tracing.Transport) sends its traceparent upstream. Without it
// (or with a nil t) the pipeline makes no span at all.
func WithTracer(t trace.Tracer) Option { return func(p *Pipeline) { p.tracer = t } }

// startSpan starts attempt a's client span under ctx and returns ctx carrying it. The span
// covers the attempt's guards and its upstream call (for a stream, to its end).
func (p *Pipeline) startSpan(ctx context.Context, a *Attempt) context.Context {
	m := a.Target.Endpoint
	op := tracing.Operation(a.Operation)
	model := m.UpstreamModel
	if model == "" {
		model = m.FQN
	}
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs, tracing.OperationName.String(op), tracing.ProviderName.String(m.Provider), tracing.RequestModel.String(model),
		tracing.Target.String(m.FQN), tracing.Try.Int(a.Try), tracing.RequestID.String(a.Caller.RequestID))
	if a.Stream {
		attrs = append(attrs, tracing.Stream.Bool(true))
	}
	if a.Size.MaxOutput > 0 {
		attrs = append(attrs, tracing.MaxTokens.Int64(a.Size.MaxOutput))
	}
	a.tr = &attemptSpan{}
	ctx, a.tr.span = p.tracer.Start(ctx, op+" "+model, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

// attemptSpan is a traced attempt's span. It lives behind a pointer so that an untraced
// attempt carries only the nil pointer.
type attemptSpan struct {
	span trace.Span
	done bool // the span has ended
}

// traceChat adds what a chat request sent to a's target asks for (after the target's
// override_params) to a's span: its temperature and output bound.
func (a *Attempt) traceChat(r *chat.Request) {
	if a.tr == nil || !a.tr.span.IsRecording() {
		return
	}
	if r.Temperature != nil {
		a.tr.span.SetAttributes(tracing.Temperature.Float64(*r.Temperature))
	}
	switch {
	case r.MaxCompletionTokens != nil:
		a.tr.span.SetAttributes(tracing.MaxTokens.Int64(*r.MaxCompletionTokens))
	case r.MaxTokens != nil:
		a.tr.span.SetAttributes(tracing.MaxTokens.Int64(*r.MaxTokens))
	}
}

// endSpan ends a's span once: with the answer's model and usage from e (nil when there is
// none), and, for an attempt that failed with err, the error's class (usage.Attempt.ErrorClass;
// class, or derived from err when empty) as error.type. Upstream text never goes into a span.
func (a *Attempt) endSpan(e *usage.Event, err error, class string) {
	t := a.tr
	if t.done {
		return
	}
	t.done = true
	if e != nil && t.span.IsRecording() {
		if e.UpstreamModel != "" {
			t.span.SetAttributes(tracing.ResponseModel.String(e.UpstreamModel))
		}
		if !e.UsageMissing {
			t.span.SetAttributes(tracing.InputTokens.Int64(e.Usage.PromptTokens), tracing.OutputTokens.Int64(e.Usage.CompletionTokens))
		}
	}
	if err != nil {
		if class == "" {
			class = errorClass(apierr.From(err), a.refused)
		}
		t.span.SetAttributes(tracing.ErrorType.String(class))
		t.span.SetStatus(codes.Error, class)
	}
	t.span.End()
}
