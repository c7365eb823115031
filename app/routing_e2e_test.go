package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
)

// routingConfig is an OpenAI account on the fake upstream with a model that answers 503, one
// that answers 400 and one that works, and TrueFoundry virtual models in front of them. Bob
// may use the virtual models only.
func routingConfig(upstream string) string {
	return fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: down, type: integration/model/openai, model_id: fake-error-503, model_types: [chat]}
    - {name: bad, type: integration/model/openai, model_id: fake-error-400, model_types: [chat]}
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: mid, type: integration/model/openai, model_id: fake-mid-error, model_types: [chat]}
    - {name: hang, type: integration/model/openai, model_id: fake-hang, model_types: [chat]}
- authz_rules:
    - models: [prod/*]
      users: [bob]
---
name: prod
type: provider-account/virtual-model
integrations:
  - name: ha
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - target: fake/down
          priority: 0
          retry_config: {delay: 1}
        - target: fake/gpt
          priority: 1
  - name: mid
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: weight-based-routing
      load_balance_targets:
        - {target: fake/mid, weight: 100, fallback_status_codes: [500, 502, 503]}
        - {target: fake/gpt, weight: 0}
  - name: slow
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - target: fake/hang
        - target: fake/gpt
          priority: 1
  - name: strict
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - target: fake/bad
        - target: fake/gpt
          priority: 1
`, upstream)
}

// serverTimingSyntax is the gateway's Server-Timing header: two metrics with a duration in
// milliseconds (W3C Server Timing: metric;dur=<number>, comma-separated).
var serverTimingSyntax = regexp.MustCompile(`^gateway;dur=[0-9]+(\.[0-9]+)?, upstream;dur=[0-9]+(\.[0-9]+)?$`)

// TestVirtualModelRetriesAndFallsBack drives TrueFoundry virtual models with openai-go: a
// target answering 503 is tried twice (the default retry_config) and the next target answers;
// a 400 is returned at once; a stream falls back before its first byte; each request has one
// usage event; a caller allowed only the virtual model reaches its targets through it.
func TestVirtualModelRetriesAndFallsBack(t *testing.T) {
	up := providertest.NewOpenAI(t)
	cfgPath := writeConfig(t, routingConfig(up.BaseURL()))
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", cfgPath)
	ctx := context.Background()
	bobKey := g.userKey(t, "bob")
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(bobKey), option.WithMaxRetries(0))
	calls := func(model string) int {
		n := 0
		for _, r := range up.Requests() {
			if r.Body["model"] == model {
				n++
			}
		}
		return n
	}
	routed := func(t *testing.T, resp *http.Response, wantModel, wantAttempts string, wantStatus int) {
		t.Helper()
		if resp == nil {
			t.Fatal("no response")
		}
		if got := resp.Header.Get("x-llmgw-resolved-model"); got != wantModel {
			t.Errorf("x-llmgw-resolved-model %q, want %q", got, wantModel)
		}
		if got := resp.Header.Get("x-llmgw-attempts"); got != wantAttempts {
			t.Errorf("x-llmgw-attempts %q, want %q", got, wantAttempts)
		}
		ev := g.Events.waitFor(t, resp.Header.Get("X-Request-Id"))
		if ev.Model != "prod/"+strings.Split(t.Name(), "/")[1] || ev.HTTPStatus != wantStatus {
			t.Errorf("usage event model %q status %d, want the virtual model and %d", ev.Model, ev.HTTPStatus, wantStatus)
		}
	}

	t.Run("ha", func(t *testing.T) {
		var resp *http.Response
		out, err := c.Chat.Completions.New(ctx, chatParams("prod/ha", 0), option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if out.Model != "prod/ha" || len(out.Choices) == 0 {
			t.Errorf("answer model %q with %d choices, want prod/ha's answer", out.Model, len(out.Choices))
		}
		routed(t, resp, "fake/gpt", "3", 200)
		ev := g.Events.waitFor(t, resp.Header.Get("X-Request-Id"))
		var got []string
		for _, a := range ev.Attempts {
			got = append(got, fmt.Sprintf("%s %s %d %s", a.Target, a.Status, a.HTTPStatus, a.ErrorClass))
		}
		want := []string{"fake/down upstream_unavailable 503 upstream_5xx", "fake/down upstream_unavailable 503 upstream_5xx", "fake/gpt ok 200 "}
		if ev.Target != "fake/gpt" || !slices.Equal(got, want) {
			t.Errorf("usage event target %q attempts %q, want fake/gpt and %q", ev.Target, got, want)
		}
		if st := resp.Header.Get("server-timing"); !serverTimingSyntax.MatchString(st) {
			t.Errorf("server-timing %q, want gateway;dur=<ms>, upstream;dur=<ms>", st)
		}
		if n := calls("fake-error-503"); n != 2 {
			t.Errorf("the failing target was called %d times, want 2 (retry_config's default attempts)", n)
		}
	})
	t.Run("strict", func(t *testing.T) {
		var resp *http.Response
		_, err := c.Chat.Completions.New(ctx, chatParams("prod/strict", 0), option.WithResponseInto(&resp))
		if err == nil || resp == nil || resp.StatusCode != 400 {
			t.Fatalf("err %v, want the upstream's 400", err)
		}
		routed(t, resp, "fake/bad", "1", 400)
		if n := calls("gpt-4o-mini"); n != 1 {
			t.Errorf("the second target was called %d times in all, want once (by ha)", n)
		}
	})
	t.Run("ha stream", func(t *testing.T) {
		var resp *http.Response
		s := c.Chat.Completions.NewStreaming(ctx, chatParams("prod/ha", 0), option.WithResponseInto(&resp))
		text := ""
		for s.Next() {
			if ch := s.Current(); len(ch.Choices) > 0 {
				text += ch.Choices[0].Delta.Content
			}
		}
		if err := s.Err(); err != nil || text == "" {
			t.Fatalf("stream: err %v, text %q; want the second target's answer", err, text)
		}
		if got := resp.Header.Get("x-llmgw-resolved-model"); got != "fake/gpt" {
			t.Errorf("x-llmgw-resolved-model %q, want fake/gpt", got)
		}
		if got := resp.Header.Get("x-llmgw-attempts"); got != "3" {
			t.Errorf("x-llmgw-attempts %q, want 3", got)
		}
		if ev := g.Events.waitFor(t, resp.Header.Get("X-Request-Id")); ev.Model != "prod/ha" || ev.HTTPStatus != 200 {
			t.Errorf("usage event %q %d, want prod/ha 200", ev.Model, ev.HTTPStatus)
		}
	})
	t.Run("mid", func(t *testing.T) {
		// The first byte reached the client: the failure ends the stream, nothing is retried.
		before := calls("gpt-4o-mini")
		var resp *http.Response
		s := c.Chat.Completions.NewStreaming(ctx, chatParams("prod/mid", 0), option.WithResponseInto(&resp))
		for s.Next() {
		}
		if s.Err() == nil {
			t.Error("the stream ended cleanly, want its error")
		}
		if got, n := resp.Header.Get("x-llmgw-attempts"), calls("gpt-4o-mini")-before; got != "1" || n != 0 {
			t.Errorf("x-llmgw-attempts %q and %d fallback calls, want 1 and none", got, n)
		}
		g.Events.waitFor(t, resp.Header.Get("X-Request-Id"))
	})
	t.Run("listed and authorized", func(t *testing.T) {
		var ids []string
		page, err := c.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		if strings.Join(ids, ",") != "prod/ha,prod/mid,prod/slow,prod/strict" {
			t.Errorf("bob's models %v, want the virtual models only", ids)
		}
		if m, err := c.Models.Get(ctx, "prod/ha"); err != nil || m.ID != "prod/ha" || m.OwnedBy != "prod" {
			t.Errorf("GET /v1/models/prod/ha: %+v, %v", m, err)
		}
		// A caller not allowed the virtual model is refused without learning its targets.
		carolKey := g.userKey(t, "carol")
		resp, body := g.do(t, "POST", "/v1/chat/completions", carolKey, `{"model":"prod/ha","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 403 || resp.Header.Get("x-llmgw-resolved-model") != "" || strings.Contains(body, "fake/") {
			t.Errorf("carol: %d %q %s; want a 403 that names no target", resp.StatusCode, resp.Header.Get("x-llmgw-resolved-model"), body)
		}
		if _, err := c.Chat.Completions.New(ctx, chatParams("fake/gpt", 0)); err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("bob calling fake/gpt directly: %v, want 403", err)
		}
	})
}

// TestFailingTargetIsEjected drives prod/ha, whose first target always answers 503, until its
// circuit opens: it is then skipped (the usage event lists it as skipped) and the next target
// answers at once, until the cooldown passes and it is probed again.
func TestFailingTargetIsEjected(t *testing.T) {
	up := providertest.NewOpenAI(t)
	cfgPath := writeConfig(t, routingConfig(up.BaseURL()))
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC).UnixNano())
	g := startGatewayHooks(t, hooks{clock: func() time.Time { return time.Unix(0, now.Load()) }}, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", cfgPath)
	ctx := context.Background()
	bobKey := g.userKey(t, "bob")
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(bobKey), option.WithMaxRetries(0))
	ask := func() []string {
		t.Helper()
		var resp *http.Response
		if _, err := c.Chat.Completions.New(ctx, chatParams("prod/ha", 0), option.WithResponseInto(&resp)); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range g.Events.waitFor(t, resp.Header.Get("X-Request-Id")).Attempts {
			got = append(got, a.Target+" "+a.Status)
		}
		return got
	}
	tried := []string{"fake/down upstream_unavailable", "fake/down upstream_unavailable", "fake/gpt ok"}
	// Two failures a request (one retry): the fifth opens the circuit during the third.
	for range 3 {
		if got := ask(); !slices.Equal(got, tried) {
			t.Fatalf("attempts %q, want %q", got, tried)
		}
	}
	skipped := []string{"fake/down skipped", "fake/gpt ok"}
	if got := ask(); !slices.Equal(got, skipped) {
		t.Fatalf("open circuit: attempts %q, want %q", got, skipped)
	}
	now.Add(int64(29 * time.Second))
	if got := ask(); !slices.Equal(got, skipped) {
		t.Fatalf("during the cooldown: attempts %q, want %q", got, skipped)
	}
	now.Add(int64(time.Second))
	if got := ask(); !slices.Equal(got, tried) {
		t.Fatalf("after the cooldown: attempts %q, want the probe %q", got, tried)
	}
	if got := ask(); !slices.Equal(got, skipped) {
		t.Fatalf("after a failed probe: attempts %q, want %q", got, skipped)
	}
}

// TestRequestTimeoutBoundsTheAttempts sends prod/slow, whose first target never answers, with
// a request timeout header: the whole request gets a 504 when it passes, fallback included; a
// bad value is a 400 naming the header.
func TestRequestTimeoutBoundsTheAttempts(t *testing.T) {
	up := providertest.NewOpenAI(t)
	cfgPath := writeConfig(t, routingConfig(up.BaseURL()))
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", cfgPath)
	ctx := context.Background()
	bobKey := g.userKey(t, "bob")
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(bobKey), option.WithMaxRetries(0))
	for _, tt := range []struct {
		header, value string
		wantStatus    int
		wantBody      string
	}{
		{"x-llmgw-request-timeout", "300", 504, "x-llmgw-request-timeout"},
		{"x-tfy-request-timeout", "300", 504, "x-llmgw-request-timeout"},
		{"x-llmgw-request-timeout", "soon", 400, "X-Llmgw-Request-Timeout"},
		{"x-tfy-request-timeout", "-1", 400, "X-Tfy-Request-Timeout"},
	} {
		t.Run(tt.header+"="+tt.value, func(t *testing.T) {
			var resp *http.Response
			start := time.Now()
			_, err := c.Chat.Completions.New(ctx, chatParams("prod/slow", 0), option.WithResponseInto(&resp), option.WithHeader(tt.header, tt.value))
			if err == nil || resp == nil || resp.StatusCode != tt.wantStatus {
				t.Fatalf("err %v, want %d", err, tt.wantStatus)
			}
			var ae *openai.Error
			if !errors.As(err, &ae) || !strings.Contains(strings.ToLower(ae.RawJSON()), strings.ToLower(tt.wantBody)) {
				t.Errorf("error %v does not name %s", err, tt.wantBody)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("answered after %v", d)
			}
		})
	}
}
