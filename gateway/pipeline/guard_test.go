package pipeline

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/usage"
)

// fakeGuard is a Guard that records its admits and settles and refuses when refuse is set. (The
// end-to-end tests use pipelinetest.Guard, which this package's tests cannot import.)
type fakeGuard struct {
	name   string
	refuse error
	log    *guardLog
}

type guardLog struct {
	mu      sync.Mutex
	calls   []string // "admit a", "refuse b", "settle a"
	settled []usage.Event
}

func (l *guardLog) add(s string, e *usage.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
	if e != nil {
		l.settled = append(l.settled, *e)
	}
}

func (g *fakeGuard) Admit(_ context.Context, a *Attempt) (Ticket, error) {
	if g.refuse != nil {
		g.log.add("refuse "+g.name, nil)
		return nil, g.refuse
	}
	g.log.add("admit "+g.name, nil)
	a.Header.Set("X-Ratelimit-Remaining-Requests", "9")
	return &fakeTicket{g: g}, nil
}

type fakeTicket struct {
	g    *fakeGuard
	once bool
}

func (t *fakeTicket) Settle(e *usage.Event) {
	if t.once {
		panic("ticket settled twice")
	}
	t.once = true
	t.g.log.add("settle "+t.g.name, e)
}

// countingAdapter counts the upstream calls of a scripted adapter.
type countingAdapter struct {
	scripted
	mu    sync.Mutex
	calls int
}

func (c *countingAdapter) count() {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
}

func (c *countingAdapter) Chat(ctx context.Context, call *provider.ChatCall) (*provider.ChatResult, error) {
	c.count()
	return c.scripted.Chat(ctx, call)
}

func (c *countingAdapter) ChatStream(ctx context.Context, call *provider.ChatCall) (provider.ChatStream, error) {
	c.count()
	return c.scripted.ChatStream(ctx, call)
}

