package conformance

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// anthropicKey is the API key the Anthropic fake expects in x-api-key, a canary its error
// bodies quote (KeyQuote).
const anthropicKey = "sk-ant-api03-canaryAnthropic-Zr5Kq8Wm2Tx7Vb4N"

// Anthropic is the row for Anthropic's Messages API (kind "anthropic").
func Anthropic() Provider {
	const env = "CONFORMANCE_ANTHROPIC_KEY"
	return Provider{
		Name: "Anthropic",
		Kind: "anthropic",
		Document: func(account, baseURL string, scenarios []string) string {
			var b strings.Builder
			fmt.Fprintf(&b, "name: %s\ntype: provider-account/anthropic\nbase_url: %q\n", account, baseURL)
			fmt.Fprintf(&b, "auth_data: {type: api-key, api_key: \"env://%s\"}\nintegrations:\n", env)
			for _, s := range scenarios {
				fmt.Fprintf(&b, "  - {name: %s, type: integration/model/anthropic, model_id: %s, model_types: [chat]}\n", s, s)
			}
			return b.String()
		},
		Env:     map[string]string{env: anthropicKey},
		Handler: func(t testing.TB) http.Handler { return &anthropicFake{t: t} },
	}
}

// anthropicFake speaks Anthropic's Messages API (POST /v1/messages), JSON and the documented
// SSE event sequence.
type anthropicFake struct {
	t testing.TB
}

// anthropicRequest is the part of a Messages request the fake looks at.
type anthropicRequest struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Name string `json:"name"`
	} `json:"tools"`
	// OutputConfig carries Anthropic's structured output: format {"type":"json_schema","schema":{...}}.
	OutputConfig *struct {
		Format *struct {
			Type   string          `json:"type"`
			Schema json.RawMessage `json:"schema"`
		} `json:"format"`
	} `json:"output_config"`
}

// anthropicUsage is Usage in Anthropic's fields: cache reads are counted apart from
// input_tokens.
func anthropicUsage() map[string]any {
	return map[string]any{
		"input_tokens":                Usage.InputTokens - Usage.CachedTokens,
		"cache_read_input_tokens":     Usage.CachedTokens,
		"cache_creation_input_tokens": 0,
		"output_tokens":               Usage.OutputTokens,
	}
}

func (f *anthropicFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		anthropicError(w, http.StatusNotFound, "unknown path "+r.URL.Path)
		return
	}
	if r.Header.Get("X-Api-Key") != anthropicKey {
		anthropicError(w, http.StatusUnauthorized, "the gateway sent the wrong key")
		return
	}
	if r.Header.Get("Anthropic-Version") == "" {
		anthropicError(w, http.StatusBadRequest, "anthropic-version header is required")
		return
	}
	var req anthropicRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		anthropicError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	text := func(s string) []map[string]any { return []map[string]any{{"type": "text", "text": s}} }
	switch s := req.Model; {
	case strings.HasPrefix(s, ScenarioErrorPrefix):
		status, err := strconv.Atoi(strings.TrimPrefix(s, ScenarioErrorPrefix))
		if err != nil {
			anthropicError(w, http.StatusNotFound, "unknown model "+s)
			return
		}
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		}
		anthropicError(w, status, "")
	case s == ScenarioMalformed:
		writeMalformed(w, req.Stream, anthropicKey)
	case s == ScenarioStreamError:
		if !req.Stream {
			anthropicError(w, http.StatusInternalServerError, "")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		start, _ := json.Marshal(map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_conformance", "type": "message", "role": "assistant",
			"model": req.Model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": anthropicUsage()}})
		fail, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]any{"type": "api_error", "message": "Internal server error. " + KeyQuote(anthropicKey)}})
		fmt.Fprintf(w, "event: message_start\ndata: %s\n\nevent: error\ndata: %s\n\n", start, fail)
	case s == ScenarioHang:
		<-r.Context().Done()
	case s == ScenarioText, s == ScenarioCut:
		f.answer(w, &req, text(Text), "end_turn", s == ScenarioCut)
	case s == ScenarioTools:
		if !req.hasTool(ToolName) {
			anthropicError(w, http.StatusBadRequest, "the request declares no tool "+ToolName)
			return
		}
		f.answer(w, &req, []map[string]any{{"type": "tool_use", "id": "toolu_conformance", "name": ToolName, "input": json.RawMessage(ToolArgs)}}, "tool_use", false)
	case s == ScenarioImage:
		if !req.lastUserHasImage() {
			anthropicError(w, http.StatusBadRequest, "the last user turn carries no image block")
			return
		}
		f.answer(w, &req, text(ImageReply), "end_turn", false)
	case s == ScenarioJSON:
		// Anthropic has no JSON mode; only its structured output asks for JSON, by schema.
		if oc := req.OutputConfig; oc == nil || oc.Format == nil || oc.Format.Type != "json_schema" || !isJSONObject(oc.Format.Schema) {
			anthropicError(w, http.StatusBadRequest, "the request asks for no JSON output (output_config.format)")
			return
		}
		f.answer(w, &req, text(JSONReply), "end_turn", false)
	default:
		anthropicError(w, http.StatusNotFound, "unknown model "+s)
	}
}

