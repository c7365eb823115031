package anthropicapi

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestFromChat(t *testing.T) {
	tests := []struct {
		name       string
		completion string
		want       string
	}{
		{
			name: "text with cached prompt tokens",
			completion: `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],
				"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":3}}}`,
			want: `{"id":"msg_chatcmpl-1","type":"message","role":"assistant","model":"fake/gpt","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","stop_sequence":null,
				"usage":{"input_tokens":8,"output_tokens":7,"cache_creation_input_tokens":0,"cache_read_input_tokens":3}}`,
		},
		{
			name: "text and tool calls",
			completion: `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"checking","tool_calls":[
				{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
				{"id":"call_2","type":"function","function":{"name":"time","arguments":""}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`,
			want: `{"id":"msg_c","type":"message","role":"assistant","model":"fake/gpt","content":[{"type":"text","text":"checking"},
				{"type":"tool_use","id":"call_1","name":"weather","input":{"city":"Paris"}},{"type":"tool_use","id":"call_2","name":"time","input":{}}],
				"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":2,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}`,
		},
		{
			name:       "length",
			completion: `{"id":"msg_x","choices":[{"index":0,"message":{"role":"assistant","content":"cut"},"finish_reason":"length"}]}`,
			want: `{"id":"msg_x","type":"message","role":"assistant","model":"fake/gpt","content":[{"type":"text","text":"cut"}],"stop_reason":"max_tokens","stop_sequence":null,
				"usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}`,
		},
		{
			name:       "refusal",
			completion: `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't"},"finish_reason":"content_filter"}]}`,
			want: `{"id":"msg_c","type":"message","role":"assistant","model":"fake/gpt","content":[{"type":"text","text":"I can't"}],"stop_reason":"refusal","stop_sequence":null,
				"usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromChat([]byte(tt.completion), "fake/gpt")
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &w); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromChatBadAnswers(t *testing.T) {
	for _, c := range []string{
		`not json`,
		`{"id":"c","choices":[]}`,
		`{"id":"c","choices":[{"index":0,"message":{"role":"assistant","tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"[1,2]"}}]},"finish_reason":"tool_calls"}]}`,
	} {
		_, err := FromChat([]byte(c), "m")
		var e *apierr.Error
		if !errors.As(err, &e) || e.Kind != apierr.KindUpstreamBadResponse {
			t.Errorf("FromChat(%s) = %v, want a bad response", c, err)
		}
	}
}

// chunk renders a chat chunk as a provider would.
func chunk(t *testing.T, c chat.Chunk) provider.Chunk {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return provider.Chunk{JSON: b, Usage: c.Usage, UsageOnly: len(c.Choices) == 0}
}

func deltaChunk(d chat.Delta, finish string) chat.Chunk {
	c := chat.Chunk{ID: "chatcmpl-s", Object: "chat.completion.chunk", Choices: []chat.ChunkChoice{{Delta: d}}}
	if finish != "" {
		c.Choices[0].FinishReason = &finish
	}
	return c
}

func TestStreamerGolden(t *testing.T) {
	text := func(s string) chat.Delta { return chat.Delta{Content: &s} }
	empty := ""
	u := &chat.Usage{PromptTokens: 11, CompletionTokens: 7, TotalTokens: 18, PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 3}}
	usageOnly := chat.Chunk{ID: "chatcmpl-s", Object: "chat.completion.chunk", Choices: []chat.ChunkChoice{}, Usage: u}
	tests := []struct {
		name   string
		chunks []chat.Chunk
		end    error // io.EOF for a clean end
	}{
		{"text", []chat.Chunk{
			deltaChunk(chat.Delta{Role: "assistant", Content: &empty}, ""),
			deltaChunk(text("Hello"), ""), deltaChunk(text(" world"), ""),
			deltaChunk(chat.Delta{}, "stop"), usageOnly,
		}, io.EOF},
		{"text then two tool calls", []chat.Chunk{
			deltaChunk(chat.Delta{Role: "assistant", Content: &empty}, ""),
			deltaChunk(text("Let me check."), ""),
			deltaChunk(chat.Delta{ToolCalls: []chat.ToolCallDelta{{Index: 0, ID: "call_1", Type: "function", Function: chat.FunctionCall{Name: "weather"}}}}, ""),
			deltaChunk(chat.Delta{ToolCalls: []chat.ToolCallDelta{{Index: 0, Function: chat.FunctionCall{Arguments: `{"city":`}}}}, ""),
			deltaChunk(chat.Delta{ToolCalls: []chat.ToolCallDelta{{Index: 0, Function: chat.FunctionCall{Arguments: ` "Paris"}`}}}}, ""),
			deltaChunk(chat.Delta{ToolCalls: []chat.ToolCallDelta{{Index: 1, ID: "call_2", Type: "function", Function: chat.FunctionCall{Name: "time", Arguments: `{}`}}}}, ""),
			deltaChunk(chat.Delta{}, "tool_calls"), usageOnly,
		}, io.EOF},
		{"length without usage", []chat.Chunk{deltaChunk(text("cut"), "length")}, io.EOF},
		{"broken mid-stream", []chat.Chunk{deltaChunk(text("par"), "")}, provider.BadResponse(errors.New("cut"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStreamer("fake/gpt")
			for _, c := range tt.chunks {
				if err := s.Chunk(chunk(t, c)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.end == io.EOF {
				if err := s.End(); err != nil {
					t.Fatal(err)
				}
			} else {
				s.Error(tt.end)
			}
			golden(t, filepath.Join("testdata", "stream_"+filepath.Base(sanitize(tt.name))+".golden"), s.Out)
		})
	}
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == ' ' || c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

// golden compares got with the file, or rewrites it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestFromChatReportsCacheWrites(t *testing.T) {
	completion := `{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
		"usage":{"prompt_tokens":1000,"completion_tokens":5,"total_tokens":1005,"prompt_tokens_details":{"cached_tokens":600}}}`
	got, err := fromChat([]byte(completion), 300, "m")
	if err != nil {
		t.Fatal(err)
	}
	var m Response
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	// input_tokens excludes both the 600 read and the 300 written.
	want := Usage{InputTokens: 100, OutputTokens: 5, CacheReadInputTokens: 600, CacheCreationInputTokens: 300}
	if m.Usage != want {
		t.Errorf("usage %+v, want %+v", m.Usage, want)
	}
}
