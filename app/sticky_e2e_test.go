package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
)

// stickyConfig is an OpenAI account on the fake upstream with two models that answer at once,
// one whose stream sends its first chunk after 5 s and one that answers anything after 5 s,
// and virtual models in front of them: prod/chat splits its traffic 50/50 with sticky_routing
// on the x-session-id header and the conversation key of the metadata; prod/late and
// prod/slow put a slow target before a fast one; prod/lateonly has only the slow one.
func stickyConfig(upstream string) string {
	return fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: a, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: b, type: integration/model/openai, model_id: gpt-4o, model_types: [chat]}
    - {name: late, type: integration/model/openai, model_id: fake-late-5000, model_types: [chat]}
    - {name: slow, type: integration/model/openai, model_id: fake-slow-5000, model_types: [chat]}
- authz_rules:
    - models: [prod/*]
      users: [bob]
---
name: prod
type: provider-account/virtual-model
integrations:
  - name: chat
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: weight-based-routing
      sticky_routing:
        ttl_seconds: 600
        session_identifiers:
          - {source: headers, key: x-session-id}
          - {source: metadata, key: conversation}
      load_balance_targets:
        - {target: fake/a, weight: 50}
        - {target: fake/b, weight: 50}
  - name: late
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - {target: fake/late, priority: 0}
        - {target: fake/a, priority: 1}
  - name: slow
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - {target: fake/slow, priority: 0}
        - {target: fake/a, priority: 1}
  - name: lateonly
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - {target: fake/late}
`, upstream)
}

// TestStickyRouting drives prod/chat with openai-go: the requests of one session (the same
// x-session-id header and X-LLMGW-Metadata conversation) all go to one target, while distinct
// sessions, and requests missing either identifier, are spread over both targets by weight.
func TestStickyRouting(t *testing.T) {
	up := providertest.NewOpenAI(t)
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", writeConfig(t, stickyConfig(up.BaseURL())))
	ctx := context.Background()
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.userKey(t, "bob")), option.WithMaxRetries(0))
	ask := func(t *testing.T, session, conversation string) string {
		t.Helper()
		opts := []option.RequestOption{}
		if session != "" {
			opts = append(opts, option.WithHeader("x-session-id", session))
		}
		if conversation != "" {
			opts = append(opts, option.WithHeader("X-LLMGW-Metadata", `{"conversation":"`+conversation+`"}`))
		}
		var resp *http.Response
		if _, err := c.Chat.Completions.New(ctx, chatParams("prod/chat", 0), append(opts, option.WithResponseInto(&resp))...); err != nil {
			t.Fatal(err)
		}
		return resp.Header.Get("x-llmgw-resolved-model")
	}
	t.Run("one session, one target", func(t *testing.T) {
		for _, s := range []string{"session-1", "session-2"} {
			first := ask(t, s, "conv-1")
			for i := range 30 {
				if got := ask(t, s, "conv-1"); got != first {
					t.Fatalf("%s, request %d: %s, want %s, where the session is pinned", s, i, got, first)
				}
			}
		}
	})
	// 40 draws of a fair coin all alike: 2^-39.
	spread := func(t *testing.T, what string, ask func(i int) string) {
		t.Helper()
		seen := map[string]int{}
		for i := range 40 {
			seen[ask(i)]++
		}
		if seen["fake/a"] == 0 || seen["fake/b"] == 0 {
			t.Errorf("%s: targets %v, want both", what, seen)
		}
	}
	t.Run("sessions are spread by weight", func(t *testing.T) {
		spread(t, "a new session each time", func(i int) string { return ask(t, fmt.Sprintf("s-%d", i), "conv-1") })
	})
	t.Run("without every identifier, no session", func(t *testing.T) {
		spread(t, "header only", func(int) string { return ask(t, "session-1", "") })
		spread(t, "metadata only", func(int) string { return ask(t, "", "conv-1") })
	})
}

// TestFirstTokenTimeout streams through targets slow to their first token with
// x-llmgw-ttft-timeout-ms (and TrueFoundry's x-tfy-ttft-timeout-ms): the slow attempt is
// abandoned and the client gets the next target's stream, two attempts in all; with no next
// target it gets a timeout in its own dialect; a stream that starts in time is not affected;
// a bad value is a 400 naming the header, in the caller's dialect.
func TestFirstTokenTimeout(t *testing.T) {
	up := providertest.NewOpenAI(t)
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", writeConfig(t, stickyConfig(up.BaseURL())))
	ctx := context.Background()
	bobKey := g.userKey(t, "bob")
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(bobKey), option.WithMaxRetries(0))
	stream := func(t *testing.T, model, header, value string) (string, *http.Response, error) {
		t.Helper()
		var resp *http.Response
		s := c.Chat.Completions.NewStreaming(ctx, chatParams(model, 0), option.WithResponseInto(&resp), option.WithHeader(header, value))
		text := ""
		for s.Next() {
			if ch := s.Current(); len(ch.Choices) > 0 {
				text += ch.Choices[0].Delta.Content
			}
		}
		return text, resp, s.Err()
	}
	for _, tt := range []struct{ model, header string }{
		{"prod/late", "x-llmgw-ttft-timeout-ms"},
		{"prod/late", "x-tfy-ttft-timeout-ms"},
		{"prod/slow", "x-llmgw-ttft-timeout-ms"},
	} {
		t.Run(tt.model+" "+tt.header, func(t *testing.T) {
			text, resp, err := stream(t, tt.model, tt.header, "300")
			if err != nil || text == "" {
				t.Fatalf("stream: err %v, text %q; want the fallback's answer", err, text)
			}
			if got, n := resp.Header.Get("x-llmgw-resolved-model"), resp.Header.Get("x-llmgw-attempts"); got != "fake/a" || n != "2" {
				t.Errorf("resolved %q after %q attempts, want fake/a after 2", got, n)
			}
			ev := g.Events.waitFor(t, resp.Header.Get("X-Request-Id"))
			if len(ev.Attempts) != 2 || ev.Attempts[0].ErrorClass != "timeout" || ev.Attempts[1].Status != "ok" {
				t.Errorf("usage event attempts %+v, want a timeout then ok", ev.Attempts)
			}
		})
	}
	t.Run("no fallback", func(t *testing.T) {
		_, resp, err := stream(t, "prod/lateonly", "x-llmgw-ttft-timeout-ms", "300")
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != 504 || !strings.Contains(ae.RawJSON(), "X-Llmgw-Ttft-Timeout-Ms") {
			t.Fatalf("err %v, want a 504 naming the header", err)
		}
		if got := resp.Header.Get("x-llmgw-attempts"); got != "1" {
			t.Errorf("x-llmgw-attempts %q, want 1", got)
		}
		// The Anthropic dialect gets the timeout in Anthropic's shape.
		status, body := g.rawWithHeader(t, "/v1/messages", bobKey, "x-llmgw-ttft-timeout-ms", "300",
			`{"model":"prod/lateonly","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if status != 504 || !strings.Contains(body, `"type":"error"`) || !strings.Contains(body, "X-Llmgw-Ttft-Timeout-Ms") {
			t.Errorf("messages: %d %s, want a 504 in Anthropic's error shape", status, body)
		}
	})
	t.Run("in time", func(t *testing.T) {
		text, resp, err := stream(t, "prod/chat", "x-llmgw-ttft-timeout-ms", "5000")
		if err != nil || text == "" {
			t.Fatalf("stream: err %v, text %q", err, text)
		}
		if n := resp.Header.Get("x-llmgw-attempts"); n != "1" {
			t.Errorf("x-llmgw-attempts %q, want 1", n)
		}
	})
	t.Run("bad value", func(t *testing.T) {
		_, _, err := stream(t, "prod/chat", "x-llmgw-ttft-timeout-ms", "soon")
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.RawJSON(), "X-Llmgw-Ttft-Timeout-Ms") {
			t.Fatalf("err %v, want a 400 naming the header", err)
		}
		status, body := g.rawWithHeader(t, "/v1/messages", bobKey, "x-tfy-ttft-timeout-ms", "-1",
			`{"model":"prod/chat","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if status != 400 || !strings.Contains(body, `"invalid_request_error"`) || !strings.Contains(body, `"type":"error"`) || !strings.Contains(body, "X-Tfy-Ttft-Timeout-Ms") {
			t.Errorf("messages: %d %s, want a 400 in Anthropic's error shape naming the header", status, body)
		}
	})
}

// rawWithHeader posts body to path with the key and one more header, and returns the status
// and the body of the answer.
func (g *gateway) rawWithHeader(t *testing.T, path, key, header, value, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", g.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(header, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}
