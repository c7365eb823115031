package pipeline

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/breaker"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
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

func TestAttemptsRetryThenFallBack(t *testing.T) {
	// A routed plan made by hand: the same failing model twice, retried and then fallen back
	// from as the first target says; the second is tried once.
	retry := snapshot.Retry{Attempts: 2, Delay: 100 * time.Millisecond, OnStatus: []int{429, 503}}
	fallback := []int{429, 503}
	for _, tt := range []struct {
		name      string
		err       error
		wantCalls int
		wantWaits []time.Duration
	}{
		{"503 retried after the delay, then the next target", provider.StatusError(503, "", nil), 3, []time.Duration{100 * time.Millisecond}},
		{"Retry-After honoured up to the cap", provider.StatusError(429, "7", nil), 3, []time.Duration{5 * time.Second}},
		{"short Retry-After: the delay", provider.StatusError(503, "0", nil), 3, []time.Duration{100 * time.Millisecond}},
		{"transport failure counts as 503", apierr.New(apierr.KindUpstreamTimeout, "timed out"), 3, []time.Duration{100 * time.Millisecond}},
		{"400 returned at once", provider.StatusError(400, "", nil), 1, nil},
		{"500 neither retried nor fallen back from here", provider.StatusError(500, "", nil), 1, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			failing := &countingAdapter{scripted: scripted{err: tt.err}}
			log := &guardLog{}
			p, rec, _ := setup(t, failing, WithGuards(&fakeGuard{name: "a", log: log}))
			var waits []time.Duration
			p.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			c, _ := p.Admit("secret", "req-r")
			one, err := c.Snapshot.Route("acct/m")
			if err != nil {
				t.Fatal(err)
			}
			target := snapshot.Target{Endpoint: one.Targets[0].Endpoint, Retry: retry, FallbackOn: fallback}
			plan := &snapshot.Plan{Model: "prod/v", Virtual: true, Types: []string{"chat"}, Targets: []snapshot.Target{target, {Endpoint: target.Endpoint}}}
			call := &provider.ChatCall{Request: &chat.Request{Model: "prod/v"}}
			e := p.event(c, "prod/v", "chat", false)
			_, err = attempts(context.Background(), p, c, plan, &request{op: "chat", typ: "chat"}, e, func(ctx context.Context, a *Attempt, e *usage.Event) (*provider.ChatResult, error) {
				return p.chat(ctx, a, e, call, nil)
			})
			if apierr.From(err).UpstreamStatus != apierr.From(tt.err).UpstreamStatus {
				t.Fatalf("error %v, want the last attempt's", err)
			}
			if failing.calls != tt.wantCalls {
				t.Errorf("%d upstream calls, want %d", failing.calls, tt.wantCalls)
			}
			if !cmp.Equal(tt.wantWaits, waits) {
				t.Errorf("waited %v, want %v", waits, tt.wantWaits)
			}
			if got := c.Header.Get(HeaderAttempts); got != strconv.Itoa(tt.wantCalls) {
				t.Errorf("%s: %q, want %d", HeaderAttempts, got, tt.wantCalls)
			}
			if got := c.Header.Get(HeaderResolvedModel); got != "acct/m" {
				t.Errorf("%s: %q, want acct/m", HeaderResolvedModel, got)
			}
			if len(log.settled) != tt.wantCalls {
				t.Errorf("%d tickets settled, want one per attempt", len(log.settled))
			}
			if len(rec.evs) != 1 {
				t.Fatalf("%d events, want one: the request's, from its last attempt", len(rec.evs))
			}
			if ev := rec.evs[0]; len(ev.Attempts) != tt.wantCalls || ev.Target != "acct/m" || ev.Attempts[0].ErrorClass != errorClass(apierr.From(tt.err), false) {
				t.Errorf("event target %q attempts %+v, want acct/m and %d attempts", ev.Target, ev.Attempts, tt.wantCalls)
			}
			if st := c.Header.Get(HeaderServerTiming); !strings.HasPrefix(st, "gateway;dur=") || !strings.Contains(st, ", upstream;dur=") {
				t.Errorf("server-timing %q", st)
			}
		})
	}
}

