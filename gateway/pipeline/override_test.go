package pipeline

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

func TestOverrideChatCopiesTheCall(t *testing.T) {
	temp, top := 1.5, 0.9
	call := &provider.ChatCall{
		Request: &chat.Request{Model: "prod/m", Temperature: &temp, TopP: &top},
		Body:    []byte(`{"model":"prod/m","temperature":1.5,"top_p":0.9}`),
	}
	tg := snapshot.Target{Endpoint: &snapshot.Endpoint{FQN: "a/b"}, Params: []chat.Param{
		{Name: "temperature", Value: json.RawMessage(`0.2`)},
		{Name: "max_tokens", Value: json.RawMessage(`10`)},
	}}
	out, err := overrideChat(call, tg)
	if err != nil {
		t.Fatal(err)
	}
	if *out.Request.Temperature != 0.2 || *out.Request.MaxTokens != 10 || *out.Request.TopP != 0.9 {
		t.Errorf("request: temperature %v, max_tokens %v, top_p %v", *out.Request.Temperature, *out.Request.MaxTokens, *out.Request.TopP)
	}
	var body map[string]any
	if err := json.Unmarshal(out.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["temperature"] != 0.2 || body["max_tokens"] != 10.0 || body["top_p"] != 0.9 {
		t.Errorf("body %s", out.Body)
	}
	// The client's call is unchanged, for the plan's other targets.
	if *call.Request.Temperature != 1.5 || call.Request.MaxTokens != nil || !strings.Contains(string(call.Body), `"temperature":1.5`) {
		t.Errorf("the client's call changed: %+v %s", call.Request, call.Body)
	}
}

func TestOverrideMessages(t *testing.T) {
	call := &provider.MessagesCall{Model: "prod/m", Body: []byte(`{"model":"prod/m","max_tokens":1000,"temperature":0.9}`)}
	ep := &snapshot.Endpoint{FQN: "a/b"}
	out, err := overrideMessages(call, snapshot.Target{Endpoint: ep, Params: []chat.Param{{Name: "max_tokens", Value: json.RawMessage(`64`)}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out.Body), `{"model":"prod/m","max_tokens":64,"temperature":0.9}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if strings.Contains(string(call.Body), "64") {
		t.Errorf("the client's call changed: %s", call.Body)
	}
	_, err = overrideMessages(call, snapshot.Target{Endpoint: ep, Params: []chat.Param{{Name: "seed", Value: json.RawMessage(`7`)}}})
	if e := apierr.From(err); e.Kind != apierr.KindInvalidRequest || e.Param != "seed" {
		t.Errorf("a parameter Messages does not take: %v, want a 400 naming seed", err)
	}
}
