package provider

import (
	"strings"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// DataURL splits an image given as a base64 data: URL into its media type and data. isData is
// false for any other URL. A data: URL not of the form data:<media type>;base64,<data> is a
// 400 naming param.
func DataURL(param, url string) (mediaType, data string, isData bool, err error) {
	rest, ok := strings.CutPrefix(url, "data:")
	if !ok {
		return "", "", false, nil
	}
	meta, data, ok := strings.Cut(rest, ",")
	mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
	if !ok || !isBase64 || mediaType == "" || data == "" {
		return "", "", true, apierr.Invalid(param, "%s must be a data:<media type>;base64,<data> URL", param)
	}
	return mediaType, data, true, nil
}
