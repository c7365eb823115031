package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// The Cohere account of the matrix.
const (
	// CohereKeyEnv is the environment variable that holds the Cohere API key.
	CohereKeyEnv = "LLMGW_CONFORMANCE_COHERE_API_KEY"
	// cohereKey is the API key the fake expects as Authorization: Bearer, a canary its error
	// bodies quote (KeyQuote).
	cohereKey = "canaryCohereKey5Rt8Zq2Vx7Mn4Lp9Kw3Hd6BfQ"
	// cohereToolCallID is the id of the tool call the fake answers.
	cohereToolCallID = "get_weather_conformance01"
)

// cohereUsage is conformance.Usage in Cohere's fields. Cohere has no prompt cache and reports
// no cached tokens, so the gateway reports none (cached_tokens 0, or no
// prompt_tokens_details at all) for Cohere models: input_tokens is Usage.InputTokens, cached
// ones included, and Usage.CachedTokens cannot be expressed.
var cohereUsage = map[string]any{
	"billed_units": map[string]int64{"input_tokens": Usage.InputTokens, "output_tokens": Usage.OutputTokens},
	"tokens":       map[string]int64{"input_tokens": Usage.InputTokens, "output_tokens": Usage.OutputTokens},
}

// cohereRequestFields are the top-level fields of a /v2/chat request. Cohere refuses any
// other, and so does the fake.
var cohereRequestFields = map[string]bool{
	"model": true, "messages": true, "stream": true, "tools": true, "strict_tools": true,
	"documents": true, "citation_options": true, "response_format": true, "safety_mode": true,
	"max_tokens": true, "stop_sequences": true, "temperature": true, "seed": true,
	"frequency_penalty": true, "presence_penalty": true, "k": true, "p": true,
	"return_prompt": true, "logprobs": true, "tool_choice": true, "thinking": true, "priority": true,
}

// Cohere returns the fake of Cohere's v2 chat API (kind "cohere"): POST /v2/chat, answered
// as JSON or, when the body says "stream": true, as server-sent events (message-start,
// content-start, content-delta, content-end, tool-call-start, tool-call-delta, tool-call-end,
// message-end). The scenario is the body's model.
//
// Every request must carry Authorization: Bearer with the key in Env, or the fake answers 401.
// A body Cohere would refuse (unknown fields, no model, no messages) is a 400. Errors are
// Cohere's {"message": ...} bodies with the scenario's status.
//
// Cohere has no prompt cache: usage reports Usage's input and output tokens and no cached
// tokens, so a Cohere cell reports cached_tokens 0 where other providers report
// Usage.CachedTokens. The tool answer has no tool_plan, which the adapter would turn into
// message content beside the call. A 429 carries Retry-After: Cohere does not document one,
// but the adapter passes it on when an upstream (or a proxy in front of it) sends it, and the
// scenario contract asks for it.
func Cohere() Provider {
	return Provider{
		Name:     "Cohere",
		Kind:     "cohere",
		Document: cohereDocument,
		Env:      map[string]string{CohereKeyEnv: cohereKey},
		Handler: func(t testing.TB) http.Handler {
			return &cohereFake{t: t}
		},
	}
}

// cohereDocument is the config-file document of a Cohere account with one chat model per
// scenario.
func cohereDocument(account, baseURL string, scenarios []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- name: %q\n  type: provider-account/cohere\n  base_url: %q\n", account, baseURL)
	fmt.Fprintf(&b, "  auth_data: {type: api-key, api_key: %q}\n  integrations:\n", "env://"+CohereKeyEnv)
	for _, s := range scenarios {
		fmt.Fprintf(&b, "    - {name: %q, type: integration/model/cohere, model_id: %q, model_types: [chat]}\n", s, s)
	}
	return b.String()
}

// cohereFake serves Cohere's v2 chat API for one test run. It is safe for concurrent use.
type cohereFake struct {
	t    testing.TB
	reqs atomic.Int64 // numbers the ids of answers
}

// cohereRequest is the part of a /v2/chat request the fake checks.
type cohereRequest struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

// cohereContentPart is a part of a message's content, when the content is an array.
type cohereContentPart struct {
	Type     string `json:"type"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url"`
}

