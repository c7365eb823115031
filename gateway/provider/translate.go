package provider

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
)

// MaxTokens returns the answer's token limit a request sets: max_completion_tokens, else
// max_tokens, else nil. Ranges are not checked here: every surface validates the request
// (chat.Request.Validate) before it reaches an adapter.
func MaxTokens(r *chat.Request) *int64 {
	if r.MaxCompletionTokens != nil {
		return r.MaxCompletionTokens
	}
	return r.MaxTokens
}

// ToolCallArgs returns the arguments of tool call j of messages[i] as the compact JSON object
// that providers taking structured tool input want; empty arguments are no arguments ({}).
// Arguments that are not a JSON object are refused, naming them.
func ToolCallArgs(i, j int, args string) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace([]byte(args))
	if len(trimmed) == 0 {
		return json.RawMessage(`{}`), nil
	}
	var cause error
	var buf bytes.Buffer
	if trimmed[0] != '{' {
		cause = fmt.Errorf("arguments are not a JSON object")
	} else if err := json.Compact(&buf, trimmed); err != nil {
		cause = fmt.Errorf("arguments are not JSON: %w", err)
	}
	if cause != nil {
		return nil, &apierr.Error{
			Kind:    apierr.KindInvalidRequest,
			Param:   fmt.Sprintf("messages[%d].tool_calls[%d].function.arguments", i, j),
			Message: fmt.Sprintf("messages[%d]: tool call %d arguments must be a JSON object", i, j),
			Cause:   cause,
		}
	}
	return buf.Bytes(), nil
}
