// Package edge holds what every HTTP surface (the OpenAI and Anthropic dialects, the Connect
// services) does with an incoming request before the pipeline: find the caller's key, name the
// request, and read its body under the size limit.
package edge

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// DefaultMaxBody is the default request size limit: room for a few base64 images.
const DefaultMaxBody = 32 << 20

// Secret returns the API key from Authorization: Bearer or x-api-key.
func Secret(h http.Header) string {
	if a := h.Get("Authorization"); a != "" {
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return strings.TrimSpace(a[7:])
		}
		return ""
	}
	return h.Get("X-Api-Key")
}

// RequestID returns the client's X-Request-Id when it has one of at most 128 bytes, else a new
// random "req_..." id.
func RequestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// ReadBody reads the whole body of r under limit bytes. A larger body is a KindTooLarge
// error, a body that cannot be read an invalid request.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(limit)
		}
		return nil, apierr.Invalid("", "could not read the request body")
	}
	return body, nil
}

func tooLarge(limit int64) error {
	return apierr.New(apierr.KindTooLarge, "the request body is larger than the limit of %d bytes", limit)
}

// MethodNotAllowed is the error for a request to a known path with a method other than POST;
// the caller sets the Allow header.
func MethodNotAllowed(r *http.Request) error {
	return apierr.New(apierr.KindMethodNotAllowed, "%s is not allowed on %s; use POST", r.Method, r.URL.Path)
}
