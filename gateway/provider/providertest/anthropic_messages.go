package providertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The fake's answers to what only [NewAnthropicMessages] serves: token counts and thinking.
const (
	// AnthropicCountTokens is the input_tokens of every count_tokens answer.
	AnthropicCountTokens = 42
	// AnthropicThinking is the text of the thinking block the fake answers with.
	AnthropicThinking = "The user wants an echo; I will echo."
	// AnthropicSignature is the signature of that thinking block.
	AnthropicSignature = "EqQBCkgIARABGAIiQFake+Signature/Of==The/Thinking+Block"
)

// NewAnthropicMessages starts a fake Anthropic API like [NewAnthropic] that also serves what a
// Messages client needs beyond the chat translation:
//
//   - POST /v1/messages/count_tokens answers {"input_tokens": [AnthropicCountTokens]} after the
//     same key and version checks; the body must have a model and messages and only
//     count_tokens fields (else 400 invalid_request_error).
//   - A Messages request with "thinking": {"type": "enabled", "budget_tokens": n} (n >= 1024 and
//     below max_tokens) is answered with a thinking block ([AnthropicThinking], signed
//     [AnthropicSignature]) before the text block; streamed, the block comes as thinking_delta
//     and signature_delta events.
//   - thinking and redacted_thinking blocks are accepted in assistant turns of the history when
//     they carry their signature (or data); without a thinking config the answer is text only.
//
// Every other request is answered as [NewAnthropic] answers it. The server is closed when the
// test ends.
func NewAnthropicMessages(t testing.TB, key string) *Anthropic {
	f := &Anthropic{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", f.messagesWithThinking)
	mux.HandleFunc("POST /v1/messages/count_tokens", f.countTokens)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// countTokensFields are the top-level fields count_tokens accepts.
var countTokensFields = map[string]bool{
	"model": true, "messages": true, "system": true, "tools": true, "tool_choice": true,
	"thinking": true, "mcp_servers": true,
}

// receive reads and records a request and runs the checks every endpoint shares; ok is false
// when it has answered with an error.
func (f *Anthropic) receive(w http.ResponseWriter, r *http.Request) (AnthropicRequest, bool) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return AnthropicRequest{}, false
	}
	req := AnthropicRequest{Path: r.URL.Path, APIKey: r.Header.Get("x-api-key"), Version: r.Header.Get("anthropic-version"), Raw: raw}
	jsonErr := json.Unmarshal(raw, &req.Body)
	if jsonErr == nil {
		f.mu.Lock()
		f.requests = append(f.requests, req)
		f.mu.Unlock()
	}
	switch {
	case req.APIKey != f.key:
		writeAnthropicError(w, http.StatusUnauthorized, "invalid x-api-key")
		return req, false
	case req.Version == "":
		writeAnthropicError(w, http.StatusBadRequest, "anthropic-version: header is required")
		return req, false
	case jsonErr != nil:
		writeAnthropicError(w, http.StatusBadRequest, "There was an error parsing the body of your request: "+jsonErr.Error())
		return req, false
	}
	return req, true
}

