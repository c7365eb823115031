// Package apierr holds the gateway's error kinds and the only mapping from a kind to an HTTP
// status, a Connect code, and the OpenAI and Anthropic error shapes.
//
// Code anywhere returns an *Error (or wraps one); the edges render it with HTTPStatus,
// WriteOpenAI and ConnectError. The public Message is what a client sees; Cause is logged once,
// at the edge, and never rendered.
package apierr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Kind classifies an error for clients.
type Kind int

// The kinds. Their order is not meaningful.
const (
	KindInternal Kind = iota
	KindInvalidRequest
	KindUnauthenticated
	KindPermissionDenied
	KindNotFound
	KindAlreadyExists
	KindTooLarge
	KindRateLimited
	KindBudgetExhausted
	KindUpstreamUnavailable
	KindUpstreamBadResponse
	KindUpstreamTimeout
	KindCanceled
	KindMethodNotAllowed
	KindRequestTimeout
	// KindUnavailable is the gateway itself unable to serve a call for now, such as an Admin
	// API call while its configuration database is unreachable; not an upstream's failure.
	KindUnavailable
)

// StatusClientClosedRequest is the non-standard status logged when the client went away.
const StatusClientClosedRequest = 499

type rendering struct {
	status        int
	code          connect.Code
	openaiType    string
	openaiCode    string
	anthropicType string
}

// table is the one mapping from kind to every wire shape.
var table = map[Kind]rendering{
	KindInternal:            {http.StatusInternalServerError, connect.CodeInternal, "server_error", "", "api_error"},
	KindInvalidRequest:      {http.StatusBadRequest, connect.CodeInvalidArgument, "invalid_request_error", "", "invalid_request_error"},
	KindUnauthenticated:     {http.StatusUnauthorized, connect.CodeUnauthenticated, "invalid_request_error", "invalid_api_key", "authentication_error"},
	KindPermissionDenied:    {http.StatusForbidden, connect.CodePermissionDenied, "invalid_request_error", "model_not_allowed", "permission_error"},
	KindNotFound:            {http.StatusNotFound, connect.CodeNotFound, "invalid_request_error", "model_not_found", "not_found_error"},
	KindAlreadyExists:       {http.StatusConflict, connect.CodeAlreadyExists, "invalid_request_error", "already_exists", "invalid_request_error"},
	KindTooLarge:            {http.StatusRequestEntityTooLarge, connect.CodeResourceExhausted, "invalid_request_error", "request_too_large", "request_too_large"},
	KindRateLimited:         {http.StatusTooManyRequests, connect.CodeResourceExhausted, "requests", "rate_limit_exceeded", "rate_limit_error"},
	KindBudgetExhausted:     {http.StatusTooManyRequests, connect.CodeResourceExhausted, "insufficient_quota", "insufficient_quota", "rate_limit_error"},
	KindUpstreamUnavailable: {http.StatusServiceUnavailable, connect.CodeUnavailable, "server_error", "upstream_unavailable", "overloaded_error"},
	KindUpstreamBadResponse: {http.StatusBadGateway, connect.CodeUnavailable, "server_error", "upstream_error", "api_error"},
	KindUpstreamTimeout:     {http.StatusGatewayTimeout, connect.CodeDeadlineExceeded, "server_error", "timeout", "api_error"},
	KindCanceled:            {StatusClientClosedRequest, connect.CodeCanceled, "server_error", "canceled", "api_error"},
	KindMethodNotAllowed:    {http.StatusMethodNotAllowed, connect.CodeUnimplemented, "invalid_request_error", "method_not_allowed", "invalid_request_error"},
	KindRequestTimeout:      {http.StatusRequestTimeout, connect.CodeDeadlineExceeded, "invalid_request_error", "request_timeout", "invalid_request_error"},
	KindUnavailable:         {http.StatusServiceUnavailable, connect.CodeUnavailable, "server_error", "service_unavailable", "overloaded_error"},
}

