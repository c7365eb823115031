package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The keys of the OpenAI-compatible rows, one per row. They are canaries: unique strings that
// the fakes' error bodies quote and that must never reach a log or a client. Some are shaped
// like their provider's keys (and so are masked by shape too); the Together and self-hosted
// ones match no key shape, so only the gateway's configured-secret masking can catch them.
const (
	openAIKey     = "sk-canary-openai-Qm7vT2xK9pL4sR8wJd3N"
	groqKey       = "gsk_canaryGroq7Hc2Lq9Zt4Vx8Nb3Mw6Pd1Ry5Tf"
	mistralKey    = "canaryMistral4Tz8Qx2Vn6Lp9Hk3Wd7Rb"
	togetherKey   = "c4a7e1f90b3d5c8e2a6f4b1d9e7c3a5f0d2b8e6c4a1f7e3d9b5c0a8e2f6d4b1c"
	perplexityKey = "pplx-canaryPerplexity8Vt3Qz6Lx2Nm9Kp4Wd7Hb"
	selfHostedKey = "canary-selfhosted-token-4e1b9d7c2a6f"
)

// OpenAI is the row for OpenAI's chat completions API (kind "openai").
func OpenAI() Provider {
	return openAICompatible("OpenAI", "openai", "CONFORMANCE_OPENAI_KEY", openAIKey)
}

// Groq is the row for Groq's OpenAI-compatible API (kind "groq"), served by the OpenAI fake.
func Groq() Provider {
	return openAICompatible("Groq (OpenAI-compatible)", "groq", "CONFORMANCE_GROQ_KEY", groqKey)
}

// Mistral is the row for Mistral's OpenAI-compatible API (kind "mistral"), served by the OpenAI
// fake.
func Mistral() Provider {
	return openAICompatible("Mistral (OpenAI-compatible)", "mistral", "CONFORMANCE_MISTRAL_KEY", mistralKey)
}

// Together is the row for Together AI's OpenAI-compatible API (kind "together"), served by the
// OpenAI fake.
func Together() Provider {
	return openAICompatible("Together AI (OpenAI-compatible)", "together", "CONFORMANCE_TOGETHER_KEY", togetherKey)
}

// Perplexity is the row for Perplexity's OpenAI-compatible API (kind "perplexity"), served by
// the OpenAI fake.
func Perplexity() Provider {
	return openAICompatible("Perplexity (OpenAI-compatible)", "perplexity", "CONFORMANCE_PERPLEXITY_KEY", perplexityKey)
}

// SelfHosted is the row for a self-hosted OpenAI-compatible server (kind "self-hosted-model":
// vLLM, TGI, Ollama, ...), configured the way such models are: a url and a bearer token per
// model. It is served by the OpenAI fake.
func SelfHosted() Provider {
	const env = "CONFORMANCE_SELF_HOSTED_TOKEN"
	return Provider{
		Name: "Self-hosted (vLLM, TGI, Ollama; OpenAI-compatible)",
		Kind: "self-hosted-model",
		Document: func(account, baseURL string, scenarios []string) string {
			var b strings.Builder
			fmt.Fprintf(&b, "name: %s\ntype: provider-account/self-hosted-model\nintegrations:\n", account)
			for _, s := range scenarios {
				fmt.Fprintf(&b, "  - name: %s\n    type: integration/model/self-hosted-model\n    hosted_model_name: %s\n", s, s)
				fmt.Fprintf(&b, "    url: %q\n    model_server: openai-compatible\n    model_types: [chat]\n", baseURL+"/v1")
				fmt.Fprintf(&b, "    auth_data: {type: bearer-auth, bearer_token: \"env://%s\"}\n", env)
			}
			return b.String()
		},
		Env:     map[string]string{env: selfHostedKey},
		Handler: func(t testing.TB) http.Handler { return &openAIFake{t: t, key: selfHostedKey} },
	}
}

