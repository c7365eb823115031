package anthropicapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
)

// DecodeRequest decodes and validates a Messages request; countTokens relaxes it to a
// count_tokens request, which has no max_tokens. Every failure is an invalid-request error whose
// message names the field. Block types it does not know are accepted here: a native provider
// may know them (ToChat refuses them for the others).
func DecodeRequest(body []byte, countTokens bool) (*Request, error) {
	var r Request
	if err := decode(body, &r); err != nil {
		return nil, err
	}
	if err := r.validate(countTokens); err != nil {
		return nil, err
	}
	return &r, nil
}

// decode unmarshals body into v and turns JSON errors into invalid-request errors.
func decode(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return apierr.Invalid("", "the request body is empty; send a JSON object")
	}
	if body[0] != '{' {
		return apierr.Invalid("", "the request body must be a JSON object")
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return apierr.Invalid(typeErr.Field, "%s: invalid type: expected %s, got %s", typeErr.Field, chat.ExpectedType(typeErr.Type), typeErr.Value)
	case errors.As(err, &typeErr):
		return apierr.Invalid("", "invalid JSON value of type %s", typeErr.Value)
	case errors.As(err, &syntaxErr):
		return apierr.Invalid("", "the request body is not valid JSON (at byte %d)", syntaxErr.Offset)
	case strings.Contains(err.Error(), "unexpected end of JSON input"):
		return apierr.Invalid("", "the request body is not valid JSON (truncated)")
	}
	return apierr.Invalid("", "invalid request body: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// invalid returns an invalid-request error for field whose message starts with the field, as
// Anthropic's do: its error shape has no param.
func invalid(field, format string, args ...any) *apierr.Error {
	return apierr.Invalid(field, "%s: %s", field, fmt.Sprintf(format, args...))
}

func (r *Request) validate(countTokens bool) error {
	if r.Model == "" {
		return invalid("model", "field required")
	}
	if !countTokens {
		if r.MaxTokens == nil {
			return invalid("max_tokens", "field required")
		}
		if *r.MaxTokens < 1 {
			return invalid("max_tokens", "must be at least 1")
		}
	}
	if len(r.Messages) == 0 {
		return invalid("messages", "field required: at least one message")
	}
	if t := r.Temperature; t != nil && (*t < 0 || *t > 1) {
		return invalid("temperature", "must be between 0 and 1")
	}
	if p := r.TopP; p != nil && (*p < 0 || *p > 1) {
		return invalid("top_p", "must be between 0 and 1")
	}
	if k := r.TopK; k != nil && *k < 0 {
		return invalid("top_k", "must not be negative")
	}
	if r.System != nil {
		for i, b := range r.System.Blocks {
			if b.Type != BlockText {
				return invalid(fmt.Sprintf("system[%d].type", i), "system blocks must be text blocks")
			}
		}
	}
	for i, m := range r.Messages {
		if m.Role != "user" && m.Role != "assistant" && m.Role != "system" {
			return invalid(fmt.Sprintf("messages[%d].role", i), "must be \"user\", \"assistant\" or \"system\"")
		}
		if m.Content == nil {
			return invalid(fmt.Sprintf("messages[%d].content", i), "field required")
		}
		if m.Role == "system" {
			for j, b := range m.Content.Blocks {
				if b.Type != BlockText {
					return invalid(fmt.Sprintf("messages[%d].content[%d].type", i, j), "system turns hold text only")
				}
			}
		}
		if err := validateBlocks(fmt.Sprintf("messages[%d].content", i), m.Content.Blocks); err != nil {
			return err
		}
	}
	for i, t := range r.Tools {
		if t.Name == "" {
			return invalid(fmt.Sprintf("tools[%d].name", i), "field required")
		}
		if (t.Type == "" || t.Type == "custom") && len(t.InputSchema) == 0 {
			return invalid(fmt.Sprintf("tools[%d].input_schema", i), "field required")
		}
	}
	if tc := r.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto", "any", "none":
		case "tool":
			if tc.Name == "" {
				return invalid("tool_choice.name", "field required when tool_choice.type is \"tool\"")
			}
		default:
			return invalid("tool_choice.type", "must be \"auto\", \"any\", \"tool\" or \"none\"")
		}
	}
	if r.Thinking != nil && r.Thinking.Type == "" {
		return invalid("thinking.type", "field required")
	}
	return nil
}

