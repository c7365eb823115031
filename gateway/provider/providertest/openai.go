// Package providertest holds fake upstreams for tests: servers that speak a provider's
// documented wire format (requests, responses, SSE streams and error bodies), with behaviour
// chosen by the model name so one server covers every case.
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
	"time"
)

// Models the fake OpenAI upstream understands. Any other name answers normally.
const (
	// ModelCut streams two content chunks, then drops the connection without [DONE].
	ModelCut = "fake-cut"
	// ModelHang accepts the request and answers nothing until the client goes away.
	ModelHang = "fake-hang"
	// ModelError answers with status <n> in OpenAI's error shape: "fake-error-429".
	ModelErrorPrefix = "fake-error-"
	// ModelLeaky answers 401 with an error message that quotes a key, as OpenAI does.
	ModelLeaky = "fake-leaky"
	// ModelMidError streams one chunk, then an error event.
	ModelMidError = "fake-mid-error"
	// ModelGated streams every content chunk but the last, then waits for a value on the
	// fake's Gate (or for its client to go away) before it finishes as usual, usage included.
	// A model name that ends with it behaves so too ("gpt-4o-fake-gated"), so a test can pick
	// a tokenizer.
	ModelGated = "fake-gated"
	// ModelStall streams every content chunk but the last, then waits until its client goes
	// away. A model name that ends with it behaves so too.
	ModelStall = "fake-stall"
	// ModelSlowPrefix answers as usual after a delay of <ms> milliseconds (or when its client
	// goes away): "fake-slow-40".
	ModelSlowPrefix = "fake-slow-"
	// ModelLatePrefix streams its answer's headers at once and its first chunk after a delay of
	// <ms> milliseconds (or not at, when its client goes away first): "fake-late-40". Answered
	// whole, it answers at once.
	ModelLatePrefix = "fake-late-"
	// ModelGarbled streams a chunk that is not a chat.completion.chunk (its choices are not an
	// array) after the first content chunk, then finishes as usual; answered whole, its
	// choices are not an array either. A model name that ends with it behaves so too.
	ModelGarbled = "fake-garbled"
	// ModelTools calls a tool: asked with tools, it answers with one call of the first tool
	// (id ToolCallID, arguments {"city":"Oslo"}; streamed, the arguments in two pieces); asked
	// with a tool's result as the last message, it answers "tool said: <the result>". A
	// model name that ends with it behaves so too.
	ModelTools = "fake-tools"
)

// ToolCallID is the id of ModelTools's tool call.
const ToolCallID = "call_fake_1"

// LeakedKey is the key fragment ModelLeaky's error quotes; it must never reach a client.
const LeakedKey = "sk-proj-LEAKED1234"

// Request is one request the fake received.
type Request struct {
	Path          string
	Authorization string
	// Header is every header the request came with.
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// OpenAI is a fake OpenAI API. It is safe for concurrent use.
type OpenAI struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Request
	// Canceled receives the model name of every request whose client went away.
	Canceled chan string
	// Gate lets a ModelGated stream finish: send one value per stream.
	Gate chan struct{}
}

// NewOpenAI starts a fake OpenAI API; its base URL (with /v1) is URL()+"/v1".
func NewOpenAI(t testing.TB) *OpenAI {
	f := &OpenAI{Canceled: make(chan string, 16), Gate: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", f.chat)
	mux.HandleFunc("POST /v1/embeddings", f.embeddings)
	f.routes(mux) // completions, moderations, images and audio: openai_endpoints.go
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// BaseURL is the API base URL, as an OpenAI client would be configured.
func (f *OpenAI) BaseURL() string { return f.URL + "/v1" }

// Requests returns the requests received so far.
func (f *OpenAI) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

// LastRequest returns the last request received.
func (f *OpenAI) LastRequest() Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		return Request{}
	}
	return f.requests[len(f.requests)-1]
}

