package conformance

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const (
	// AzureKeyEnv holds the api-key the Azure OpenAI fake accepts.
	AzureKeyEnv = "LLMGW_CONFORMANCE_AZURE_KEY"
	// AzureAPIVersion is the api-version the Azure document configures.
	AzureAPIVersion = "2024-10-21"

	// azureKey is a canary the fake's error bodies quote (KeyQuote): 32 hex digits, as Azure's
	// keys are, which match no key shape.
	azureKey = "a3f9c27e5d184b6f9e0c3a7d2b5f8e14"
	// azureModel is the model behind every deployment, as Azure names it in answers.
	azureModel = "gpt-4o-2024-11-20"
	// azureMaxBody bounds a request body the Azure fake reads.
	azureMaxBody = 8 << 20
)

// azureAPIVersion is the form of a data-plane api-version; Azure answers 404 without one.
var azureAPIVersion = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)

// Azure returns the fake Azure OpenAI resource (kind "azure-openai"): POST
// /openai/deployments/{scenario}/chat/completions?api-version=... with the key in the api-key
// header (else 401 with Azure's "Access denied" body; a missing api-version is 404). The
// document relies on the adapter's default deployment, the model id, so the deployment name
// is the scenario.
//
// Answers are OpenAI chat.completion objects and SSE chunks with Azure's extras: every answer
// carries prompt_filter_results and content_filter_results, and a stream opens with a chunk
// that has no choices and only the prompt's filter results. Streamed text comes in two
// content deltas, tool call arguments in two fragments, and usage in a last chunk without
// choices when stream_options.include_usage is set. Errors are OpenAI-shaped; a 429 carries
// Retry-After (and Azure's retry-after-ms).
func Azure() Provider {
	return Provider{
		Name: "Azure OpenAI",
		Kind: "azure-openai",
		Document: func(account, baseURL string, scenarios []string) string {
			var b strings.Builder
			fmt.Fprintf(&b, "name: %s\ntype: provider-account/azure-openai\nbase_url: %q\n", account, baseURL)
			fmt.Fprintf(&b, "auth_data: {type: api-key, api_key: \"env://%s\"}\n", AzureKeyEnv)
			fmt.Fprintf(&b, "settings: {api_version: %q}\nintegrations:\n", AzureAPIVersion)
			for _, s := range scenarios {
				fmt.Fprintf(&b, "  - {name: %s, type: integration/model/azure-openai, model_id: %s, model_types: [chat]}\n", s, s)
			}
			return b.String()
		},
		Env: map[string]string{AzureKeyEnv: azureKey},
		Handler: func(testing.TB) http.Handler {
			mux := http.NewServeMux()
			mux.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", serveAzureChat)
			mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
				writeAzureError(w, http.StatusNotFound, "404", "Resource not found")
			})
			return mux
		},
	}
}

// azureRequest is the part of a chat completions request the fake checks.
type azureRequest struct {
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
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// hasTool reports whether the request declares a function named name.
func (r *azureRequest) hasTool(name string) bool {
	for _, t := range r.Tools {
		if t.Type == "function" && t.Function.Name == name {
			return true
		}
	}
	return false
}

// lastUserHasImage reports whether the last user message has an image_url part.
func (r *azureRequest) lastUserHasImage() bool {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role != "user" {
			continue
		}
		var parts []struct {
			Type     string          `json:"type"`
			ImageURL json.RawMessage `json:"image_url"`
		}
		if json.Unmarshal(r.Messages[i].Content, &parts) != nil {
			return false // string content
		}
		for _, p := range parts {
			if p.Type == "image_url" && p.ImageURL != nil {
				return true
			}
		}
		return false
	}
	return false
}

// asksForJSON reports whether response_format asks for JSON output.
func (r *azureRequest) asksForJSON() bool {
	return r.ResponseFormat != nil && (r.ResponseFormat.Type == "json_object" || r.ResponseFormat.Type == "json_schema")
}

