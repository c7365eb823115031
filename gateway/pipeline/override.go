package pipeline

import (
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/rawjson"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// A routing target's override_params (snapshot.Target.Params) replace the client's values of
// those parameters on the requests sent to that target only: the call is copied, never
// changed, so that the plan's other targets get the client's request as it came.

// overrideChat returns call with t's parameters set: on the decoded request, which translating
// adapters read, and on the raw OpenAI body, which OpenAI-compatible adapters send as it is.
func overrideChat(call *provider.ChatCall, t snapshot.Target) (*provider.ChatCall, error) {
	if len(t.Params) == 0 {
		return call, nil
	}
	r := *call.Request
	if err := r.Override(t.Params); err != nil {
		return nil, apierr.Invalid("model", "the model's target %s has invalid override_params: %v", t.Endpoint.FQN, err)
	}
	out := &provider.ChatCall{Request: &r, Body: call.Body}
	if call.Body != nil {
		body, err := setParams(call.Body, t.Params)
		if err != nil {
			return nil, err
		}
		out.Body = body
	}
	return out, nil
}

// anthropicParams are the override_params that Anthropic's Messages API takes under the same
// name and meaning.
var anthropicParams = map[string]bool{"temperature": true, "top_p": true, "max_tokens": true}

// overrideMessages returns call with t's parameters set on its raw Anthropic body; a parameter
// the Messages API has no equivalent of is refused, naming it.
func overrideMessages(call *provider.MessagesCall, t snapshot.Target) (*provider.MessagesCall, error) {
	if len(t.Params) == 0 {
		return call, nil
	}
	for _, p := range t.Params {
		if !anthropicParams[p.Name] {
			return nil, apierr.Invalid(p.Name, "the model's target %s sets %s (override_params), which Anthropic's Messages API does not take", t.Endpoint.FQN, p.Name)
		}
	}
	body, err := setParams(call.Body, t.Params)
	if err != nil {
		return nil, err
	}
	out := *call
	out.Body = body
	return &out, nil
}

// setParams sets ps in the JSON object body, returning a new body.
func setParams(body []byte, ps []chat.Param) ([]byte, error) {
	for _, p := range ps {
		var err error
		if body, err = rawjson.Set(body, p.Name, p.Value); err != nil {
			return nil, apierr.Invalid("", "the request body is not a JSON object")
		}
	}
	return body, nil
}