func (f *cohereFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v2/chat" {
		f.refuse(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+cohereKey {
		f.refuse(w, http.StatusUnauthorized, "no valid bearer key")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return // the client went away
	}
	req, err := cohereDecode(body)
	if err != nil {
		f.refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Stream && r.Header.Get("Accept") != "text/event-stream" {
		f.t.Logf("cohere fake: a stream asked with Accept %q", r.Header.Get("Accept"))
	}
	id := fmt.Sprintf("conformance-%d", f.reqs.Add(1))

	switch m := req.Model; {
	case m == ScenarioText:
		f.answer(w, req.Stream, id, cohereAnswer{text: Text})
	case m == ScenarioTools:
		if !req.declares(ToolName) {
			f.refuse(w, http.StatusBadRequest, "the request declares no tool "+ToolName)
			return
		}
		f.answer(w, req.Stream, id, cohereAnswer{toolName: ToolName, toolArgs: ToolArgs})
	case m == ScenarioImage:
		if err := req.lastUserImage(); err != nil {
			f.refuse(w, http.StatusBadRequest, err.Error())
			return
		}
		f.answer(w, req.Stream, id, cohereAnswer{text: ImageReply})
	case m == ScenarioJSON:
		if req.ResponseFormat == nil || req.ResponseFormat.Type != "json_object" {
			f.refuse(w, http.StatusBadRequest, `the request does not ask for JSON (response_format type "json_object")`)
			return
		}
		f.answer(w, req.Stream, id, cohereAnswer{text: JSONReply})
	case m == ScenarioHang:
		<-r.Context().Done()
	case m == ScenarioCut:
		f.cut(w, req.Stream, id)
	case m == ScenarioMalformed:
		writeMalformed(w, req.Stream, cohereKey)
	case m == ScenarioStreamError:
		if !req.Stream {
			cohereError(w, http.StatusInternalServerError)
			return
		}
		cohereStreamHeaders(w)
		for _, e := range []cohereEvent{cohereMessageStart(id), cohereContentStart(), cohereTextDelta(Text[:5]),
			{"message-end", map[string]any{"delta": map[string]any{"finish_reason": "ERROR", "error": "internal error. " + KeyQuote(cohereKey)}}}} {
			if !f.send(w, e) {
				return
			}
		}
	case strings.HasPrefix(m, ScenarioErrorPrefix):
		status, err := strconv.Atoi(strings.TrimPrefix(m, ScenarioErrorPrefix))
		if err != nil || status < 400 || status > 599 {
			f.refuse(w, http.StatusNotFound, "no model "+m)
			return
		}
		cohereError(w, status)
	default:
		f.refuse(w, http.StatusNotFound, "no model "+m)
	}
}

// refuse answers a request the fake will not serve, as Cohere answers it, and logs why.
func (f *cohereFake) refuse(w http.ResponseWriter, status int, why string) {
	f.t.Logf("cohere fake: %d: %s", status, why)
	cohereError(w, status)
}

// cohereDecode decodes a /v2/chat request and refuses what Cohere refuses.
func cohereDecode(body []byte) (*cohereRequest, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, fmt.Errorf("the body is not a JSON object: %w", err)
	}
	for k := range fields {
		if !cohereRequestFields[k] {
			return nil, fmt.Errorf("invalid request: unknown field %q", k)
		}
	}
	var req cohereRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("invalid request: %w", err)
	}
	if req.Model == "" {
		return nil, fmt.Errorf("invalid request: model must not be empty")
	}
	if len(req.Messages) == 0 {
		return nil, fmt.Errorf("invalid request: messages must not be empty")
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "user", "assistant", "tool":
		default:
			return nil, fmt.Errorf("invalid request: messages[%d].role %q", i, m.Role)
		}
	}
	return &req, nil
}

// declares reports whether the request declares the function tool name.
func (r *cohereRequest) declares(name string) bool {
	for _, t := range r.Tools {
		if t.Type == "function" && t.Function.Name == name {
			return true
		}
	}
	return false
}

// lastUserImage checks that the last user message holds an image_url part with a URL.
func (r *cohereRequest) lastUserImage() error {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		m := r.Messages[i]
		if m.Role != "user" {
			continue
		}
		var parts []cohereContentPart
		if err := json.Unmarshal(m.Content, &parts); err != nil {
			return fmt.Errorf("the last user message's content is not an array of parts")
		}
		for _, p := range parts {
			if p.Type == "image_url" && p.ImageURL != nil && p.ImageURL.URL != "" {
				return nil
			}
		}
		return fmt.Errorf("the last user message holds no image_url part")
	}
	return fmt.Errorf("the request has no user message")
}

// cohereAnswer is a canonical answer: text, or one tool call.
type cohereAnswer struct {
	text     string
	toolName string // set for a tool call, whose arguments are toolArgs
	toolArgs string
}

// finishReason is the answer's Cohere finish reason.
func (a cohereAnswer) finishReason() string {
	if a.toolName != "" {
		return "TOOL_CALL"
	}
	return "COMPLETE"
}

