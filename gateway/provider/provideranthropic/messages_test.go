package provideranthropic

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
)

// nativeAdapter returns an adapter for model against the fake Anthropic Messages API.
func nativeAdapter(t *testing.T, up *providertest.Anthropic, model string) provider.MessagesAdapter {
	t.Helper()
	a, err := New(provider.Config{Kind: "anthropic", BaseURL: up.URL, APIKey: testKey, Model: model, HTTPClient: up.Client()})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := a.(provider.MessagesAdapter)
	if !ok {
		t.Fatal("the anthropic adapter does not implement provider.MessagesAdapter")
	}
	return m
}

// fakeUsage is the fake's usage in the gateway's terms.
var fakeUsage = chat.Usage{
	PromptTokens:        providertest.AnthropicInputTokens + providertest.AnthropicCacheReadTokens,
	CompletionTokens:    providertest.AnthropicOutputTokens,
	TotalTokens:         providertest.AnthropicInputTokens + providertest.AnthropicCacheReadTokens + providertest.AnthropicOutputTokens,
	PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: providertest.AnthropicCacheReadTokens},
}

// A client body with odd spacing, a thinking config, a signed thinking block in the history and
// fields the gateway does not model: all of it must reach the upstream as sent.
const thinkingBody = `{ "model" : "claude/sonnet",
  "max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024},
  "system": [{"type": "text", "text": "be terse", "cache_control": {"type": "ephemeral"}}],
  "messages": [
    {"role": "user", "content": "first"},
    {"role": "assistant", "content": [
      {"type": "thinking", "thinking": "hm \u00e9\n", "signature": "c2lnbmF0dXJl+/=="},
      {"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"},
      {"type": "text", "text": "first answer"}]},
    {"role": "user", "content": [{"type": "text", "text": "second"}]}]}`

