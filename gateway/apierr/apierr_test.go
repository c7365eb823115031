package apierr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
)

func TestEveryKindRendersInBothShapes(t *testing.T) {
	tests := []struct {
		kind       Kind
		status     int
		code       connect.Code
		openaiType string
		anthropic  string
	}{
		{KindInternal, 500, connect.CodeInternal, "server_error", "api_error"},
		{KindInvalidRequest, 400, connect.CodeInvalidArgument, "invalid_request_error", "invalid_request_error"},
		{KindUnauthenticated, 401, connect.CodeUnauthenticated, "invalid_request_error", "authentication_error"},
		{KindPermissionDenied, 403, connect.CodePermissionDenied, "invalid_request_error", "permission_error"},
		{KindNotFound, 404, connect.CodeNotFound, "invalid_request_error", "not_found_error"},
		{KindAlreadyExists, 409, connect.CodeAlreadyExists, "invalid_request_error", "invalid_request_error"},
		{KindTooLarge, 413, connect.CodeResourceExhausted, "invalid_request_error", "request_too_large"},
		{KindRateLimited, 429, connect.CodeResourceExhausted, "requests", "rate_limit_error"},
		{KindBudgetExhausted, 429, connect.CodeResourceExhausted, "insufficient_quota", "rate_limit_error"},
		{KindUpstreamUnavailable, 503, connect.CodeUnavailable, "server_error", "overloaded_error"},
		{KindUpstreamBadResponse, 502, connect.CodeUnavailable, "server_error", "api_error"},
		{KindUpstreamTimeout, 504, connect.CodeDeadlineExceeded, "server_error", "api_error"},
		{KindCanceled, 499, connect.CodeCanceled, "server_error", "api_error"},
		{KindMethodNotAllowed, 405, connect.CodeUnimplemented, "invalid_request_error", "invalid_request_error"},
		{KindRequestTimeout, 408, connect.CodeDeadlineExceeded, "invalid_request_error", "invalid_request_error"},
		{KindUnavailable, 503, connect.CodeUnavailable, "server_error", "overloaded_error"},
	}
	if len(tests) != len(table) {
		t.Fatalf("the test covers %d kinds, the table has %d", len(tests), len(table))
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status, tt.openaiType), func(t *testing.T) {
			e := &Error{Kind: tt.kind, Message: "public words", Cause: errors.New("secret cause sk-123")}
			if got := tt.kind.HTTPStatus(); got != tt.status {
				t.Errorf("status %d, want %d", got, tt.status)
			}
			if got := tt.kind.AnthropicType(); got != tt.anthropic {
				t.Errorf("anthropic type %q, want %q", got, tt.anthropic)
			}
			ce := ConnectError(e)
			if ce.Code() != tt.code || ce.Message() != "public words" {
				t.Errorf("connect error %v, want code %v with only the public message", ce, tt.code)
			}
			rec := httptest.NewRecorder()
			WriteOpenAI(rec, e)
			if tt.kind == KindCanceled {
				if rec.Body.Len() != 0 {
					t.Errorf("a canceled request got a body: %s", rec.Body)
				}
				return
			}
			var body OpenAIBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.status || body.Error.Type != tt.openaiType || body.Error.Message != "public words" {
				t.Errorf("wrote %d %s", rec.Code, rec.Body)
			}
		})
	}
}

func TestFromAndRetryAfter(t *testing.T) {
	if k := From(context.Canceled).Kind; k != KindCanceled {
		t.Errorf("context.Canceled -> %v", k)
	}
	if k := From(fmt.Errorf("wrapped: %w", context.DeadlineExceeded)).Kind; k != KindUpstreamTimeout {
		t.Errorf("DeadlineExceeded -> %v", k)
	}
	if e := From(errors.New("db password in here")); e.Kind != KindInternal || e.Message != "internal error" {
		t.Errorf("plain error -> %+v", e)
	}
	rec := httptest.NewRecorder()
	WriteOpenAI(rec, &Error{Kind: KindRateLimited, Message: "slow down", RetryAfter: 1500 * time.Millisecond})
	if got := rec.Header().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2 (rounded up)", got)
	}
	if got := ConnectError(&Error{Kind: KindRateLimited, RetryAfter: 3 * time.Second}).Meta().Get("Retry-After"); got != "3" {
		t.Errorf("connect Retry-After %q", got)
	}
}

func TestKindForStatus(t *testing.T) {
	for kind, r := range table {
		got, ok := KindForStatus(r.status)
		if !ok || got.HTTPStatus() != r.status {
			t.Errorf("KindForStatus(%d) = %v, %v; want a kind of that status (%v)", r.status, got, ok, kind)
		}
	}
	if k, _ := KindForStatus(http.StatusTooManyRequests); k != KindRateLimited {
		t.Errorf("429 is %v, want rate limited", k)
	}
	if k, ok := KindForStatus(418); !ok || k != KindInvalidRequest {
		t.Errorf("418 is %v, want invalid request", k)
	}
	if k, ok := KindForStatus(599); !ok || k != KindInternal {
		t.Errorf("599 is %v, want internal", k)
	}
	if _, ok := KindForStatus(200); ok {
		t.Error("200 has a kind")
	}
}
