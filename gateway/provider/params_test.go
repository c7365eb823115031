package provider

import (
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
)

func TestUnsupported(t *testing.T) {
	n2, n1, yes, no, zero, half := int64(2), int64(1), true, false, 0.0, 0.5
	tool := []chat.Tool{{Type: "function", Function: chat.Function{Name: "f"}}}
	strict := []chat.Tool{{Type: "function", Function: chat.Function{Name: "f"}}, {Type: "function", Function: chat.Function{Name: "g", Strict: &yes}}}
	all := []Param{ParamN, ParamLogprobs, ParamTopLogprobs, ParamLogitBias, ParamPresencePenalty, ParamFrequencyPenalty, ParamSeed, ParamResponseFormat, ParamReasoningEffort, ParamSequentialToolCalls, ParamStrictTools}
	tests := []struct {
		name string
		r    chat.Request
		want string // the named parameter, "" for none
	}{
		{"nothing asked", chat.Request{N: &n1, Logprobs: &no, PresencePenalty: &zero, ResponseFormat: &chat.ResponseFormat{Type: "text"}, Tools: tool, ParallelToolCalls: &yes}, ""},
		{"n", chat.Request{N: &n2}, "n"},
		{"logprobs", chat.Request{Logprobs: &yes}, "logprobs"},
		{"logit bias", chat.Request{LogitBias: map[string]int64{"1": 2}}, "logit_bias"},
		{"penalty", chat.Request{FrequencyPenalty: &half}, "frequency_penalty"},
		{"seed", chat.Request{Seed: &n1}, "seed"},
		{"json", chat.Request{ResponseFormat: &chat.ResponseFormat{Type: "json_object"}}, "response_format"},
		{"sequential tools", chat.Request{Tools: tool, ParallelToolCalls: &no}, "parallel_tool_calls"},
		{"sequential without tools asks nothing", chat.Request{ParallelToolCalls: &no}, ""},
		{"strict tool", chat.Request{Tools: strict}, "tools[1].function.strict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Unsupported(&tt.r, "acme", all...)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			e := apierr.From(err)
			if e.Kind != apierr.KindInvalidRequest || e.Param != tt.want || e.Message != tt.want+" is not supported by acme models" {
				t.Errorf("got %+v, want a 400 naming %s", e, tt.want)
			}
			if Unsupported(&tt.r, "acme") != nil {
				t.Error("a provider that lists nothing refused the request")
			}
		})
	}
}
