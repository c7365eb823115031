package provideranthropic

import (
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/provider"
)

// eventError maps an error event of a stream to the client's error, as provider.StatusError
// maps a status. The upstream's message goes only into the cause.
func eventError(d *errorDetail) *apierr.Error {
	if d == nil {
		d = &errorDetail{}
	}
	cause := provider.Upstream(0, d.Type, "", d.Message)
	switch d.Type {
	case "overloaded_error":
		return &apierr.Error{Kind: apierr.KindUpstreamUnavailable, Message: "the provider is overloaded; retry later", Cause: cause}
	case "rate_limit_error":
		return &apierr.Error{Kind: apierr.KindRateLimited, Message: "the provider is rate limiting requests; retry later", Code: "upstream_rate_limited", Cause: cause}
	default:
		return &apierr.Error{Kind: apierr.KindUpstreamBadResponse, Message: "the provider failed during the stream", Code: "upstream_error", Cause: cause}
	}
}
