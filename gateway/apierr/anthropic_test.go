package apierr

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWriteAnthropic(t *testing.T) {
	tests := []struct {
		name string
		err  error
		// status 0 means nothing is written.
		status     int
		body       string
		retryAfter string
	}{
		{"invalid request names the field in the message", Invalid("top_k", "top_k is not supported by openai models"), 400,
			`{"type":"error","error":{"type":"invalid_request_error","message":"top_k is not supported by openai models"}}`, ""},
		{"unauthenticated", New(KindUnauthenticated, "invalid api key"), 401,
			`{"type":"error","error":{"type":"authentication_error","message":"invalid api key"}}`, ""},
		{"permission denied", New(KindPermissionDenied, "no"), 403,
			`{"type":"error","error":{"type":"permission_error","message":"no"}}`, ""},
		{"not found", New(KindNotFound, "no such model"), 404,
			`{"type":"error","error":{"type":"not_found_error","message":"no such model"}}`, ""},
		{"too large", New(KindTooLarge, "big"), 413,
			`{"type":"error","error":{"type":"request_too_large","message":"big"}}`, ""},
		{"rate limited keeps Retry-After", &Error{Kind: KindRateLimited, Message: "slow down", RetryAfter: 1500 * time.Millisecond}, 429,
			`{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`, "2"},
		{"overloaded", New(KindUpstreamUnavailable, "busy"), 503,
			`{"type":"error","error":{"type":"overloaded_error","message":"busy"}}`, ""},
		{"a plain error is internal and hides its text", errors.New("db password sk-123"), 500,
			`{"type":"error","error":{"type":"api_error","message":"internal error"}}`, ""},
		{"the cause is never shown", Wrap(KindUpstreamBadResponse, errors.New("upstream said sk-123"), "the provider failed"), 502,
			`{"type":"error","error":{"type":"api_error","message":"the provider failed"}}`, ""},
		{"canceled writes nothing", New(KindCanceled, "gone"), 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteAnthropic(rec, tt.err)
			if tt.status == 0 {
				if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
					t.Errorf("wrote %q for a canceled request", rec.Body)
				}
				return
			}
			if rec.Code != tt.status || rec.Body.String() != tt.body {
				t.Errorf("wrote %d %s\nwant %d %s", rec.Code, rec.Body, tt.status, tt.body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
		})
	}
}

// Every kind renders with its own status and Anthropic type.
func TestEveryKindRendersAnthropic(t *testing.T) {
	for kind, r := range table {
		if kind == KindCanceled {
			continue
		}
		t.Run(fmt.Sprint(r.status, r.anthropicType), func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteAnthropic(rec, &Error{Kind: kind, Message: "public words", Cause: errors.New("secret cause")})
			want := `{"type":"error","error":{"type":"` + r.anthropicType + `","message":"public words"}}`
			if rec.Code != r.status || rec.Body.String() != want {
				t.Errorf("wrote %d %s, want %d %s", rec.Code, rec.Body, r.status, want)
			}
			if strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("the cause leaked: %s", rec.Body)
			}
		})
	}
}
