package providerbedrock

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// collect reads s to its end: the chunks, and the error that ended it (io.EOF when clean).
func collect(t *testing.T, s provider.ChatStream) ([]provider.Chunk, error) {
	t.Helper()
	var chunks []provider.Chunk
	for range 1000 {
		c, err := s.Recv()
		if err != nil {
			return chunks, err
		}
		c.JSON = append([]byte(nil), c.JSON...) // valid only until the next Recv
		chunks = append(chunks, c)
	}
	t.Fatal("stream did not end")
	return nil, nil
}

// streamFrames runs a streamed chat against a fake answering frames.
func streamFrames(t *testing.T, frames ...[]byte) ([]provider.Chunk, error) {
	t.Helper()
	f := newFake(t, respondStream(frames...))
	s, err := f.chatAdapter(t).ChatStream(context.Background(), call(t, `{"model":"m","stream":true,"messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer s.Close()
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].path != testModelPath+"converse-stream" {
		t.Fatalf("upstream requests %+v, want one to %sconverse-stream", reqs, testModelPath)
	}
	chunks, err := collect(t, s)
	if err2 := s.Close(); err2 != nil {
		t.Errorf("Close: %v", err2)
	}
	if err2 := s.Close(); err2 != nil {
		t.Errorf("second Close: %v", err2)
	}
	return chunks, err
}

// chunkJSON renders the chunks' JSON as one JSON array for comparison.
func chunkJSON(t *testing.T, chunks []provider.Chunk) any {
	t.Helper()
	parts := make([]string, len(chunks))
	for i, c := range chunks {
		parts[i] = string(c.JSON)
	}
	return jsonValue(t, "["+strings.Join(parts, ",")+"]")
}

const chunkHead = `"id":"chatcmpl-req-stream-1","object":"chat.completion.chunk","created":1700000000,"model":"us.anthropic.claude-3-5-sonnet-20240620-v1:0"`

func TestStreamText(t *testing.T) {
	chunks, err := streamFrames(t,
		event(t, "messageStart", `{"p":"abcdefgh","role":"assistant"}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcd"}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":""}}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":", world"}}`),
		event(t, "contentBlockStop", `{"contentBlockIndex":0}`),
		event(t, "messageStop", `{"stopReason":"max_tokens"}`),
		event(t, "metadata", `{"usage":{"inputTokens":10,"outputTokens":4,"totalTokens":44,"cacheReadInputTokens":20,"cacheWriteInputTokens":10},"metrics":{"latencyMs":400}}`),
	)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("stream ended with %v, want io.EOF", err)
	}
	want := `[
		{` + chunkHead + `,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]},
		{` + chunkHead + `,"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]},
		{` + chunkHead + `,"choices":[{"index":0,"delta":{"content":", world"},"finish_reason":null}]},
		{` + chunkHead + `,"choices":[{"index":0,"delta":{},"finish_reason":"length"}]},
		{` + chunkHead + `,"choices":[],"usage":{"prompt_tokens":40,"completion_tokens":4,"total_tokens":44,"prompt_tokens_details":{"cached_tokens":20}}}]`
	if diff := cmp.Diff(jsonValue(t, want), chunkJSON(t, chunks)); diff != "" {
		t.Errorf("chunks mismatch (-want +got):\n%s", diff)
	}
	last := chunks[len(chunks)-1]
	wantUsage := &chat.Usage{PromptTokens: 40, CompletionTokens: 4, TotalTokens: 44, PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 20}, CacheWriteTokens: 10}
	if !last.UsageOnly || !cmp.Equal(last.Usage, wantUsage) {
		t.Errorf("last chunk UsageOnly=%v Usage=%+v, want a usage-only chunk with %+v", last.UsageOnly, last.Usage, wantUsage)
	}
	for _, c := range chunks[:len(chunks)-1] {
		if c.UsageOnly || c.Usage != nil {
			t.Errorf("chunk %s carries usage", c.JSON)
		}
	}
}

func TestStreamToolCalls(t *testing.T) {
	chunks, err := streamFrames(t,
		event(t, "messageStart", `{"role":"assistant"}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Let me check."}}`),
		event(t, "contentBlockStop", `{"contentBlockIndex":0}`),
		event(t, "contentBlockStart", `{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"tooluse_a","name":"get_weather"}}}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"location\":"}}}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":" \"Paris\"}"}}}`),
		event(t, "contentBlockStop", `{"contentBlockIndex":1}`),
		event(t, "contentBlockStart", `{"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"tooluse_b","name":"get_time"}}}`),
		event(t, "contentBlockDelta", `{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{}"}}}`),
		event(t, "contentBlockStop", `{"contentBlockIndex":2}`),
		event(t, "messageStop", `{"stopReason":"tool_use"}`),
		event(t, "metadata", `{"usage":{"inputTokens":100,"outputTokens":30,"totalTokens":130},"metrics":{"latencyMs":900}}`),
	)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("stream ended with %v, want io.EOF", err)
	}
	want := `[
		{` + chunkHead + `,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]},
		{` + chunkHead + `,"choices":[{"index":0,"delta":{"content":"Let me check."},"finish_reason":null}]},
		{` + chunkHead + `,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"tooluse_a","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]},
		{` + chunkHead + `,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\":"}}]},"finish_reason":null}]},
		{` + chunkHead + `,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":" \"Paris\"}"}}]},"finish_reason":null}]},
		{` + chunkHead + `,"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"tooluse_b","type":"function","function":{"name":"get_time","arguments":""}}]},"finish_reason":null}]},
		{` + chunkHead + `,"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]},"finish_reason":null}]},
		{` + chunkHead + `,"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]},
		{` + chunkHead + `,"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":30,"total_tokens":130,"prompt_tokens_details":{"cached_tokens":0}}}]`
	if diff := cmp.Diff(jsonValue(t, want), chunkJSON(t, chunks)); diff != "" {
		t.Errorf("chunks mismatch (-want +got):\n%s", diff)
	}
}