// openAICompatible is a row whose account of the given kind points its base_url at the OpenAI
// fake, with key in the environment variable env.
func openAICompatible(name, kind, env, key string) Provider {
	return Provider{
		Name: name,
		Kind: kind,
		Document: func(account, baseURL string, scenarios []string) string {
			var b strings.Builder
			fmt.Fprintf(&b, "name: %s\ntype: provider-account/%s\nbase_url: %q\n", account, kind, baseURL+"/v1")
			fmt.Fprintf(&b, "auth_data: {type: api-key, api_key: \"env://%s\"}\nintegrations:\n", env)
			for _, s := range scenarios {
				fmt.Fprintf(&b, "  - {name: %s, type: integration/model/%s, model_id: %s, model_types: [chat]}\n", s, kind, s)
			}
			return b.String()
		},
		Env:     map[string]string{env: key},
		Handler: func(t testing.TB) http.Handler { return &openAIFake{t: t, key: key} },
	}
}

// openAIFake speaks OpenAI's chat completions API (POST /v1/chat/completions), JSON and SSE,
// for the account whose key is key. Its scenario errors quote the key (KeyQuote).
type openAIFake struct {
	t   testing.TB
	key string
}

// openAIRequest is the part of a chat completions request the fake looks at.
type openAIRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
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

// openAIUsage is Usage in OpenAI's fields: cached_tokens is a part of prompt_tokens.
func openAIUsage() map[string]any {
	return map[string]any{
		"prompt_tokens":         Usage.InputTokens,
		"completion_tokens":     Usage.OutputTokens,
		"total_tokens":          Usage.InputTokens + Usage.OutputTokens,
		"prompt_tokens_details": map[string]any{"cached_tokens": Usage.CachedTokens},
	}
}

func (f *openAIFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		openAIError(w, http.StatusNotFound, "unknown path "+r.URL.Path)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+f.key {
		openAIError(w, http.StatusUnauthorized, "the gateway sent the wrong key")
		return
	}
	var req openAIRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		openAIError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	switch s := req.Model; {
	case strings.HasPrefix(s, ScenarioErrorPrefix):
		status, err := strconv.Atoi(strings.TrimPrefix(s, ScenarioErrorPrefix))
		if err != nil {
			openAIError(w, http.StatusNotFound, "unknown model "+s)
			return
		}
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		}
		openAIError(w, status, KeyQuote(f.key))
	case s == ScenarioMalformed:
		writeMalformed(w, req.Stream, f.key)
	case s == ScenarioStreamError:
		if !req.Stream {
			openAIError(w, http.StatusInternalServerError, KeyQuote(f.key))
			return
		}
		writeOpenAIStreamError(w, req.Model, f.key)
	case s == ScenarioHang:
		<-r.Context().Done()
	case s == ScenarioText, s == ScenarioCut:
		f.answer(w, &req, map[string]any{"role": "assistant", "content": Text}, "stop", s == ScenarioCut)
	case s == ScenarioTools:
		if !req.hasTool(ToolName) {
			openAIError(w, http.StatusBadRequest, "the request declares no tool "+ToolName)
			return
		}
		call := map[string]any{"id": "call_conformance", "type": "function", "function": map[string]any{"name": ToolName, "arguments": ToolArgs}}
		f.answer(w, &req, map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{call}}, "tool_calls", false)
	case s == ScenarioImage:
		if !req.lastUserHasImage() {
			openAIError(w, http.StatusBadRequest, "the last user message carries no image_url part")
			return
		}
		f.answer(w, &req, map[string]any{"role": "assistant", "content": ImageReply}, "stop", false)
	case s == ScenarioJSON:
		if req.ResponseFormat == nil || (req.ResponseFormat.Type != "json_object" && req.ResponseFormat.Type != "json_schema") {
			openAIError(w, http.StatusBadRequest, "the request asks for no JSON output (response_format)")
			return
		}
		f.answer(w, &req, map[string]any{"role": "assistant", "content": JSONReply}, "stop", false)
	default:
		openAIError(w, http.StatusNotFound, "unknown model "+s)
	}
}

func (req *openAIRequest) hasTool(name string) bool {
	for _, t := range req.Tools {
		if t.Type == "function" && t.Function.Name == name {
			return true
		}
	}
	return false
}

