package edge

import (
	"net/http"

	"github.com/llmgw/llmgw/gateway/governance"
)

// metadataHeaders keeps the request's metadata headers (governance.HeaderMetadata and
// governance.HeaderTFYMetadata), unparsed, when it has any.
func metadataHeaders(h http.Header) http.Header {
	a, b := h.Values(governance.HeaderMetadata), h.Values(governance.HeaderTFYMetadata)
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	return http.Header{http.CanonicalHeaderKey(governance.HeaderMetadata): a, http.CanonicalHeaderKey(governance.HeaderTFYMetadata): b}
}

// Metadata parses the request's metadata header (see governance.ParseMetadata); nil when it
// has none, a 400 naming the header when it is not a JSON object of strings.
func (r *Request) Metadata() (map[string]string, error) {
	if r.metadata == nil {
		return nil, nil
	}
	return governance.ParseMetadata(r.metadata)
}
