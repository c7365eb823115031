package edge

import (
	"encoding/json"
	"net/http"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// MetadataHeader carries a request's metadata: a JSON object of strings, which rate limits and
// budgets can match and split by, and which every usage event records.
// TrueFoundry's X-TFY-METADATA is read as the same thing, so its clients work unchanged.
const (
	MetadataHeader    = "X-LLMGW-Metadata"
	TFYMetadataHeader = "X-TFY-METADATA"
)

// Bounds on a request's metadata.
const (
	MaxMetadataKeys  = 32
	MaxMetadataKey   = 64
	MaxMetadataValue = 128
)

// metadataHeader returns the name and value of the metadata header h carries, if any.
func metadataHeader(h http.Header) (string, string) {
	if v := h.Get(MetadataHeader); v != "" {
		return MetadataHeader, v
	}
	if v := h.Get(TFYMetadataHeader); v != "" {
		return TFYMetadataHeader, v
	}
	return "", ""
}

// ParseMetadata parses a metadata header's value: a JSON object of string to string, with at
// most MaxMetadataKeys keys of at most MaxMetadataKey bytes and values of at most
// MaxMetadataValue characters. Anything else is a 400 naming the header.
func ParseMetadata(name, value string) (map[string]string, error) {
	if value == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(value), &m); err != nil || m == nil {
		return nil, apierr.Invalid(name, "the %s header must be a JSON object of string values", name)
	}
	if len(m) > MaxMetadataKeys {
		return nil, apierr.Invalid(name, "the %s header has %d keys; at most %d are allowed", name, len(m), MaxMetadataKeys)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		switch {
		case k == "" || len(k) > MaxMetadataKey:
			return nil, apierr.Invalid(name, "the %s header has a key that is empty or longer than %d bytes", name, MaxMetadataKey)
		case !ok:
			return nil, apierr.Invalid(name, "the %s header's value for %q must be a string", name, k)
		case len([]rune(s)) > MaxMetadataValue:
			return nil, apierr.Invalid(name, "the %s header's value for %q is longer than %d characters", name, k, MaxMetadataValue)
		}
		out[k] = s
	}
	return out, nil
}

// Metadata parses the request's metadata header (see ParseMetadata); nil when it has none.
func (r *Request) Metadata() (map[string]string, error) {
	return ParseMetadata(r.metadataName, r.metadataValue)
}