func (req *openAIRequest) lastUserHasImage() bool {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		if m.Role != "user" {
			continue
		}
		var parts []struct {
			Type     string `json:"type"`
			ImageURL *struct {
				URL string `json:"url"`
			} `json:"image_url"`
		}
		if json.Unmarshal(m.Content, &parts) != nil {
			return false
		}
		for _, p := range parts {
			if p.Type == "image_url" && p.ImageURL != nil && p.ImageURL.URL != "" {
				return true
			}
		}
		return false
	}
	return false
}

// answer writes message as a chat.completion, or streamed as chunks. cut drops the connection
// halfway through: after the first text delta, or in the middle of the JSON body.
func (f *openAIFake) answer(w http.ResponseWriter, req *openAIRequest, message map[string]any, finish string, cut bool) {
	if !req.Stream {
		b, err := json.Marshal(map[string]any{
			"id": "chatcmpl-conformance", "object": "chat.completion", "created": 1700000000, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "message": message, "finish_reason": finish}},
			"usage":   openAIUsage(),
		})
		if err != nil {
			f.t.Errorf("openai fake: %v", err)
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
	chunk := func(choices []any, usage any) {
		obj := map[string]any{"id": "chatcmpl-conformance", "object": "chat.completion.chunk", "created": 1700000000, "model": req.Model, "choices": choices}
		if usage != nil {
			obj["usage"] = usage
		}
		b, err := json.Marshal(obj)
		if err != nil {
			f.t.Errorf("openai fake: %v", err)
			return
		}
		fmt.Fprintf(w, "data: %s\n\n", b)
		w.(http.Flusher).Flush()
	}
	delta := func(d map[string]any, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": d, "finish_reason": finish}}
	}
	chunk(delta(map[string]any{"role": "assistant", "content": ""}, nil), nil)
	if calls, ok := message["tool_calls"].([]any); ok {
		call := calls[0].(map[string]any)
		fn := call["function"].(map[string]any)
		chunk(delta(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "id": call["id"], "type": "function",
			"function": map[string]any{"name": fn["name"], "arguments": ""}}}}, nil), nil)
		args := fn["arguments"].(string)
		for _, part := range []string{args[:len(args)/2], args[len(args)/2:]} {
			chunk(delta(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": part}}}}, nil), nil)
		}
	} else {
		text := message["content"].(string)
		for i, part := range splitText(text) {
			chunk(delta(map[string]any{"content": part}, nil), nil)
			if cut && i == 0 {
				dropConnection(w)
				return
			}
		}
	}
	chunk(delta(map[string]any{}, finish), nil)
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		chunk([]any{}, openAIUsage())
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// writeOpenAIStreamError starts a chat completion stream and ends it with the error event
// OpenAI sends when it fails mid-stream, its message quoting key.
func writeOpenAIStreamError(w http.ResponseWriter, model, key string) {
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-conformance\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n", model)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": "The server had an error while processing your request. " + KeyQuote(key), "type": "server_error", "param": nil, "code": nil}})
	fmt.Fprintf(w, "data: %s\n\n", b)
}

// openAIError writes OpenAI's error body for status, with UpstreamMessage (and detail, when
// given) as its message.
func openAIError(w http.ResponseWriter, status int, detail string) {
	typ, code := "invalid_request_error", any(nil)
	switch status {
	case http.StatusUnauthorized:
		code = "invalid_api_key"
	case http.StatusForbidden:
		code = "unsupported_country_region_territory"
	case http.StatusNotFound:
		code = "model_not_found"
	case http.StatusTooManyRequests:
		typ, code = "requests", "rate_limit_exceeded"
	case http.StatusInternalServerError, http.StatusServiceUnavailable:
		typ = "server_error"
	}
	msg := UpstreamMessage
	if detail != "" {
		msg += ": " + detail
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
}

// splitText splits s into two deltas at a space near its middle.
func splitText(s string) []string {
	i := strings.IndexByte(s[len(s)/2:], ' ')
	if i < 0 {
		return []string{s[:len(s)/2], s[len(s)/2:]}
	}
	i += len(s) / 2
	return []string{s[:i], s[i:]}
}