func (f *OpenAI) record(r *http.Request) (Request, bool) {
	raw, _ := io.ReadAll(r.Body)
	req := Request{Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Header: r.Header.Clone(), Raw: raw}
	if err := json.Unmarshal(raw, &req.Body); err != nil {
		return req, false
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	return req, true
}

// writeError writes OpenAI's documented error body.
func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "7")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
}

func (f *OpenAI) failFor(w http.ResponseWriter, r *http.Request, model string) bool {
	switch {
	case model == ModelLeaky:
		writeError(w, 401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided: "+LeakedKey+". You can find your API key at https://platform.openai.com/account/api-keys.")
		return true
	case model == ModelHang:
		<-r.Context().Done()
		f.Canceled <- model
		return true
	case strings.HasPrefix(model, ModelErrorPrefix):
		status, _ := strconv.Atoi(strings.TrimPrefix(model, ModelErrorPrefix))
		writeError(w, status, "server_error", "upstream_code", "upstream says no: "+LeakedKey)
		return true
	case strings.HasPrefix(model, ModelSlowPrefix):
		ms, _ := strconv.Atoi(strings.TrimPrefix(model, ModelSlowPrefix))
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		}
	}
	return false
}

func lastUserText(body map[string]any) string {
	msgs, _ := body["messages"].([]any)
	for i := len(msgs) - 1; i >= 0; i-- {
		m, _ := msgs[i].(map[string]any)
		if m["role"] == "user" {
			switch c := m["content"].(type) {
			case string:
				return c
			case []any:
				var sb strings.Builder
				for _, p := range c {
					if pm, _ := p.(map[string]any); pm["type"] == "text" {
						sb.WriteString(pm["text"].(string))
					}
				}
				return sb.String()
			}
		}
	}
	return ""
}

// toolsAnswer is ModelTools's answer to body: "tool said: <result>" when its last message is a
// tool's result, else a call of its first tool when it has tools, else text.
func toolsAnswer(body map[string]any, text string) (string, map[string]any) {
	msgs, _ := body["messages"].([]any)
	if len(msgs) > 0 {
		if last, _ := msgs[len(msgs)-1].(map[string]any); last["role"] == "tool" {
			content, _ := last["content"].(string)
			return "tool said: " + content, nil
		}
	}
	tools, _ := body["tools"].([]any)
	if len(tools) == 0 {
		return text, nil
	}
	first, _ := tools[0].(map[string]any)
	fn, _ := first["function"].(map[string]any)
	name, _ := fn["name"].(string)
	return "", map[string]any{"id": ToolCallID, "type": "function", "function": map[string]any{"name": name, "arguments": `{"city":"Oslo"}`}}
}