func TestMessagesPassthrough(t *testing.T) {
	up := providertest.NewAnthropicMessages(t, testKey)
	a := nativeAdapter(t, up, testModel)
	res, err := a.Messages(context.Background(), &provider.MessagesCall{Model: "claude/sonnet", Body: []byte(thinkingBody)})
	if err != nil {
		t.Fatal(err)
	}
	got := up.LastRequest()
	want := strings.Replace(thinkingBody, `"claude/sonnet"`, `"`+testModel+`"`, 1)
	if string(got.Raw) != want {
		t.Errorf("upstream body:\n%s\nwant the client's body with only the model patched:\n%s", got.Raw, want)
	}
	if got.APIKey != testKey || got.Version != APIVersion || got.Path != "/v1/messages" {
		t.Errorf("upstream key %q version %q path %q", got.APIKey, got.Version, got.Path)
	}
	for _, s := range []string{`"type":"thinking"`, `"signature":"` + providertest.AnthropicSignature + `"`, `"text":"echo: second"`} {
		if !strings.Contains(string(res.JSON), s) {
			t.Errorf("answer %s lacks %s", res.JSON, s)
		}
	}
	if diff := cmp.Diff(fakeUsage, res.Usage); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

func TestMessagesSwitchesOffAStream(t *testing.T) {
	up := providertest.NewAnthropicMessages(t, testKey)
	a := nativeAdapter(t, up, testModel)
	body := `{"model":"x","stream":true,"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	if _, err := a.Messages(context.Background(), &provider.MessagesCall{Body: []byte(body)}); err != nil {
		t.Fatal(err)
	}
	want := `{"model":"` + testModel + `","stream":false,"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	if got := string(up.LastRequest().Raw); got != want {
		t.Errorf("upstream body %s, want %s", got, want)
	}
}

// drain reads a Messages stream to its end.
func drain(t *testing.T, s provider.MessagesStream) ([]provider.MessagesEvent, error) {
	t.Helper()
	defer s.Close()
	var out []provider.MessagesEvent
	for {
		ev, err := s.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		ev.Data = append([]byte(nil), ev.Data...)
		out = append(out, ev)
	}
}

func TestMessagesStreamPassthrough(t *testing.T) {
	up := providertest.NewAnthropicMessages(t, testKey)
	a := nativeAdapter(t, up, testModel)
	st, err := a.MessagesStream(context.Background(), &provider.MessagesCall{Body: []byte(thinkingBody)})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := drain(t, st)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(thinkingBody, `"claude/sonnet"`, `"`+testModel+`"`, 1)
	if got := string(up.LastRequest().Raw); got != `{"stream":true,`+want[1:] {
		t.Errorf("upstream body %s, want stream added and only the model patched", got)
	}
	var names []string
	var usages []chat.Usage
	for _, ev := range evs {
		names = append(names, ev.Name)
		if ev.Usage != nil {
			usages = append(usages, *ev.Usage)
		}
	}
	wantNames := []string{"message_start",
		"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
		"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
		"message_delta", "message_stop"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("event names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]chat.Usage{fakeUsage}, usages); diff != "" {
		t.Errorf("usage reported (-want +got):\n%s", diff)
	}
	if sig := string(evs[3].Data); sig != `{"delta":{"signature":"`+providertest.AnthropicSignature+`","type":"signature_delta"},"index":0,"type":"content_block_delta"}` {
		t.Errorf("signature_delta forwarded as %s", sig)
	}
	if ev, err := st.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after message_stop = %+v, %v; want io.EOF", ev, err)
	}
}

// Golden transcripts of real Anthropic streams pass through event for event.
func TestMessagesStreamForwardsTranscripts(t *testing.T) {
	for _, name := range []string{"stream_text", "stream_thinking", "stream_tool_use"} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, respondSSE(t, name+".sse"))
			st, err := f.adapter(t).MessagesStream(context.Background(), &provider.MessagesCall{Body: []byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)})
			if err != nil {
				t.Fatal(err)
			}
			evs, err := drain(t, st)
			if err != nil {
				t.Fatal(err)
			}
			var sb strings.Builder
			for _, ev := range evs {
				sb.WriteString("event: " + ev.Name + "\ndata: " + string(ev.Data) + "\n\n")
			}
			if got, want := normalize(sb.String()), normalize(readTestdata(t, name+".sse")); got != want {
				t.Errorf("forwarded transcript:\n%s\nwant the upstream's:\n%s", got, want)
			}
			if last := evs[len(evs)-1]; last.Name != "message_stop" {
				t.Errorf("last event %q", last.Name)
			}
		})
	}
}

