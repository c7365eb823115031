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

func TestDataURL(t *testing.T) {
	tests := []struct {
		url, mediaType, data string
		isData, bad          bool
	}{
		{"data:image/png;base64,iVBO", "image/png", "iVBO", true, false},
		{"https://example.com/a.png", "", "", false, false},
		{"data:image/png,iVBO", "", "", true, true},    // not base64
		{"data:;base64,iVBO", "", "", true, true},      // no media type
		{"data:image/png;base64,", "", "", true, true}, // no data
	}
	for _, tt := range tests {
		mt, data, isData, err := DataURL("p", tt.url)
		if mt != tt.mediaType || data != tt.data || isData != tt.isData || (err != nil) != tt.bad {
			t.Errorf("DataURL(%q) = %q, %q, %v, %v", tt.url, mt, data, isData, err)
		}
		if err != nil && apierr.From(err).Param != "p" {
			t.Errorf("DataURL(%q): error does not name the param: %v", tt.url, err)
		}
	}
}
