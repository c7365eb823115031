package providertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The fake Anthropic upstream's fixed answer. Prompt tokens as the gateway reports them are
// AnthropicInputTokens + AnthropicCacheReadTokens.
const (
	// AnthropicInputTokens is the input_tokens of every answer.
	AnthropicInputTokens = 12
	// AnthropicOutputTokens is the output_tokens of every answer.
	AnthropicOutputTokens = 6
	// AnthropicCacheReadTokens is the cache_read_input_tokens of every answer.
	AnthropicCacheReadTokens = 4
	// ModelCacheWrite: a model whose name ends with it also reports AnthropicCacheWriteTokens
	// written to the cache (cache_creation_input_tokens; prompt tokens as the gateway reports
	// them grow by as many), AnthropicCacheWrite1hTokens of them for one hour
	// (cache_creation.ephemeral_1h_input_tokens). Other models report no cache writes.
	ModelCacheWrite = "fake-cache-write"
	// AnthropicCacheWriteTokens is the cache_creation_input_tokens of a ModelCacheWrite answer.
	AnthropicCacheWriteTokens = 20
	// AnthropicCacheWrite1hTokens is the part of AnthropicCacheWriteTokens written for one hour.
	AnthropicCacheWrite1hTokens = 8
	// AnthropicToolUseID is the id of the tool_use block the fake answers with.
	AnthropicToolUseID = "toolu_01"
	// AnthropicVersion is the anthropic-version the Messages wire format here follows.
	AnthropicVersion = "2023-06-01"
)

// AnthropicRequest is one request the fake Anthropic API received.
type AnthropicRequest struct {
	Path    string
	APIKey  string // the x-api-key header
	Version string // the anthropic-version header
	Body    map[string]any
	Raw     []byte
}

// Anthropic is a fake Anthropic Messages API (POST /v1/messages) speaking the documented wire
// format of anthropic-version 2023-06-01. It checks a request as Anthropic does, in this order:
// x-api-key must be the key given to [NewAnthropic] (else 401 authentication_error), the
// anthropic-version header must be set, the body must be JSON with only Messages API fields, a
// model, a positive max_tokens and user or assistant messages, and every tool_result must answer
// a tool_use of the turn before it (else 400 invalid_request_error).
//
// The answer depends on the model name. [ModelErrorPrefix]<status> answers that status with
// Anthropic's error body (529 is overloaded_error, 429 rate_limit_error with retry-after: 5);
// the message quotes [LeakedKey], which must never reach a client. [ModelMidError] streams one
// text delta, then an error event; [ModelCut] one, then drops the connection. A streamed
// [ModelGated] or [ModelStall] (or a model name ending with one) holds its last text delta as
// the OpenAI fake does, until a value on Gate or until its client goes away. Any other model
// answers:
//
//   - when the request has tools and the text blocks of its last message (a user turn) contain
//     "weather": a tool_use block (id [AnthropicToolUseID], the first tool's name, input
//     {"city":"Paris"}) with stop_reason tool_use;
//   - otherwise a text block "echo: <text>" with stop_reason end_turn, where text is the last
//     message's text, tool_result contents included (so a tool result is echoed back).
//
// Usage is always [AnthropicInputTokens], [AnthropicOutputTokens] and
// [AnthropicCacheReadTokens]. A streaming request ("stream": true) gets the documented event
// sequence: message_start, content_block_start, ping, one text_delta per word (or, for a tool
// call, input_json_delta fragments `{"city":` and ` "Paris"}`), content_block_stop,
// message_delta, message_stop.
//
// Requests with a JSON body are recorded, rejected ones included. It is safe for concurrent use.
type Anthropic struct {
	*httptest.Server
	key      string
	mu       sync.Mutex
	requests []AnthropicRequest
	// Gate lets a ModelGated stream finish: send one value per stream.
	Gate chan struct{}
}

// NewAnthropic starts a fake Anthropic API that accepts only key; its base URL is URL. The
// server is closed when the test ends.
func NewAnthropic(t testing.TB, key string) *Anthropic {
	f := &Anthropic{key: key, Gate: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", f.messages)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// Requests returns the requests received so far.
func (f *Anthropic) Requests() []AnthropicRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]AnthropicRequest(nil), f.requests...)
}

