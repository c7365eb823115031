package app

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
)

// TestLoadBalancingConfigRoutes loads TrueFoundry's routing config example
// (configfile/testdata/load-balancing-config.yaml) after two accounts on the fake upstream,
// where openai-main/gpt-4 answers 503 and azure-openai/gpt-4 works, and drives it with
// openai-go: a request for the real model openai-main/gpt-4 is routed by the first rule that
// matches its caller and metadata, and falls back to Azure either way; a rate limit on the
// name asked for counts it.
func TestLoadBalancingConfigRoutes(t *testing.T) {
	up := providertest.NewOpenAI(t)
	example, err := os.ReadFile("../configfile/testdata/load-balancing-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`
- name: openai-main
  type: provider-account/openai
  base_url: %[1]q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt-4, type: integration/model/openai, model_id: fake-error-503, model_types: [chat]}
- name: azure-openai
  type: provider-account/openai
  base_url: %[1]q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt-4, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
- authz_rules:
    - models: [openai-main/gpt-4]
      users: [bob, erin]
  rate_limits:
    - {name: gpt4-requests, when: {models: [openai-main/gpt-4]}, limits: [{unit: requests_per_minute, limit_to: 1000}]}
---
`, up.BaseURL()) + string(example)
	cfgPath := writeConfig(t, cfg)
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", cfgPath)
	ctx := context.Background()
	admin := adminv1connect.NewAdminServiceClient(http.DefaultClient, g.URL, connect.WithInterceptors(bearer(g.Token)))
	if _, err := admin.CreateTeam(ctx, &adminv1.CreateTeamRequest{Team: &adminv1.Team{Name: "engineering-team"}}); err != nil {
		t.Fatal(err)
	}
	key := func(user string, teams ...string) string {
		if _, err := admin.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: user, Teams: teams}}); err != nil {
			t.Fatal(err)
		}
		k, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: user + "-key", Owner: &adminv1.ApiKey_User{User: user}}})
		if err != nil {
			t.Fatal(err)
		}
		return k.GetSecret()
	}
	bob, erin := key("bob"), key("erin", "engineering-team")
	for _, tc := range []struct {
		name, key string
		opts      []option.RequestOption
		// attempts: the priority rule tries openai-main once (attempts: 1), then Azure; the
		// weighted rule draws Azure first (80%) or openai-main, retried once, then Azure.
		attempts []string
	}{
		{"priority rule", bob, nil, []string{"2"}},
		{"metadata not matching", erin, []option.RequestOption{option.WithHeader("X-TFY-METADATA", `{"environment":"dev"}`)}, []string{"2"}},
		{"weighted rule for the team in production", erin, []option.RequestOption{option.WithHeader("X-TFY-METADATA", `{"environment":"production"}`)}, []string{"1", "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(tc.key), option.WithMaxRetries(0))
			var resp *http.Response
			out, err := c.Chat.Completions.New(ctx, chatParams("openai-main/gpt-4", 0), append(tc.opts, option.WithResponseInto(&resp))...)
			if err != nil {
				t.Fatal(err)
			}
			if out.Model != "openai-main/gpt-4" || len(out.Choices) == 0 {
				t.Errorf("answer model %q with %d choices, want openai-main/gpt-4's answer", out.Model, len(out.Choices))
			}
			if got := resp.Header.Get("x-llmgw-resolved-model"); got != "azure-openai/gpt-4" {
				t.Errorf("x-llmgw-resolved-model %q, want azure-openai/gpt-4", got)
			}
			if got := resp.Header.Get("x-llmgw-attempts"); !slices.Contains(tc.attempts, got) {
				t.Errorf("x-llmgw-attempts %q, want one of %v", got, tc.attempts)
			}
			// A rate limit on the name asked for counts the request that Azure served.
			if ev := g.Events.waitFor(t, resp.Header.Get("X-Request-Id")); ev.Model != "openai-main/gpt-4" || ev.HTTPStatus != 200 || !slices.Contains(ev.Counted, "rate_limit:gpt4-requests") {
				t.Errorf("usage event %q %d counted %v, want openai-main/gpt-4 200 counted by gpt4-requests", ev.Model, ev.HTTPStatus, ev.Counted)
			}
		})
	}
}
