package edge

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// TestReadBody: a body is read whole up to the limit, by its Content-Length when it has one;
// a larger body is too large, a body shorter than its Content-Length unreadable.
func TestReadBody(t *testing.T) {
	for _, tt := range []struct {
		name   string
		body   string
		length int64 // Content-Length; -1: unknown (chunked)
		want   string
		kind   *apierr.Kind // the error's kind; nil: none
	}{
		{"by its length", `{"model":"m"}`, 13, `{"model":"m"}`, nil},
		{"chunked", `{"model":"m"}`, -1, `{"model":"m"}`, nil},
		{"length over the limit", strings.Repeat("x", 17), 17, "", ptr(apierr.KindTooLarge)},
		{"chunked over the limit", strings.Repeat("x", 17), -1, "", ptr(apierr.KindTooLarge)},
		{"shorter than its length", `{"model"`, 13, "", ptr(apierr.KindInvalidRequest)},
		{"empty", "", 0, "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/chat/completions", io.NopCloser(strings.NewReader(tt.body)))
			r.ContentLength = tt.length
			got, err := ReadBody(httptest.NewRecorder(), r, 16)
			if tt.kind != nil {
				if apierr.From(err).Kind != *tt.kind {
					t.Errorf("ReadBody: %q, %v; want a %v error", got, err, *tt.kind)
				}
				return
			}
			if err != nil || string(got) != tt.want || (tt.length > 0 && cap(got) != len(got)) {
				t.Errorf("ReadBody: %q (cap %d), %v; want %q in a buffer of its size", got, cap(got), err, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