// validateBlocks checks the blocks of the types the gateway knows.
func validateBlocks(path string, blocks []Block) error {
	for j, b := range blocks {
		p := fmt.Sprintf("%s[%d]", path, j)
		switch b.Type {
		case "":
			return invalid(p+".type", "field required")
		case BlockText:
		case BlockImage:
			s := b.Source
			switch {
			case s == nil:
				return invalid(p+".source", "field required")
			case s.Type == "base64" && (s.MediaType == "" || s.Data == ""):
				return invalid(p+".source", "a base64 source needs media_type and data")
			case s.Type == "url" && s.URL == "":
				return invalid(p+".source.url", "field required")
			case s.Type == "":
				return invalid(p+".source.type", "field required")
			}
		case BlockToolUse:
			if b.ID == "" || b.Name == "" {
				return invalid(p, "a tool_use block needs an id and a name")
			}
			if in := bytes.TrimSpace(b.Input); len(in) == 0 || in[0] != '{' {
				return invalid(p+".input", "must be an object")
			}
		case BlockToolResult:
			if b.ToolUseID == "" {
				return invalid(p+".tool_use_id", "field required")
			}
			if b.Content != nil {
				if err := validateBlocks(p+".content", b.Content.Blocks); err != nil {
					return err
				}
			}
		case BlockThinking:
			if b.Thinking == nil || b.Signature == "" {
				return invalid(p, "a thinking block needs thinking and signature")
			}
		case BlockRedactedThinking:
			if b.Data == "" {
				return invalid(p+".data", "field required")
			}
		}
	}
	return nil
}

// translatedFields are the top-level request fields ToChat can carry to a model that does not
// speak Messages, or that are documented pass-throughs there: hints a model without Anthropic's
// features satisfies as it is. service_tier only picks Anthropic's capacity pool;
// context_management edits thinking blocks, which the translated path drops anyway;
// output_config may carry effort, a hint, and format, a JSON schema (see ToChat). Claude Code
// sends all three.
var translatedFields = map[string]bool{
	"model": true, "messages": true, "system": true, "max_tokens": true, "stop_sequences": true,
	"temperature": true, "top_p": true, "top_k": true, "tools": true, "tool_choice": true,
	"metadata": true, "stream": true, "thinking": true, "service_tier": true,
	"context_management": true, "output_config": true,
}

// notSupported is the error for a parameter a translated model cannot honour.
func notSupported(field string) *apierr.Error {
	return apierr.Invalid(field, "%s is not supported by this model; it is only available for anthropic models", field)
}

// valueNotSupported is the error for a value of field a translated model cannot honour.
func valueNotSupported(field, value string) *apierr.Error {
	return apierr.Invalid(field, "%s %q is not supported by this model; it is only available for anthropic models", field, value)
}

