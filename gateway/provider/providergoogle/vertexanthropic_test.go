package providergoogle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

const claudeOnVertex = "claude-sonnet-4-5@20250929"

// TestVertexAnthropic drives a Claude model on Vertex AI: the Messages body without model and
// with anthropic_version, sent to :rawPredict / :streamRawPredict with the service account's
// bearer token; answers in Anthropic's format.
func TestVertexAnthropic(t *testing.T) {
	tok := &fakeGoogle{t: t}
	var bodies []map[string]any
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			tok.serveToken(w, r)
			return
		}
		base := "/v1/projects/" + testProject + "/locations/europe-west1/publishers/anthropic/models/" + claudeOnVertex
		if !strings.HasPrefix(r.URL.Path, base+":") {
			t.Errorf("path %s", r.URL.Path)
			http.Error(w, "no", 404)
			return
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("Authorization %q", got)
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("body: %v", err)
		}
		bodies, paths = append(bodies, body), append(paths, r.URL.Path)
		if strings.HasSuffix(r.URL.Path, ":rawPredict") {
			if m, _ := body["messages"].([]any); len(m) == 1 && strings.Contains(fmt.Sprint(m), "fail") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(429)
				_, _ = io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"quota for project exceeded"}}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"msg_vrtx_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"hello from vertex"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":3}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{
			`event: message_start` + "\n" + `data: {"type":"message_start","message":{"id":"msg_vrtx_2","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":10,"output_tokens":1}}}`,
			`event: content_block_start` + "\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"streamed "}}`,
			`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"from vertex"}}`,
			`event: content_block_stop` + "\n" + `data: {"type":"content_block_stop","index":0}`,
			`event: message_delta` + "\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4}}`,
			`event: message_stop` + "\n" + `data: {"type":"message_stop"}`,
		} {
			_, _ = io.WriteString(w, ev+"\n\n")
		}
	}))
	t.Cleanup(srv.Close)
	tok.srv = srv // the token endpoint checks the assertion's audience against it
	a, err := NewVertexAnthropic(provider.Config{
		Kind: "vertex-anthropic", BaseURL: srv.URL, Model: claudeOnVertex, HTTPClient: srv.Client(),
		APIKey: serviceAccountJSON(t, srv.URL+"/token"), Settings: map[string]string{SettingLocation: "europe-west1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := &chat.Request{Model: "acct/claude", Messages: []chat.Message{{Role: "system", Content: chat.TextContent("terse")}, {Role: "user", Content: chat.TextContent("hi")}}}

	res, err := a.Chat(context.Background(), &provider.ChatCall{Request: req})
	if err != nil {
		t.Fatal(err)
	}
	var resp chat.Response
	if err := json.Unmarshal(res.JSON, &resp); err != nil || resp.Choices[0].Message.Content.String() != "hello from vertex" || res.Usage.TotalTokens != 13 {
		t.Fatalf("answer %s usage %+v (%v)", res.JSON, res.Usage, err)
	}
	body := bodies[0]
	if _, has := body["model"]; has || body["anthropic_version"] != VertexAnthropicVersion || body["system"] == nil {
		t.Errorf("upstream body %v: want no model, anthropic_version %s, and the system prompt", body, VertexAnthropicVersion)
	}

	st, err := a.ChatStream(context.Background(), &provider.ChatCall{Request: req})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var text strings.Builder
	var usage *chat.Usage
	for {
		ch, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var c chat.Chunk
		_ = json.Unmarshal(ch.JSON, &c)
		for _, cc := range c.Choices {
			if cc.Delta.Content != nil {
				text.WriteString(*cc.Delta.Content)
			}
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
	}
	if text.String() != "streamed from vertex" || usage == nil || usage.CompletionTokens != 4 || !strings.HasSuffix(paths[1], ":streamRawPredict") || bodies[1]["stream"] != true {
		t.Errorf("stream text %q usage %+v path %s body %v", text.String(), usage, paths[1], bodies[1])
	}

	failReq := &chat.Request{Model: "acct/claude", Messages: []chat.Message{{Role: "user", Content: chat.TextContent("fail")}}}
	_, err = a.Chat(context.Background(), &provider.ChatCall{Request: failReq})
	if e := apierr.From(err); e.Kind != apierr.KindRateLimited || strings.Contains(e.Message, "quota for project") {
		t.Errorf("429: %+v", e)
	}
	if n := tok.exchanges.Load(); n != 1 {
		t.Errorf("%d token exchanges for three calls, want 1 (cached)", n)
	}

	mc, ok := a.(provider.MessagesAdapter)
	if !ok {
		t.Fatal("the Vertex Claude adapter does not pass Messages requests through natively")
	}
	if _, err := mc.CountTokens(context.Background(), &provider.MessagesCall{Body: []byte(`{"model":"x","messages":[]}`)}); apierr.From(err).Kind != apierr.KindInvalidRequest {
		t.Errorf("count_tokens on Vertex: %v, want a 400", err)
	}
	if _, err := NewVertexAnthropic(provider.Config{Kind: "vertex-anthropic", Model: claudeOnVertex, HTTPClient: srv.Client(),
		APIKey: serviceAccountJSON(t, srv.URL+"/token"), Settings: map[string]string{"region": "x"}}); err == nil {
		t.Error("an unknown setting was accepted")
	}
}
