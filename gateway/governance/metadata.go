package governance

import (
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// Metadata headers. HeaderTFYMetadata is TrueFoundry's name for the same thing, accepted so that
// their clients work unchanged.
const (
	HeaderMetadata    = "X-LLMGW-Metadata"
	HeaderTFYMetadata = "X-TFY-METADATA"
)

// ParseMetadata reads the request metadata from the X-LLMGW-Metadata header or, when it is
// absent, X-TFY-METADATA: a JSON object of string to string, with keys and values of at most
// MaxMetadataLen characters. It returns nil when neither header is set, and an invalid-request
// error naming the header when its value is not such an object.
func ParseMetadata(h http.Header) (map[string]string, error) {
	name := HeaderMetadata
	vals := h.Values(name)
	if len(vals) == 0 {
		name = HeaderTFYMetadata
		vals = h.Values(name)
	}
	switch len(vals) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, apierr.Invalid(name, "the %s header is given more than once", name)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(vals[0]), &raw); err != nil || raw == nil {
		return nil, apierr.Invalid(name, "the %s header must be a JSON object of string to string", name)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			return nil, apierr.Invalid(name, "the %s header: the value of %q must be a string", name, k)
		}
		if k == "" || utf8.RuneCountInString(k) > MaxMetadataLen {
			return nil, apierr.Invalid(name, "the %s header: keys must have 1 to %d characters", name, MaxMetadataLen)
		}
		if utf8.RuneCountInString(s) > MaxMetadataLen {
			return nil, apierr.Invalid(name, "the %s header: the value of %q is longer than %d characters", name, k, MaxMetadataLen)
		}
		out[k] = s
	}
	return out, nil
}
