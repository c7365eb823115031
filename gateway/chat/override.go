package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// Param is one request parameter a routing target sets for the requests sent to it (a
// load-balance target's override_params): its OpenAI name and its JSON value.
type Param struct {
	Name  string
	Value json.RawMessage
}

// OverridableParams are the parameters a target may set: the sampling and length parameters
// every chat adapter translates.
var OverridableParams = []string{"temperature", "top_p", "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty", "seed", "stop"}

// CheckParam reports whether p may be set on a target's requests: a parameter of
// OverridableParams whose value has the type and range a client's request is held to (see
// Validate). The error names the parameter.
func CheckParam(p Param) error {
	if !slices.Contains(OverridableParams, p.Name) {
		return fmt.Errorf("%s cannot be overridden; these can: %v", p.Name, OverridableParams)
	}
	var r Request
	if err := r.Override([]Param{p}); err != nil {
		return fmt.Errorf("invalid value %s for %s", p.Value, p.Name)
	}
	if err := r.validateRanges(); err != nil {
		return errors.New(apierr.From(err).Message) // names the parameter
	}
	return nil
}

// Override sets ps on r, replacing what the client sent for those parameters and keeping the
// rest. It never writes through r's pointers, which a shallow copy of the client's request
// shares with it. A parameter not in OverridableParams is an error.
func (r *Request) Override(ps []Param) error {
	for _, p := range ps {
		obj, err := json.Marshal(map[string]json.RawMessage{p.Name: p.Value})
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		var v Request // decoded apart: json.Unmarshal would write through r's pointers
		if err := json.Unmarshal(obj, &v); err != nil {
			return fmt.Errorf("%s: invalid value %s", p.Name, p.Value)
		}
		switch p.Name {
		case "temperature":
			r.Temperature = v.Temperature
		case "top_p":
			r.TopP = v.TopP
		case "max_tokens":
			r.MaxTokens = v.MaxTokens
		case "max_completion_tokens":
			r.MaxCompletionTokens = v.MaxCompletionTokens
		case "presence_penalty":
			r.PresencePenalty = v.PresencePenalty
		case "frequency_penalty":
			r.FrequencyPenalty = v.FrequencyPenalty
		case "seed":
			r.Seed = v.Seed
		case "stop":
			r.Stop = v.Stop
		default:
			return fmt.Errorf("%s cannot be overridden", p.Name)
		}
	}
	return nil
}
