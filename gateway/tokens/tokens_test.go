package tokens

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// counter is shared by the tests so each tokenizer is built once per test binary.
var counter = sync.OnceValue(NewCounter)

func TestCount(t *testing.T) {
	// Counts published with tiktoken (OpenAI's "How to count tokens with tiktoken" cookbook).
	tests := []struct {
		model, text string
		want        int64
	}{
		{"gpt-4o", "hello world", 2},
		{"gpt-3.5-turbo", "hello world", 2},
		{"gpt-4", "tiktoken is great!", 6},
		{"gpt-4o-mini", "antidisestablishmentarianism", 6},
		{"gpt-4-0613", "antidisestablishmentarianism", 6},
		{"gpt-4", "2 + 2 = 4", 7},
		{"o3-mini", "2 + 2 = 4", 7},
		{"gpt-4", "お誕生日おめでとう", 9},
		{"gpt-5", "お誕生日おめでとう", 8},
		{"gpt-4.1", "", 0},
		// No tokenizer: one token per four bytes, rounded up.
		{"claude-sonnet-4-5", "hello world", 3},
		{"llama-3.1-8b", "abcd", 1},
		{"llama-3.1-8b", "abcde", 2},
		{"mistral-large", "お誕生日おめでとう", 7}, // 27 bytes
	}
	for _, tt := range tests {
		t.Run(tt.model+"/"+tt.text, func(t *testing.T) {
			if got := counter().Count(tt.model, []byte(tt.text)); got != tt.want {
				t.Errorf("Count(%q, %q) = %d, want %d", tt.model, tt.text, got, tt.want)
			}
		})
	}
}

func TestEncodingOf(t *testing.T) {
	tests := map[string]string{
		"gpt-4o":                    O200kBase,
		"gpt-4o-mini-2024-07-18":    O200kBase,
		"chatgpt-4o-latest":         O200kBase,
		"gpt-4.1-nano":              O200kBase,
		"gpt-5-mini":                O200kBase,
		"o1":                        O200kBase,
		"o4-mini":                   O200kBase,
		"openai/gpt-oss-120b":       O200kBase,
		"ft:gpt-4o-mini:acme::abc1": O200kBase,
		"GPT-4O":                    O200kBase,
		"gpt-4":                     CL100kBase,
		"gpt-4-turbo":               CL100kBase,
		"gpt-35-turbo":              CL100kBase,
		"text-embedding-3-small":    CL100kBase,
		"text-embedding-ada-002":    CL100kBase,
		"claude-sonnet-4-5":         "",
		"gemini-2.5-pro":            "",
		"nvidia/nemotron-3-nano":    "",
	}
	for model, want := range tests {
		if got := EncodingOf(model); got != want {
			t.Errorf("EncodingOf(%q) = %q, want %q", model, got, want)
		}
	}
}

