package chat

import (
	"encoding/json"
	"errors"
	"testing"

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
