package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// HeaderOverride is what a routing target changes in the headers of the upstream requests sent
// to it (a load-balance target's headers_override): headers set, replacing the adapter's, and
// headers removed. Names are canonical (http.CanonicalHeaderKey). It is applied by the
// transport every adapter sends through (NoRedirects), after the adapter built the request, so
// that no adapter has its own implementation.
type HeaderOverride struct {
	Set    map[string]string
	Remove []string
}

// protectedHeaders are the headers an override may not touch: the credentials adapters send
// (and their signatures), and what frames the request or fixes its wire format.
var protectedHeaders = []string{
	"Authorization", "Proxy-Authorization", "X-Api-Key", "Api-Key", "X-Goog-Api-Key",
	"Anthropic-Version", "Host", "Content-Type", "Content-Length", "Content-Encoding",
	"Transfer-Encoding", "Connection", "Te", "Upgrade", "Cookie",
}

// CheckOverrideHeader reports whether a header override may set or remove the header name: not
// one of the credential, signature or framing headers adapters set (AWS's X-Amz-* included).
func CheckOverrideHeader(name string) error {
	c := http.CanonicalHeaderKey(name)
	if name == "" || strings.ContainsAny(name, " :\t\r\n") {
		return fmt.Errorf("%q is not a header name", name)
	}
	for _, p := range protectedHeaders {
		if c == p {
			return fmt.Errorf("%s is set by the gateway for the provider and cannot be overridden", c)
		}
	}
	if strings.HasPrefix(c, "X-Amz-") {
		return fmt.Errorf("%s is part of AWS's request signature and cannot be overridden", c)
	}
	return nil
}

type headerOverrideKey struct{}

// WithHeaderOverride returns ctx carrying h: the upstream requests an adapter sends with it
// (or a context derived from it) get h applied. A nil h is ctx.
func WithHeaderOverride(ctx context.Context, h *HeaderOverride) context.Context {
	if h == nil {
		return ctx
	}
	return context.WithValue(ctx, headerOverrideKey{}, h)
}

// WithoutHeaderOverride returns ctx without a header override, for the requests an adapter
// sends that are not the target's (a credential exchange with an identity provider).
func WithoutHeaderOverride(ctx context.Context) context.Context {
	if ctx.Value(headerOverrideKey{}) == nil {
		return ctx
	}
	return context.WithValue(ctx, headerOverrideKey{}, (*HeaderOverride)(nil))
}

// overrideTransport applies the header override of a request's context.
type overrideTransport struct {
	base http.RoundTripper
}

func (t overrideTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h, _ := req.Context().Value(headerOverrideKey{}).(*HeaderOverride)
	if h == nil {
		return t.base.RoundTrip(req)
	}
	// A RoundTripper must not modify its request: change a copy's headers.
	out := req.Clone(req.Context())
	for _, name := range h.Remove {
		out.Header.Del(name)
	}
	for name, v := range h.Set {
		out.Header.Set(name, v)
	}
	return t.base.RoundTrip(out)
}