func TestEstimate(t *testing.T) {
	for n, want := range map[int64]int64{0: 0, 1: 1, 4: 1, 5: 2, 8: 2, 4001: 1001} {
		if got := Estimate(n); got != want {
			t.Errorf("Estimate(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestTextBound(t *testing.T) {
	var tx Text
	tx.WriteString(strings.Repeat("a", MaxText-2))
	tx.Write([]byte("abcdef"))
	tx.WriteString("ghij")
	if tx.Len() != MaxText+8 || len(tx.b) != MaxText || tx.over != 8 {
		t.Fatalf("len %d kept %d over %d", tx.Len(), len(tx.b), tx.over)
	}
	// The kept megabyte is counted by the tokenizer, the 8 bytes past it estimated as 2 tokens.
	kept := counter().Count("claude-x", tx.b)
	if got := counter().CountText("claude-x", &tx); got != kept+2 {
		t.Errorf("CountText = %d, want %d", got, kept+2)
	}
}

func TestAddJSON(t *testing.T) {
	tests := []struct {
		name, json string
		field      func([]byte) bool
		want       string
	}{
		{"chat delta", `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"logprobs":null,"finish_reason":null}]}`, CompletionField, "Hel"},
		{"reasoning and refusal", `{"choices":[{"delta":{"reasoning_content":"think ","refusal":"no","reasoning":"r"}}]}`, CompletionField, "think nor"},
		{"tool call arguments", `{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}}]}`, CompletionField, `{"city":"Paris"}`},
		{"escapes", `{"content":"a\nb\t\"c\"\\ \u00e9 \ud83d\ude00 \/"}`, CompletionField, "a\nb\t\"c\"\\ é 😀 /"},
		{"escaped backslash before a quote", `{"content":"x\\","text":"\\\"y"}`, CompletionField, `x\\"y`},
		{"anthropic text delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi there"}}`, CompletionField, "Hi there"},
		{"anthropic tool input", `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}`, CompletionField, `{"a":`},
		{"anthropic thinking, not its signature", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}{"delta":{"type":"signature_delta","signature":"EqQB"}}`, CompletionField, "hmm"},
		{"usage and nulls skipped", `{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5},"content":null}`, CompletionField, ""},
		{"logprobs content is an array of objects", `{"choices":[{"logprobs":{"content":[{"token":"x","logprob":-1}]},"delta":{"content":"y"}}]}`, CompletionField, "y"},
		{"completions text", `{"choices":[{"text":" world","index":0}]}`, CompletionField, " world"},
		{"openai prompt", `{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`, PromptField, "Be brief.Hi"},
		{"anthropic prompt", `{"model":"claude","max_tokens":10,"system":[{"type":"text","text":"S"}],"messages":[{"role":"user","content":"Q"}],"tools":[{"name":"t","description":"D","input_schema":{"type":"object"}}]}`, PromptField, "SQD"},
		{"prompt array", `{"model":"x","prompt":["a","b"],"max_tokens":[1,2]}`, PromptField, "ab"},
		{"malformed stops quietly", `{"content":"ok","text":`, CompletionField, "ok"},
		{"not an object", `"content"`, CompletionField, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tx Text
			tx.AddJSON([]byte(tt.json), tt.field)
			if got := string(tx.b); got != tt.want {
				t.Errorf("text %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAddJSONDepth(t *testing.T) {
	deep := strings.Repeat(`{"content":[`, 200) + `"x"` + strings.Repeat(`]}`, 200)
	var tx Text
	tx.AddJSON([]byte(deep), CompletionField) // must not recurse without bound
	if tx.Len() != 0 {
		t.Errorf("text past the depth bound was added: %q", tx.b)
	}
}

// BenchmarkLoad measures what building each tokenizer costs on first need: the time per op and
// the live heap it keeps (heap-MB).
func BenchmarkLoad(b *testing.B) {
	for _, model := range []string{"gpt-4o", "gpt-4"} {
		b.Run(EncodingOf(model), func(b *testing.B) {
			var heap float64
			for b.Loop() {
				c := NewCounter()
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				c.Count(model, []byte("x"))
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = float64(after.HeapAlloc-before.HeapAlloc) / 1e6
				runtime.KeepAlive(c)
			}
			b.ReportMetric(heap, "heap-MB")
		})
	}
}

// chunk is a typical chat.completion.chunk of a few characters of content.
var chunk = []byte(`{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_eb9dce56a8","choices":[{"index":0,"delta":{"content":" world, and"},"logprobs":null,"finish_reason":null}],"usage":null}`)

// BenchmarkAddJSON is the per-chunk cost on the stream path: scanning one chunk and keeping
// its text.
func BenchmarkAddJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(chunk)))
	var tx Text
	for b.Loop() {
		if tx.Len() > 1<<16 {
			tx = Text{b: tx.b[:0]}
		}
		tx.AddJSON(chunk, CompletionField)
	}
}

// BenchmarkStream is the whole metering cost of a 1,000-chunk answer: scanning every chunk.
func BenchmarkStream(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var tx Text
		for range 1000 {
			tx.AddJSON(chunk, CompletionField)
		}
	}
}

// BenchmarkCount is the end-of-stream cost when usage never came: tokenizing the text of an
// answer of about 1,000 tokens (4 KB).
func BenchmarkCount(b *testing.B) {
	text := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog, 42 times. ", 75))
	for _, model := range []string{"gpt-4o", "gpt-4", "claude-sonnet-4-5"} {
		b.Run(fmt.Sprintf("%s/%dB", model, len(text)), func(b *testing.B) {
			c := counter()
			c.Count(model, text) // build outside the loop
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				c.Count(model, text)
			}
		})
	}
}

// TestTextGrowth: a short answer's text, added a word at a time as a stream's chunks bring
// it, costs one allocation.
func TestTextGrowth(t *testing.T) {
	chunk := []byte(`{"choices":[{"index":0,"delta":{"content":"word "},"finish_reason":null}]}`)
	allocs := testing.AllocsPerRun(100, func() {
		var txt Text
		for range 20 {
			txt.AddJSON(chunk, CompletionField)
		}
		if txt.Len() != 100 {
			t.Fatalf("Len() = %d, want 100", txt.Len())
		}
	})
	if allocs != 1 {
		t.Errorf("20 chunks of a word: %v allocations, want 1", allocs)
	}
}