// Error is an error with a kind and a message safe to show to the client.
type Error struct {
	Kind Kind
	// Message is shown to the client. It never contains upstream bodies, SQL or secrets.
	Message string
	// Param names the offending request field, when there is one.
	Param string
	// Code overrides the kind's OpenAI code when set.
	Code string
	// Type overrides the kind's OpenAI type when set (a token rate limit is "tokens").
	Type string
	// RetryAfter is sent as the Retry-After header when positive.
	RetryAfter time.Duration
	// Cause is logged, never shown.
	Cause error
	// UpstreamStatus is the provider's HTTP status when the error is the provider's answer
	// (provider.StatusError), for callers that map it their own way; zero otherwise.
	UpstreamStatus int
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// New returns an error of the kind with a client-facing message.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an invalid-request error that names the offending field.
func Invalid(param, format string, args ...any) *Error {
	return &Error{Kind: KindInvalidRequest, Param: param, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of the kind whose cause is err; err is logged, message is shown.
func Wrap(kind Kind, err error, message string) *Error {
	return &Error{Kind: kind, Message: message, Cause: err}
}

// From returns err as an *Error. Context errors become Canceled or UpstreamTimeout; anything
// else becomes Internal with the message "internal error" and err as the cause.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Kind: KindCanceled, Message: "request canceled", Cause: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindUpstreamTimeout, Message: "upstream timed out", Cause: err}
	}
	return &Error{Kind: KindInternal, Message: "internal error", Cause: err}
}

// HTTPStatus is the HTTP status for the kind.
func (k Kind) HTTPStatus() int { return table[k].status }

// ConnectCode is the Connect (and gRPC) code for the kind.
func (k Kind) ConnectCode() connect.Code { return table[k].code }

// AnthropicType is the Anthropic error type for the kind.
func (k Kind) AnthropicType() string { return table[k].anthropicType }

// OpenAIBody is the OpenAI error JSON for the error.
type OpenAIBody struct {
	Error OpenAIError `json:"error"`
}

// OpenAIError is the inner object of OpenAI's error JSON.
type OpenAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// OpenAI renders the error in OpenAI's error shape.
func (e *Error) OpenAI() OpenAIBody {
	r := table[e.Kind]
	body := OpenAIBody{Error: OpenAIError{Message: e.Message, Type: r.openaiType}}
	if e.Type != "" {
		body.Error.Type = e.Type
	}
	if e.Param != "" {
		p := e.Param
		body.Error.Param = &p
	}
	code := r.openaiCode
	if e.Code != "" {
		code = e.Code
	}
	if code != "" {
		body.Error.Code = &code
	}
	return body
}

// WriteOpenAI writes err to w as OpenAI error JSON with the kind's status and Retry-After. It
// writes nothing for a canceled request: the client is gone.
func WriteOpenAI(w http.ResponseWriter, err error) {
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
	b, _ := json.Marshal(e.OpenAI())
	_, _ = w.Write(b)
}

// ConnectError renders err as a Connect error with the kind's code and the public message.
func ConnectError(err error) *connect.Error {
	e := From(err)
	ce := connect.NewError(e.Kind.ConnectCode(), errors.New(e.Message))
	if e.RetryAfter > 0 {
		ce.Meta().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
		// gRPC's own way to say when to retry, which gRPC clients read.
		if d, err := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)}); err == nil {
			ce.AddDetail(d)
		}
	}
	return ce
}

// KindForStatus is the kind an HTTP status stands for, for a request answered by code that
// did not name a kind (a REST decoding failure, say): the table read backwards, with
// KindInternal for a status no kind has. Statuses below 400 have no kind.
func KindForStatus(status int) (Kind, bool) {
	if status < 400 {
		return 0, false
	}
	switch status {
	case http.StatusTooManyRequests:
		return KindRateLimited, true
	case http.StatusBadGateway:
		return KindUpstreamBadResponse, true
	}
	for k, r := range table {
		if r.status == status {
			return k, true
		}
	}
	if status < 500 {
		return KindInvalidRequest, true
	}
	return KindInternal, true
}
