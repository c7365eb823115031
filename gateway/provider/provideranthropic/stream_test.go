package provideranthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// respondSSE answers with an SSE transcript from testdata, written as Anthropic sends it, one
// flushed event at a time.
func respondSSE(t *testing.T, name string) http.HandlerFunc {
	t.Helper()
	transcript, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read transcript: %v", err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "text/event-stream")
		w.Header().Set("cache-control", "no-cache")
		for ev := range bytes.SplitAfterSeq(transcript, []byte("\n\n")) {
			_, _ = w.Write(ev)
			w.(http.Flusher).Flush()
		}
	}
}

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

func streamTranscript(t *testing.T, name string) ([]provider.Chunk, error) {
	t.Helper()
	f := newFake(t, respondSSE(t, name))
	s, err := f.adapter(t).ChatStream(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}`)})
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}()
	chunks, err := collect(t, s)
	if _, again := s.Recv(); again != err && !errors.Is(again, err) {
		t.Errorf("Recv after the end = %v, want %v again", again, err)
	}
	return chunks, err
}

// TestStreamGolden converts each Anthropic SSE transcript in testdata and compares the OpenAI
// chunks, and how the stream ended, with the .golden file beside it.
func TestStreamGolden(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.sse"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, path := range names {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".sse"), func(t *testing.T) {
			chunks, end := streamTranscript(t, name)
			var got bytes.Buffer
			for _, c := range chunks {
				if c.UsageOnly {
					got.WriteString("usage-only ")
				}
				got.Write(c.JSON)
				got.WriteByte('\n')
			}
			if errors.Is(end, io.EOF) {
				got.WriteString("EOF\n")
			} else {
				e := asAPIErr(t, end)
				fmt.Fprintf(&got, "error status=%d code=%q message=%q\n", e.Kind.HTTPStatus(), e.Code, e.Message)
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".sse")+".golden")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("chunks mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func decodeChunk(t *testing.T, c provider.Chunk) chat.Chunk {
	t.Helper()
	var v chat.Chunk
	if err := json.Unmarshal(c.JSON, &v); err != nil {
		t.Fatalf("chunk is not JSON: %v\n%s", err, c.JSON)
	}
	return v
}

func TestStreamText(t *testing.T) {
	chunks, end := streamTranscript(t, "stream_text.sse")
	if !errors.Is(end, io.EOF) {
		t.Fatalf("stream ended with %v, want io.EOF", end)
	}
	var content strings.Builder
	var finish []string
	for i, c := range chunks {
		v := decodeChunk(t, c)
		if v.ID != "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY" || v.Model != "claude-sonnet-4-5-20250929" || v.Created != testNow.Unix() || v.Object != "chat.completion.chunk" {
			t.Errorf("chunk %d header = %q %q %d %q", i, v.ID, v.Model, v.Created, v.Object)
		}
		if i == 0 && (len(v.Choices) != 1 || v.Choices[0].Delta.Role != "assistant") {
			t.Errorf("first chunk %s does not give the assistant role", c.JSON)
		}
		for _, ch := range v.Choices {
			if ch.Delta.Content != nil {
				content.WriteString(*ch.Delta.Content)
			}
			if ch.FinishReason != nil {
				finish = append(finish, *ch.FinishReason)
			}
		}
	}
	if content.String() != "Hello!" {
		t.Errorf("content = %q, want %q", content.String(), "Hello!")
	}
	if diff := cmp.Diff([]string{"stop"}, finish); diff != "" {
		t.Errorf("finish reasons (-want +got):\n%s", diff)
	}
}

func TestStreamToolCalls(t *testing.T) {
	chunks, end := streamTranscript(t, "stream_tool_use.sse")
	if !errors.Is(end, io.EOF) {
		t.Fatalf("stream ended with %v, want io.EOF", end)
	}
	type call struct{ ID, Name, Args string }
	var calls []call
	var finish string
	for _, c := range chunks {
		for _, ch := range decodeChunk(t, c).Choices {
			for _, d := range ch.Delta.ToolCalls {
				if d.ID != "" {
					if d.Index != int64(len(calls)) || d.Type != "function" {
						t.Errorf("tool call start %+v: want index %d and type function", d, len(calls))
					}
					calls = append(calls, call{ID: d.ID, Name: d.Function.Name})
				}
				if d.Index < 0 || d.Index >= int64(len(calls)) {
					t.Fatalf("tool call delta for unknown index %d", d.Index)
				}
				calls[d.Index].Args += d.Function.Arguments
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	want := []call{
		{"toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", `{"location": "San Francisco, CA", "unit": "celsius"}`},
		{"toolu_02Bx4fJ34qAmk2tNTrN7Up7", "get_time", `{"timezone": "America/Los_Angeles"}`},
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
	if finish != "tool_calls" {
		t.Errorf("finish_reason = %q, want tool_calls", finish)
	}
}

func TestStreamUsageChunk(t *testing.T) {
	chunks, end := streamTranscript(t, "stream_tool_use.sse")
	if !errors.Is(end, io.EOF) {
		t.Fatalf("stream ended with %v, want io.EOF", end)
	}
	for _, c := range chunks[:len(chunks)-1] {
		if c.UsageOnly || c.Usage != nil {
			t.Errorf("chunk %s before the last carries usage", c.JSON)
		}
	}
	last := chunks[len(chunks)-1]
	// input 472 + cache read 2048 + cache creation 100; output from message_delta.
	want := chat.Usage{PromptTokens: 2620, CompletionTokens: 89, TotalTokens: 2709, PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 2048}, CacheWriteTokens: 100}
	if !last.UsageOnly || last.Usage == nil {
		t.Fatalf("last chunk %s is not usage-only", last.JSON)
	}
	if diff := cmp.Diff(want, *last.Usage); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
	v := decodeChunk(t, last)
	if v.Choices == nil || len(v.Choices) != 0 || !bytes.Contains(last.JSON, []byte(`"choices":[]`)) {
		t.Errorf("usage chunk %s must have empty choices", last.JSON)
	}
	// OpenAI's usage has no cache-write member: the JSON carries the rest.
	wantJSON := want
	wantJSON.CacheWriteTokens = 0
	if diff := cmp.Diff(&wantJSON, v.Usage); diff != "" {
		t.Errorf("usage in JSON (-want +got):\n%s", diff)
	}
	if bytes.Contains(last.JSON, []byte("cache")) && !bytes.Contains(last.JSON, []byte(`"cached_tokens"`)) {
		t.Errorf("usage chunk %s leaks a non-OpenAI cache member", last.JSON)
	}
}

func TestStreamUsageFromMessageDelta(t *testing.T) {
	// Newer API versions repeat the cumulative input counts in message_delta; they win.
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "text/event-stream")
		_, _ = io.WriteString(w, `event: message_start
data: {"type":"message_start","message":{"id":"msg_u","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":7,"cache_read_input_tokens":3,"output_tokens":4}}

event: message_stop
data: {"type":"message_stop"}

`)
	})
	s, err := f.adapter(t).ChatStream(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer s.Close()
	chunks, end := collect(t, s)
	if !errors.Is(end, io.EOF) {
		t.Fatalf("stream ended with %v, want io.EOF", end)
	}
	want := chat.Usage{PromptTokens: 10, CompletionTokens: 4, TotalTokens: 14, PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 3}}
	if diff := cmp.Diff(&want, chunks[len(chunks)-1].Usage); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

func TestStreamErrors(t *testing.T) {
	tests := []struct {
		name      string
		body      string // SSE after a 200
		wantKind  apierr.Kind
		wantCode  string
		wantCause string
	}{
		{
			name:     "overloaded error event",
			body:     "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_e\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\nevent: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded " + upstreamSecret + "\"}}\n\n",
			wantKind: apierr.KindUpstreamUnavailable, wantCause: upstreamSecret,
		},
		{
			name:     "rate limit error event",
			body:     "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_e\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\nevent: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"rate_limit_error\", \"message\": \"" + upstreamSecret + "\"}}\n\n",
			wantKind: apierr.KindRateLimited, wantCode: "upstream_rate_limited", wantCause: upstreamSecret,
		},
		{
			name:     "api error event",
			body:     "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_e\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\nevent: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"api_error\", \"message\": \"" + upstreamSecret + "\"}}\n\n",
			wantKind: apierr.KindUpstreamBadResponse, wantCode: "upstream_error", wantCause: upstreamSecret,
		},
		{
			name:     "cut before message_stop",
			body:     "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_e\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n",
			wantKind: apierr.KindUpstreamBadResponse, wantCode: "upstream_bad_response", wantCause: "message_stop",
		},
		{
			name:     "cut mid-event",
			body:     "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_e\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\nevent: content_block_delta\n",
			wantKind: apierr.KindUpstreamBadResponse, wantCode: "upstream_bad_response", wantCause: "message_stop",
		},
		{
			name:     "empty body",
			body:     "",
			wantKind: apierr.KindUpstreamBadResponse, wantCode: "upstream_bad_response", wantCause: "message_stop",
		},
		{
			name:     "event before message_start",
			body:     "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
			wantKind: apierr.KindUpstreamBadResponse, wantCode: "upstream_bad_response", wantCause: "before message_start",
		},
		{
			name:     "event not JSON",
			body:     "event: message_start\ndata: {not json\n\n",
			wantKind: apierr.KindUpstreamBadResponse, wantCode: "upstream_bad_response", wantCause: "decode message_start",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("content-type", "text/event-stream")
				_, _ = io.WriteString(w, tt.body)
			})
			s, err := f.adapter(t).ChatStream(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			defer s.Close()
			_, end := collect(t, s)
			if errors.Is(end, io.EOF) {
				t.Fatalf("stream ended cleanly, want an error")
			}
			e := asAPIErr(t, end)
			if e.Kind != tt.wantKind || (tt.wantCode != "" && e.Code != tt.wantCode) {
				t.Errorf("error kind %v code %q, want %v %q", e.Kind, e.Code, tt.wantKind, tt.wantCode)
			}
			if strings.Contains(e.Message, upstreamSecret) {
				t.Errorf("public message %q leaks the upstream message", e.Message)
			}
			if !strings.Contains(e.Error(), tt.wantCause) {
				t.Errorf("error %q does not record %q", e.Error(), tt.wantCause)
			}
		})
	}
}
