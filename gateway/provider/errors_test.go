package provider

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// TestStatusErrorCause covers what the log gets of an upstream error answer: the status, the
// provider's error type and code in each documented shape, and an excerpt of its message with
// the quoted key masked.
func TestStatusErrorCause(t *testing.T) {
	const key = "sk-proj-Canary0123456789abcdef"
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"OpenAI", 401, `{"error":{"message":"Incorrect API key provided: ` + key + `.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			"upstream status 401 type invalid_request_error code invalid_api_key: Incorrect API key provided: [REDACTED]."},
		{"Anthropic", 529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded ` + key + `"}}`,
			"upstream status 529 type overloaded_error: Overloaded [REDACTED]"},
		{"Google", 400, `{"error":{"code":400,"message":"API key not valid: AIzaSyA-1234567890abcdefghijklmnopqrstu","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}`,
			"upstream status 400 type INVALID_ARGUMENT code API_KEY_INVALID: API key not valid: [REDACTED]"},
		{"Google stream array", 429, `[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}]`,
			"upstream status 429 type RESOURCE_EXHAUSTED: quota"},
		{"AWS", 403, `{"__type":"com.amazon.coral.service#UnrecognizedClientException:http://internal","message":"The security token included in the request is invalid: AKIAIOSFODNN7EXAMPLE"}`,
			"upstream status 403 type UnrecognizedClientException: The security token included in the request is invalid: [REDACTED]"},
		{"Cohere", 498, `{"id":"1","message":"invalid api token ` + key + `"}`, "upstream status 498: invalid api token [REDACTED]"},
		{"Azure numeric-looking code", 401, `{"error":{"code":"401","message":"Access denied due to invalid subscription key."}}`,
			"upstream status 401 code 401: Access denied due to invalid subscription key."},
		{"OAuth2", 400, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, "upstream status 400 type invalid_grant: Invalid JWT Signature."},
		{"FastAPI", 500, `{"detail":"Bearer abc.def.ghi rejected"}`, "upstream status 500: Bearer [REDACTED] rejected"},
		{"not JSON", 502, `<html>bad gateway, key=` + key + `</html>`, "upstream status 502: <html>bad gateway, key=[REDACTED]</html>"},
		{"type quoting a key", 500, `{"error":{"type":"` + key + `","message":"x"}}`, "upstream status 500 type [REDACTED]: x"},
		{"empty", 503, ``, "upstream status 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := StatusError(tt.status, "", []byte(tt.body))
			if got := e.Cause.Error(); got != tt.want {
				t.Errorf("cause\n got %q\nwant %q", got, tt.want)
			}
			if strings.Contains(e.Error(), key) || strings.Contains(e.Message, "[REDACTED]") {
				t.Errorf("error %q", e.Error())
			}
		})
	}
}

// TestClipNeverSplitsAToken: a long body is cut before the token the cut would split, so a
// configured secret there is either whole (and masked at the log) or gone.
func TestClipNeverSplitsAToken(t *testing.T) {
	const secret = "c0ffee0123456789c0ffee0123456789"
	for pad := 470; pad < 520; pad++ {
		got := Clip(strings.Repeat("x ", pad/2) + secret + " tail")
		if i := strings.Index(got, "c0ffee"); i >= 0 && !strings.Contains(got, secret) {
			t.Fatalf("pad %d: a part of the secret is left: %q", pad, got[i:])
		}
	}
}

// TestReadAnswer covers answers with and without a stated length: read whole, refused when
// longer than the limit (before reading, when the length says so), a transport error when the
// connection ends early.
func TestReadAnswer(t *testing.T) {
	body := `{"id":"x","usage":{"prompt_tokens":1}}`
	tests := []struct {
		name    string
		length  int64 // ContentLength; -1: unknown (chunked)
		body    string
		limit   int64
		want    string
		fails   bool
		errKind apierr.Kind
	}{
		{"stated length", int64(len(body)), body, 1 << 10, body, false, 0},
		{"unknown length", -1, body, 1 << 10, body, false, 0},
		{"empty", 0, "", 1 << 10, "", false, 0},
		{"stated length over the limit", int64(len(body)), body, 8, "", true, apierr.KindUpstreamBadResponse},
		{"unknown length over the limit", -1, body, 8, "", true, apierr.KindUpstreamBadResponse},
		{"connection ends before the stated length", int64(len(body)) + 10, body, 1 << 10, "", true, apierr.KindUpstreamUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{ContentLength: tt.length, Body: io.NopCloser(strings.NewReader(tt.body))}
			got, err := ReadAnswer(context.Background(), resp, tt.limit)
			if tt.fails {
				if err == nil || apierr.From(err).Kind != tt.errKind {
					t.Fatalf("error %v, want kind %v", err, tt.errKind)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("ReadAnswer = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
