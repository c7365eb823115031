package openaiapi

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// cannedUpstream answers every request with upstreamReply in process: no connection, no
// goroutine, so that counting allocations counts the gateway's own.
type cannedUpstream struct{}

func (cannedUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	_ = r.Body.Close()
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(upstreamReply)),
		ContentLength: int64(len(upstreamReply)), Request: r,
	}, nil
}

// maxChatAllocs bounds the allocations of one non-streamed chat request through the whole
// handler (key, route, decode, adapter, answer), with the upstream answered in process and the
// test's own request and recorder included. When it was first set (2026-12) a request took 92,
// down from 111 before the first round of cuts; issue 11's fifth session brought it to 68 (of
// them 21 httptest's, BenchmarkHarness, and 12 the canned upstream's, BenchmarkCannedTransport).
// The bound leaves 3 for the race detector (whose sync.Pool drops items) and Go releases.
// Lower it as the path gets cheaper; a change that raises it must say why.
const maxChatAllocs = 71

// TestChatCompletionAllocations guards the allocation count of the request path: counts are
// exact where times are noisy (the CI and the benchmarks' machines are shared).
func TestChatCompletionAllocations(t *testing.T) {
	h := benchHandler(&http.Client{Transport: cannedUpstream{}}, "http://upstream.invalid/v1")
	serve := func() { serveChat(t, h) }
	serve()
	n := testing.AllocsPerRun(200, serve)
	t.Logf("%.0f allocations per request", n)
	if n > maxChatAllocs {
		t.Errorf("%.0f allocations per request, more than the %d allowed", n, maxChatAllocs)
	}
}
