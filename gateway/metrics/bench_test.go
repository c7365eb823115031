package metrics_test

import (
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/usage"
)

// BenchmarkObserve is the per-request cost of recording the metrics of a request with one
// attempt, once its series exist; BenchmarkObserveStreamFallback of a stream that fell back
// after a 5xx (two attempts, TTFT), the costliest common event.
func BenchmarkObserve(b *testing.B) {
	m, _, _, _ := fixture(b)
	e := &usage.Event{Model: "mock/echo", Target: "mock/echo", Surface: "openai", Operation: "chat", Status: "ok", HTTPStatus: 200,
		Usage: usageOf(10, 5), CostUSD: 0.000125, Priced: true, Latency: 100 * time.Millisecond, Upstream: 90 * time.Millisecond,
		Attempts: []usage.Attempt{{Target: "mock/echo", Status: "ok", HTTPStatus: 200, Latency: 90 * time.Millisecond}}}
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(e)
	}
}

func BenchmarkObserveStreamFallback(b *testing.B) {
	m, _, _, _ := fixture(b)
	e := &usage.Event{Model: "prod/chat", Target: "mock/other", Surface: "openai", Operation: "chat", Stream: true, Status: "ok", HTTPStatus: 200,
		Usage:   chat.Usage{PromptTokens: 20, CompletionTokens: 10, TotalTokens: 30, PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 8}},
		CostUSD: 0.001, Priced: true, Latency: time.Second, Upstream: 900 * time.Millisecond, TimeToFirstToken: 300 * time.Millisecond,
		Attempts: []usage.Attempt{
			{Target: "mock/echo", Status: "upstream_error", HTTPStatus: 503, Latency: 100 * time.Millisecond, ErrorClass: usage.ClassUpstream5xx},
			{Target: "mock/other", Status: "ok", HTTPStatus: 200, Latency: 800 * time.Millisecond},
		}}
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(e)
	}
}

// BenchmarkObserveParallel is BenchmarkObserve from every core at once: the counters are
// shared, so this shows their contention.
func BenchmarkObserveParallel(b *testing.B) {
	m, _, _, _ := fixture(b)
	e := &usage.Event{Model: "mock/echo", Target: "mock/echo", Surface: "openai", Operation: "chat", Status: "ok", HTTPStatus: 200,
		Usage: usageOf(10, 5), CostUSD: 0.000125, Priced: true, Latency: 100 * time.Millisecond, Upstream: 90 * time.Millisecond,
		Attempts: []usage.Attempt{{Target: "mock/echo", Status: "ok", HTTPStatus: 200, Latency: 90 * time.Millisecond}}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Observe(e)
		}
	})
}