// answer writes a as a /v2/chat answer, or as its event stream.
func (f *cohereFake) answer(w http.ResponseWriter, stream bool, id string, a cohereAnswer) {
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(cohereChat(id, a))
		return
	}
	events := []cohereEvent{cohereMessageStart(id)}
	if a.toolName != "" {
		half := len(a.toolArgs) / 2
		events = append(events,
			cohereEvent{"tool-call-start", map[string]any{"index": 0, "delta": map[string]any{"message": map[string]any{"tool_calls": map[string]any{
				"id": cohereToolCallID, "type": "function", "function": map[string]any{"name": a.toolName, "arguments": ""},
			}}}}},
			cohereToolDelta(a.toolArgs[:half]),
			cohereToolDelta(a.toolArgs[half:]),
			cohereEvent{"tool-call-end", map[string]any{"index": 0}},
		)
	} else {
		half := len(a.text) / 2
		events = append(events,
			cohereContentStart(),
			cohereTextDelta(a.text[:half]),
			cohereTextDelta(a.text[half:]),
			cohereEvent{"content-end", map[string]any{"index": 0}},
		)
	}
	events = append(events, cohereEvent{"message-end", map[string]any{"delta": map[string]any{"finish_reason": a.finishReason(), "usage": cohereUsage}}})
	cohereStreamHeaders(w)
	for _, e := range events {
		if !f.send(w, e) {
			return
		}
	}
}

// cohereChat renders a as a /v2/chat answer body.
func cohereChat(id string, a cohereAnswer) []byte {
	msg := map[string]any{"role": "assistant"}
	if a.toolName != "" {
		msg["tool_calls"] = []any{map[string]any{"id": cohereToolCallID, "type": "function", "function": map[string]any{"name": a.toolName, "arguments": a.toolArgs}}}
	} else {
		msg["content"] = []any{map[string]any{"type": "text", "text": a.text}}
	}
	b, _ := json.Marshal(map[string]any{"id": id, "finish_reason": a.finishReason(), "message": msg, "usage": cohereUsage})
	return b
}

// cohereEvent is one server-sent event: its type (the event name and the data's "type") and
// the rest of its data.
type cohereEvent struct {
	typ  string
	data map[string]any
}

func cohereMessageStart(id string) cohereEvent {
	return cohereEvent{"message-start", map[string]any{"id": id, "delta": map[string]any{"message": map[string]any{
		"role": "assistant", "content": []any{}, "tool_plan": "", "tool_calls": []any{}, "citations": []any{},
	}}}}
}

func cohereContentStart() cohereEvent {
	return cohereEvent{"content-start", map[string]any{"index": 0, "delta": map[string]any{"message": map[string]any{"content": map[string]any{"type": "text", "text": ""}}}}}
}

func cohereTextDelta(s string) cohereEvent {
	return cohereEvent{"content-delta", map[string]any{"index": 0, "delta": map[string]any{"message": map[string]any{"content": map[string]any{"text": s}}}}}
}

func cohereToolDelta(s string) cohereEvent {
	return cohereEvent{"tool-call-delta", map[string]any{"index": 0, "delta": map[string]any{"message": map[string]any{"tool_calls": map[string]any{"function": map[string]any{"arguments": s}}}}}}
}

// cohereStreamHeaders starts an event stream answer.
func cohereStreamHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
}

// send writes e as one server-sent event and flushes it; it reports whether the write
// succeeded.
func (f *cohereFake) send(w http.ResponseWriter, e cohereEvent) bool {
	data := map[string]any{"type": e.typ}
	for k, v := range e.data {
		data[k] = v
	}
	b, err := json.Marshal(data)
	if err != nil {
		f.t.Errorf("cohere fake: encode %s: %v", e.typ, err)
		return false
	}
	if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.typ, b); err != nil {
		return false
	}
	return http.NewResponseController(w).Flush() == nil
}

// cut starts the text answer and drops the connection: streamed after the first text delta,
// non-streamed in the middle of the body (whose Content-Length promises all of it).
func (f *cohereFake) cut(w http.ResponseWriter, stream bool, id string) {
	if stream {
		cohereStreamHeaders(w)
		for _, e := range []cohereEvent{cohereMessageStart(id), cohereContentStart(), cohereTextDelta(Text[:len(Text)/2])} {
			if !f.send(w, e) {
				return
			}
		}
	} else {
		writeCut(w, "application/json", cohereChat(id, cohereAnswer{text: Text}))
		return
	}
	dropConnection(w)
}

// cohereError writes a Cohere error answer: {"message": ...} with the status, and Retry-After
// for a 429.
func cohereError(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if status == http.StatusTooManyRequests {
		h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"message": UpstreamMessage + " " + KeyQuote(cohereKey)})
	_, _ = w.Write(b)
}
