package providercohere

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

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// respondSSE answers with an SSE transcript from testdata, written as Cohere sends it, one
// flushed event at a time.
func respondSSE(t *testing.T, name string) http.HandlerFunc {
	t.Helper()
	transcript, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read transcript: %v", err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Accept"); got != "text/event-stream" {
			t.Errorf("Accept = %q, want text/event-stream", got)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
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

// streamTranscript streams a transcript through the adapter and checks what Cohere was sent.
func streamTranscript(t *testing.T, name string) ([]provider.Chunk, error) {
	t.Helper()
	f := newFake(t, "/v2/chat", respondSSE(t, name))
	s, err := f.adapter(t, nil).ChatStream(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}`)})
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
	want := jsonValue(t, `{"model":"command-a-03-2025","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if diff := cmp.Diff(want, f.requests()[0]); diff != "" {
		t.Errorf("Cohere request mismatch (-want +got):\n%s", diff)
	}
	return chunks, err
}

// TestStreamGolden converts each Cohere SSE transcript in testdata and compares the OpenAI
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
				if strings.Contains(e.Message, upstreamSecret) {
					t.Errorf("the public message quotes the upstream: %q", e.Message)
				}
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

// TestStreamText checks the text stream's meaning, independent of the golden bytes.
func TestStreamText(t *testing.T) {
	chunks, end := streamTranscript(t, "stream_text.sse")
	if !errors.Is(end, io.EOF) {
		t.Fatalf("stream ended with %v, want io.EOF", end)
	}
	var content strings.Builder
	var finish []string
	for i, c := range chunks {
		v := decodeChunk(t, c)
		if v.ID != "29f14a5a-11de-4cae-9800-25e4747408ea" || v.Object != "chat.completion.chunk" || v.Model != testModel || v.Created != testNow.Unix() {
			t.Errorf("chunk %d header = %+v", i, v)
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
	if got := content.String(); got != "A large language model is a neural network." {
		t.Errorf("content = %q", got)
	}
	if diff := cmp.Diff([]string{"stop"}, finish); diff != "" {
		t.Errorf("finish reasons mismatch (-want +got):\n%s", diff)
	}
	if first := decodeChunk(t, chunks[0]); first.Choices[0].Delta.Role != "assistant" {
		t.Errorf("first chunk has role %q, want assistant", first.Choices[0].Delta.Role)
	}
}

// TestStreamToolCalls reassembles the tool calls from their fragments as an OpenAI client does.
func TestStreamToolCalls(t *testing.T) {
	chunks, end := streamTranscript(t, "stream_tool_calls.sse")
	if !errors.Is(end, io.EOF) {
		t.Fatalf("stream ended with %v, want io.EOF", end)
	}
	calls := map[int64]*chat.ToolCall{}
	var content strings.Builder
	var finish string
	for _, c := range chunks {
		for _, ch := range decodeChunk(t, c).Choices {
			if ch.Delta.Content != nil {
				content.WriteString(*ch.Delta.Content)
			}
			for _, d := range ch.Delta.ToolCalls {
				tc, ok := calls[d.Index]
				if !ok {
					if d.ID == "" || d.Function.Name == "" || d.Type != "function" {
						t.Errorf("first delta of call %d lacks id, type or name: %+v", d.Index, d)
					}
					tc = &chat.ToolCall{ID: d.ID, Type: d.Type, Function: chat.FunctionCall{Name: d.Function.Name}}
					calls[d.Index] = tc
				} else if d.ID != "" || d.Function.Name != "" {
					t.Errorf("a later delta of call %d repeats id or name: %+v", d.Index, d)
				}
				tc.Function.Arguments += d.Function.Arguments
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	want := map[int64]*chat.ToolCall{
		0: {ID: "get_weather_nsz5zm3w56q3", Type: "function", Function: chat.FunctionCall{Name: "get_weather", Arguments: "{\n    \"location\": \"Toronto\"\n}"}},
		1: {ID: "get_weather_0rk3bbqx3bn6", Type: "function", Function: chat.FunctionCall{Name: "get_weather", Arguments: `{"location": "Madrid"}`}},
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("tool calls mismatch (-want +got):\n%s", diff)
	}
	if got := content.String(); got != "I will search for the weather in Toronto and Madrid." {
		t.Errorf("content (the tool plan) = %q", got)
	}
	if finish != "tool_calls" {
		t.Errorf("finish = %q, want tool_calls", finish)
	}
}

// TestStreamUsageChunk checks that the last chunk before io.EOF carries only usage, from
// tokens, else billed_units.
func TestStreamUsageChunk(t *testing.T) {
	tests := []struct {
		transcript string
		want       chat.Usage
	}{
		{"stream_text.sse", chat.Usage{PromptTokens: 5, CompletionTokens: 12, TotalTokens: 17}},
		{"stream_max_tokens.sse", chat.Usage{PromptTokens: 3, CompletionTokens: 2, TotalTokens: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.transcript, func(t *testing.T) {
			chunks, end := streamTranscript(t, tt.transcript)
			if !errors.Is(end, io.EOF) {
				t.Fatalf("stream ended with %v, want io.EOF", end)
			}
			last := chunks[len(chunks)-1]
			if !last.UsageOnly || last.Usage == nil {
				t.Fatalf("last chunk = %+v, want a usage-only chunk", last)
			}
			if diff := cmp.Diff(tt.want, *last.Usage); diff != "" {
				t.Errorf("usage mismatch (-want +got):\n%s", diff)
			}
			v := decodeChunk(t, last)
			if len(v.Choices) != 0 || v.Usage == nil || *v.Usage != tt.want {
				t.Errorf("usage chunk JSON = %s", last.JSON)
			}
			for i, c := range chunks[:len(chunks)-1] {
				if c.UsageOnly || c.Usage != nil {
					t.Errorf("chunk %d carries usage before the end", i)
				}
			}
		})
	}
}

// TestStreamCancel checks that canceling the request ends a stream with a cancellation, not a
// clean end or an upstream failure.
func TestStreamCancel(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, "/v2/chat", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: message-start\ndata: {\"id\":\"x\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\"}}}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := f.adapter(t, nil).ChatStream(ctx, &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}`)})
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatalf("first Recv: %v", err)
	}
	cancel()
	_, err = s.Recv()
	if e := asAPIErr(t, err); e.Kind.HTTPStatus() != 499 {
		t.Errorf("error after cancel = %v (status %d), want a cancellation", e, e.Kind.HTTPStatus())
	}
}
