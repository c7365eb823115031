package anthropicapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// Stop reasons, as Anthropic names them.
const (
	StopEndTurn   = "end_turn"
	StopMaxTokens = "max_tokens"
	StopToolUse   = "tool_use"
	StopRefusal   = "refusal"
)

// stopReason maps an OpenAI finish reason. The chat dialect does not say which stop sequence
// matched, so a stop is always end_turn and stop_sequence stays null.
func stopReason(finish string) string {
	switch finish {
	case chat.FinishLength:
		return StopMaxTokens
	case chat.FinishToolCalls, "function_call":
		return StopToolUse
	case chat.FinishContentFilter:
		return StopRefusal
	default:
		return StopEndTurn
	}
}

// usageOf maps chat usage: Anthropic's input_tokens exclude the cache reads and writes, which
// are reported apart.
func usageOf(u *chat.Usage) Usage {
	if u == nil {
		return Usage{}
	}
	cached := u.CachedTokens()
	return Usage{InputTokens: u.PromptTokens - cached - u.CacheWriteTokens, OutputTokens: u.CompletionTokens,
		CacheReadInputTokens: cached, CacheCreationInputTokens: u.CacheWriteTokens}
}

// messageID makes a chat completion's id look like a Message id.
func messageID(id string) string {
	if strings.HasPrefix(id, "msg_") {
		return id
	}
	return "msg_" + id
}

// toolInput is a tool call's arguments as a tool_use input: the arguments when they are a JSON
// object, {} when empty. Anything else is a bad answer from the provider.
func toolInput(args string) (json.RawMessage, error) {
	a := bytes.TrimSpace([]byte(args))
	if len(a) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if a[0] != '{' || !json.Valid(a) {
		return nil, provider.BadResponse(fmt.Errorf("tool call arguments are not a JSON object: %.64q", args))
	}
	return json.RawMessage(a), nil
}

// FromChat translates a chat.completion into a Message named after the client's model. Text
// (and a refusal) becomes a text block, tool calls become tool_use blocks, in that order.
func FromChat(completion []byte, model string) ([]byte, error) {
	return fromChat(completion, 0, model)
}

// fromChat is FromChat for an answer whose usage wrote cacheWrite prompt tokens to the cache
// (chat.Usage.CacheWriteTokens, which the chat.completion's JSON cannot carry).
func fromChat(completion []byte, cacheWrite int64, model string) ([]byte, error) {
	var c chat.Response
	if err := json.Unmarshal(completion, &c); err != nil {
		return nil, provider.BadResponse(fmt.Errorf("decode chat.completion: %w", err))
	}
	if c.Usage != nil {
		c.Usage.CacheWriteTokens = cacheWrite
	}
	if len(c.Choices) == 0 {
		return nil, provider.BadResponse(fmt.Errorf("chat.completion has no choices"))
	}
	ch := c.Choices[0]
	out := Response{
		ID: messageID(c.ID), Type: "message", Role: "assistant", Model: model,
		Content: []ResponseBlock{}, Usage: usageOf(c.Usage),
	}
	text := ch.Message.Content.String()
	if text == "" {
		text = ch.Message.Refusal
	}
	if text != "" {
		out.Content = append(out.Content, ResponseBlock{Type: BlockText, Text: &text})
	}
	for _, tc := range ch.Message.ToolCalls {
		in, err := toolInput(tc.Function.Arguments)
		if err != nil {
			return nil, err
		}
		out.Content = append(out.Content, ResponseBlock{Type: BlockToolUse, ID: tc.ID, Name: tc.Function.Name, Input: in})
	}
	reason := stopReason(ch.FinishReason)
	out.StopReason = &reason
	b, err := json.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("anthropicapi: encode message: %w", err)
	}
	return b, nil
}
