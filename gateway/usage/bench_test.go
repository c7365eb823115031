package usage

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
)

// BenchmarkLogRecorder is the cost of one request-log line (LogRecorder.Record) for a typical
// event, in each log format.
func BenchmarkLogRecorder(b *testing.B) {
	e := &Event{
		RequestID: "0193a0d2-7c4e-7b3a-9f1e-2c5d8e9f0a1b", Surface: "openai", Principal: "user:alice", KeyID: "k1",
		User: "alice", Model: "bench/echo", UpstreamModel: "bench-model", Target: "bench/echo", Operation: "chat",
		Attempts: []Attempt{{Target: "bench/echo", Status: "ok", HTTPStatus: 200, Latency: time.Millisecond}},
		Status:   "ok", HTTPStatus: 200, Usage: chat.Usage{PromptTokens: 9, CompletionTokens: 9, TotalTokens: 18},
		CostUSD: 0.0001, Priced: true, Latency: 2 * time.Millisecond, Time: time.Unix(1700000000, 0),
	}
	for _, f := range []struct {
		name string
		h    slog.Handler
	}{
		{"text", slog.NewTextHandler(io.Discard, nil)},
		{"json", slog.NewJSONHandler(io.Discard, nil)},
	} {
		b.Run(f.name, func(b *testing.B) {
			r := LogRecorder{Logger: slog.New(f.h)}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				r.Record(ctx, e)
			}
		})
	}
}
