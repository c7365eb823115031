package pipeline

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// BenchmarkChatOneTarget is a non-streamed chat request to a real model (a one-target plan)
// through the whole pipeline, with an adapter that answers at once: what the pipeline itself
// costs per request.
func BenchmarkChatOneTarget(b *testing.B) {
	p, rec, _ := setup(b, &scripted{})
	call := &provider.ChatCall{Request: &chat.Request{Model: "acct/m"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := p.Admit("secret", "req")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Chat(ctx, c, call); err != nil {
			b.Fatal(err)
		}
		rec.evs = rec.evs[:0]
	}
}

// BenchmarkChatOneTargetTraced is BenchmarkChatOneTarget with tracing on: every request
// sampled, its attempt's span recorded by an SDK provider that exports nowhere. The untraced
// benchmark above is the cost when tracing is not configured.
func BenchmarkChatOneTargetTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	p, rec, _ := setup(b, &scripted{}, WithTracer(tp.Tracer("bench")))
	call := &provider.ChatCall{Request: &chat.Request{Model: "acct/m"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := p.Admit("secret", "req")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Chat(ctx, c, call); err != nil {
			b.Fatal(err)
		}
		rec.evs = rec.evs[:0]
	}
}
