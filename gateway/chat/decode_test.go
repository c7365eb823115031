package chat

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	fastjson "github.com/segmentio/encoding/json"

	"github.com/llmgw/llmgw/gateway/apierr"
)

func TestDecodeRequestAcceptsTheOpenAIShapes(t *testing.T) {
	body := `{"model":"a/b","messages":[
		{"role":"developer","content":"be terse"},
		{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}},{"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]},
		{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"42"}],
		"stop":"END","tool_choice":{"type":"function","function":{"name":"f"}},
		"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
		"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"},"strict":true}},
		"stream":true,"stream_options":{"include_usage":true},"n":1,"seed":7}`
	r, err := DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Stop) != 1 || r.ToolChoice.Function != "f" || !r.IncludeUsage() || r.Messages[1].Content.Parts[2].Raw == nil {
		t.Errorf("decoded %+v", r)
	}
	// Parts this package does not model survive a round trip unchanged.
	out, err := json.Marshal(r.Messages[1].Content)
	if err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(out, &back); err != nil || back[2]["type"] != "input_audio" || back[1]["image_url"].(map[string]any)["detail"] != "low" {
		t.Errorf("round trip %s", out)
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	tests := []struct{ name, body, param string }{
		{"stop of numbers", `{"model":"a/b","messages":[{"role":"user","content":"x"}],"stop":[1]}`, "stop"},
		{"tool_choice unknown mode", `{"model":"a/b","messages":[{"role":"user","content":"x"}],"tool_choice":"always"}`, ""},
		{"part without type", `{"model":"a/b","messages":[{"role":"user","content":[{"text":"x"}]}]}`, ""},
		{"n zero", `{"model":"a/b","messages":[{"role":"user","content":"x"}],"n":0}`, "n"},
		{"temperature too high", `{"model":"a/b","messages":[{"role":"user","content":"x"}],"temperature":3}`, "temperature"},
		{"stream options without stream", `{"model":"a/b","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}`, "stream_options"},
		{"tool without name", `{"model":"a/b","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]}`, "tools[0]"},
		{"json_schema without schema", `{"model":"a/b","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema"}}`, "response_format.json_schema"},
		{"assistant with nothing", `{"model":"a/b","messages":[{"role":"assistant"}]}`, "messages[0].content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(tt.body))
			var e *apierr.Error
			if !errors.As(err, &e) || e.Kind != apierr.KindInvalidRequest || e.Param != tt.param {
				t.Errorf("got %#v, want invalid request naming %q", err, tt.param)
			}
		})
	}
}

