package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/redact"
)

// StatusError maps an upstream's error status to the error the client gets. The upstream's body
// goes only into the cause (for the log), never into the message: upstream messages may quote
// keys. The cause is an *UpstreamError: the status, the provider's error type and code read
// from the body (ParseError), and a redacted excerpt of its message. retryAfter is the
// upstream's Retry-After header, passed on for 429 and 503.
func StatusError(status int, retryAfter string, body []byte) *apierr.Error {
	typ, code, msg := ParseError(body)
	e := &apierr.Error{Cause: Upstream(status, typ, code, msg), UpstreamStatus: status}
	switch {
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity || status == http.StatusRequestEntityTooLarge:
		e.Kind, e.Message = apierr.KindInvalidRequest, fmt.Sprintf("the provider rejected the request (status %d)", status)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind, e.Message, e.Code = apierr.KindUpstreamBadResponse, "the provider refused the gateway's credentials; ask the gateway admin to check the provider account", "upstream_auth_failed"
	case status == http.StatusNotFound:
		e.Kind, e.Message, e.Code = apierr.KindUpstreamBadResponse, "the provider does not know the configured model or endpoint", "upstream_not_found"
	case status == http.StatusTooManyRequests:
		e.Kind, e.Message, e.Code = apierr.KindRateLimited, "the provider is rate limiting requests; retry later", "upstream_rate_limited"
	case status == http.StatusServiceUnavailable || status == 529: // 529: Anthropic's "overloaded"
		e.Kind, e.Message = apierr.KindUpstreamUnavailable, "the provider is unavailable; retry later"
	case status == http.StatusGatewayTimeout || status == http.StatusRequestTimeout:
		e.Kind, e.Message = apierr.KindUpstreamTimeout, "the provider timed out"
	default:
		e.Kind, e.Message = apierr.KindUpstreamBadResponse, fmt.Sprintf("the provider failed (status %d)", status)
	}
	if d := parseRetryAfter(retryAfter); d > 0 && (e.Kind == apierr.KindRateLimited || e.Kind == apierr.KindUpstreamUnavailable) {
		e.RetryAfter = d
	}
	return e
}

// TransportError maps a failure to reach the upstream or read its answer.
func TransportError(ctx context.Context, err error) *apierr.Error {
	if ctx.Err() == context.Canceled {
		return &apierr.Error{Kind: apierr.KindCanceled, Message: "request canceled", Cause: err}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &apierr.Error{Kind: apierr.KindUpstreamTimeout, Message: "the provider timed out", Cause: err}
	}
	return &apierr.Error{Kind: apierr.KindUpstreamUnavailable, Message: "could not reach the provider", Cause: err}
}

