package apierr

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// AnthropicBody is Anthropic's error JSON: {"type":"error","error":{"type":...,"message":...}}.
type AnthropicBody struct {
	Type  string         `json:"type"`
	Error AnthropicError `json:"error"`
}

// AnthropicError is the inner object of Anthropic's error JSON.
type AnthropicError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Anthropic renders the error in Anthropic's error shape. Anthropic's shape has no param, so
// the message is what names the offending field.
func (e *Error) Anthropic() AnthropicBody {
	return AnthropicBody{Type: "error", Error: AnthropicError{Type: e.Kind.AnthropicType(), Message: e.Message}}
}

// WriteAnthropic writes err to w as Anthropic error JSON with the kind's status and
// Retry-After. It writes nothing for a canceled request: the client is gone.
func WriteAnthropic(w http.ResponseWriter, err error) {
	e := From(err)
	if e.Kind == KindCanceled {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(e.Kind.HTTPStatus())
	b, _ := json.Marshal(e.Anthropic())
	_, _ = w.Write(b)
}
