package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// routeAdminConfig is an OpenAI account on the fake upstream, with a model that works and one
// that answers 503, and a virtual model of the config file's.
func routeAdminConfig(upstream string) string {
	return fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: down, type: integration/model/openai, model_id: fake-error-503, model_types: [chat]}
---
name: file
type: provider-account/virtual-model
integrations:
  - name: vm
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: weight-based-routing
      load_balance_targets:
        - {target: fake/gpt, weight: 100}
`, upstream)
}

// TestAdminVirtualModelsRoute: virtual models and a routing rule made with the Admin API route
// at once, over two providers (an OpenAI account from the config file, an Anthropic account
// made with the Admin API): a 90/10 weighted model splits traffic by weight; a priority model
// falls back from a target answering 503 to the other provider, for openai-go and
// anthropic-sdk-go; a caller allowed only the virtual models reaches their targets through
// them, sees them in GET /v1/models, and nothing else; updates, a rule and a delete take effect
// on the next request; the routing state shows the failing target's circuit open; the config
// file's virtual model still serves and its name is refused.
func TestAdminVirtualModelsRoute(t *testing.T) {
	oai := providertest.NewOpenAI(t)
	claude := providertest.NewAnthropicMessages(t, anthropicSecret)
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", writeConfig(t, routeAdminConfig(oai.BaseURL())))
	ctx := context.Background()
	admin := g.adminClient()
	if _, err := admin.CreateProviderAccount(ctx, &adminv1.CreateProviderAccountRequest{ProviderAccount: &adminv1.ProviderAccount{Name: "claude", Provider: "anthropic", BaseUrl: claude.URL, ApiKey: anthropicSecret}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateModel(ctx, &adminv1.CreateModelRequest{Model: &adminv1.Model{Account: "claude", Name: "sonnet", UpstreamModel: "claude-sonnet-4-5"}}); err != nil {
		t.Fatal(err)
	}
	split := func(gpt, sonnet int32) *adminv1.VirtualModel {
		return &adminv1.VirtualModel{Group: "prod", Name: "split", ModelTypes: []string{"chat"}, RoutingConfig: &adminv1.Routing{
			Type: "weight-based-routing", LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "fake/gpt", Weight: gpt}, {Target: "claude/sonnet", Weight: sonnet}}}}
	}
	if _, err := admin.CreateVirtualModel(ctx, &adminv1.CreateVirtualModelRequest{VirtualModel: split(90, 10)}); err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	if _, err := admin.CreateVirtualModel(ctx, &adminv1.CreateVirtualModelRequest{VirtualModel: &adminv1.VirtualModel{Group: "prod", Name: "ha", RoutingConfig: &adminv1.Routing{
		Type: "priority-based-routing", LoadBalanceTargets: []*adminv1.RoutingTarget{
			{Target: "fake/down", Priority: 0, RetryConfig: &adminv1.RetryConfig{Attempts: &one}},
			{Target: "claude/sonnet", Priority: 1},
		}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateAuthzRule(ctx, &adminv1.CreateAuthzRuleRequest{AuthzRule: &adminv1.AuthzRule{Name: "bob-virtual", Models: []string{"prod/split", "prod/ha", "file/vm"}, Users: []string{"bob"}}}); err != nil {
		t.Fatal(err)
	}
	bob := g.userKey(t, "bob")
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(bob), option.WithMaxRetries(0))
	chat := func(t *testing.T, model string) (string, string) {
		t.Helper()
		var resp *http.Response
		out, err := c.Chat.Completions.New(ctx, chatParams(model, 0), option.WithResponseInto(&resp))
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if out.Model != model || len(out.Choices) == 0 {
			t.Fatalf("answer model %q with %d choices, want %s's answer", out.Model, len(out.Choices), model)
		}
		return resp.Header.Get("x-llmgw-resolved-model"), resp.Header.Get("x-llmgw-attempts")
	}
	served := func(t *testing.T, model string, n int) map[string]int {
		t.Helper()
		got := map[string]int{}
		for range n {
			target, _ := chat(t, model)
			got[target]++
		}
		return got
	}

	t.Run("models lists the virtual models only", func(t *testing.T) {
		page, err := c.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		if strings.Join(ids, ",") != "file/vm,prod/ha,prod/split" {
			t.Errorf("GET /v1/models = %v, want file/vm, prod/ha and prod/split", ids)
		}
	})
	t.Run("a target named directly is refused", func(t *testing.T) {
		_, err := c.Chat.Completions.New(ctx, chatParams("fake/gpt", 0))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 {
			t.Fatalf("fake/gpt for bob: %v, want 403", err)
		}
	})
	t.Run("weighted 90/10", func(t *testing.T) {
		// 300 draws at 90%: the mean is 270, the standard deviation 5.2; the bounds are 5 of them.
		got := served(t, "prod/split", 300)
		t.Logf("300 requests served by %v", got)
		if got["fake/gpt"] < 244 || got["fake/gpt"] > 296 || got["fake/gpt"]+got["claude/sonnet"] != 300 {
			t.Errorf("served by %v, want about 270 fake/gpt and 30 claude/sonnet", got)
		}
	})
	t.Run("priority falls back to the other provider", func(t *testing.T) {
		target, attempts := chat(t, "prod/ha")
		if target != "claude/sonnet" || attempts != "2" {
			t.Errorf("prod/ha served by %q in %s attempts, want claude/sonnet in 2", target, attempts)
		}
		ac := anthropic.NewClient(aoption.WithBaseURL(g.URL), aoption.WithAPIKey(bob), aoption.WithMaxRetries(0))
		var resp *http.Response
		msg, err := ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "prod/ha", MaxTokens: 64,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}, aoption.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) == 0 || msg.Content[0].Text == "" {
			t.Errorf("empty answer %+v", msg)
		}
		if got := resp.Header.Get("x-llmgw-resolved-model"); got != "claude/sonnet" {
			t.Errorf("anthropic-sdk-go: x-llmgw-resolved-model %q, want claude/sonnet", got)
		}
	})
	t.Run("the config file's virtual model serves and its name is refused", func(t *testing.T) {
		if target, _ := chat(t, "file/vm"); target != "fake/gpt" {
			t.Errorf("file/vm served by %q, want fake/gpt", target)
		}
		vm := split(100, 0)
		vm.Group, vm.Name = "file", "vm"
		_, err := admin.CreateVirtualModel(ctx, &adminv1.CreateVirtualModelRequest{VirtualModel: vm})
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "config file") {
			t.Errorf("create file/vm: %v, want invalid argument naming the config file", err)
		}
	})
	t.Run("REST refuses bad weights naming the field", func(t *testing.T) {
		resp, body := g.do(t, "POST", "/api/v1/virtual-models", g.Token,
			`{"group":"prod","name":"bad","routing_config":{"type":"weight-based-routing","load_balance_targets":[{"target":"fake/gpt","weight":90},{"target":"claude/sonnet","weight":20}]}}`)
		if resp.StatusCode != 400 || !strings.Contains(body, "virtual_model.routing_config.load_balance_targets") || !strings.Contains(body, "sum to 110") {
			t.Errorf("POST bad weights: %d %s; want 400 naming the field", resp.StatusCode, body)
		}
	})
	t.Run("a routing rule routes at once, and its delete too", func(t *testing.T) {
		if _, err := admin.CreateRoutingRule(ctx, &adminv1.CreateRoutingRuleRequest{RoutingRule: &adminv1.RoutingRule{Id: "bob-to-claude",
			When:          &adminv1.Condition{Subjects: []string{"user:bob"}, Models: []string{"prod/split"}},
			RoutingConfig: &adminv1.Routing{Type: "priority-based-routing", LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "claude/sonnet"}}}}}); err != nil {
			t.Fatal(err)
		}
		if got := served(t, "prod/split", 10); got["claude/sonnet"] != 10 {
			t.Errorf("with the rule, served by %v, want claude/sonnet only", got)
		}
		if _, err := admin.DeleteRoutingRule(ctx, &adminv1.DeleteRoutingRuleRequest{Id: "bob-to-claude"}); err != nil {
			t.Fatal(err)
		}
		// At 90%, 20 draws without fake/gpt happen once in 10^20.
		if got := served(t, "prod/split", 20); got["fake/gpt"] == 0 {
			t.Errorf("after the rule's delete, served by %v, want fake/gpt again", got)
		}
	})
	t.Run("REST reads a virtual model with its defaults", func(t *testing.T) {
		resp, body := g.do(t, "GET", "/api/v1/virtual-models/prod/ha", g.Token, "")
		var got adminv1.GetVirtualModelResponse
		if resp.StatusCode != 200 || protojson.Unmarshal([]byte(body), &got) != nil {
			t.Fatalf("GET prod/ha: %d %s", resp.StatusCode, body)
		}
		ts := got.GetVirtualModel().GetRoutingConfig().GetLoadBalanceTargets()
		if got.GetVirtualModel().GetFqn() != "prod/ha" || len(ts) != 2 || ts[0].GetRetryConfig().GetAttempts() != 1 || ts[1].GetRetryConfig().GetAttempts() != 2 ||
			!slices.Equal(ts[1].GetFallbackStatusCodes(), []int32{401, 403, 404, 429, 500, 502, 503}) {
			t.Errorf("GET prod/ha: %s; want its targets with the defaults filled in", body)
		}
	})
	t.Run("an update routes at once", func(t *testing.T) {
		resp, body := g.do(t, "PUT", "/api/v1/virtual-models/prod/split", g.Token,
			`{"routing_config":{"type":"weight-based-routing","load_balance_targets":[{"target":"fake/gpt","weight":0},{"target":"claude/sonnet","weight":100}]}}`)
		if resp.StatusCode != 200 {
			t.Fatalf("PUT prod/split: %d %s", resp.StatusCode, body)
		}
		if got := served(t, "prod/split", 10); got["claude/sonnet"] != 10 {
			t.Errorf("after the update, served by %v, want claude/sonnet only", got)
		}
	})
	t.Run("the routing state shows the open circuit", func(t *testing.T) {
		// Every prod/ha request fails once on fake/down: with the two above, five in a row
		// open its circuit (breaker.Threshold).
		for range 3 {
			chat(t, "prod/ha")
		}
		st, err := admin.ListRoutingState(ctx, &adminv1.ListRoutingStateRequest{Target: "fake/down"})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.GetStates()) != 1 || st.GetStates()[0].GetCircuit() != "open" || st.GetStates()[0].GetFailures() < 5 || st.GetStates()[0].GetNextProbeTime() == nil {
			t.Fatalf("fake/down state %v, want an open circuit after 5 failures with its next probe time", st.GetStates())
		}
		// Once open, fake/down is skipped: the next request is served at the first attempt.
		if target, attempts := chat(t, "prod/ha"); target != "claude/sonnet" || attempts != "1" {
			t.Errorf("with the circuit open, served by %q in %s attempts, want claude/sonnet in 1", target, attempts)
		}
		resp, body := g.do(t, "GET", "/api/v1/routing-state", g.Token, "")
		if resp.StatusCode != 200 || !strings.Contains(body, `"target":"fake/down"`) || !strings.Contains(body, `"circuit":"open"`) {
			t.Fatalf("GET /api/v1/routing-state: %d %s", resp.StatusCode, body)
		}
		all, err := admin.ListRoutingState(ctx, &adminv1.ListRoutingStateRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range all.GetStates() {
			if s.GetTarget() == "fake/gpt" && (s.GetCircuit() != "closed" || s.GetSamples() == 0 || s.GetTpotMs() <= 0) {
				t.Errorf("fake/gpt state %v, want closed with its latency samples", s)
			}
		}
	})
	t.Run("a delete takes effect at once", func(t *testing.T) {
		if _, err := admin.DeleteVirtualModel(ctx, &adminv1.DeleteVirtualModelRequest{Group: "prod", Name: "split"}); err != nil {
			t.Fatal(err)
		}
		_, err := c.Chat.Completions.New(ctx, chatParams("prod/split", 0))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
			t.Fatalf("prod/split after delete: %v, want 404", err)
		}
	})
}
