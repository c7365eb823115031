package pipeline

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

// hangingChat is a scripted adapter whose non-streamed answer never comes: Chat waits until its
// context ends.
type hangingChat struct{ scripted }

func (h *hangingChat) Chat(ctx context.Context, _ *provider.ChatCall) (*provider.ChatResult, error) {
	<-ctx.Done()
	return nil, provider.TransportError(ctx, ctx.Err())
}

// TestBreakerCountsWhatTheTargetFailed: the circuit breaker counts a failure of the target
// whenever the target failed the attempt, and only then: a request whose own deadline
// (x-llmgw-request-timeout) passes during its last attempt timed the target out, whether the
// call was whole or a stream still opening; a stream that breaks after its first byte failed
// too, however it broke. A client that leaves, or a surface that fails a stream for a chunk
// it could not translate, says nothing against the target.
func TestBreakerCountsWhatTheTargetFailed(t *testing.T) {
	u := usageChunk
	text := provider.Chunk{JSON: []byte(`{"choices":[{"delta":{"content":"hi"}}]}`)}
	last := provider.Chunk{JSON: []byte(`{"choices":[],"usage":{}}`), Usage: &u, UsageOnly: true}
	cut := provider.BadResponse(errors.New("stream ended without [DONE]"))
	unreachable := provider.TransportError(context.Background(), errors.New("connection reset"))
	tests := []struct {
		name    string
		adapter provider.Adapter
		stream  bool
		timeout time.Duration // the request's own deadline
		use     func(t *testing.T, st provider.ChatStream)
		failed  bool // the target's circuit counts a failure
		status  string
	}{
		{name: "request timeout during a whole call", adapter: &hangingChat{}, timeout: 20 * time.Millisecond, failed: true, status: "timeout"},
		{name: "request timeout while a stream opens", adapter: &scripted{hangOpen: true}, stream: true, timeout: 20 * time.Millisecond, failed: true, status: "timeout"},
		{name: "stream ends without its end after a chunk", adapter: &scripted{chunks: []provider.Chunk{text}, err: cut}, stream: true,
			use: func(t *testing.T, st provider.ChatStream) { drain(st) }, failed: true, status: "upstream_bad_response"},
		{name: "stream connection lost after a chunk", adapter: &scripted{chunks: []provider.Chunk{text}, err: unreachable}, stream: true,
			use: func(t *testing.T, st provider.ChatStream) { drain(st) }, failed: true, status: "upstream_unavailable"},
		{name: "stream read to its end", adapter: &scripted{chunks: []provider.Chunk{text, last}, err: io.EOF}, stream: true,
			use: func(t *testing.T, st provider.ChatStream) { drain(st) }, status: "ok"},
		{name: "stream the surface could not translate", adapter: &scripted{chunks: []provider.Chunk{text, text, last}, err: io.EOF}, stream: true,
			use: func(t *testing.T, st provider.ChatStream) {
				if _, err := st.Recv(); err != nil {
					t.Fatal(err)
				}
				Fail(st, provider.BadResponse(errors.New("untranslatable")))
			}, status: "upstream_bad_response"},
		{name: "stream the client left", adapter: &scripted{chunks: []provider.Chunk{text, text, last}, err: io.EOF}, stream: true,
			use: func(t *testing.T, st provider.ChatStream) {
				if _, err := st.Recv(); err != nil {
					t.Fatal(err)
				}
			}, status: "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rec, _ := setup(t, tt.adapter)
			c, err := p.Admit("secret", "req-c")
			if err != nil {
				t.Fatal(err)
			}
			c.timeout = tt.timeout
			one, err := c.Snapshot.Route("acct/m")
			if err != nil {
				t.Fatal(err)
			}
			plan := &snapshot.Plan{Model: "prod/v", Virtual: true, Types: []string{"chat"}, Targets: []snapshot.Target{{Endpoint: one.Targets[0].Endpoint, Retry: snapshot.Retry{Attempts: 1}}}}
			call := &provider.ChatCall{Request: &chat.Request{Model: "prod/v", Messages: []chat.Message{{Role: chat.RoleUser, Content: chat.TextContent("hello")}}}}
			rq := &request{op: "chat", typ: "chat", stream: tt.stream}
			base := p.event(c, "prod/v", "chat", tt.stream)
			if tt.stream {
				st, err := attempts(context.Background(), p, c, plan, rq, base, func(ctx context.Context, a *Attempt, e *usage.Event) (provider.ChatStream, error) {
					return p.chatStream(ctx, a, *e, call)
				})
				if err == nil {
					tt.use(t, st)
					st.Close()
					p.Drain(context.Background())
				}
			} else {
				_, _ = attempts(context.Background(), p, c, plan, rq, base, func(ctx context.Context, a *Attempt, e *usage.Event) (*provider.ChatResult, error) {
					return p.chat(ctx, a, e, call, nil)
				})
			}
			if len(rec.evs) != 1 || rec.evs[0].Status != tt.status {
				t.Fatalf("events %+v, want one with status %q", rec.evs, tt.status)
			}
			failures := 0
			for _, s := range p.Breaker().States() {
				if s.Target == "acct/m" {
					failures = s.Failures
				}
			}
			if want := map[bool]int{true: 1}[tt.failed]; failures != want {
				t.Errorf("the target's circuit counts %d failures, want %d", failures, want)
			}
		})
	}
}

// drain reads st until it ends.
func drain(st provider.ChatStream) {
	for {
		if _, err := st.Recv(); err != nil {
			return
		}
	}
}