func (f *OpenAI) chat(w http.ResponseWriter, r *http.Request) {
	req, ok := f.record(r)
	if !ok {
		writeError(w, 400, "invalid_request_error", "", "We could not parse the JSON body of your request.")
		return
	}
	model, _ := req.Body["model"].(string)
	if f.failFor(w, r, model) {
		return
	}
	text := "echo: " + lastUserText(req.Body)
	var call map[string]any // ModelTools's tool call, if it makes one
	if strings.HasSuffix(model, ModelTools) {
		text, call = toolsAnswer(req.Body, text)
	}
	usage := map[string]any{"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18,
		"prompt_tokens_details": map[string]any{"cached_tokens": 3}, "completion_tokens_details": map[string]any{"reasoning_tokens": 2}}
	created := time.Now().Unix()
	if stream, _ := req.Body["stream"].(bool); !stream {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(model, ModelGarbled) {
			_ = json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-fake", "object": "chat.completion", "created": created, "model": model, "choices": "garbled", "usage": usage})
			return
		}
		msg, finish := map[string]any{"role": "assistant", "content": text, "refusal": nil}, "stop"
		if call != nil {
			msg["content"], msg["tool_calls"], finish = nil, []any{call}, "tool_calls"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion", "created": created, "model": model,
			"choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}},
			"usage":   usage, "system_fingerprint": "fp_fake",
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher := w.(http.Flusher)
	chunk := func(delta map[string]any, finish any, u any) {
		choices := []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}
		if delta == nil {
			choices = []any{}
		}
		b, _ := json.Marshal(map[string]any{"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model, "system_fingerprint": "fp_fake", "choices": choices, "usage": u})
		fmt.Fprintf(w, "data: %s\n\n", b)
		flusher.Flush()
	}
	so, _ := req.Body["stream_options"].(map[string]any)
	includeUsage, _ := so["include_usage"].(bool)
	if strings.HasPrefix(model, ModelLatePrefix) {
		w.WriteHeader(http.StatusOK)
		flusher.Flush()
		ms, _ := strconv.Atoi(strings.TrimPrefix(model, ModelLatePrefix))
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			select {
			case f.Canceled <- model:
			default: // nobody is counting
			}
			return
		}
	}
	chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil, nil)
	if call != nil {
		fn := call["function"].(map[string]any)
		args := fn["arguments"].(string)
		chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "id": call["id"], "type": "function", "function": map[string]any{"name": fn["name"], "arguments": ""}}}}, nil, nil)
		for _, piece := range []string{args[:len(args)/2], args[len(args)/2:]} {
			chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": piece}}}}, nil, nil)
		}
		chunk(map[string]any{}, "tool_calls", nil)
		if includeUsage {
			chunk(nil, nil, usage)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
		flusher.Flush()
		return
	}
	words := strings.Fields(text)
	for i, wd := range words {
		if i > 0 {
			wd = " " + wd
		}
		if model == ModelCut && i == 2 {
			// Drop the connection mid-stream.
			hj, ok := w.(http.Hijacker)
			if ok {
				conn, _, err := hj.Hijack()
				if err == nil {
					conn.Close()
				}
			}
			return
		}
		if model == ModelMidError && i == 1 {
			b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": "The server had an error while processing your request. " + LeakedKey, "type": "server_error", "param": nil, "code": nil}})
			fmt.Fprintf(w, "data: %s\n\n", b)
			flusher.Flush()
			return
		}
		if i == len(words)-1 && !waitFor(r, model, f.Gate) {
			return
		}
		chunk(map[string]any{"content": wd}, nil, nil)
		if i == 0 && strings.HasSuffix(model, ModelGarbled) {
			fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"choices\":\"garbled\"}\n\n")
			flusher.Flush()
		}
	}
	chunk(map[string]any{}, "stop", nil)
	if includeUsage {
		chunk(nil, nil, usage)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	flusher.Flush()
}

// waitFor holds a ModelGated stream until gate lets it go, and a ModelStall stream until its
// client goes away; it reports whether the stream goes on.
func waitFor(r *http.Request, model string, gate chan struct{}) bool {
	switch {
	case strings.HasSuffix(model, ModelGated):
		select {
		case <-gate:
			return true
		case <-r.Context().Done():
			return false
		}
	case strings.HasSuffix(model, ModelStall):
		<-r.Context().Done()
		return false
	}
	return true
}

func (f *OpenAI) embeddings(w http.ResponseWriter, r *http.Request) {
	req, ok := f.record(r)
	if !ok {
		writeError(w, 400, "invalid_request_error", "", "We could not parse the JSON body of your request.")
		return
	}
	model, _ := req.Body["model"].(string)
	if f.failFor(w, r, model) {
		return
	}
	var inputs []any
	switch in := req.Body["input"].(type) {
	case string:
		inputs = []any{in}
	case []any:
		inputs = in
	}
	data := []any{}
	for i := range inputs {
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": []float64{0.1 * float64(i+1), -0.2, 0.3}})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": model, "usage": map[string]any{"prompt_tokens": 5, "total_tokens": 5}})
}