// FuzzDecodeRequest: no input crashes the decoder, and every failure is a 400.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"model":"a/b","messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"model":"a/b","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}],"stop":["a"],"tool_choice":"auto"}`))
	f.Add([]byte(`{"model":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeRequest(body)
		if err != nil {
			var e *apierr.Error
			if !errors.As(err, &e) || e.Kind != apierr.KindInvalidRequest {
				t.Fatalf("error %v is not an invalid-request error", err)
			}
			return
		}
		if r.Model == "" || len(r.Messages) == 0 {
			t.Fatalf("accepted a request without model or messages: %s", body)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("an accepted request does not encode: %v", err)
		}
	})
}

// TestDecodeRequestRanges: every parameter OpenAI documents a range for is checked here, with
// OpenAI's message and code, instead of being forwarded.
func TestDecodeRequestRanges(t *testing.T) {
	const base = `{"model":"a/b","messages":[{"role":"user","content":"x"}],`
	tests := []struct{ name, field, param, msg, code string }{
		{"n too many", `"n":1000`, "n", "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 1000 instead.", "integer_above_max_value"},
		{"n zero", `"n":0`, "n", "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.", "integer_below_min_value"},
		{"negative max_tokens", `"max_tokens":-5`, "max_tokens", "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got -5 instead.", "integer_below_min_value"},
		{"zero max_completion_tokens", `"max_completion_tokens":0`, "max_completion_tokens", "Expected a value >= 1, but got 0", "integer_below_min_value"},
		{"temperature above 2", `"temperature":2.5`, "temperature", "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 instead.", "decimal_above_max_value"},
		{"negative temperature", `"temperature":-0.1`, "temperature", "decimal below minimum value", "decimal_below_min_value"},
		{"top_p above 1", `"top_p":1.5`, "top_p", "Expected a value <= 1, but got 1.5", "decimal_above_max_value"},
		{"presence_penalty below -2", `"presence_penalty":-3`, "presence_penalty", "Expected a value >= -2, but got -3", "decimal_below_min_value"},
		{"frequency_penalty above 2", `"frequency_penalty":2.5`, "frequency_penalty", "Expected a value <= 2, but got 2.5", "decimal_above_max_value"},
		{"top_logprobs above 20", `"logprobs":true,"top_logprobs":21`, "top_logprobs", "Expected a value <= 20, but got 21", "integer_above_max_value"},
		{"negative top_logprobs", `"logprobs":true,"top_logprobs":-1`, "top_logprobs", "Expected a value >= 0, but got -1", "integer_below_min_value"},
		{"logit_bias above 100", `"logit_bias":{"50256":101}`, "logit_bias", "Expected a value <= 100, but got 101", "integer_above_max_value"},
		{"a fraction for an integer", `"n":1.5`, "n", `invalid type for "n": expected an integer, got number 1.5`, ""},
		{"a string for a number", `"temperature":"hot"`, "temperature", `invalid type for "temperature": expected a number, got string`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(base + tt.field + `}`))
			var e *apierr.Error
			if !errors.As(err, &e) || e.Kind != apierr.KindInvalidRequest || e.Param != tt.param || !strings.Contains(e.Message, tt.msg) || e.Code != tt.code {
				t.Errorf("got %#v\nwant param %q, code %q, message with %q", err, tt.param, tt.code, tt.msg)
			}
		})
	}
	for _, ok := range []string{`"n":128`, `"max_tokens":1`, `"temperature":0`, `"temperature":2`, `"top_p":0`, `"presence_penalty":-2`, `"frequency_penalty":2`, `"logprobs":true,"top_logprobs":20`, `"logit_bias":{"1":-100}`, `"seed":-7`} {
		if _, err := DecodeRequest([]byte(base + ok + `}`)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestDecodeEmbeddingRequestRanges(t *testing.T) {
	_, err := DecodeEmbeddingRequest([]byte(`{"model":"a/b","input":"x","dimensions":0}`))
	var e *apierr.Error
	if !errors.As(err, &e) || e.Param != "dimensions" || e.Code != "integer_below_min_value" {
		t.Errorf("dimensions 0: %#v", err)
	}
	if _, err := DecodeEmbeddingRequest([]byte(`{"model":"a/b","input":"x","dimensions":8}`)); err != nil {
		t.Errorf("dimensions 8: %v", err)
	}
}

// FuzzFastDecoderAgrees: decode's fast decoder (segmentio's) never accepts a body that
// encoding/json refuses, and what it decodes is what encoding/json decodes. (A body it refuses
// and encoding/json accepts is only slower: decode falls back.)
func FuzzFastDecoderAgrees(f *testing.F) {
	for _, s := range []string{
		`{"model":"a/b","messages":[{"role":"user","content":"hi"}],"temperature":0.2}`,
		`{"MODEL":"a/b","Messages":[{"ROLE":"user","content":"x"}]}`,
		`{"model":"a/b","model":"c/d","messages":[]}`,
		`{"model":"a\u00e9\ud83d\ude00","messages":[{"role":"user","content":"\u0000\n\t\"\\"}]}`,
		"{\"model\":\"\xff\xfe\",\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]}",
		`{"model":"a/b","messages":[{"role":"user","content":"x"}],"max_tokens":1e2}`,
		`{"model":"a/b","messages":[{"role":"user","content":"x"}],"max_tokens":9223372036854775808}`,
		`{"model":"a/b","messages":[{"role":"user","content":"x"}],"seed":-0,"n":1.0}`,
		`{"model":"a/b","messages":[{"role":"user","content":"x"}],"temperature":null,"stop":null,"logit_bias":{"1":2,"1":3}}`,
		`{"model":"a/b","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"input_audio","input_audio":{"data":"x"}}]}],"unknown":{"deep":[1,2,{"x":null}]}}`,
		`{"model":"a/b","messages":[{"role":"user","content":"x"}],"metadata":{"k":"v"},"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"auto"}`,
		`{"model":"a/b","messages":[{"role":"user","content":"x"}]} `,
		`{"model":"a/b","messages":[{"role":"user","content":"x"}]}{}`,
		`{"model":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast Request
		if fastjson.Unmarshal(body, &fast) != nil {
			return
		}
		var std Request
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("the fast decoder accepts what encoding/json refuses (%v): %q", err, body)
		}
		if diff := cmp.Diff(std, fast, cmp.AllowUnexported(Request{})); diff != "" {
			t.Fatalf("the decoders disagree on %q (-encoding/json +fast):\n%s", body, diff)
		}
	})
}
