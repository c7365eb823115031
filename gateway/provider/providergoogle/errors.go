package providergoogle

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/provider"
)

// statusError maps an error answer to the client's error. It is provider.StatusError with two
// Google specifics read from the body's details: the Gemini API answers a bad key with 400
// INVALID_ARGUMENT and reason API_KEY_INVALID, which is the gateway's credential and not the
// client's request; and a 429 says when to retry in a RetryInfo detail rather than a
// Retry-After header. The upstream's message goes only into the cause.
func statusError(status int, retryAfter string, body []byte) *apierr.Error {
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil {
		for _, d := range eb.Error.Details {
			if d.Reason == "API_KEY_INVALID" {
				status = http.StatusUnauthorized
			}
			if retryAfter == "" && d.RetryDelay != "" {
				if d, err := time.ParseDuration(d.RetryDelay); err == nil && d > 0 {
					retryAfter = strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
				}
			}
		}
	}
	return provider.StatusError(status, retryAfter, body)
}

// streamError maps an error object sent in the middle of a stream. The HTTP status is already
// 200, so the kind comes from the error's code, or else from its canonical status name.
func streamError(e *errorStatus) *apierr.Error {
	code := e.Code
	if code < 400 || code > 599 {
		code = statusCode(e.Status)
	}
	b, _ := json.Marshal(errorBody{Error: e})
	err := statusError(code, "", b)
	err.Cause = fmt.Errorf("error event in stream: %w", err.Cause)
	return err
}

// statusCode is the HTTP status Google pairs with a canonical error status name.
func statusCode(status string) int {
	switch strings.ToUpper(status) {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		return http.StatusBadRequest
	case "UNAUTHENTICATED":
		return http.StatusUnauthorized
	case "PERMISSION_DENIED":
		return http.StatusForbidden
	case "NOT_FOUND":
		return http.StatusNotFound
	case "RESOURCE_EXHAUSTED":
		return http.StatusTooManyRequests
	case "UNAVAILABLE":
		return http.StatusServiceUnavailable
	case "DEADLINE_EXCEEDED":
		return http.StatusGatewayTimeout
	default: // INTERNAL, UNKNOWN, and names newer than this adapter
		return http.StatusInternalServerError
	}
}

// tokenError is the cause of a refused token exchange: OAuth2's error code and description,
// made fit for the log as every upstream error is (provider.Upstream).
func tokenError(status int, body []byte) *provider.UpstreamError {
	typ, code, msg := provider.ParseError(body)
	return provider.Upstream(status, typ, code, msg)
}