// LastRequest returns the last request received, or the zero value if none was.
func (f *Anthropic) LastRequest() AnthropicRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		return AnthropicRequest{}
	}
	return f.requests[len(f.requests)-1]
}

// anthropicErrorType is the documented error type of each status.
func anthropicErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	default:
		return "api_error"
	}
}

// writeAnthropicError writes Anthropic's documented error body.
func writeAnthropicError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("content-type", "application/json")
	w.Header().Set("request-id", "req_fake")
	if status == http.StatusTooManyRequests {
		w.Header().Set("retry-after", "5")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":  "error",
		"error": map[string]any{"type": anthropicErrorType(status), "message": msg},
	})
}

// anthropicFields are the top-level fields of a Messages request; Anthropic rejects others.
var anthropicFields = map[string]bool{
	"model": true, "messages": true, "max_tokens": true, "system": true, "metadata": true,
	"stop_sequences": true, "stream": true, "temperature": true, "top_k": true, "top_p": true,
	"tools": true, "tool_choice": true, "thinking": true, "service_tier": true,
}

// validateAnthropic checks body as the Messages API does and returns the 400 message, or "".
func validateAnthropic(body map[string]any) string {
	for k := range body {
		if !anthropicFields[k] {
			return k + ": Extra inputs are not permitted"
		}
	}
	if m, _ := body["model"].(string); m == "" {
		return "model: Field required"
	}
	if mt, _ := body["max_tokens"].(float64); mt < 1 {
		return "max_tokens: Field required"
	}
	msgs, _ := body["messages"].([]any)
	if len(msgs) == 0 {
		return "messages: Field required"
	}
	var prevToolUses map[string]bool
	for i, raw := range msgs {
		m, _ := raw.(map[string]any)
		role, _ := m["role"].(string)
		if role != "user" && role != "assistant" {
			return fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		toolUses := map[string]bool{}
		blocks, isBlocks := m["content"].([]any)
		if _, isText := m["content"].(string); !isText && !isBlocks {
			return fmt.Sprintf("messages.%d.content: Field required", i)
		}
		for j, rb := range blocks {
			b, _ := rb.(map[string]any)
			switch b["type"] {
			case "text":
				if s, _ := b["text"].(string); s == "" {
					return fmt.Sprintf("messages.%d.content.%d.text: text content blocks must be non-empty", i, j)
				}
			case "tool_use":
				id, _ := b["id"].(string)
				toolUses[id] = true
				if _, ok := b["input"].(map[string]any); !ok || id == "" {
					return fmt.Sprintf("messages.%d.content.%d: tool_use needs an id and an object input", i, j)
				}
			case "tool_result":
				id, _ := b["tool_use_id"].(string)
				if role != "user" || !prevToolUses[id] {
					return fmt.Sprintf("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, j, id)
				}
			case "image": // accepted as sent
			default:
				return fmt.Sprintf("messages.%d.content.%d.type: unknown content block type %v", i, j, b["type"])
			}
		}
		prevToolUses = toolUses
	}
	return ""
}

// lastMessageText returns the text of the last message: its text blocks, and, unless
// textOnly, the text of its tool_result blocks.
func lastMessageText(body map[string]any, textOnly bool) string {
	msgs, _ := body["messages"].([]any)
	if len(msgs) == 0 {
		return ""
	}
	m, _ := msgs[len(msgs)-1].(map[string]any)
	if s, ok := m["content"].(string); ok {
		return s
	}
	var parts []string
	blocks, _ := m["content"].([]any)
	for _, rb := range blocks {
		b, _ := rb.(map[string]any)
		switch b["type"] {
		case "text":
			s, _ := b["text"].(string)
			parts = append(parts, s)
		case "tool_result":
			if textOnly {
				continue
			}
			switch c := b["content"].(type) {
			case string:
				parts = append(parts, c)
			case []any:
				for _, rc := range c {
					if cb, _ := rc.(map[string]any); cb["type"] == "text" {
						s, _ := cb["text"].(string)
						parts = append(parts, s)
					}
				}
			}
		}
	}
	return strings.Join(parts, " ")
}

// firstToolName is the name of the request's first tool, or "".
func firstToolName(body map[string]any) string {
	tools, _ := body["tools"].([]any)
	if len(tools) == 0 {
		return ""
	}
	t, _ := tools[0].(map[string]any)
	name, _ := t["name"].(string)
	return name
}

func (f *Anthropic) messages(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return
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
		return
	case req.Version == "":
		writeAnthropicError(w, http.StatusBadRequest, "anthropic-version: header is required")
		return
	case jsonErr != nil:
		writeAnthropicError(w, http.StatusBadRequest, "There was an error parsing the body of your request: "+jsonErr.Error())
		return
	}
	if msg := validateAnthropic(req.Body); msg != "" {
		writeAnthropicError(w, http.StatusBadRequest, msg)
		return
	}
	model, _ := req.Body["model"].(string)
	if s, ok := strings.CutPrefix(model, ModelErrorPrefix); ok {
		status, _ := strconv.Atoi(s)
		writeAnthropicError(w, status, "upstream says no: "+LeakedKey)
		return
	}

	toolName := firstToolName(req.Body)
	toolCall := toolName != "" && strings.Contains(lastMessageText(req.Body, true), "weather")
	text := "echo: " + lastMessageText(req.Body, false)
	stopReason := "end_turn"
	content := []any{map[string]any{"type": "text", "text": text}}
	if toolCall {
		stopReason = "tool_use"
		content = []any{map[string]any{"type": "tool_use", "id": AnthropicToolUseID, "name": toolName, "input": map[string]any{"city": "Paris"}}}
	}
	usage := anthropicUsage(model, AnthropicOutputTokens)
	w.Header().Set("request-id", "req_fake")
	if stream, _ := req.Body["stream"].(bool); !stream {
		w.Header().Set("content-type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
			"content": content, "stop_reason": stopReason, "stop_sequence": nil, "usage": usage,
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
	startUsage := anthropicUsage(model, 1)
	send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": startUsage,
	}})
	if toolCall {
		send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "tool_use", "id": AnthropicToolUseID, "name": toolName, "input": map[string]any{}}})
		send("ping", map[string]any{"type": "ping"})
		for _, part := range []string{`{"city":`, ` "Paris"}`} {
			send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
				"delta": map[string]any{"type": "input_json_delta", "partial_json": part}})
		}
	} else {
		send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "text", "text": ""}})
		send("ping", map[string]any{"type": "ping"})
		for i, word := range strings.Fields(text) {
			if i > 0 {
				word = " " + word
			}
			if model == ModelMidError && i == 1 {
				send("error", map[string]any{"type": "error", "error": map[string]any{"type": "overloaded_error", "message": "Overloaded " + LeakedKey}})
				return
			}
			if model == ModelCut && i == 1 {
				if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
					conn.Close()
				}
				return
			}
			if i == len(strings.Fields(text))-1 && !waitFor(r, model, f.Gate) {
				return
			}
			send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
				"delta": map[string]any{"type": "text_delta", "text": word}})
		}
	}
	send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stopReason, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": AnthropicOutputTokens}})
	send("message_stop", map[string]any{"type": "message_stop"})
}

// anthropicUsage is the usage of an answer of model with output tokens (see ModelCacheWrite).
func anthropicUsage(model string, output int) map[string]any {
	u := map[string]any{
		"input_tokens": AnthropicInputTokens, "output_tokens": output,
		"cache_creation_input_tokens": 0, "cache_read_input_tokens": AnthropicCacheReadTokens,
	}
	if strings.HasSuffix(model, ModelCacheWrite) {
		u["cache_creation_input_tokens"] = AnthropicCacheWriteTokens
		u["cache_creation"] = map[string]any{"ephemeral_5m_input_tokens": AnthropicCacheWriteTokens - AnthropicCacheWrite1hTokens, "ephemeral_1h_input_tokens": AnthropicCacheWrite1hTokens}
	}
	return u
}
