package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"

	fastjson "github.com/segmentio/encoding/json"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// DecodeRequest decodes and validates a chat request body. Errors are *apierr.Error of kind
// InvalidRequest naming the offending field.
func DecodeRequest(body []byte) (*Request, error) {
	var r Request
	if err := r.Decode(body); err != nil {
		return nil, err
	}
	return &r, nil
}

// Decode is DecodeRequest into r, which the caller may allocate with what else the request
// needs; r is left in an unspecified state on error.
func (r *Request) Decode(body []byte) error {
	if err := decode(body, r); err != nil {
		return err
	}
	return r.Validate()
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
	if err := r.validateRanges(); err != nil {
		return err
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

// validateRanges checks the parameters OpenAI's API reference gives a range for.
func (r *Request) validateRanges() error {
	ints := []struct {
		param  string
		v      *int64
		lo, hi int64
	}{
		{"n", r.N, 1, 128},
		{"max_tokens", r.MaxTokens, 1, math.MaxInt64},
		{"max_completion_tokens", r.MaxCompletionTokens, 1, math.MaxInt64},
		{"top_logprobs", r.TopLogprobs, 0, 20},
	}
	for _, c := range ints {
		if err := IntIn(c.param, c.v, c.lo, c.hi); err != nil {
			return err
		}
	}
	numbers := []struct {
		param  string
		v      *float64
		lo, hi float64
	}{
		{"temperature", r.Temperature, 0, 2},
		{"top_p", r.TopP, 0, 1},
		{"presence_penalty", r.PresencePenalty, -2, 2},
		{"frequency_penalty", r.FrequencyPenalty, -2, 2},
	}
	for _, c := range numbers {
		if err := NumberIn(c.param, c.v, c.lo, c.hi); err != nil {
			return err
		}
	}
	for _, b := range r.LogitBias {
		if err := IntIn("logit_bias", &b, -100, 100); err != nil {
			return err
		}
	}
	return nil
}

// IntIn returns an invalid-request error naming param when v is set and outside [lo, hi]
// (math.MaxInt64 for no upper bound), in OpenAI's words and with its code:
// "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 1000 instead."
func IntIn(param string, v *int64, lo, hi int64) error {
	switch {
	case v == nil:
		return nil
	case *v < lo:
		return &apierr.Error{Kind: apierr.KindInvalidRequest, Param: param, Code: "integer_below_min_value",
			Message: fmt.Sprintf("Invalid '%s': integer below minimum value. Expected a value >= %d, but got %d instead.", param, lo, *v)}
	case *v > hi:
		return &apierr.Error{Kind: apierr.KindInvalidRequest, Param: param, Code: "integer_above_max_value",
			Message: fmt.Sprintf("Invalid '%s': integer above maximum value. Expected a value <= %d, but got %d instead.", param, hi, *v)}
	}
	return nil
}

// NumberIn is IntIn for a decimal parameter.
func NumberIn(param string, v *float64, lo, hi float64) error {
	switch {
	case v == nil:
		return nil
	case *v < lo:
		return &apierr.Error{Kind: apierr.KindInvalidRequest, Param: param, Code: "decimal_below_min_value",
			Message: fmt.Sprintf("Invalid '%s': decimal below minimum value. Expected a value >= %g, but got %g instead.", param, lo, *v)}
	case *v > hi:
		return &apierr.Error{Kind: apierr.KindInvalidRequest, Param: param, Code: "decimal_above_max_value",
			Message: fmt.Sprintf("Invalid '%s': decimal above maximum value. Expected a value <= %g, but got %g instead.", param, hi, *v)}
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
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks what the JSON types alone do not.
func (r *EmbeddingRequest) Validate() error {
	if r.Model == "" {
		return apierr.Invalid("model", "you must provide a model parameter")
	}
	if len(r.Input) == 0 {
		return apierr.Invalid("input", "input must be a non-empty string or array of strings")
	}
	switch r.EncodingFormat {
	case "", "float", "base64":
	default:
		return apierr.Invalid("encoding_format", "encoding_format must be float or base64")
	}
	return IntIn("dimensions", r.Dimensions, 1, math.MaxInt64)
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
	// The fast decoder first: segmentio's decodes what encoding/json does, into the same
	// values, in about half the time and allocations. A body it refuses is decoded again by
	// encoding/json, whose errors the messages below are written for.
	if fastjson.Unmarshal(body, v) == nil {
		return nil
	}
	reflect.ValueOf(v).Elem().SetZero() // nothing of the failed attempt stays
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
		return apierr.Invalid(field, "invalid type for %q: expected %s, got %s", field, ExpectedType(typeErr.Type), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return apierr.Invalid("", "the request body is not valid JSON (at byte %d)", syntaxErr.Offset)
	case strings.Contains(err.Error(), "unexpected end of JSON input"):
		return apierr.Invalid("", "the request body is not valid JSON (truncated)")
	}
	return apierr.Invalid("", "invalid request body: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// ExpectedType names the JSON type a Go type decodes from, with its article, for messages:
// "an integer" (a number with a fraction is not one), "a number", "a string", "an array"...
func ExpectedType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}
