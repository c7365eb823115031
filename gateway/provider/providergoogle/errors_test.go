package providergoogle

import (
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// TestStreamErrorKinds covers error objects in a stream, whose code may be missing: the kind
// then comes from the canonical status name.
func TestStreamErrorKinds(t *testing.T) {
	tests := []struct {
		code   int
		status string
		want   apierr.Kind
	}{
		{429, "RESOURCE_EXHAUSTED", apierr.KindRateLimited},
		{0, "RESOURCE_EXHAUSTED", apierr.KindRateLimited},
		{0, "UNAVAILABLE", apierr.KindUpstreamUnavailable},
		{0, "DEADLINE_EXCEEDED", apierr.KindUpstreamTimeout},
		{0, "INVALID_ARGUMENT", apierr.KindInvalidRequest},
		{0, "FAILED_PRECONDITION", apierr.KindInvalidRequest},
		{0, "UNAUTHENTICATED", apierr.KindUpstreamBadResponse},
		{0, "PERMISSION_DENIED", apierr.KindUpstreamBadResponse},
		{0, "NOT_FOUND", apierr.KindUpstreamBadResponse},
		{0, "INTERNAL", apierr.KindUpstreamBadResponse},
		{0, "", apierr.KindUpstreamBadResponse},
		{200, "UNAVAILABLE", apierr.KindUpstreamUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			e := streamError(&errorStatus{Code: tt.code, Status: tt.status, Message: upstreamSecret})
			if e.Kind != tt.want {
				t.Errorf("code %d status %q: kind %v, want %v", tt.code, tt.status, e.Kind, tt.want)
			}
			if strings.Contains(e.Message, upstreamSecret) || !strings.Contains(e.Error(), upstreamSecret) {
				t.Errorf("message %q / cause %v: upstream text must be in the cause only", e.Message, e)
			}
		})
	}
}

func TestStatusErrorLongBody(t *testing.T) {
	body := `{"error":{"code":500,"message":"` + strings.Repeat("x", 2000) + `"}}`
	e := statusError(500, "", []byte(body))
	if len(e.Error()) > 1200 {
		t.Errorf("cause is not truncated: %d bytes", len(e.Error()))
	}
}