func TestStreamBroken(t *testing.T) {
	start := func(t *testing.T) [][]byte {
		return [][]byte{
			event(t, "messageStart", `{"role":"assistant"}`),
			event(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hel"}}`),
		}
	}
	tests := []struct {
		name     string
		frames   func(t *testing.T) [][]byte
		wantKind apierr.Kind
		wantCode string
		// wantChunks is how many chunks arrive before the error.
		wantChunks int
	}{
		{
			name:       "throttling exception mid-stream",
			frames:     func(t *testing.T) [][]byte { return append(start(t), exception(t, "throttlingException")) },
			wantKind:   apierr.KindRateLimited,
			wantCode:   "upstream_rate_limited",
			wantChunks: 2,
		},
		{
			name:       "model stream error mid-stream",
			frames:     func(t *testing.T) [][]byte { return append(start(t), exception(t, "modelStreamErrorException")) },
			wantKind:   apierr.KindUpstreamBadResponse,
			wantCode:   "upstream_error",
			wantChunks: 2,
		},
		{
			name:       "service unavailable mid-stream",
			frames:     func(t *testing.T) [][]byte { return append(start(t), exception(t, "serviceUnavailableException")) },
			wantKind:   apierr.KindUpstreamUnavailable,
			wantChunks: 2,
		},
		{
			name: "error message mid-stream",
			frames: func(t *testing.T) [][]byte {
				return append(start(t), frame(t, "", ":message-type", "error", ":error-code", "InternalFailure", ":error-message", upstreamSecret))
			},
			wantKind:   apierr.KindUpstreamBadResponse,
			wantCode:   "upstream_error",
			wantChunks: 2,
		},
		{
			name:       "cut before messageStop",
			frames:     start,
			wantKind:   apierr.KindUpstreamBadResponse,
			wantCode:   "upstream_bad_response",
			wantChunks: 2,
		},
		{
			name: "cut inside a frame",
			frames: func(t *testing.T) [][]byte {
				stop := event(t, "messageStop", `{"stopReason":"end_turn"}`)
				return append(start(t), stop[:len(stop)-5])
			},
			wantKind:   apierr.KindUpstreamBadResponse,
			wantCode:   "upstream_bad_response",
			wantChunks: 2,
		},
		{
			name: "cut after messageStop before metadata",
			frames: func(t *testing.T) [][]byte {
				return append(start(t), event(t, "messageStop", `{"stopReason":"end_turn"}`))
			},
			wantKind:   apierr.KindUpstreamBadResponse,
			wantCode:   "upstream_bad_response",
			wantChunks: 3,
		},
		{
			name: "corrupt frame",
			frames: func(t *testing.T) [][]byte {
				stop := event(t, "messageStop", `{"stopReason":"end_turn"}`)
				stop[len(stop)-6] ^= 0xff // the payload; the message CRC no longer matches
				return append(start(t), stop)
			},
			wantKind:   apierr.KindUpstreamBadResponse,
			wantCode:   "upstream_bad_response",
			wantChunks: 2,
		},
		{
			name: "delta before messageStart",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{event(t, "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"x"}}`)}
			},
			wantKind: apierr.KindUpstreamBadResponse,
			wantCode: "upstream_bad_response",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, respondStream(tt.frames(t)...))
			s, err := f.chatAdapter(t).ChatStream(context.Background(), call(t, simpleRequest))
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			defer s.Close()
			chunks, err := collect(t, s)
			if errors.Is(err, io.EOF) {
				t.Fatalf("stream ended cleanly after %d chunks, want an error", len(chunks))
			}
			if len(chunks) != tt.wantChunks {
				t.Errorf("got %d chunks before the error, want %d", len(chunks), tt.wantChunks)
			}
			e := asAPIErr(t, err)
			if e.Kind != tt.wantKind || (tt.wantCode != "" && e.Code != tt.wantCode) {
				t.Errorf("error kind %v code %q, want %v %q (%v)", e.Kind, e.Code, tt.wantKind, tt.wantCode, e)
			}
			if strings.Contains(e.Message, upstreamSecret) {
				t.Errorf("public message %q shows upstream text", e.Message)
			}
			if _, again := s.Recv(); again != err {
				t.Errorf("Recv after the error = %v, want the same error", again)
			}
		})
	}
}

func TestStreamEOFIsSticky(t *testing.T) {
	f := newFake(t, respondStream(
		event(t, "messageStart", `{"role":"assistant"}`),
		event(t, "messageStop", `{"stopReason":"end_turn"}`),
		event(t, "metadata", `{"usage":{"inputTokens":1,"outputTokens":0,"totalTokens":1}}`),
	))
	s, err := f.chatAdapter(t).ChatStream(context.Background(), call(t, simpleRequest))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer s.Close()
	if _, err := collect(t, s); !errors.Is(err, io.EOF) {
		t.Fatalf("stream ended with %v, want io.EOF", err)
	}
	if _, err := s.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after the end = %v, want io.EOF", err)
	}
}

func TestStreamCanceled(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		_, _ = w.Write(event(t, "messageStart", `{"role":"assistant"}`))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := f.chatAdapter(t).ChatStream(ctx, call(t, simpleRequest))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatalf("first Recv: %v", err)
	}
	cancel()
	_, err = s.Recv()
	if e := asAPIErr(t, err); e.Kind != apierr.KindCanceled {
		t.Errorf("error after cancel = %v (kind %v), want canceled", e, e.Kind)
	}
}