// ToChat translates a decoded Messages request into the gateway's OpenAI-shaped chat request,
// for a model that does not speak Messages natively. body is the request's raw JSON, used only
// to find top-level fields the translation cannot carry. A parameter that would change the
// answer and that the chat dialect cannot express (top_k, an enabled thinking config, server
// tools, block types other than text, image, tool_use, tool_result and thinking, images inside
// tool results, unknown top-level fields) is an invalid-request error naming it, never dropped.
//
// Thinking and redacted_thinking blocks in the history are dropped: they are the model's own
// earlier reasoning, signed for Anthropic, and no other provider can take them back. The result
// has passed chat.Request.Validate.
func ToChat(r *Request, body []byte) (*chat.Request, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, apierr.Invalid("", "the request body must be a JSON object")
	}
	for k := range top {
		if !translatedFields[k] {
			return nil, notSupported(k)
		}
	}
	if r.TopK != nil {
		return nil, notSupported("top_k")
	}
	// thinking "adaptive" lets the model decide whether to think: a model that cannot think
	// satisfies it as it is (a documented pass-through). "enabled" asks for thinking blocks
	// within a budget, which other providers cannot return: refused.
	if r.Thinking != nil && r.Thinking.Type != "disabled" && r.Thinking.Type != "adaptive" {
		return nil, notSupported("thinking")
	}
	// output_config.effort is a hint of how hard to think, also a documented pass-through;
	// output_config.format (a JSON schema the answer follows) is the chat dialect's
	// response_format json_schema. Any other output_config field is refused.
	var format *chat.ResponseFormat
	if raw, ok := top["output_config"]; ok {
		var oc map[string]json.RawMessage
		if err := json.Unmarshal(raw, &oc); err != nil {
			return nil, invalid("output_config", "must be an object")
		}
		for k, v := range oc {
			switch k {
			case "effort":
			case "format":
				var f struct {
					Type   string          `json:"type"`
					Schema json.RawMessage `json:"schema"`
				}
				if err := json.Unmarshal(v, &f); err != nil || f.Type != "json_schema" || len(f.Schema) == 0 || f.Schema[0] != '{' {
					return nil, invalid("output_config.format", `must be {"type": "json_schema", "schema": {...}}`)
				}
				strict := true // Anthropic's structured output always holds the answer to the schema
				format = &chat.ResponseFormat{Type: "json_schema", JSONSchema: &chat.JSONSchema{Name: "output", Schema: f.Schema, Strict: &strict}}
			default:
				return nil, notSupported("output_config." + k)
			}
		}
	}
	out := &chat.Request{
		Model:       r.Model,
		MaxTokens:   r.MaxTokens,
		Temperature: r.Temperature,
		TopP:        r.TopP,
		Stop:        chat.Stop(r.StopSequences),
		Stream:      r.Stream,
		// A JSON schema for the answer (output_config.format), or nil.
		ResponseFormat: format,
	}
	if r.Stream {
		out.StreamOptions = &chat.StreamOptions{IncludeUsage: true}
	}
	if r.Metadata != nil {
		out.User = r.Metadata.UserID
	}
	if r.System != nil {
		if r.System.Blocks == nil {
			if r.System.Text != "" {
				out.Messages = append(out.Messages, chat.Message{Role: chat.RoleSystem, Content: chat.TextContent(r.System.Text)})
			}
		} else {
			for _, b := range r.System.Blocks {
				out.Messages = append(out.Messages, chat.Message{Role: chat.RoleSystem, Content: chat.TextContent(b.Text)})
			}
		}
	}
	for i, m := range r.Messages {
		msgs, err := messageToChat(i, &m)
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	for i, t := range r.Tools {
		if t.Type != "" && t.Type != "custom" {
			return nil, valueNotSupported(fmt.Sprintf("tools[%d].type", i), t.Type)
		}
		out.Tools = append(out.Tools, chat.Tool{Type: "function", Function: chat.Function{
			Name: t.Name, Description: t.Description, Parameters: t.InputSchema, Strict: t.Strict,
		}})
	}
	if tc := r.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto", "none":
			out.ToolChoice = &chat.ToolChoice{Mode: tc.Type}
		case "any":
			out.ToolChoice = &chat.ToolChoice{Mode: "required"}
		case "tool":
			out.ToolChoice = &chat.ToolChoice{Function: tc.Name}
		}
		if tc.DisableParallelToolUse && len(r.Tools) > 0 {
			no := false
			out.ParallelToolCalls = &no
		}
	}
	// What reaches the chat pipeline is checked as a chat request once, here, as every other
	// surface's is, so adapters see only valid requests.
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// messageToChat translates one turn. A user turn's tool_result blocks become tool messages,
// placed before the rest of the turn because a chat model wants them right after the assistant
// message that called the tools; the other blocks become one user message.
func messageToChat(i int, m *Message) ([]chat.Message, error) {
	if m.Role == "system" {
		// A system turn in the conversation (validated to hold text only).
		return []chat.Message{{Role: chat.RoleSystem, Content: chat.TextContent(textOf(m.Content))}}, nil
	}
	if m.Content.Blocks == nil {
		return []chat.Message{{Role: m.Role, Content: chat.TextContent(m.Content.Text)}}, nil
	}
	var out []chat.Message
	var parts []chat.Part
	var calls []chat.ToolCall
	for j, b := range m.Content.Blocks {
		path := fmt.Sprintf("messages[%d].content[%d]", i, j)
		switch b.Type {
		case BlockText:
			parts = append(parts, chat.Part{Type: chat.PartText, Text: b.Text})
		case BlockImage:
			if m.Role != "user" {
				return nil, invalid(path, "images are only allowed in user turns")
			}
			u, err := imageURL(path, b.Source)
			if err != nil {
				return nil, err
			}
			parts = append(parts, chat.Part{Type: chat.PartImage, ImageURL: &chat.ImageURL{URL: u}})
		case BlockToolUse:
			if m.Role != "assistant" {
				return nil, invalid(path, "tool_use blocks are only allowed in assistant turns")
			}
			var args bytes.Buffer
			if err := json.Compact(&args, b.Input); err != nil {
				return nil, invalid(path+".input", "must be a JSON object")
			}
			calls = append(calls, chat.ToolCall{ID: b.ID, Type: "function", Function: chat.FunctionCall{Name: b.Name, Arguments: args.String()}})
		case BlockToolResult:
			if m.Role != "user" {
				return nil, invalid(path, "tool_result blocks are only allowed in user turns")
			}
			text, err := toolResultText(path, &b)
			if err != nil {
				return nil, err
			}
			out = append(out, chat.Message{Role: chat.RoleTool, ToolCallID: b.ToolUseID, Content: chat.TextContent(text)})
		case BlockThinking, BlockRedactedThinking:
			// The model's own earlier reasoning: no other provider can take it back.
		default:
			return nil, valueNotSupported(path+".type", b.Type)
		}
	}
	if len(parts) == 0 && len(calls) == 0 {
		return out, nil
	}
	msg := chat.Message{Role: m.Role, ToolCalls: calls}
	switch {
	case m.Role == "assistant":
		// An assistant message carries text, not parts, everywhere.
		var text strings.Builder
		for _, p := range parts {
			text.WriteString(p.Text)
		}
		if text.Len() > 0 || len(calls) == 0 {
			msg.Content = chat.TextContent(text.String())
		}
	case len(parts) == 1 && parts[0].Type == chat.PartText:
		msg.Content = chat.TextContent(parts[0].Text)
	default:
		msg.Content = &chat.Content{Parts: parts}
	}
	return append(out, msg), nil
}