func serveAzureChat(w http.ResponseWriter, r *http.Request) {
	if !azureAPIVersion.MatchString(r.URL.Query().Get("api-version")) {
		writeAzureError(w, http.StatusNotFound, "404", "Resource not found")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("api-key")), []byte(azureKey)) != 1 {
		writeAzureError(w, http.StatusUnauthorized, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, azureMaxBody))
	var req azureRequest
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || len(req.Messages) == 0 {
		writeAzureError(w, http.StatusBadRequest, "BadRequest", "The request body is not a chat completions request with messages.")
		return
	}

	a := azureAnswer{usage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage}
	switch dep := r.PathValue("deployment"); dep {
	case ScenarioText:
		a.text = Text
	case ScenarioTools:
		if !req.hasTool(ToolName) {
			writeAzureError(w, http.StatusBadRequest, "BadRequest", "The request declares no function "+ToolName+".")
			return
		}
		a.call = true
	case ScenarioImage:
		if !req.lastUserHasImage() {
			writeAzureError(w, http.StatusBadRequest, "BadRequest", "The last user message has no image_url part.")
			return
		}
		a.text = ImageReply
	case ScenarioJSON:
		if !req.asksForJSON() {
			writeAzureError(w, http.StatusBadRequest, "BadRequest", "response_format does not ask for JSON.")
			return
		}
		a.text = JSONReply
	case ScenarioHang:
		<-r.Context().Done()
		return
	case ScenarioCut:
		a.text, a.cut = Text, true
	case ScenarioMalformed:
		writeMalformed(w, req.Stream, azureKey)
		return
	case ScenarioStreamError:
		if !req.Stream {
			writeAzureStatus(w, http.StatusInternalServerError)
			return
		}
		writeOpenAIStreamError(w, azureModel, azureKey)
		return
	default:
		code, err := strconv.Atoi(strings.TrimPrefix(dep, ScenarioErrorPrefix))
		if !strings.HasPrefix(dep, ScenarioErrorPrefix) || err != nil || code < 400 || code > 599 {
			writeAzureError(w, http.StatusNotFound, "DeploymentNotFound", "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.")
			return
		}
		writeAzureStatus(w, code)
		return
	}
	if req.Stream {
		a.stream(w)
	} else {
		a.write(w)
	}
}

// azureAnswer is a canonical answer to render: text, or one call of ToolName with ToolArgs.
type azureAnswer struct {
	text  string
	call  bool
	cut   bool // drop the connection part way through
	usage bool // the stream asked for a usage chunk
}

const (
	azureID      = "chatcmpl-conformance"
	azureCallID  = "call_conformance"
	azureCreated = 1767225600
)

// azureFilterResults is Azure's content filter verdict: nothing filtered.
func azureFilterResults() map[string]any {
	clean := map[string]any{"filtered": false, "severity": "safe"}
	return map[string]any{"hate": clean, "self_harm": clean, "sexual": clean, "violence": clean}
}

// azurePromptFilterResults is prompt_filter_results for a one-prompt request.
func azurePromptFilterResults() []any {
	return []any{map[string]any{"prompt_index": 0, "content_filter_results": azureFilterResults()}}
}