func TestCountTokens(t *testing.T) {
	up := providertest.NewAnthropicMessages(t, testKey)
	a := nativeAdapter(t, up, testModel)
	body := `{"model":"claude/sonnet","messages":[{"role":"user","content":"count me"}]}`
	res, err := a.CountTokens(context.Background(), &provider.MessagesCall{Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(res.JSON)); got != `{"input_tokens":42}` {
		t.Errorf("answer %s", got)
	}
	got := up.LastRequest()
	if got.Path != "/v1/messages/count_tokens" || string(got.Raw) != `{"model":"`+testModel+`","messages":[{"role":"user","content":"count me"}]}` {
		t.Errorf("upstream got %s %s", got.Path, got.Raw)
	}
}

func TestMessagesForwardsBeta(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Values("anthropic-beta")
		w.Header().Set("content-type", "application/json")
		_, _ = io.WriteString(w, `{"id":"m","type":"message","role":"assistant","content":[],"usage":{"input_tokens":1,"output_tokens":2}}`)
	}))
	defer srv.Close()
	a, err := New(provider.Config{BaseURL: srv.URL, APIKey: testKey, Model: testModel, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.(provider.MessagesAdapter).Messages(context.Background(), &provider.MessagesCall{
		Body: []byte(`{"model":"x"}`), Beta: []string{"interleaved-thinking-2025-05-14", "context-1m-2025-08-07"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"interleaved-thinking-2025-05-14", "context-1m-2025-08-07"}, got); diff != "" {
		t.Errorf("anthropic-beta (-want +got):\n%s", diff)
	}
	if res.Usage.PromptTokens != 1 || res.Usage.CompletionTokens != 2 || res.Usage.TotalTokens != 3 {
		t.Errorf("usage %+v", res.Usage)
	}
}

func TestMessagesErrors(t *testing.T) {
	ctx := context.Background()
	up := providertest.NewAnthropicMessages(t, testKey)
	body := func(model string) []byte {
		return []byte(`{"model":"` + model + `","max_tokens":10,"messages":[{"role":"user","content":"one two three"}]}`)
	}
	tests := []struct {
		name   string
		model  string
		key    string
		stream bool
		count  bool
		kind   apierr.Kind
	}{
		{"rate limited", "fake-error-429", testKey, false, false, apierr.KindRateLimited},
		{"overloaded stream", "fake-error-529", testKey, true, false, apierr.KindUpstreamUnavailable},
		{"the gateway's key refused", testModel, "sk-ant-wrong", false, false, apierr.KindUpstreamBadResponse},
		{"count_tokens with the key refused", testModel, "sk-ant-wrong", false, true, apierr.KindUpstreamBadResponse},
		{"error event mid-stream", "fake-mid-error", testKey, true, false, apierr.KindUpstreamUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(provider.Config{BaseURL: up.URL, APIKey: tt.key, Model: tt.model, HTTPClient: up.Client()})
			if err != nil {
				t.Fatal(err)
			}
			m := a.(provider.MessagesAdapter)
			call := &provider.MessagesCall{Body: body("client/model")}
			switch {
			case tt.count:
				_, err = m.CountTokens(ctx, call)
			case tt.stream:
				var st provider.MessagesStream
				st, err = m.MessagesStream(ctx, call)
				if err == nil {
					var evs []provider.MessagesEvent
					evs, err = drain(t, st)
					if len(evs) == 0 || evs[0].Name != "message_start" {
						t.Errorf("events before the error: %+v", evs)
					}
				}
			default:
				_, err = m.Messages(ctx, call)
			}
			e := asAPIErr(t, err)
			if e.Kind != tt.kind {
				t.Errorf("kind %v, want %v (%v)", e.Kind, tt.kind, err)
			}
			if strings.Contains(e.Message, providertest.LeakedKey) {
				t.Errorf("public message %q quotes the upstream", e.Message)
			}
		})
	}
}

func TestMessagesBadResponses(t *testing.T) {
	tests := []struct {
		name    string
		respond http.HandlerFunc
		stream  bool
	}{
		{"not a message", respondJSON(`{"type":"completion"}`), false},
		{"not JSON", respondJSON(`<html>`), false},
		{"stream ends before message_stop", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("content-type", "text/event-stream")
			_, _ = io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1}}}\n\n")
		}, true},
		{"undecodable message_delta", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("content-type", "text/event-stream")
			_, _ = io.WriteString(w, "event: message_delta\ndata: {oops\n\n")
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newFake(t, tt.respond).adapter(t)
			call := &provider.MessagesCall{Body: []byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)}
			var err error
			if tt.stream {
				var st provider.MessagesStream
				if st, err = a.MessagesStream(context.Background(), call); err == nil {
					_, err = drain(t, st)
				}
			} else {
				_, err = a.Messages(context.Background(), call)
			}
			if e := asAPIErr(t, err); e.Kind != apierr.KindUpstreamBadResponse {
				t.Errorf("kind %v (%v), want a bad response", e.Kind, err)
			}
		})
	}
}

// readTestdata returns a file of testdata as text.
func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// normalize drops the whitespace around a transcript, which is not part of any event.
func normalize(s string) string { return strings.TrimSpace(s) + "\n" }
