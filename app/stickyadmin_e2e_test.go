package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// TestAdminStickyRouting: a weighted 50/50 virtual model made with the Admin API with
// sticky_routing on the x-session-id header keeps each session on one target while requests
// without the header are spread over both; Get returns the field; a bad sticky_routing and a
// routing rule with one are refused naming the field; an update without sticky_routing takes
// effect on the next request (one session's requests are spread again).
func TestAdminStickyRouting(t *testing.T) {
	up := providertest.NewOpenAI(t)
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", writeConfig(t, fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: a, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: b, type: integration/model/openai, model_id: gpt-4o, model_types: [chat]}
`, up.BaseURL())))
	ctx := context.Background()
	admin := g.adminClient()
	vm := func(sticky *adminv1.StickyRouting) *adminv1.VirtualModel {
		return &adminv1.VirtualModel{Group: "prod", Name: "chat", ModelTypes: []string{"chat"}, RoutingConfig: &adminv1.Routing{
			Type:               "weight-based-routing",
			LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "fake/a", Weight: 50}, {Target: "fake/b", Weight: 50}},
			StickyRouting:      sticky,
		}}
	}
	sticky := &adminv1.StickyRouting{TtlSeconds: 600, SessionIdentifiers: []*adminv1.SessionIdentifier{{Source: "headers", Key: "x-session-id"}}}
	if _, err := admin.CreateVirtualModel(ctx, &adminv1.CreateVirtualModelRequest{VirtualModel: vm(sticky)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateAuthzRule(ctx, &adminv1.CreateAuthzRuleRequest{AuthzRule: &adminv1.AuthzRule{Name: "bob-prod", Models: []string{"prod/chat"}, Users: []string{"bob"}}}); err != nil {
		t.Fatal(err)
	}
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.userKey(t, "bob")), option.WithMaxRetries(0))
	ask := func(t *testing.T, session string) string {
		t.Helper()
		var resp *http.Response
		opts := []option.RequestOption{option.WithResponseInto(&resp)}
		if session != "" {
			opts = append(opts, option.WithHeader("x-session-id", session))
		}
		if _, err := c.Chat.Completions.New(ctx, chatParams("prod/chat", 0), opts...); err != nil {
			t.Fatal(err)
		}
		return resp.Header.Get("x-llmgw-resolved-model")
	}
	// 40 draws of a fair coin all alike: 2^-39.
	spread := func(t *testing.T, what string, session func(i int) string) {
		t.Helper()
		seen := map[string]int{}
		for i := range 40 {
			seen[ask(t, session(i))]++
		}
		if seen["fake/a"] == 0 || seen["fake/b"] == 0 || seen["fake/a"]+seen["fake/b"] != 40 {
			t.Errorf("%s: targets %v, want both", what, seen)
		}
	}

	t.Run("get returns sticky_routing", func(t *testing.T) {
		got, err := admin.GetVirtualModel(ctx, &adminv1.GetVirtualModelRequest{Group: "prod", Name: "chat"})
		if err != nil {
			t.Fatal(err)
		}
		st := got.GetVirtualModel().GetRoutingConfig().GetStickyRouting()
		if st.GetTtlSeconds() != 600 || len(st.GetSessionIdentifiers()) != 1 || st.GetSessionIdentifiers()[0].GetKey() != "X-Session-Id" || st.GetSessionIdentifiers()[0].GetSource() != "headers" {
			t.Errorf("sticky_routing %v, want 600 s on the header X-Session-Id", st)
		}
	})
	t.Run("one session, one target", func(t *testing.T) {
		for _, s := range []string{"session-1", "session-2", "session-3"} {
			first := ask(t, s)
			for i := range 20 {
				if got := ask(t, s); got != first {
					t.Fatalf("%s, request %d: %s, want %s, where the session is pinned", s, i, got, first)
				}
			}
		}
	})
	t.Run("without the header, by weight", func(t *testing.T) {
		spread(t, "no x-session-id", func(int) string { return "" })
	})
	t.Run("sessions are spread by weight", func(t *testing.T) {
		spread(t, "a new session each time", func(i int) string { return fmt.Sprintf("s-%d", i) })
	})
	t.Run("bad sticky_routing is refused naming the field", func(t *testing.T) {
		bad := vm(&adminv1.StickyRouting{TtlSeconds: 604_801, SessionIdentifiers: sticky.SessionIdentifiers})
		_, err := admin.UpdateVirtualModel(ctx, &adminv1.UpdateVirtualModelRequest{VirtualModel: bad})
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "virtual_model.routing_config.sticky_routing.ttl_seconds") {
			t.Errorf("update with ttl 604801: %v, want invalid argument naming the field", err)
		}
	})
	t.Run("REST refuses sticky_routing on a routing rule", func(t *testing.T) {
		resp, body := g.do(t, "POST", "/api/v1/routing-rules", g.Token,
			`{"id":"r","when":{"models":["prod/chat"]},"routing_config":{"type":"weight-based-routing","load_balance_targets":[{"target":"fake/a","weight":100}],"sticky_routing":{"ttl_seconds":60,"session_identifiers":[{"source":"headers","key":"x-session-id"}]}}}`)
		if resp.StatusCode != 400 || !strings.Contains(body, "routing_rule.routing_config.sticky_routing") {
			t.Errorf("POST rule with sticky_routing: %d %s; want 400 naming the field", resp.StatusCode, body)
		}
	})
	t.Run("an update without sticky_routing takes effect at once", func(t *testing.T) {
		if _, err := admin.UpdateVirtualModel(ctx, &adminv1.UpdateVirtualModelRequest{VirtualModel: vm(nil)}); err != nil {
			t.Fatal(err)
		}
		spread(t, "one session, no longer sticky", func(int) string { return "session-1" })
	})
}
