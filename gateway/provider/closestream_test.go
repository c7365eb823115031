package provider

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// streamingUpstream serves an event stream over HTTP/1.1 with chunked encoding, as model
// servers do: its events and [DONE], each flushed, and then, once release is closed (or at
// once when release is nil), the end of the body. It counts the connections it accepts.
func streamingUpstream(t *testing.T, release chan struct{}) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
		w.(http.Flusher).Flush()
		if release != nil {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// readToDone reads a stream's events until [DONE], as an adapter's stream does, leaving the
// end of the body unread.
func readToDone(t *testing.T, c *http.Client, url string) io.ReadCloser {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(resp.Body, 64)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			t.Fatalf("stream ended before [DONE]: %v", err)
		}
		if bytes.Equal(line, []byte("data: [DONE]\n")) {
			return resp.Body
		}
	}
}

// TestCloseStreamReusesTheConnection: a stream closed after its end event, with the end of its
// body not yet sent, is read to that end, so the next request reuses the connection; closed
// without the read (what Close did before CloseStream), each stream costs a new connection.
func TestCloseStreamReusesTheConnection(t *testing.T) {
	release := make(chan struct{})
	srv, conns := streamingUpstream(t, release)
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()

	body := readToDone(t, c, srv.URL)
	close(release) // the upstream's handler returns: the body's last chunk follows [DONE]
	if err := closeStream(body, true, time.Minute); err != nil {
		t.Fatal(err)
	}
	release = make(chan struct{})
	close(release)
	for range 3 {
		if err := closeStream(readToDone(t, c, srv.URL), true, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("4 finished streams opened %d connections, want 1", n)
	}

	// Unfinished (a client that left): closed at once, and the connection with it. The first
	// takes the pooled connection; each of the others needs a new one.
	before := conns.Load()
	for range 3 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if err := closeStream(resp.Body, false, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load() - before; n != 2 {
		t.Fatalf("3 unfinished streams after a pooled connection opened %d more, want 2 (none reused)", n)
	}
}

// TestCloseStreamBoundedWait: an upstream that sends [DONE] and never ends its body holds
// Close for at most the wait; its connection is then dropped.
func TestCloseStreamBoundedWait(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	srv, conns := streamingUpstream(t, hold)
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	body := readToDone(t, c, srv.URL)
	done := make(chan error, 1)
	go func() { done <- closeStream(body, true, time.Millisecond) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close still waiting on an upstream that never ends its body")
	}
	_ = readToDone(t, c, srv.URL).Close()
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: the held one cannot be reused", n)
	}
}
