// Package edge holds what every HTTP surface (the OpenAI and Anthropic dialects, the Connect
// services) does with an incoming request before the pipeline: find the caller's key, name the
// request, and read its body under the size limit.
package edge

import (
	"errors"
	"io"
	"net/http"
	"os"
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

// exactBody is the largest body ReadBody reads into a buffer of its Content-Length at once.
const exactBody = 64 << 10

// ReadBody reads the whole body of r under limit bytes. A larger body is a KindTooLarge
// error, a body that cannot be read an invalid request.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, TooLarge(limit)
	}
	if n := r.ContentLength; n > 0 && n <= exactBody {
		// The server reads no more than Content-Length: read it into a buffer of its size.
		// A larger body's buffer grows as it arrives, so a client cannot make the gateway
		// hold its whole stated length before sending any of it.
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, BodyError(err, limit)
		}
		return body, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, BodyError(err, limit)
	}
	return body, nil
}

// BodyError is the error for a failed read of a request body bounded to limit bytes: too
// large, too slow (the read deadline passed), or unreadable.
func BodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return TooLarge(limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return apierr.New(apierr.KindRequestTimeout, "the request body was not received in time")
	}
	return apierr.Invalid("", "could not read the request body")
}

// TooLarge is the error for a body over limit bytes.
func TooLarge(limit int64) error {
	return apierr.New(apierr.KindTooLarge, "the request body is larger than the limit of %d bytes", limit)
}

// MethodNotAllowed is the error for a request to a known path with a method other than POST;
// the caller sets the Allow header.
func MethodNotAllowed(r *http.Request) error {
	return apierr.New(apierr.KindMethodNotAllowed, "%s is not allowed on %s; use POST", r.Method, r.URL.Path)
}
