package edge

import (
	"io"
	"net/http/httptest"
	"runtime"
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

// TestReadBodyLarge: a body above exactBody is read whole as it arrives, not into a buffer of
// its stated length made before any of it came.
func TestReadBodyLarge(t *testing.T) {
	body := strings.Repeat("x", exactBody+1)
	r := httptest.NewRequest("POST", "/v1/chat/completions", io.NopCloser(strings.NewReader(body)))
	r.ContentLength = int64(len(body))
	got, err := ReadBody(httptest.NewRecorder(), r, 1<<20)
	if err != nil || string(got) != body {
		t.Fatalf("ReadBody: %d bytes, %v; want the %d sent", len(got), err, len(body))
	}
	// A client that states 1 MiB and sends 10 bytes before its connection ends gets an error,
	// and the gateway never held a buffer of the length it stated.
	r = httptest.NewRequest("POST", "/v1/chat/completions", io.NopCloser(io.MultiReader(strings.NewReader("0123456789"), errReader{io.ErrUnexpectedEOF})))
	r.ContentLength = 1 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = ReadBody(httptest.NewRecorder(), r, 1<<20)
	runtime.ReadMemStats(&after)
	if apierr.From(err).Kind != apierr.KindInvalidRequest {
		t.Errorf("a body cut short: %v; want an invalid request", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n >= 1<<20 {
		t.Errorf("reading 10 bytes of a body stated as 1 MiB allocated %d bytes", n)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func ptr[T any](v T) *T { return &v }
