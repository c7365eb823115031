package providergoogle

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

// respondSSE answers with an SSE transcript from testdata, written as Google sends it, one
// flushed event at a time.
func respondSSE(t *testing.T, name string) http.HandlerFunc {
	t.Helper()
	transcript, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read transcript: %v", err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.Query().Get("alt"); got != "sse" {
			t.Errorf("stream request has alt=%q, want sse", got)
		}
		w.Header().Set("Content-Type", "text/event-stream")
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

func streamTranscript(t *testing.T, kind, name string) ([]provider.Chunk, error) {
	t.Helper()
	f := newFake(t, respondSSE(t, name))
	s, err := f.adapter(t, kind).ChatStream(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}`)})
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
	paths, bodies := f.requests()
	if want := []string{modelPath(kind) + ":streamGenerateContent?alt=sse"}; !cmp.Equal(paths, want) {
		t.Errorf("paths %v, want %v", paths, want)
	}
	if diff := cmp.Diff(jsonValue(t, `{"contents":[{"role":"user","parts":[{"text":"x"}]}]}`), bodies[0]); diff != "" {
		t.Errorf("stream request body (-want +got):\n%s", diff)
	}
	return chunks, err
}

// TestStreamGolden converts each SSE transcript in testdata, through both kinds, and compares
// the OpenAI chunks, and how the stream ended, with the .golden file beside it.
func TestStreamGolden(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.sse"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, kind := range kinds {
		for _, path := range names {
			name := filepath.Base(path)
			t.Run(kind+"/"+strings.TrimSuffix(name, ".sse"), func(t *testing.T) {
				chunks, end := streamTranscript(t, kind, name)
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
						t.Errorf("public message leaks upstream text: %q", e.Message)
					}
				}
				golden := filepath.Join("testdata", strings.TrimSuffix(name, ".sse")+".golden")
				if *update && kind == kinds[0] {
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
}

func decodeChunk(t *testing.T, c provider.Chunk) chat.Chunk {
	t.Helper()
	v, err := decodeJSON[chat.Chunk](c.JSON)
	if err != nil {
		t.Fatalf("chunk is not JSON: %v\n%s", err, c.JSON)
	}
	return v
}

func TestStreamText(t *testing.T) {
	chunks, end := streamTranscript(t, "gemini", "stream_text.sse")
	if !errors.Is(end, io.EOF) {
		t.Fatalf("stream ended with %v, want io.EOF", end)
	}
	var content strings.Builder
	var finish []string
	for i, c := range chunks {
		v := decodeChunk(t, c)
		if v.ID != "stream-text-1" || v.Model != "gemini-2.5-flash" || v.Created != testNow.Unix() || v.Object != "chat.completion.chunk" {
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
	if content.String() != "Hello world!" {
		t.Errorf("content = %q, want %q (thought summaries left out)", content.String(), "Hello world!")
	}
	if diff := cmp.Diff([]string{"stop"}, finish); diff != "" {
		t.Errorf("finish reasons (-want +got):\n%s", diff)
	}
	last := chunks[len(chunks)-1]
	want := chat.Usage{PromptTokens: 1000, CompletionTokens: 103, TotalTokens: 1103,
		PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 800}, CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: 100}}
	if !last.UsageOnly || last.Usage == nil {
		t.Fatalf("last chunk %s is not usage-only", last.JSON)
	}
	if diff := cmp.Diff(want, *last.Usage); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
	if v := decodeChunk(t, last); len(v.Choices) != 0 || !cmp.Equal(v.Usage, last.Usage) {
		t.Errorf("usage chunk JSON %s", last.JSON)
	}
	for _, c := range chunks[:len(chunks)-1] {
		if c.UsageOnly || c.Usage != nil {
			t.Errorf("chunk %s carries usage before the end", c.JSON)
		}
	}
}

func TestStreamFunctionCall(t *testing.T) {
	chunks, end := streamTranscript(t, "vertex", "stream_function_call.sse")
	if !errors.Is(end, io.EOF) {
		t.Fatalf("stream ended with %v, want io.EOF", end)
	}
	var calls []chat.ToolCallDelta
	var finish string
	for _, c := range chunks {
		for _, ch := range decodeChunk(t, c).Choices {
			calls = append(calls, ch.Delta.ToolCalls...)
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	want := []chat.ToolCallDelta{
		{Index: 0, ID: "call_0", Type: "function", Function: chat.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius"}`}},
		{Index: 1, ID: "call_1", Type: "function", Function: chat.FunctionCall{Name: "get_time", Arguments: `{}`}},
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
	if finish != "tool_calls" {
		t.Errorf("finish_reason = %q, want tool_calls", finish)
	}
}

func TestStreamEnds(t *testing.T) {
	tests := []struct {
		name     string
		wantKind apierr.Kind
		wantCode string
	}{
		{"stream_cut.sse", apierr.KindUpstreamBadResponse, "upstream_bad_response"},
		{"stream_cut_mid_event.sse", apierr.KindUpstreamBadResponse, "upstream_bad_response"},
		{"stream_candidate_unfinished.sse", apierr.KindUpstreamBadResponse, "upstream_bad_response"},
		{"stream_error.sse", apierr.KindUpstreamUnavailable, ""},
		{"stream_malformed_function_call.sse", apierr.KindUpstreamBadResponse, "upstream_malformed_function_call"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks, end := streamTranscript(t, "gemini", tt.name)
			if errors.Is(end, io.EOF) {
				t.Fatalf("a broken stream ended with io.EOF")
			}
			e := asAPIErr(t, end)
			if e.Kind != tt.wantKind || e.Code != tt.wantCode {
				t.Errorf("error kind %v code %q, want %v %q", e.Kind, e.Code, tt.wantKind, tt.wantCode)
			}
			for _, c := range chunks {
				if c.UsageOnly {
					t.Errorf("a broken stream sent its usage chunk %s", c.JSON)
				}
			}
		})
	}
}

func TestStreamCanceled(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"}}]}`+"\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := f.adapter(t, "gemini").ChatStream(ctx, &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 { // role, text
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	_, err = s.Recv()
	if e := asAPIErr(t, err); e.Kind != apierr.KindCanceled {
		t.Errorf("canceled stream: %+v", e)
	}
}

func decodeJSON[T any](b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}