func (f *Anthropic) countTokens(w http.ResponseWriter, r *http.Request) {
	req, ok := f.receive(w, r)
	if !ok {
		return
	}
	for k := range req.Body {
		if !countTokensFields[k] {
			writeAnthropicError(w, http.StatusBadRequest, k+": Extra inputs are not permitted")
			return
		}
	}
	if m, _ := req.Body["model"].(string); m == "" {
		writeAnthropicError(w, http.StatusBadRequest, "model: Field required")
		return
	}
	if msgs, _ := req.Body["messages"].([]any); len(msgs) == 0 {
		writeAnthropicError(w, http.StatusBadRequest, "messages: Field required")
		return
	}
	w.Header().Set("content-type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"input_tokens": AnthropicCountTokens})
}

// hasThinking reports whether a request asks for thinking or carries thinking blocks.
func hasThinking(body map[string]any) bool {
	if _, ok := body["thinking"]; ok {
		return true
	}
	msgs, _ := body["messages"].([]any)
	for _, rm := range msgs {
		m, _ := rm.(map[string]any)
		blocks, _ := m["content"].([]any)
		for _, rb := range blocks {
			if b, _ := rb.(map[string]any); b["type"] == "thinking" || b["type"] == "redacted_thinking" {
				return true
			}
		}
	}
	return false
}

// withoutThinking checks the thinking blocks of body and returns a copy without them, or the
// 400 message.
func withoutThinking(body map[string]any) (map[string]any, string) {
	out := make(map[string]any, len(body))
	for k, v := range body {
		out[k] = v
	}
	msgs, _ := body["messages"].([]any)
	kept := make([]any, 0, len(msgs))
	for i, rm := range msgs {
		m, _ := rm.(map[string]any)
		blocks, isBlocks := m["content"].([]any)
		if !isBlocks {
			kept = append(kept, rm)
			continue
		}
		var rest []any
		for j, rb := range blocks {
			b, _ := rb.(map[string]any)
			switch b["type"] {
			case "thinking":
				sig, _ := b["signature"].(string)
				if _, ok := b["thinking"].(string); !ok || sig == "" || m["role"] != "assistant" {
					return nil, fmt.Sprintf("messages.%d.content.%d.signature: Field required", i, j)
				}
			case "redacted_thinking":
				if d, _ := b["data"].(string); d == "" || m["role"] != "assistant" {
					return nil, fmt.Sprintf("messages.%d.content.%d.data: Field required", i, j)
				}
			default:
				rest = append(rest, rb)
			}
		}
		cm := make(map[string]any, len(m))
		for k, v := range m {
			cm[k] = v
		}
		cm["content"] = append([]any{}, rest...)
		kept = append(kept, cm)
	}
	out["messages"] = kept
	return out, ""
}

func (f *Anthropic) messagesWithThinking(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var probe map[string]any
	if json.Unmarshal(raw, &probe) != nil || !hasThinking(probe) {
		r.Body = io.NopCloser(bytes.NewReader(raw))
		f.messages(w, r)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	req, ok := f.receive(w, r)
	if !ok {
		return
	}
	plain, msg := withoutThinking(req.Body)
	if msg == "" {
		msg = validateAnthropic(plain)
	}
	thinking := false
	if tc, ok := req.Body["thinking"].(map[string]any); ok && msg == "" {
		budget, _ := tc["budget_tokens"].(float64)
		maxTokens, _ := req.Body["max_tokens"].(float64)
		switch {
		case tc["type"] == "disabled":
		case tc["type"] != "enabled":
			msg = "thinking.type: Input should be 'enabled' or 'disabled'"
		case budget < 1024 || budget >= maxTokens:
			msg = "thinking.budget_tokens: must be at least 1024 and less than max_tokens"
		default:
			thinking = true
		}
	}
	if msg != "" {
		writeAnthropicError(w, http.StatusBadRequest, msg)
		return
	}
	model, _ := req.Body["model"].(string)
	text := "echo: " + lastMessageText(plain, false)
	usage := map[string]any{
		"input_tokens": AnthropicInputTokens, "output_tokens": AnthropicOutputTokens,
		"cache_creation_input_tokens": 0, "cache_read_input_tokens": AnthropicCacheReadTokens,
	}
	w.Header().Set("request-id", "req_fake")
	if stream, _ := req.Body["stream"].(bool); !stream {
		content := []any{map[string]any{"type": "text", "text": text}}
		if thinking {
			content = append([]any{map[string]any{"type": "thinking", "thinking": AnthropicThinking, "signature": AnthropicSignature}}, content...)
		}
		w.Header().Set("content-type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
			"content": content, "stop_reason": "end_turn", "stop_sequence": nil, "usage": usage,
		})
		return
	}
	w.Header().Set("content-type", "text/event-stream")
	w.Header().Set("cache-control", "no-cache")
	flusher := w.(http.Flusher)
	send := func(name string, data map[string]any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
		flusher.Flush()
	}
	send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{
			"input_tokens": AnthropicInputTokens, "output_tokens": 1,
			"cache_creation_input_tokens": 0, "cache_read_input_tokens": AnthropicCacheReadTokens,
		},
	}})
	index := 0
	if thinking {
		send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "thinking", "thinking": "", "signature": ""}})
		send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "thinking_delta", "thinking": AnthropicThinking}})
		send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "signature_delta", "signature": AnthropicSignature}})
		send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
		index = 1
	}
	send("content_block_start", map[string]any{"type": "content_block_start", "index": index,
		"content_block": map[string]any{"type": "text", "text": ""}})
	for i, word := range strings.Fields(text) {
		if i > 0 {
			word = " " + word
		}
		send("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
			"delta": map[string]any{"type": "text_delta", "text": word}})
	}
	send("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
	send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": AnthropicOutputTokens}})
	send("message_stop", map[string]any{"type": "message_stop"})
}
