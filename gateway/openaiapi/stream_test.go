package openaiapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/sse"
)

// countingListener counts the writes made to the connections it accepts: one per write system
// call the server makes to its clients.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, writes: l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// streamGateway serves the /v1 handler over HTTP, counting its writes to clients, in front of
// upstream (account "up": model "up/m" is upstreamModel there).
func streamGateway(t testing.TB, upstreamURL, upstreamModel string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	cfg := &snapshot.Config{
		Accounts:       []snapshot.Account{{Name: "up", Provider: "self-hosted-model"}},
		Models:         []snapshot.Model{{Account: "up", Name: "m", UpstreamModel: upstreamModel, BaseURL: upstreamURL}},
		AdminTokenHash: snapshot.KeyHash("tok"),
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var snaps snapshot.Holder
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	snaps.Store(snapshot.Compile(cfg, registry.New(client), nil, logger))
	srv := httptest.NewUnstartedServer(New(pipeline.New(&snaps, nopRecorder{}, logger), logger, 0))
	writes := &atomic.Int64{}
	srv.Listener = countingListener{Listener: srv.Listener, writes: writes}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, writes
}

func streamRequest(ctx context.Context, t testing.TB, url string) *http.Response {
	t.Helper()
	body := `{"model":"up/m","stream":true,"messages":[{"role":"user","content":"one two three four five"}]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return resp
}

// TestStreamNeverHoldsAReadyChunk: every chunk that came is flushed to the client before the
// gateway waits for the upstream's next one. The gated upstream sends all its chunks but the
// last, then waits; the client must see all of them while it waits.
func TestStreamNeverHoldsAReadyChunk(t *testing.T) {
	up := providertest.NewOpenAI(t)
	srv, _ := streamGateway(t, up.BaseURL(), providertest.ModelGated)
	// The bound only turns a held chunk into a failure instead of a hung test.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer func() { // a failed test's stream still waits at the gate: let it end
		select {
		case up.Gate <- struct{}{}:
		case <-time.After(100 * time.Millisecond):
		}
	}()
	resp := streamRequest(ctx, t, srv.URL)
	defer resp.Body.Close()
	r := sse.NewReader(resp.Body)
	// The fake answers "echo: one two three four five": the role chunk, then a chunk per word,
	// the last of which waits for the gate.
	var got strings.Builder
	for want := "echo: one two three four"; got.String() != want; {
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("after %q: %v (a chunk the upstream sent was held back)", got.String(), err)
		}
		got.WriteString(contentOf(t, ev.Data))
	}
	select {
	case up.Gate <- struct{}{}:
	case <-ctx.Done():
		t.Fatal("the upstream never reached its gate")
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(rest, []byte(`" five"`)) || !bytes.HasSuffix(rest, []byte("data: [DONE]\n\n")) {
		t.Errorf("after the gate: %s", rest)
	}
}

// contentOf returns the delta content of a chat.completion.chunk.
func contentOf(t testing.TB, data []byte) string {
	t.Helper()
	const key = `"content":"`
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return ""
	}
	rest := data[i+len(key):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

// burstUpstream answers every streamed request with n content chunks, usage and [DONE], all
// in one write: a stream whose chunks arrive together.
func burstUpstream(t testing.TB, n int, flushEach bool) *httptest.Server {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n")
	for i := range n {
		fmt.Fprintf(&b, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[{"index":0,"delta":{"content":" tok%d"},"finish_reason":null}]}`+"\n\n", i)
	}
	b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":20,"total_tokens":29}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	events := bytes.SplitAfter(b.Bytes(), []byte("\n\n"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		if !flushEach {
			_, _ = w.Write(b.Bytes())
			return
		}
		for _, ev := range events {
			_, _ = w.Write(ev)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestStreamBurstLeavesInFewWrites: chunks that arrive together leave together: 20 chunks
// read in one piece take far fewer writes to the client than one each (22 events, [DONE]
// included, were 23 writes with a flush per event).
func TestStreamBurstLeavesInFewWrites(t *testing.T) {
	up := burstUpstream(t, 20, false)
	srv, writes := streamGateway(t, up.URL+"/v1", "bench-model")
	resp := streamRequest(context.Background(), t, srv.URL)
	n := 0
	for s := bufio.NewScanner(resp.Body); s.Scan(); {
		if strings.HasPrefix(s.Text(), "data: ") {
			n++
		}
	}
	resp.Body.Close()
	if n != 22 { // the role chunk, 20 content chunks, [DONE]; usage was not asked for
		t.Fatalf("%d events, want 22", n)
	}
	// The upstream's answer may reach the gateway in a few reads; one write per read at most.
	if w := writes.Load(); w > 6 {
		t.Errorf("%d writes to the client for 22 events that arrived together, want at most 6", w)
	}
}

// BenchmarkChatStream measures a streamed request of 20 content chunks through the gateway over
// HTTP, the upstream flushing every chunk as an LLM does; writes/op counts the writes to the
// client's connection (each a system call).
func BenchmarkChatStream(b *testing.B) {
	up := burstUpstream(b, 20, true)
	srv, writes := streamGateway(b, up.URL+"/v1", "bench-model")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := []byte(`{"model":"up/m","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`)
	b.ReportAllocs()
	defer reportCPU(b)()
	b.ResetTimer()
	writes.Store(0)
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(writes.Load())/float64(b.N), "writes/op")
}

// TestResponsesStreamNeverHoldsAReadyEvent: the Responses API's stream, translated from chat
// chunks, flushes every event before the gateway waits for the upstream's next chunk.
func TestResponsesStreamNeverHoldsAReadyEvent(t *testing.T) {
	up := providertest.NewOpenAI(t)
	srv, _ := streamGateway(t, up.BaseURL(), providertest.ModelGated)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer func() { // a failed test's stream still waits at the gate: let it end
		select {
		case up.Gate <- struct{}{}:
		case <-time.After(100 * time.Millisecond):
		}
	}()
	body := `{"model":"up/m","stream":true,"input":"one two three four five"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/responses", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	r := sse.NewReader(resp.Body)
	var text strings.Builder
	for want := "echo: one two three four"; text.String() != want; {
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("after %q: %v (an event was held back)", text.String(), err)
		}
		var d struct {
			Delta string `json:"delta"`
		}
		if ev.Name == "response.output_text.delta" && json.Unmarshal(ev.Data, &d) == nil {
			text.WriteString(d.Delta)
		}
	}
	select {
	case up.Gate <- struct{}{}:
	case <-ctx.Done():
		t.Fatal("the upstream never reached its gate")
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(rest, []byte(`" five"`)) || !bytes.Contains(rest, []byte("event: response.completed")) {
		t.Errorf("after the gate: %s", rest)
	}
}

// BenchmarkProxyStream is BenchmarkChatStream's floor: the same streamed request through a bare
// httputil.ReverseProxy that flushes every event (FlushInterval -1), as a gateway must.
func BenchmarkProxyStream(b *testing.B) {
	up := burstUpstream(b, 20, true)
	target, err := url.Parse(up.URL)
	if err != nil {
		b.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		FlushInterval: -1,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
	}
	srv := httptest.NewUnstartedServer(proxy)
	writes := &atomic.Int64{}
	srv.Listener = countingListener{Listener: srv.Listener, writes: writes}
	srv.Start()
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := []byte(`{"model":"up/m","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`)
	b.ReportAllocs()
	defer reportCPU(b)()
	b.ResetTimer()
	writes.Store(0)
	for b.Loop() {
		resp, err := client.Post(srv.URL+"/v1/chat/completions", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportMetric(float64(writes.Load())/float64(b.N), "writes/op")
}
