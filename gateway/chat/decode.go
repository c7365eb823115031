package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// DecodeRequest decodes and validates a chat request body. Errors are *apierr.Error of kind
// InvalidRequest naming the offending field.
func DecodeRequest(body []byte) (*Request, error) {
	var r Request
	if err := decode(body, &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks what the JSON types alone do not.
func (r *Request) Validate() error {
	if r.Model == "" {
		return apierr.Invalid("model", "you must provide a model parameter")
	}
	if len(r.Messages) == 0 {
		return apierr.Invalid("messages", "messages must be a non-empty array")
	}
	for i := range r.Messages {
		m := &r.Messages[i]
		switch m.Role {
		case RoleSystem, RoleDeveloper, RoleUser:
			if m.Content == nil {
				return apierr.Invalid(fmt.Sprintf("messages[%d].content", i), "messages[%d] with role %q must have content", i, m.Role)
			}
		case RoleAssistant:
			if m.Content == nil && len(m.ToolCalls) == 0 && m.Refusal == "" {
				return apierr.Invalid(fmt.Sprintf("messages[%d].content", i), "assistant messages[%d] must have content or tool_calls", i)
			}
		case RoleTool:
			if m.ToolCallID == "" {
				return apierr.Invalid(fmt.Sprintf("messages[%d].tool_call_id", i), "tool messages[%d] must have tool_call_id", i)
			}
		case "":
			return apierr.Invalid(fmt.Sprintf("messages[%d].role", i), "messages[%d] must have a role", i)
		default:
			return apierr.Invalid(fmt.Sprintf("messages[%d].role", i), "messages[%d] has unknown role %q", i, m.Role)
		}
	}
	if r.N != nil && *r.N < 1 {
		return apierr.Invalid("n", "n must be at least 1")
	}
	if r.Temperature != nil && (*r.Temperature < 0 || *r.Temperature > 2) {
		return apierr.Invalid("temperature", "temperature must be between 0 and 2")
	}
	if r.StreamOptions != nil && !r.Stream {
		return apierr.Invalid("stream_options", "stream_options is only allowed when stream is true")
	}
	for i, t := range r.Tools {
		if t.Type != "function" || t.Function.Name == "" {
			return apierr.Invalid(fmt.Sprintf("tools[%d]", i), "tools[%d] must be a function with a name", i)
		}
	}
	if f := r.ResponseFormat; f != nil {
		switch f.Type {
		case "text", "json_object":
		case "json_schema":
			if f.JSONSchema == nil || f.JSONSchema.Name == "" {
				return apierr.Invalid("response_format.json_schema", "response_format json_schema needs json_schema with a name")
			}
		default:
			return apierr.Invalid("response_format.type", "unknown response_format type %q", f.Type)
		}
	}
	return nil
}

// IncludeUsage reports whether the client asked for usage in a stream.
func (r *Request) IncludeUsage() bool { return r.StreamOptions != nil && r.StreamOptions.IncludeUsage }

// DecodeEmbeddingRequest decodes and validates an embeddings request body.
func DecodeEmbeddingRequest(body []byte) (*EmbeddingRequest, error) {
	var r EmbeddingRequest
	if err := decode(body, &r); err != nil {
		return nil, err
	}
	if r.Model == "" {
		return nil, apierr.Invalid("model", "you must provide a model parameter")
	}
	if len(r.Input) == 0 {
		return nil, apierr.Invalid("input", "input must be a non-empty string or array of strings")
	}
	switch r.EncodingFormat {
	case "", "float", "base64":
	default:
		return nil, apierr.Invalid("encoding_format", "encoding_format must be float or base64")
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
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return apierr.Invalid("", "invalid JSON value of type %s", typeErr.Value)
		}
		return apierr.Invalid(field, "invalid type for %q: expected %s, got %s", field, jsonType(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return apierr.Invalid("", "the request body is not valid JSON (at byte %d)", syntaxErr.Offset)
	case strings.Contains(err.Error(), "unexpected end of JSON input"):
		return apierr.Invalid("", "the request body is not valid JSON (truncated)")
	}
	return apierr.Invalid("", "invalid request body: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"), strings.HasSuffix(goType, "Stop"), strings.HasSuffix(goType, "Input"):
		return "array"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "number"
	case strings.Contains(goType, "string"):
		return "string"
	case strings.Contains(goType, "bool"):
		return "boolean"
	}
	return "object"
}