// azureUsage is the canonical usage in OpenAI's fields: cached tokens are part of the prompt.
func azureUsage() map[string]any {
	return map[string]any{
		"prompt_tokens":             Usage.InputTokens,
		"completion_tokens":         Usage.OutputTokens,
		"total_tokens":              Usage.InputTokens + Usage.OutputTokens,
		"prompt_tokens_details":     map[string]any{"cached_tokens": Usage.CachedTokens, "audio_tokens": 0},
		"completion_tokens_details": map[string]any{"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
	}
}

// finish is the answer's finish_reason.
func (a azureAnswer) finish() string {
	if a.call {
		return "tool_calls"
	}
	return "stop"
}

// write answers a non-streamed request; a cut answer sends half of the body and drops the
// connection.
func (a azureAnswer) write(w http.ResponseWriter) {
	msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
	if a.call {
		msg["tool_calls"] = []any{map[string]any{
			"id": azureCallID, "type": "function",
			"function": map[string]any{"name": ToolName, "arguments": ToolArgs},
		}}
	} else {
		msg["content"] = a.text
	}
	b, err := json.Marshal(map[string]any{
		"id": azureID, "object": "chat.completion", "created": azureCreated, "model": azureModel,
		"system_fingerprint":    "fp_conformance",
		"prompt_filter_results": azurePromptFilterResults(),
		"choices": []any{map[string]any{
			"index": 0, "message": msg, "finish_reason": a.finish(), "logprobs": nil,
			"content_filter_results": azureFilterResults(),
		}},
		"usage": azureUsage(),
	})
	if err != nil {
		panic(err) // static shapes: cannot happen
	}
	if a.cut {
		writeCut(w, "application/json", b)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// stream answers a streamed request: the prompt filter chunk, a role chunk, the content (two
// deltas) or the tool call (name, then the arguments in two fragments), a finish chunk, the
// usage chunk when asked for, and [DONE]. A cut answer drops the connection after the first
// content delta.
func (a azureAnswer) stream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	send := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err) // static shapes: cannot happen
		}
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
		_ = http.NewResponseController(w).Flush()
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		c := map[string]any{
			"id": azureID, "object": "chat.completion.chunk", "created": azureCreated, "model": azureModel,
			"system_fingerprint": "fp_conformance",
			"choices": []any{map[string]any{
				"index": 0, "delta": delta, "finish_reason": finish, "logprobs": nil,
				"content_filter_results": azureFilterResults(),
			}},
		}
		if a.usage {
			c["usage"] = nil // OpenAI sends a null usage on every chunk but the last
		}
		return c
	}
	// Azure opens a stream with the prompt's filter results and no choices.
	send(map[string]any{"id": "", "object": "", "created": 0, "model": "", "choices": []any{},
		"prompt_filter_results": azurePromptFilterResults()})
	if a.call {
		send(chunk(map[string]any{"role": "assistant", "content": nil, "refusal": nil, "tool_calls": []any{map[string]any{
			"index": 0, "id": azureCallID, "type": "function",
			"function": map[string]any{"name": ToolName, "arguments": ""},
		}}}, nil))
		parts := splitText(ToolArgs)
		first, second := parts[0], parts[1]
		for _, frag := range []string{first, second} {
			send(chunk(map[string]any{"tool_calls": []any{map[string]any{
				"index": 0, "function": map[string]any{"arguments": frag},
			}}}, nil))
		}
	} else {
		send(chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil))
		parts := splitText(a.text)
		first, second := parts[0], parts[1]
		send(chunk(map[string]any{"content": first}, nil))
		if a.cut {
			dropConnection(w)
			return
		}
		send(chunk(map[string]any{"content": second}, nil))
	}
	send(chunk(map[string]any{}, a.finish()))
	if a.usage {
		send(map[string]any{
			"id": azureID, "object": "chat.completion.chunk", "created": azureCreated, "model": azureModel,
			"system_fingerprint": "fp_conformance", "choices": []any{}, "usage": azureUsage(),
		})
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
	_ = http.NewResponseController(w).Flush()
}

// writeAzureStatus answers an error status with the body Azure OpenAI sends for it.
func writeAzureStatus(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		w.Header().Set("retry-after-ms", strconv.Itoa(RetryAfterSeconds*1000))
		writeAzureError(w, status, "429", fmt.Sprintf("Requests to the ChatCompletions_Create Operation under Azure OpenAI API version %s have exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after %d seconds.", AzureAPIVersion, RetryAfterSeconds))
	case http.StatusUnauthorized:
		writeAzureError(w, status, "401", "Access denied due to invalid subscription key or wrong API endpoint.")
	case http.StatusForbidden:
		writeAzureError(w, status, "403", "Public access is disabled. Please configure private endpoint.")
	case http.StatusNotFound:
		writeAzureError(w, status, "DeploymentNotFound", "The API deployment for this resource does not exist.")
	case http.StatusInternalServerError:
		writeAzureError(w, status, "InternalServerError", "The server had an error while processing your request.")
	case http.StatusServiceUnavailable:
		writeAzureError(w, status, "ServiceUnavailable", "The service is temporarily unable to process your request.")
	default:
		writeAzureError(w, status, strconv.Itoa(status), "The conformance fake answers "+strconv.Itoa(status)+".")
	}
}

// writeAzureError writes OpenAI's error shape, which Azure OpenAI uses; the message always
// carries UpstreamMessage and quotes the key (KeyQuote).
func writeAzureError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": code, "message": message + " (" + UpstreamMessage + ") " + KeyQuote(azureKey), "param": nil, "type": nil,
	}})
}
