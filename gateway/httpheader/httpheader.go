// Package httpheader sets the header values every request and answer of the data plane carries
// without allocating: http.Header.Set allocates a one-element slice per call, and a gateway
// sets a handful on each of thousands of requests a second.
package httpheader

import "net/http"

// Shared header values. They are never modified: net/http only reads header values, Set
// replaces a slice and Add appends to a full one (a copy).
var (
	valueJSON        = []string{"application/json"}
	valueEventStream = []string{"text/event-stream"}
	valueNoCache     = []string{"no-cache"}
	valueNo          = []string{"no"}
)

// SetJSON sets Content-Type: application/json on h.
func SetJSON(h http.Header) { h["Content-Type"] = valueJSON }

// SetEventStream sets the headers of a Server-Sent Events answer on h: its content type,
// no caching, and no buffering by a proxy in front (X-Accel-Buffering: no).
func SetEventStream(h http.Header) {
	h["Content-Type"] = valueEventStream
	h["Cache-Control"] = valueNoCache
	h["X-Accel-Buffering"] = valueNo
}

// Value returns v as a header value slice: a shared one for the content types the
// adapters send on every request, a new one otherwise. Callers assign it to a canonical key.
func Value(v string) []string {
	switch v {
	case "application/json":
		return valueJSON
	case "text/event-stream":
		return valueEventStream
	}
	return []string{v}
}