func (req *anthropicRequest) hasTool(name string) bool {
	for _, t := range req.Tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

func (req *anthropicRequest) lastUserHasImage() bool {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		if m.Role != "user" {
			continue
		}
		var blocks []struct {
			Type   string          `json:"type"`
			Source json.RawMessage `json:"source"`
		}
		if json.Unmarshal(m.Content, &blocks) != nil {
			return false
		}
		for _, b := range blocks {
			if b.Type == "image" && len(b.Source) > 0 {
				return true
			}
		}
		return false
	}
	return false
}

// answer writes content as a Messages response, or as its event stream. cut drops the
// connection halfway through: after the first text delta, or in the middle of the JSON body.
func (f *anthropicFake) answer(w http.ResponseWriter, req *anthropicRequest, content []map[string]any, stop string, cut bool) {
	msg := map[string]any{"id": "msg_conformance", "type": "message", "role": "assistant", "model": req.Model,
		"content": content, "stop_reason": stop, "stop_sequence": nil, "usage": anthropicUsage()}
	if !req.Stream {
		b, err := json.Marshal(msg)
		if err != nil {
			f.t.Errorf("anthropic fake: %v", err)
			return
		}
		if cut {
			writeCut(w, "application/json", b)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	event := func(name string, data any) {
		b, err := json.Marshal(data)
		if err != nil {
			f.t.Errorf("anthropic fake: %v", err)
			return
		}
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
		w.(http.Flusher).Flush()
	}
	start := maps.Clone(msg)
	start["content"] = []any{}
	start["stop_reason"] = nil
	startUsage := anthropicUsage()
	startUsage["output_tokens"] = 1
	start["usage"] = startUsage
	event("message_start", map[string]any{"type": "message_start", "message": start})
	event("ping", map[string]any{"type": "ping"})
	for i, block := range content {
		switch block["type"] {
		case "text":
			event("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": map[string]any{"type": "text", "text": ""}})
			for j, part := range splitText(block["text"].(string)) {
				event("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "text_delta", "text": part}})
				if cut && j == 0 {
					dropConnection(w)
					return
				}
			}
		case "tool_use":
			event("content_block_start", map[string]any{"type": "content_block_start", "index": i,
				"content_block": map[string]any{"type": "tool_use", "id": block["id"], "name": block["name"], "input": map[string]any{}}})
			args := string(block["input"].(json.RawMessage))
			for _, part := range []string{args[:len(args)/2], args[len(args)/2:]} {
				event("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "input_json_delta", "partial_json": part}})
			}
		}
		event("content_block_stop", map[string]any{"type": "content_block_stop", "index": i})
	}
	event("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": Usage.OutputTokens}})
	event("message_stop", map[string]any{"type": "message_stop"})
}

// anthropicError writes Anthropic's error body for status, with UpstreamMessage (and detail,
// when given) as its message, quoting the key (KeyQuote).
func anthropicError(w http.ResponseWriter, status int, detail string) {
	typ := map[int]string{
		http.StatusBadRequest:          "invalid_request_error",
		http.StatusUnauthorized:        "authentication_error",
		http.StatusForbidden:           "permission_error",
		http.StatusNotFound:            "not_found_error",
		http.StatusTooManyRequests:     "rate_limit_error",
		http.StatusInternalServerError: "api_error",
		http.StatusServiceUnavailable:  "overloaded_error",
	}[status]
	if typ == "" {
		typ = "api_error"
	}
	if status == 529 {
		typ = "overloaded_error"
	}
	msg := UpstreamMessage
	if detail != "" {
		msg += ": " + detail
	}
	msg += " " + KeyQuote(anthropicKey)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
}
