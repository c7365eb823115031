package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/usage"
)

// TestRequestLogFlags: --request-log-max-rate caps the lines the request log writes per second
// (default 1,000), 0 lifts the cap, and --request-log=false writes none.
func TestRequestLogFlags(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	lines := func(args ...string) int {
		t.Helper()
		cfg, err := parseFlags("serve", args, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		sink := requestLog(cfg, slog.New(slog.NewTextHandler(&buf, nil)), clock)
		for range 1500 {
			sink.Record(context.Background(), &usage.Event{RequestID: "r"})
		}
		return strings.Count(buf.String(), "msg=request ")
	}
	if n := lines(); n != 1000 {
		t.Errorf("default: %d lines in one second, want the cap of 1000", n)
	}
	if n := lines("--request-log-max-rate", "5"); n != 5 {
		t.Errorf("--request-log-max-rate 5: %d lines", n)
	}
	if n := lines("--request-log-max-rate", "0"); n != 1500 {
		t.Errorf("--request-log-max-rate 0: %d lines, want every one", n)
	}
	if n := lines("--request-log=false"); n != 0 {
		t.Errorf("--request-log=false: %d lines", n)
	}
}

// TestLogBufferFlag: with --log-buffer a request's log line waits for the scheduled flush, with
// the configured delay, and shutdown writes what waits; with 0 it is written before the answer
// returns. (logbuffer's tests cover the buffer's bounds and warnings.)
func TestLogBufferFlag(t *testing.T) {
	var mu sync.Mutex
	var flushes []func()
	var delays []time.Duration
	after := func(d time.Duration, f func()) func() bool {
		mu.Lock()
		defer mu.Unlock()
		flushes, delays = append(flushes, f), append(delays, d)
		return func() bool { return false }
	}
	requestLines := func(g *gateway) int { return strings.Count(g.Logs.String(), `"msg":"request"`) }
	chat := func(g *gateway) {
		t.Helper()
		resp, body := g.do(t, "POST", "/v1/chat/completions", g.Token, `{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 200 {
			t.Fatalf("chat: %d %s", resp.StatusCode, body)
		}
	}

	fire := func() int { // runs the flushes scheduled so far; returns how many were
		mu.Lock()
		fs := flushes
		flushes = nil
		mu.Unlock()
		for _, f := range fs {
			f()
		}
		return len(fs)
	}
	start := func(args ...string) (*gateway, func()) {
		t.Helper()
		g := serveIn(t, t.TempDir(), hooks{logAfter: after}, nil, args...)
		return g, g.stop
	}

	g, stop := start("--log-buffer", "250ms")
	fire() // the start's lines: the buffer is empty now, no flush scheduled
	chat(g)
	// The request line is written after the answer (the usage queue delivers it): wait until
	// a line has armed a flush, then it must still be held.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(flushes)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no log line was buffered after a request")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := requestLines(g); n != 0 {
		t.Fatalf("--log-buffer 250ms: the request line was written before its flush (%d lines)", n)
	}
	mu.Lock()
	d := delays[len(delays)-1]
	mu.Unlock()
	if d != 250*time.Millisecond {
		t.Fatalf("flush scheduled after %v, want 250ms", d)
	}
	for requestLines(g) == 0 && time.Now().Before(deadline) {
		if fire() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if n := requestLines(g); n != 1 {
		t.Fatalf("after the flush: %d request lines, want 1", n)
	}
	chat(g)
	stop()
	if n := requestLines(g); n != 2 {
		t.Errorf("after shutdown: %d request lines, want both written", n)
	}

	mu.Lock()
	flushes = nil // those the first gateway's shutdown scheduled
	mu.Unlock()
	g, stop = start("--log-buffer", "0")
	defer stop()
	chat(g)
	deadline = time.Now().Add(10 * time.Second)
	for requestLines(g) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the usage queue writes it; nothing holds it
	}
	if n := requestLines(g); n != 1 {
		t.Errorf("--log-buffer 0: %d request lines, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(flushes) != 0 {
		t.Errorf("--log-buffer 0 scheduled %d flushes", len(flushes))
	}
}

// TestUsageLingerFlag: --usage-linger arms the usage queue's timer with its value and a request's
// event waits for it; with 0 the event goes without one.
func TestUsageLingerFlag(t *testing.T) {
	armed := make(chan time.Duration, 64)
	fire := make(chan time.Time)
	timer := func(d time.Duration) (<-chan time.Time, func() bool) {
		armed <- d
		return fire, func() bool { return true }
	}
	chat := func(g *gateway) string {
		t.Helper()
		resp, body := g.do(t, "POST", "/v1/chat/completions", g.Token, `{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 200 {
			t.Fatalf("chat: %d %s", resp.StatusCode, body)
		}
		return resp.Header.Get("X-Request-Id")
	}

	g := startGatewayHooks(t, hooks{usageTimer: timer}, nil, "--usage-linger", "250ms")
	id := chat(g)
	select {
	case d := <-armed:
		if d != 250*time.Millisecond {
			t.Fatalf("linger armed for %v, want 250ms", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the usage queue did not linger")
	}
	if evs := g.Events.byRequest(id); len(evs) != 0 {
		t.Fatalf("the event was delivered before the linger ended")
	}
	fire <- time.Now()
	g.Events.waitFor(t, id)

	g = startGatewayHooks(t, hooks{usageTimer: timer}, nil, "--usage-linger", "0")
	g.Events.waitFor(t, chat(g))
	if len(armed) != 0 {
		t.Errorf("--usage-linger 0 armed the linger %d times", len(armed))
	}
}

// TestShutdownDeliversLingeringEvents: events still lingering in the usage queue when the
// server stops reach the embedded usage store (the store outlives the queue), and a restart
// on the same data serves them from the Usage API.
func TestShutdownDeliversLingeringEvents(t *testing.T) {
	dir := t.TempDir()
	start := func() (*gateway, func()) {
		t.Helper()
		g := serveIn(t, dir, hooks{}, nil, "--usage-linger", "1h")
		return g, g.stop
	}
	g, stop := start()
	var ids []string
	for range 3 {
		resp, body := g.do(t, "POST", "/v1/chat/completions", g.Token, `{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 200 {
			t.Fatalf("chat: %d %s", resp.StatusCode, body)
		}
		ids = append(ids, resp.Header.Get("X-Request-Id"))
	}
	stop() // the three events linger (1h) until now
	if strings.Contains(g.Logs.String(), "dropped") {
		t.Errorf("events dropped at shutdown:\n%s", g.Logs)
	}
	g, stop = start()
	defer stop()
	for _, id := range ids {
		resp, body := g.do(t, "GET", "/api/v1/usage/requests/"+id, g.Token, "")
		if resp.StatusCode != 200 {
			t.Errorf("request %s after the restart: %d %s", id, resp.StatusCode, body)
		}
	}
}
