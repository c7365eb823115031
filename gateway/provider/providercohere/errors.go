package providercohere

import (
	"fmt"
	"net/http"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// statusInvalidToken is Cohere's 498: the API key is blocked or malformed.
const statusInvalidToken = 498

// statusError maps an error status as provider.StatusError does, with Cohere's own statuses:
// 402 (the account cannot be billed) and 498 (the key is invalid) are the gateway's provider
// account failing, never the client's fault. The body goes only into the cause.
func statusError(status int, retryAfter string, body []byte) *apierr.Error {
	switch status {
	case http.StatusPaymentRequired:
		e := provider.StatusError(status, retryAfter, body)
		e.Kind, e.Code = apierr.KindUpstreamBadResponse, "upstream_payment_required"
		e.Message = "the provider refused to bill the gateway's account; ask the gateway admin to check the provider account"
		return e
	case statusInvalidToken:
		return provider.StatusError(http.StatusUnauthorized, retryAfter, body)
	}
	return provider.StatusError(status, retryAfter, body)
}

// finishError is the error for an answer that ended with ERROR or TIMEOUT: there is no answer to
// give, and a clean finish would hide the failure. detail, the upstream's message if any, goes
// only into the cause.
func finishError(reason, detail string) *apierr.Error {
	cause := fmt.Errorf("upstream finish_reason %s: %s", reason, provider.Clip(detail))
	if reason == reasonTimeout {
		return &apierr.Error{Kind: apierr.KindUpstreamTimeout, Message: "the provider timed out while generating the answer", Cause: cause}
	}
	return &apierr.Error{Kind: apierr.KindUpstreamBadResponse, Message: "the provider failed while generating the answer", Code: "upstream_error", Cause: cause}
}

// Cohere's finish reasons.
const (
	reasonComplete     = "COMPLETE"
	reasonStopSequence = "STOP_SEQUENCE"
	reasonMaxTokens    = "MAX_TOKENS"
	reasonToolCall     = "TOOL_CALL"
	reasonError        = "ERROR"
	reasonTimeout      = "TIMEOUT"
)

// finishReason maps a Cohere finish reason to an OpenAI one; failed is true for ERROR and
// TIMEOUT, which are errors, not finishes. Unknown reasons map to "stop": the answer did end,
// and a reason newer than this adapter must not fail a good answer.
func finishReason(reason string) (finish string, failed bool) {
	switch reason {
	case reasonMaxTokens:
		return chat.FinishLength, false
	case reasonToolCall:
		return chat.FinishToolCalls, false
	case reasonError, reasonTimeout:
		return "", true
	case reasonComplete, reasonStopSequence:
		return chat.FinishStop, false
	default:
		return chat.FinishStop, false
	}
}