// BadResponse reports an upstream answer the gateway cannot read.
func BadResponse(err error) *apierr.Error {
	return &apierr.Error{Kind: apierr.KindUpstreamBadResponse, Message: "the provider sent a malformed response", Code: "upstream_bad_response", Cause: err}
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// maxCause bounds how much of an upstream's error text goes into a cause (logged, never shown).
const maxCause = 512

// maxName bounds an upstream's error type or code in a cause.
const maxName = 64

// Clip returns an upstream's error text fit for an error's cause, which is logged: text shaped
// like a credential masked, and at most about 512 bytes, marked "..." when cut, never cutting a
// token in two (redact.Excerpt). The configured secrets are masked where the cause is logged
// (the pipeline masks its snapshot's, and the process's log handler the current ones), so an
// upstream that quotes the gateway's key leaves no trace of it in the log. Every piece of
// upstream text that goes into an error goes through Clip.
func Clip(s string) string { return redact.Excerpt(s, maxCause) }

// UpstreamError is the cause of an error the upstream answered: what the gateway logs about
// it. It never reaches a client.
type UpstreamError struct {
	// Status is the upstream's HTTP status; 0 for an error sent inside a stream.
	Status int
	// Type and Code are the provider's error type (or status name) and code, where its error
	// shape has them; masked and clipped like Excerpt.
	Type, Code string
	// Excerpt is the upstream's error message, or its body when it has no known shape,
	// through Clip.
	Excerpt string
}

// Upstream returns the cause of an error the upstream answered, with typ, code and message
// made fit for the log (Clip). status is 0 for an error event in a stream.
func Upstream(status int, typ, code, message string) *UpstreamError {
	name := func(s string) string {
		if s = redact.KeyShapes(s); len(s) > maxName {
			return redact.Excerpt(s, maxName)
		}
		return s
	}
	return &UpstreamError{Status: status, Type: name(typ), Code: name(code), Excerpt: Clip(message)}
}

func (e *UpstreamError) Error() string {
	var b strings.Builder
	if e.Status != 0 {
		b.WriteString("upstream status ")
		b.WriteString(strconv.Itoa(e.Status))
	} else {
		b.WriteString("upstream error event")
	}
	if e.Type != "" {
		b.WriteString(" type ")
		b.WriteString(e.Type)
	}
	if e.Code != "" {
		b.WriteString(" code ")
		b.WriteString(e.Code)
	}
	if e.Excerpt != "" {
		b.WriteString(": ")
		b.WriteString(e.Excerpt)
	}
	return b.String()
}

// ParseError reads the provider's error type, code and message from an error body in the
// documented shapes: OpenAI's and its compatibles' {"error":{"type","code","message"}},
// Anthropic's {"type":"error","error":{"type","message"}}, Google's
// {"error":{"status","message","details":[{"reason"}]}} (alone or in an array), AWS's
// {"__type","message"}, Cohere's {"message"}, OAuth2's {"error","error_description"} and
// FastAPI's {"detail"}. A body of no known shape is the message, whole; the caller clips it.
// Codes that are numbers (Google repeats the HTTP status there) are left out.
func ParseError(body []byte) (typ, code, message string) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var arr []json.RawMessage
		if json.Unmarshal(body, &arr) == nil && len(arr) > 0 {
			body = arr[0]
		}
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return "", "", string(body)
	}
	obj := top
	if raw, ok := top["error"]; ok {
		var inner map[string]json.RawMessage
		if json.Unmarshal(raw, &inner) == nil && inner != nil {
			obj = inner
		} else if s := jsonString(raw); s != "" { // OAuth2
			typ, message = s, jsonString(top["error_description"])
		}
	}
	if typ == "" {
		typ = jsonString(obj["type"])
	}
	if typ == "" || typ == "error" {
		typ = jsonString(obj["status"])
	}
	if typ == "" {
		if t := jsonString(top["__type"]); t != "" {
			t, _, _ = strings.Cut(t, ":")
			typ = t[strings.LastIndexByte(t, '#')+1:]
		}
	}
	code = jsonString(obj["code"])
	if code == "" {
		var details []struct {
			Reason string `json:"reason"`
		}
		if json.Unmarshal(obj["details"], &details) == nil {
			for _, d := range details {
				if d.Reason != "" {
					code = d.Reason
					break
				}
			}
		}
	}
	for _, k := range []string{"message", "Message"} {
		if message == "" {
			message = jsonString(obj[k])
		}
	}
	if message == "" {
		message = jsonString(top["detail"])
	}
	if message == "" {
		message = string(body)
	}
	return typ, code, message
}

// jsonString is raw's value when raw is a JSON string, else "".
func jsonString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// ReadAnswer reads the whole body of an upstream answer of at most limit bytes: a read failure
// is a TransportError, a longer answer a BadResponse. An answer that states its length is read
// into one buffer of that size (a length of 0 is read to the end: a response made by hand,
// not by net/http, may leave it unset).
func ReadAnswer(ctx context.Context, resp *http.Response, limit int64) ([]byte, error) {
	if n := resp.ContentLength; n > 0 {
		if n > limit {
			return nil, BadResponse(fmt.Errorf("answer larger than %d bytes", limit))
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, TransportError(ctx, err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, TransportError(ctx, err)
	}
	if int64(len(b)) > limit {
		return nil, BadResponse(fmt.Errorf("answer larger than %d bytes", limit))
	}
	return b, nil
}