func TestRetryWaitEndsWithTheClient(t *testing.T) {
	failing := &countingAdapter{scripted: scripted{err: provider.StatusError(503, "", nil)}}
	p, rec, _ := setup(t, failing)
	c, _ := p.Admit("secret", "req-w")
	one, _ := c.Snapshot.Route("acct/m")
	target := snapshot.Target{Endpoint: one.Targets[0].Endpoint, Retry: snapshot.Retry{Attempts: 2, Delay: time.Hour, OnStatus: []int{503}}}
	plan := &snapshot.Plan{Model: "prod/v", Virtual: true, Types: []string{"chat"}, Targets: []snapshot.Target{target}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	call := &provider.ChatCall{Request: &chat.Request{Model: "prod/v"}}
	_, err := attempts(ctx, p, c, plan, &request{op: "chat", typ: "chat"}, p.event(c, "prod/v", "chat", false), func(ctx context.Context, a *Attempt, e *usage.Event) (*provider.ChatResult, error) {
		return p.chat(ctx, a, e, call, nil)
	})
	if err == nil || failing.calls != 1 || len(rec.evs) != 0 {
		t.Errorf("err %v, %d calls, %d events; want the wait cut short, one call, the edge to record", err, failing.calls, len(rec.evs))
	}
}

func TestServerTiming(t *testing.T) {
	for _, tt := range []struct {
		total, upstream time.Duration
		want            string
	}{
		{1500 * time.Microsecond, 1000 * time.Microsecond, "gateway;dur=0.5, upstream;dur=1"},
		{2 * time.Second, 0, "gateway;dur=2000, upstream;dur=0"},
		{time.Millisecond, 2 * time.Millisecond, "gateway;dur=0, upstream;dur=2"}, // never negative
		{1234567 * time.Nanosecond, 0, "gateway;dur=1.234, upstream;dur=0"},
	} {
		if got := serverTiming(tt.total, tt.upstream); got != tt.want {
			t.Errorf("serverTiming(%v, %v) = %q, want %q", tt.total, tt.upstream, got, tt.want)
		}
	}
}

func TestBreakerSkipsOpenTargets(t *testing.T) {
	// Two targets, the first failing with a 503 and never retried: after breaker.Threshold
	// requests its circuit is open and it is skipped, until its cooldown passes; a plan with
	// only that target still attempts it.
	failing := &countingAdapter{scripted: scripted{err: provider.StatusError(503, "", nil)}}
	p, rec, _ := setup(t, failing)
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	c, _ := p.Admit("secret", "req-b")
	one, err := c.Snapshot.Route("acct/m")
	if err != nil {
		t.Fatal(err)
	}
	good := *one.Targets[0].Endpoint
	good.FQN = "acct/good"
	working := &countingAdapter{}
	good.Adapter = working
	first := snapshot.Target{Endpoint: one.Targets[0].Endpoint, Retry: snapshot.Retry{Attempts: 1}, FallbackOn: []int{503}}
	both := &snapshot.Plan{Model: "prod/v", Virtual: true, Types: []string{"chat"}, Targets: []snapshot.Target{first, {Endpoint: &good}}}
	alone := &snapshot.Plan{Model: "prod/v", Virtual: true, Types: []string{"chat"}, Targets: []snapshot.Target{first}}
	call := &provider.ChatCall{Request: &chat.Request{Model: "prod/v"}}
	do := func(plan *snapshot.Plan) []string {
		t.Helper()
		rec.evs = nil
		_, _ = attempts(context.Background(), p, c, plan, &request{op: "chat", typ: "chat"}, p.event(c, "prod/v", "chat", false), func(ctx context.Context, a *Attempt, e *usage.Event) (*provider.ChatResult, error) {
			return p.chat(ctx, a, e, call, nil)
		})
		if len(rec.evs) != 1 {
			t.Fatalf("%d events, want 1", len(rec.evs))
		}
		var got []string
		for _, a := range rec.evs[0].Attempts {
			got = append(got, a.Target+" "+a.Status)
		}
		return got
	}
	tried := []string{"acct/m upstream_unavailable", "acct/good ok"}
	skipped := []string{"acct/m skipped", "acct/good ok"}
	for i := range breaker.Threshold {
		if got := do(both); !cmp.Equal(got, tried) {
			t.Fatalf("request %d: attempts %q, want %q", i, got, tried)
		}
	}
	if got := do(both); !cmp.Equal(got, skipped) {
		t.Fatalf("open circuit: attempts %q, want %q", got, skipped)
	}
	if got := c.Header.Get(HeaderAttempts); got != "1" {
		t.Errorf("%s %q, want 1: a skipped target is not an attempt", HeaderAttempts, got)
	}
	calls := failing.calls
	if got := do(alone); !cmp.Equal(got, []string{"acct/m upstream_unavailable"}) || failing.calls != calls+1 {
		t.Errorf("only target with an open circuit: attempts %q, want it attempted", got)
	}
	now = now.Add(breaker.Cooldown)
	if got := do(both); !cmp.Equal(got, tried) {
		t.Errorf("after the cooldown: attempts %q, want the probe %q", got, tried)
	}
	if got := do(both); !cmp.Equal(got, skipped) {
		t.Errorf("after a failed probe: attempts %q, want %q", got, skipped)
	}
}

// clockAdapter answers after took on the test's clock, failing with a 503 its first fail calls.
type clockAdapter struct {
	scripted
	now  *time.Time
	took time.Duration
	fail int
}

func (c *clockAdapter) Chat(ctx context.Context, call *provider.ChatCall) (*provider.ChatResult, error) {
	*c.now = c.now.Add(c.took)
	if c.fail > 0 {
		c.fail--
		return nil, provider.StatusError(503, "", nil)
	}
	return c.scripted.Chat(ctx, call)
}

// TestEventUpstreamTime: the event's Upstream sums the attempts' upstream calls, and leaves
// out the gateway's own time (here the wait before a retry).
func TestEventUpstreamTime(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	a := &clockAdapter{now: &now, took: 30 * time.Millisecond, fail: 1}
	p, rec, _ := setup(t, a)
	p.now = func() time.Time { return now }
	p.sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
	c, _ := p.Admit("secret", "req-u")
	one, err := c.Snapshot.Route("acct/m")
	if err != nil {
		t.Fatal(err)
	}
	target := snapshot.Target{Endpoint: one.Targets[0].Endpoint, Retry: snapshot.Retry{Attempts: 2, Delay: 100 * time.Millisecond, OnStatus: []int{503}}}
	plan := &snapshot.Plan{Model: "prod/v", Virtual: true, Types: []string{"chat"}, Targets: []snapshot.Target{target}}
	call := &provider.ChatCall{Request: &chat.Request{Model: "prod/v"}}
	if _, err := attempts(context.Background(), p, c, plan, &request{op: "chat", typ: "chat"}, p.event(c, "prod/v", "chat", false), func(ctx context.Context, a *Attempt, e *usage.Event) (*provider.ChatResult, error) {
		return p.chat(ctx, a, e, call, nil)
	}); err != nil {
		t.Fatal(err)
	}
	if len(rec.evs) != 1 {
		t.Fatalf("%d events, want 1", len(rec.evs))
	}
	ev := rec.evs[0]
	if ev.Latency != 160*time.Millisecond || ev.Upstream != 60*time.Millisecond {
		t.Errorf("latency %v upstream %v, want 160ms of which 60ms upstream (two 30 ms calls around a 100 ms wait)", ev.Latency, ev.Upstream)
	}
}
