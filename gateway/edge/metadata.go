package edge

import (
	"net/http"

	"github.com/llmgw/llmgw/gateway/governance"
)

// The metadata headers' keys in canonical form, as a received http.Header holds them: looked
// up directly, they cost no canonicalization per request. Never modified.
var (
	metadataKey    = http.CanonicalHeaderKey(governance.HeaderMetadata)
	tfyMetadataKey = http.CanonicalHeaderKey(governance.HeaderTFYMetadata)
)

// metadataHeaders keeps the request's metadata headers (governance.HeaderMetadata and
// governance.HeaderTFYMetadata), unparsed, when it has any.
func metadataHeaders(h http.Header) http.Header {
	a, b := h[metadataKey], h[tfyMetadataKey]
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	return http.Header{metadataKey: a, tfyMetadataKey: b}
}

// Metadata parses the request's metadata header (see governance.ParseMetadata); nil when it
// has none, a 400 naming the header when it is not a JSON object of strings.
func (r *Request) Metadata() (map[string]string, error) {
	if r.metadata == nil {
		return nil, nil
	}
	return governance.ParseMetadata(r.metadata)
}
