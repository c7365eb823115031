package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// StatusError maps an upstream's error status to the error the client gets. The upstream's body
// goes only into the cause (for the log), never into the message: upstream messages may quote
// keys. retryAfter is the upstream's Retry-After header, passed on for 429 and 503.
func StatusError(status int, retryAfter string, body []byte) *apierr.Error {
	cause := fmt.Errorf("upstream status %d: %s", status, Clip(string(body)))
	e := &apierr.Error{Cause: cause, UpstreamStatus: status}
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

// Clip returns at most the first 512 bytes of an upstream's error text, marking a cut, for an
// error's cause.
func Clip(s string) string {
	if len(s) > maxCause {
		return s[:maxCause] + "..."
	}
	return s
}

// ReadAnswer reads a whole upstream answer of at most limit bytes: a read failure is a
// TransportError, a longer answer a BadResponse.
func ReadAnswer(ctx context.Context, r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, TransportError(ctx, err)
	}
	if int64(len(b)) > limit {
		return nil, BadResponse(fmt.Errorf("answer larger than %d bytes", limit))
	}
	return b, nil
}