// imageURL is an image source as an OpenAI image URL: a data: URL for base64 data.
func imageURL(path string, s *ImageSource) (string, error) {
	switch s.Type {
	case "base64":
		return "data:" + s.MediaType + ";base64," + s.Data, nil
	case "url":
		return s.URL, nil
	}
	return "", valueNotSupported(path+".source.type", s.Type)
}

// toolResultText flattens a tool result's content to text. A result marked is_error is
// prefixed "Error: ", since a chat tool message has no error flag and the model must still
// learn that the call failed.
func toolResultText(path string, b *Block) (string, error) {
	var text strings.Builder
	if b.IsError {
		text.WriteString("Error: ")
	}
	if b.Content == nil {
		return text.String(), nil
	}
	if b.Content.Blocks == nil {
		text.WriteString(b.Content.Text)
		return text.String(), nil
	}
	for k, c := range b.Content.Blocks {
		if c.Type != BlockText {
			return "", valueNotSupported(fmt.Sprintf("%s.content[%d].type", path, k), c.Type)
		}
		if k > 0 {
			text.WriteByte('\n')
		}
		text.WriteString(c.Text)
	}
	return text.String(), nil
}

// textOf joins a content's text.
func textOf(c *Content) string {
	if c.Blocks == nil {
		return c.Text
	}
	var b strings.Builder
	for _, blk := range c.Blocks {
		b.WriteString(blk.Text)
	}
	return b.String()
}
