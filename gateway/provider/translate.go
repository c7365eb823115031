package provider

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
)

// MaxTokens returns the answer's token limit a request sets: max_completion_tokens, else
// max_tokens, else nil. A limit below 1 is refused, naming the parameter.
func MaxTokens(r *chat.Request) (*int64, error) {
	switch {
	case r.MaxCompletionTokens != nil:
		if *r.MaxCompletionTokens < 1 {
			return nil, apierr.Invalid("max_completion_tokens", "max_completion_tokens must be at least 1")
		}
		return r.MaxCompletionTokens, nil
	case r.MaxTokens != nil:
		if *r.MaxTokens < 1 {
			return nil, apierr.Invalid("max_tokens", "max_tokens must be at least 1")
		}
		return r.MaxTokens, nil
	}
	return nil, nil
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
