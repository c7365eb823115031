package openaiapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
)

func TestResponsesErrorNamesTheClientsField(t *testing.T) {
	tests := []struct {
		param, msg         string
		wantParam, wantMsg string
	}{
		{"response_format", "response_format is not supported by anthropic models", "text.format", "text.format is not supported by anthropic models"},
		{"max_completion_tokens", "max_completion_tokens must be positive", "max_output_tokens", "max_output_tokens must be positive"},
		{"tools[2].function.strict", "tools[2].function.strict is not supported by gemini models", "tools[2].strict", "tools[2].strict is not supported by gemini models"},
		{"temperature", "temperature must be between 0 and 2", "temperature", "temperature must be between 0 and 2"},
	}
	for _, tt := range tests {
		got := apierr.From(responsesError(apierr.Invalid(tt.param, "%s", tt.msg)))
		if got.Param != tt.wantParam || got.Message != tt.wantMsg || got.Kind != apierr.KindInvalidRequest {
			t.Errorf("%s: got %q %q, want %q %q", tt.param, got.Param, got.Message, tt.wantParam, tt.wantMsg)
		}
	}
	other := errors.New("boom")
	if responsesError(other) != other {
		t.Error("a non-API error was changed")
	}
	rl := &apierr.Error{Kind: apierr.KindRateLimited, Param: "response_format", Message: "x"}
	if responsesError(rl) != error(rl) {
		t.Error("an error that is not an invalid request was changed")
	}
}

func TestDecodeResponsesRequest(t *testing.T) {
	tests := []struct {
		name, body, param string
	}{
		{"unknown field", `{"model":"a/b","input":"x","truncation":"auto"}`, "truncation"},
		{"store", `{"model":"a/b","input":"x","store":true}`, "store"},
		{"no input", `{"model":"a/b"}`, "input"},
		{"hosted tool", `{"model":"a/b","input":"x","tools":[{"type":"file_search"}]}`, "tools[0].type"},
		{"bad item", `{"model":"a/b","input":[{"type":"reasoning"}]}`, "input[0].type"},
		{"function output without call id", `{"model":"a/b","input":[{"type":"function_call_output","output":"x"}]}`, "input[0].call_id"},
		{"max_output_tokens below 16", `{"model":"a/b","input":"x","max_output_tokens":15}`, "max_output_tokens"},
		{"temperature above 2", `{"model":"a/b","input":"x","temperature":3}`, "temperature"},
		{"top_p above 1", `{"model":"a/b","input":"x","top_p":1.1}`, "top_p"},
	}
	for _, tt := range tests {
		_, _, err := decodeResponsesRequest([]byte(tt.body))
		if e := apierr.From(err); e.Kind != apierr.KindInvalidRequest || e.Param != tt.param {
			t.Errorf("%s: got %v (param %q), want a 400 naming %q", tt.name, err, e.Param, tt.param)
		}
	}
	_, _, err := decodeResponsesRequest([]byte(`{"model":"a/b","input":"x","max_output_tokens":15}`))
	if e := apierr.From(err); e.Message != "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 15 instead." || e.Code != "integer_below_min_value" {
		t.Errorf("max_output_tokens 15: %q (code %q)", e.Message, e.Code)
	}
	_, _, err = decodeResponsesRequest([]byte(`{"model":"a/b","input":"x","max_output_tokens":16.5}`))
	if e := apierr.From(err); e.Param != "max_output_tokens" || !strings.Contains(e.Message, "expected an integer") {
		t.Errorf("max_output_tokens 16.5: %q %q", e.Param, e.Message)
	}
	_, r, err := decodeResponsesRequest([]byte(`{"model":"a/b","instructions":"sys","input":[{"role":"user","content":[{"type":"input_text","text":"hi"},{"type":"input_image","image_url":"data:image/png;base64,AA"}]},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call","call_id":"c2","name":"g","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"ok"}],"max_output_tokens":50,"store":false,"reasoning":{"effort":"low"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Messages) != 4 || r.Messages[0].Role != "system" || len(r.Messages[2].ToolCalls) != 2 || r.Messages[3].ToolCallID != "c1" || *r.MaxCompletionTokens != 50 || r.ReasoningEffort != "low" {
		t.Errorf("translated %+v", r)
	}
}
