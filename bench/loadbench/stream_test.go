package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// chunk is the part of a chat.completion.chunk the tests read.
type chunk struct {
	Object  string `json:"object"`
	Choices []struct {
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

// readStream reads an SSE answer to its end and returns its chunks and
// whether it ended with [DONE].
func readStream(t *testing.T, r io.Reader) ([]chunk, bool) {
	t.Helper()
	var chunks []chunk
	done := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not an SSE data line", line)
		}
		if done {
			t.Fatalf("data after [DONE]: %q", line)
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		var c chunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("event %q is not JSON: %v", data, err)
		}
		chunks = append(chunks, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return chunks, done
}

// TestUpstreamStream: a stream:true request gets 20 chat.completion.chunk
// events (role first, finish_reason last), a usage chunk only when
// stream_options.include_usage asks for one, and [DONE]; through the proxy too.
func TestUpstreamStream(t *testing.T) {
	t.Parallel()
	upSrv := httptest.NewServer(newUpstream())
	t.Cleanup(upSrv.Close)
	upURL, err := url.Parse(upSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxySrv := httptest.NewServer(newProxy(upURL, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(proxySrv.Close)
	tests := []struct {
		name      string
		via       string
		body      string
		wantUsage bool
	}{
		{name: "with usage", via: upSrv.URL, body: requestBody(upstreamModel, true), wantUsage: true},
		{name: "without usage", via: upSrv.URL, body: `{"model":"m","messages":[],"stream":true}`},
		{name: "usage declined", via: upSrv.URL, body: `{"model":"m","stream":true,"stream_options":{"include_usage":false}}`},
		{name: "through the proxy", via: proxySrv.URL, body: requestBody(upstreamModel, true), wantUsage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := http.Post(tt.via+"/v1/chat/completions", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("status %d, Content-Type %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			data, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantUsage && len(data) != streamSize() {
				t.Errorf("stream of %d bytes, streamSize() = %d", len(data), streamSize())
			}
			chunks, done := readStream(t, strings.NewReader(string(data)))
			if !done {
				t.Error("the stream did not end with [DONE]")
			}
			wantLen := streamChunks
			if tt.wantUsage {
				wantLen++
			}
			if len(chunks) != wantLen {
				t.Fatalf("%d chunks, want %d", len(chunks), wantLen)
			}
			for i, c := range chunks[:streamChunks] {
				if c.Object != "chat.completion.chunk" || len(c.Choices) != 1 || c.Usage != nil {
					t.Fatalf("chunk %d = %+v, want one choice and no usage", i, c)
				}
				ch := c.Choices[0]
				last := i == streamChunks-1
				if (ch.Delta.Role == "assistant") != (i == 0) {
					t.Errorf("chunk %d: role %q, want assistant only in the first", i, ch.Delta.Role)
				}
				if (ch.FinishReason != nil) != last || (last && *ch.FinishReason != "stop") {
					t.Errorf("chunk %d: finish_reason %v, want \"stop\" only in the last", i, ch.FinishReason)
				}
				if !last && (ch.Delta.Content == nil || *ch.Delta.Content == "") {
					t.Errorf("chunk %d carries no content", i)
				}
			}
			if tt.wantUsage {
				u := chunks[streamChunks]
				if u.Object != "chat.completion.chunk" || len(u.Choices) != 0 || u.Usage == nil ||
					u.Usage.TotalTokens != u.Usage.PromptTokens+u.Usage.CompletionTokens || u.Usage.CompletionTokens <= 0 {
					t.Errorf("usage chunk = %+v, want empty choices and usage that adds up", u)
				}
			}
		})
	}
}

// TestProxyFlushesStream: the proxy hands each event to the client as it
// comes. The upstream sends one event and then waits until the client has
// read it, which it can only do if the proxy flushed it. (Go's ReverseProxy
// flushes answers of unknown length at once on its own; FlushInterval -1
// makes that explicit, and this test guards the behaviour either way.)
func TestProxyFlushesStream(t *testing.T) {
	t.Parallel()
	clientRead := make(chan struct{})
	upSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Not text/event-stream, so the flush does not hang on Go's
		// special case for that type.
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		_ = http.NewResponseController(w).Flush()
		select {
		case <-clientRead:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(upSrv.Close)
	upURL, err := url.Parse(upSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxySrv := httptest.NewServer(newProxy(upURL, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(proxySrv.Close)

	// The timeout only ends the test if the proxy holds the event back.
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post(proxySrv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "data: first\n" {
		t.Fatalf("first line = %q, %v", first, err)
	}
	close(clientRead)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "\ndata: [DONE]\n\n" {
		t.Errorf("rest = %q, %v", rest, err)
	}
}

// closedAfter is a client body the server closes once n bytes are read: a read past them fails.
type closedAfter struct {
	r io.Reader
	n int
}

func (c *closedAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("http: invalid Read on closed Body")
	}
	p = p[:min(len(p), c.n)]
	n, err := c.r.Read(p)
	c.n -= n
	return n, err
}

func (c *closedAfter) Close() error { return nil }

// TestDeclaredBody: the proxy's body of a declared length answers EOF after it without reading
// the client's body again, which the server may have closed by then; a body shorter than
// declared is an unexpected EOF.
func TestDeclaredBody(t *testing.T) {
	t.Parallel()
	b := newDeclaredBody(&closedAfter{r: strings.NewReader(`{"stream":true}`), n: 15}, 15)
	got, err := io.ReadAll(b)
	if err != nil || string(got) != `{"stream":true}` {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if n, err := b.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Errorf("read past the declared length = %d, %v; want 0, EOF", n, err)
	}
	short := newDeclaredBody(io.NopCloser(strings.NewReader("abc")), 5)
	if _, err := io.ReadAll(short); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a body shorter than declared: %v, want unexpected EOF", err)
	}
}
