package provider

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
)

// Param is an OpenAI request parameter that asks a provider for something it may not offer.
type Param int

// The parameters a translating adapter may be unable to honour. Each is "asked for" only when
// set to a value that requests something: n > 1, logprobs true, a non-zero penalty, ...
const (
	ParamN                   Param = iota // n > 1
	ParamLogprobs                         // logprobs: true
	ParamTopLogprobs                      // top_logprobs > 0
	ParamLogitBias                        // a non-empty logit_bias
	ParamPresencePenalty                  // a non-zero presence_penalty
	ParamFrequencyPenalty                 // a non-zero frequency_penalty
	ParamSeed                             // any seed
	ParamResponseFormat                   // any response_format but text
	ParamReasoningEffort                  // any reasoning_effort
	ParamSequentialToolCalls              // parallel_tool_calls: false, with tools
	ParamStrictTools                      // a tool with strict: true
	ParamJSONObject                       // response_format json_object (JSON without a schema)
)

// Unsupported returns a 400 naming the first of params the request asks for, saying that
// provider's models cannot honour it, or nil. It is the one rule every translating adapter
// follows: a parameter a provider cannot honour is refused, never silently dropped.
func Unsupported(r *chat.Request, provider string, params ...Param) error {
	for _, p := range params {
		if name := asked(r, p); name != "" {
			if p == ParamJSONObject {
				return apierr.Invalid(name, "response_format json_object is not supported by %s models; send json_schema with a schema", provider)
			}
			return NotSupported(name, provider)
		}
	}
	return nil
}

// NotSupported is the error for a parameter that provider's models cannot honour.
func NotSupported(param, provider string) *apierr.Error {
	return apierr.Invalid(param, "%s is not supported by %s models", param, provider)
}

// StructuredOutput returns the JSON schema a request's response_format json_schema asks the
// answer to follow, or nil when it asks for none (no response_format, or text). A json_schema
// without a schema is refused: a provider that constrains output by schema needs one.
func StructuredOutput(r *chat.Request) (json.RawMessage, error) {
	f := r.ResponseFormat
	if f == nil || f.Type != "json_schema" {
		return nil, nil
	}
	if f.JSONSchema == nil || len(bytes.TrimSpace(f.JSONSchema.Schema)) == 0 || bytes.Equal(bytes.TrimSpace(f.JSONSchema.Schema), []byte("null")) {
		return nil, apierr.Invalid("response_format.json_schema.schema", "response_format json_schema needs a schema")
	}
	return f.JSONSchema.Schema, nil
}

// asked returns the parameter's name in the request when the request asks for it.
func asked(r *chat.Request, p Param) string {
	switch p {
	case ParamN:
		if r.N != nil && *r.N > 1 {
			return "n"
		}
	case ParamLogprobs:
		if r.Logprobs != nil && *r.Logprobs {
			return "logprobs"
		}
	case ParamTopLogprobs:
		if r.TopLogprobs != nil && *r.TopLogprobs != 0 {
			return "top_logprobs"
		}
	case ParamLogitBias:
		if len(r.LogitBias) > 0 {
			return "logit_bias"
		}
	case ParamPresencePenalty:
		if r.PresencePenalty != nil && *r.PresencePenalty != 0 {
			return "presence_penalty"
		}
	case ParamFrequencyPenalty:
		if r.FrequencyPenalty != nil && *r.FrequencyPenalty != 0 {
			return "frequency_penalty"
		}
	case ParamSeed:
		if r.Seed != nil {
			return "seed"
		}
	case ParamResponseFormat:
		if r.ResponseFormat != nil && r.ResponseFormat.Type != "text" {
			return "response_format"
		}
	case ParamReasoningEffort:
		if r.ReasoningEffort != "" {
			return "reasoning_effort"
		}
	case ParamSequentialToolCalls:
		if len(r.Tools) > 0 && r.ParallelToolCalls != nil && !*r.ParallelToolCalls {
			return "parallel_tool_calls"
		}
	case ParamJSONObject:
		if r.ResponseFormat != nil && r.ResponseFormat.Type == "json_object" {
			return "response_format"
		}
	case ParamStrictTools:
		for i, t := range r.Tools {
			if t.Function.Strict != nil && *t.Function.Strict {
				return fmt.Sprintf("tools[%d].function.strict", i)
			}
		}
	}
	return ""
}