func TestGuardsRunAroundEachAttempt(t *testing.T) {
	u := usageChunk
	text := provider.Chunk{JSON: []byte(`{"choices":[{"delta":{"content":"hi"}}]}`)}
	last := provider.Chunk{JSON: []byte(`{"choices":[],"usage":{}}`), Usage: &u, UsageOnly: true}
	limited := &apierr.Error{Kind: apierr.KindRateLimited, Message: "rule r1: slow down"}
	chatReq := &chat.Request{Model: "acct/m", Messages: []chat.Message{{Role: chat.RoleUser, Content: chat.TextContent("hello")}}}
	tests := []struct {
		name      string
		adapter   *countingAdapter
		refuseB   error // the second guard's refusal
		model     string
		stream    bool
		readOne   bool // the client reads one chunk and leaves
		wantErr   apierr.Kind
		wantCalls []string
		wantEvent bool // a usage event is recorded (and is what the tickets were settled with)
		wantUp    int  // upstream calls
	}{
		{name: "chat", adapter: &countingAdapter{scripted: scripted{err: io.EOF}}, model: "acct/m",
			wantCalls: []string{"admit a", "admit b", "settle a", "settle b"}, wantEvent: true, wantUp: 1},
		{name: "chat, upstream error", adapter: &countingAdapter{scripted: scripted{err: provider.StatusError(503, "", nil)}}, model: "acct/m",
			wantErr: apierr.KindUpstreamUnavailable, wantCalls: []string{"admit a", "admit b", "settle a", "settle b"}, wantEvent: true, wantUp: 1},
		{name: "stream read to its end", adapter: &countingAdapter{scripted: scripted{chunks: []provider.Chunk{text, last}, err: io.EOF}}, model: "acct/m", stream: true,
			wantCalls: []string{"admit a", "admit b", "settle a", "settle b"}, wantEvent: true, wantUp: 1},
		{name: "stream the client leaves: settled after the drain", adapter: &countingAdapter{scripted: scripted{chunks: []provider.Chunk{text, text, last}, err: io.EOF}}, model: "acct/m", stream: true, readOne: true,
			wantCalls: []string{"admit a", "admit b", "settle a", "settle b"}, wantEvent: true, wantUp: 1},
		{name: "the second guard refuses: the first's ticket is settled, the upstream is not called", adapter: &countingAdapter{scripted: scripted{err: io.EOF}}, model: "acct/m", refuseB: limited,
			wantErr: apierr.KindRateLimited, wantCalls: []string{"admit a", "refuse b", "settle a"}},
		{name: "the second guard refuses a stream", adapter: &countingAdapter{scripted: scripted{err: io.EOF}}, model: "acct/m", stream: true, refuseB: limited,
			wantErr: apierr.KindRateLimited, wantCalls: []string{"admit a", "refuse b", "settle a"}},
		{name: "an unknown model is routed nowhere: no guard runs", adapter: &countingAdapter{}, model: "acct/none",
			wantErr: apierr.KindNotFound},
		{name: "a model of the wrong type fails before the guards", adapter: &countingAdapter{}, model: "acct/emb",
			wantErr: apierr.KindInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &guardLog{}
			p, rec, _ := setup(t, tt.adapter, WithGuards(&fakeGuard{name: "a", log: log}, &fakeGuard{name: "b", refuse: tt.refuseB, log: log}))
			c, _ := p.Admit("secret", "req-g")
			c.Header = map[string][]string{}
			call := &provider.ChatCall{Request: &chat.Request{Model: tt.model, Messages: chatReq.Messages}}
			var err error
			if tt.stream {
				var st provider.ChatStream
				if st, err = p.ChatStream(context.Background(), c, call); err == nil {
					if tt.readOne {
						readOne(t, p, st, nil)
					} else {
						readAll(t, p, st, nil)
					}
				}
			} else {
				_, err = p.Chat(context.Background(), c, call)
			}
			p.Drain(context.Background())
			if tt.wantErr != 0 || err != nil {
				if apierr.From(err).Kind != tt.wantErr {
					t.Fatalf("error %v, want kind %v", err, tt.wantErr)
				}
			}
			if diff := cmp.Diff(tt.wantCalls, log.calls); diff != "" {
				t.Errorf("guard calls (-want +got):\n%s", diff)
			}
			if tt.adapter.calls != tt.wantUp {
				t.Errorf("upstream called %d times, want %d", tt.adapter.calls, tt.wantUp)
			}
			if !tt.wantEvent {
				if len(rec.evs) != 0 {
					t.Errorf("recorded %+v: a refusal is the edge's to record", rec.evs)
				}
				for _, e := range log.settled {
					if e.Status != "rate_limit_exceeded" || e.HTTPStatus != 429 || e.Usage != (chat.Usage{}) {
						t.Errorf("settled with %+v, want the refusal without usage", e)
					}
				}
				return
			}
			if len(rec.evs) != 1 {
				t.Fatalf("%d events, want 1", len(rec.evs))
			}
			for _, e := range log.settled {
				if diff := cmp.Diff(rec.evs[0], e); diff != "" {
					t.Errorf("a ticket was settled with another event than the one recorded (-recorded +settled):\n%s", diff)
				}
			}
			if got := c.Header.Get("X-Ratelimit-Remaining-Requests"); got != "9" {
				t.Errorf("response header %q, want the guards' 9", got)
			}
		})
	}
}

func TestAttemptsGoOnToTheNextTargetWhenTheRetryPolicySays(t *testing.T) {
	// Plans have one target until routing (issue 9): this plan of two is made by hand, with a
	// policy that retries every failure before an answer.
	failing := &countingAdapter{scripted: scripted{err: provider.StatusError(503, "", nil)}}
	log := &guardLog{}
	p, rec, _ := setup(t, failing, WithGuards(&fakeGuard{name: "a", log: log}))
	p.retry = func(*Attempt, error) bool { return true }
	c, _ := p.Admit("secret", "req-r")
	plan, err := c.Snapshot.Route("acct/m")
	if err != nil {
		t.Fatal(err)
	}
	plan.Targets = append(plan.Targets, plan.Targets[0])
	call := &provider.ChatCall{Request: &chat.Request{Model: "acct/m"}}
	e := p.event(c, "acct/m", "chat", false)
	_, err = attempts(context.Background(), p, c, plan, &request{op: "chat", typ: "chat"}, e, func(ctx context.Context, a *Attempt, e *usage.Event) (*provider.ChatResult, error) {
		return p.chat(ctx, a, e, call, nil)
	})
	if apierr.From(err).Kind != apierr.KindUpstreamUnavailable {
		t.Fatalf("error %v, want the last attempt's 503", err)
	}
	if failing.calls != 2 {
		t.Errorf("%d upstream calls, want one per target", failing.calls)
	}
	if want := []string{"admit a", "settle a", "admit a", "settle a"}; !cmp.Equal(want, log.calls) {
		t.Errorf("guard calls %v, want %v", log.calls, want)
	}
	if len(rec.evs) != 1 {
		t.Fatalf("%d events, want one: the request's, from its last attempt", len(rec.evs))
	}
}
