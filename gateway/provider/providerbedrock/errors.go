package providerbedrock

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/provider"
)

// errorType returns the bare AWS error type: the x-amzn-ErrorType header, else the body's
// __type, without the namespace (aws.protocols#) or the ":http://..." suffix AWS appends.
func errorType(header string, body []byte) string {
	t := header
	if t == "" {
		var p exceptionPayload
		if json.Unmarshal(body, &p) == nil {
			t = p.Type
		}
	}
	t, _, _ = strings.Cut(t, ":")
	if i := strings.LastIndexByte(t, '#'); i >= 0 {
		t = t[i+1:]
	}
	return t
}

// statusError maps a Bedrock runtime error answer. The status decides, as provider.StatusError
// decides it, except for the error types whose status says less than their name: a
// ServiceQuotaExceededException (400) is a rate limit, a ModelNotReadyException (429) means the
// model is unavailable for now, a ModelTimeoutException (408) a timeout. The upstream message
// goes only into the cause.
func statusError(status int, h http.Header, body []byte) *apierr.Error {
	typ := errorType(h.Get("X-Amzn-Errortype"), body)
	e := provider.StatusError(status, h.Get("Retry-After"), body)
	var p exceptionPayload
	_ = json.Unmarshal(body, &p)
	e.Cause = provider.Upstream(status, typ, "", p.Message)
	switch typ {
	case "ThrottlingException", "ServiceQuotaExceededException":
		e.Kind, e.Message, e.Code = apierr.KindRateLimited, "the provider is rate limiting requests; retry later", "upstream_rate_limited"
	case "ModelNotReadyException":
		e.Kind, e.Message, e.Code = apierr.KindUpstreamUnavailable, "the provider is unavailable; retry later", ""
	case "ModelTimeoutException":
		e.Kind, e.Message, e.Code = apierr.KindUpstreamTimeout, "the provider timed out", ""
	}
	return e
}

// exceptionError maps an exception event of a stream (its :exception-type, first letter lower
// case) or an error message (its :error-code).
func exceptionError(typ string, payload []byte) *apierr.Error {
	var p exceptionPayload
	_ = json.Unmarshal(payload, &p)
	cause := provider.Upstream(0, typ, "", p.Message)
	switch strings.ToLower(strings.TrimSuffix(typ, "Exception")) {
	case "throttling", "servicequotaexceeded":
		return &apierr.Error{Kind: apierr.KindRateLimited, Message: "the provider is rate limiting requests; retry later", Code: "upstream_rate_limited", Cause: cause}
	case "serviceunavailable", "modelnotready":
		return &apierr.Error{Kind: apierr.KindUpstreamUnavailable, Message: "the provider is unavailable; retry later", Cause: cause}
	case "modeltimeout":
		return &apierr.Error{Kind: apierr.KindUpstreamTimeout, Message: "the provider timed out", Cause: cause}
	default: // internalServerException, modelStreamErrorException, validationException, ...
		return &apierr.Error{Kind: apierr.KindUpstreamBadResponse, Message: "the provider failed during the stream", Code: "upstream_error", Cause: cause}
	}
}

// stsError maps a failed AssumeRole. Throttling and outages map by status; any other failure
// (a bad role ARN, a trust policy that refuses the gateway's keys, a wrong external id) is the
// gateway's configuration, never the client's request.
func stsError(status int, retryAfter string, body []byte) *apierr.Error {
	var x stsErrorResponse
	_ = xml.Unmarshal(body, &x)
	cause := fmt.Errorf("sts AssumeRole: %w", provider.Upstream(status, x.Error.Code, "", x.Error.Message))
	if status == http.StatusTooManyRequests || x.Error.Code == "Throttling" || status >= 500 {
		if x.Error.Code == "Throttling" && status < 500 {
			status = http.StatusTooManyRequests
		}
		e := provider.StatusError(status, retryAfter, nil)
		e.Cause = cause
		return e
	}
	return &apierr.Error{
		Kind:    apierr.KindUpstreamBadResponse,
		Message: "the gateway could not assume the configured AWS role; ask the gateway admin to check the provider account",
		Code:    "upstream_auth_failed",
		Cause:   cause,
	}
}
