package openaiapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/httpheader"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

// upstreamReply is a realistic non-streamed answer.
var upstreamReply = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"system_fingerprint":"fp_bench"}`)

var benchBody = []byte(`{"model":"bench/echo","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello"}],"temperature":0.2}`)

type nopRecorder struct{}

func (nopRecorder) Record(context.Context, *usage.Event) {}

// BenchmarkChatCompletion measures the gateway's whole request path in process: key lookup,
// snapshot resolution, body decode and model patch, the adapter's HTTP call to a local fake
// upstream over loopback, and the response write. Compare with BenchmarkDirectUpstream, the
// same call without the gateway.
func BenchmarkChatCompletion(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(upstreamReply)
	}))
	defer up.Close()
	h := benchHandler(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, up.URL+"/v1")
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		serveChat(b, h)
	}
}

// benchHandler is the OpenAI surface over one self-hosted model at baseURL, reached through
// client, with an admin token and nothing recorded.
func benchHandler(client *http.Client, baseURL string) http.Handler {
	var snaps snapshot.Holder
	cfg := &snapshot.Config{
		Accounts:       []snapshot.Account{{Name: "bench", Provider: "self-hosted-model"}},
		Models:         []snapshot.Model{{Account: "bench", Name: "echo", UpstreamModel: "bench-model", BaseURL: baseURL}},
		AdminTokenHash: snapshot.KeyHash("bench-token"),
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	snaps.Store(snapshot.Compile(cfg, registry.New(client), nil, logger))
	return New(pipeline.New(&snaps, nopRecorder{}, logger), logger, 0)
}

// serveChat serves benchBody with the admin token through h, as httptest's request and
// recorder.
func serveChat(tb testing.TB, h http.Handler) {
	req := httptest.NewRequest("POST", "/v1/chat/completions", bytes.NewReader(benchBody))
	req.Header.Set("Authorization", "Bearer bench-token")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		tb.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

// BenchmarkDirectUpstream is the floor: the same upstream call with no gateway in between.
func BenchmarkDirectUpstream(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(upstreamReply)
	}))
	defer up.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	defer reportCPU(b)()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Post(up.URL+"/v1/chat/completions", "application/json", bytes.NewReader(benchBody))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkHarness is what BenchmarkChatCompletion spends outside the gateway besides the
// upstream call: httptest's request and recorder around the least a handler does, reading the
// body and writing the answer (its content type set as the gateway sets it, without
// allocating). The gateway's own work is ChatCompletion minus DirectUpstream minus this.
func BenchmarkHarness(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		httpheader.SetJSON(w.Header())
		_, _ = w.Write(upstreamReply)
	})
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/chat/completions", bytes.NewReader(benchBody))
		req.Header.Set("Authorization", "Bearer bench-token")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// reportCPU starts measuring the process's CPU time (user and system, of every goroutine: the
// upstream's and the client's too) and returns the function that reports it per operation as
// cpu-ns/op, a steadier figure than ns/op on a machine where other work runs. Call it after
// the benchmark's setup.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkChatCompletionNoNetwork is BenchmarkChatCompletion with the upstream answered in
// memory: the gateway's own work is its figures minus BenchmarkHarness's and
// BenchmarkCannedTransport's, without the network's noise.
func BenchmarkChatCompletionNoNetwork(b *testing.B) {
	h := benchHandler(&http.Client{Transport: cannedUpstream{}}, "http://upstream.invalid/v1")
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		serveChat(b, h)
	}
}

// BenchmarkCannedTransport is the in-memory upstream's own cost (cannedUpstream): a request
// built and sent as an adapter sends it, answered and read.
func BenchmarkCannedTransport(b *testing.B) {
	var t cannedUpstream
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		req, _ := http.NewRequestWithContext(b.Context(), "POST", "http://upstream.invalid/v1/chat/completions", bytes.NewReader(benchBody))
		resp, _ := t.RoundTrip(req)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}
