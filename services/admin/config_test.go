package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/gitops"
)

// seedConfig stores one resource of most kinds the config file has, with secrets: a provider
// account with a key (no model: this harness compiles snapshots without adapters), an authz rule, a rate limit and a budget whose webhook has a
// secret and a credential in its path.
func seedConfig(t *testing.T, r *rbac) {
	t.Helper()
	ctx := context.Background()
	steps := []func() error{
		func() error {
			_, err := r.root.CreateProviderAccount(ctx, &adminv1.CreateProviderAccountRequest{ProviderAccount: &adminv1.ProviderAccount{Name: "acme", Provider: "openai", ApiKey: "sk-account-secret"}})
			return err
		},
		func() error {
			_, err := r.root.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "ann"}})
			return err
		},
		func() error {
			_, err := r.root.CreateAuthzRule(ctx, &adminv1.CreateAuthzRuleRequest{AuthzRule: &adminv1.AuthzRule{Name: "ann-gpt", Models: []string{"acme/*"}, Users: []string{"ann"}}})
			return err
		},
		func() error {
			_, err := r.root.CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: &adminv1.RateLimit{Name: "per-user-rpm",
				Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 2}}, AppliesPer: []string{"user"}}})
			return err
		},
		func() error {
			_, err := r.root.CreateBudget(ctx, &adminv1.CreateBudgetRequest{Budget: &adminv1.Budget{Name: "monthly", Unit: "cost_per_month", LimitTo: 100,
				Alerts: &adminv1.BudgetAlerts{Thresholds: []int32{80}, NotificationTarget: []*adminv1.NotificationTarget{{Type: "webhook", Url: "https://hooks.example.com/T0/path-secret", Secret: "hook-secret"}}}}})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("seed step %d: %v", i, err)
		}
	}
}

// TestConfigYAML: the stored config exported as YAML, planned back unchanged, edited,
// reviewed and applied through the Admin API, with the rules a browser's caller needs: no
// secret out, none of the server's environment read in, a stale review refused, viewers
// read-only, every write audited as the caller's.
func TestConfigYAML(t *testing.T) {
	ctx := context.Background()
	r := newRBAC(t)
	seedConfig(t, r)
	viewer := r.user(t, "vera", []string{"viewer"}, nil)

	exp, err := r.root.ExportConfig(ctx, &adminv1.ExportConfigRequest{})
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	yaml := exp.GetYaml()
	for _, secret := range []string{"sk-account-secret", "hook-secret", "path-secret"} {
		if strings.Contains(yaml, secret) {
			t.Errorf("export holds the secret %q:\n%s", secret, yaml)
		}
	}
	for _, want := range []string{"name: acme", "limit_to: 2", "api_key: '" + gitops.Redacted + "'", "url: https://hooks.example.com/(redacted)", "name: ann-gpt"} {
		if !strings.Contains(yaml, want) {
			t.Errorf("export lacks %q:\n%s", want, yaml)
		}
	}
	if strings.Contains(yaml, "the config file has no") {
		t.Errorf("export has kinds the config file has not (users, teams, virtual accounts):\n%s", yaml)
	}

	if vexp, err := viewer.ExportConfig(ctx, &adminv1.ExportConfigRequest{}); err != nil || vexp.GetYaml() != yaml {
		t.Errorf("viewer export: %v, want the admin's YAML", err)
	}
	lead := r.user(t, "lena", []string{"team-admin"}, nil)
	_, err = lead.ExportConfig(ctx, &adminv1.ExportConfigRequest{})
	wantCode(t, "team admin export", err, connect.CodePermissionDenied)

	t.Run("export plans unchanged", func(t *testing.T) {
		plan, err := viewer.PlanConfig(ctx, &adminv1.PlanConfigRequest{Yaml: yaml})
		if err != nil {
			t.Fatalf("viewer plan: %v", err)
		}
		if plan.GetCreated() != 0 || plan.GetUpdated() != 0 || plan.GetUnchanged() != 4 {
			t.Errorf("plan of the export: %d created, %d updated, %d unchanged, want 0, 0, 4:\n%s", plan.GetCreated(), plan.GetUpdated(), plan.GetUnchanged(), plan.GetText())
		}
		for _, ch := range plan.GetChanges() {
			if ch.GetAction() != adminv1.ConfigAction_CONFIG_ACTION_UNCHANGED {
				t.Errorf("%s %s: %v %v, want unchanged", ch.GetKind(), ch.GetName(), ch.GetAction(), ch.GetFields())
			}
		}
	})

	edited := strings.Replace(yaml, "limit_to: 2", "limit_to: 5", 1)
	plan, err := r.root.PlanConfig(ctx, &adminv1.PlanConfigRequest{Yaml: edited})
	if err != nil {
		t.Fatalf("plan the edit: %v", err)
	}
	t.Run("an edit plans its field", func(t *testing.T) {
		if plan.GetUpdated() != 1 || plan.GetCreated() != 0 {
			t.Fatalf("plan: %d created, %d updated, want 0, 1:\n%s", plan.GetCreated(), plan.GetUpdated(), plan.GetText())
		}
		var got *adminv1.ConfigChange
		for _, ch := range plan.GetChanges() {
			if ch.GetAction() == adminv1.ConfigAction_CONFIG_ACTION_UPDATE {
				got = ch
			}
		}
		want := &adminv1.ConfigFieldChange{Path: "limits[0].limit_to", OldValue: "2", NewValue: "5"}
		if got.GetKind() != "rate-limit" || got.GetName() != "per-user-rpm" || len(got.GetFields()) != 1 ||
			got.GetFields()[0].GetPath() != want.GetPath() || got.GetFields()[0].GetOldValue() != "2" || got.GetFields()[0].GetNewValue() != "5" {
			t.Errorf("update %v, want rate-limit per-user-rpm with %v", got, want)
		}
		if !strings.Contains(plan.GetText(), "~ limits[0].limit_to: 2 -> 5") {
			t.Errorf("plan text lacks the field's change:\n%s", plan.GetText())
		}
	})

	t.Run("viewer may not apply", func(t *testing.T) {
		_, err := viewer.ApplyConfig(ctx, &adminv1.ApplyConfigRequest{Yaml: edited, PlanHash: plan.GetPlanHash()})
		wantCode(t, "viewer apply", err, connect.CodePermissionDenied)
	})
	t.Run("apply without a reviewed plan", func(t *testing.T) {
		_, err := r.root.ApplyConfig(ctx, &adminv1.ApplyConfigRequest{Yaml: edited})
		wantCode(t, "apply without plan_hash", err, connect.CodeInvalidArgument)
		_, err = r.root.ApplyConfig(ctx, &adminv1.ApplyConfigRequest{Yaml: strings.Replace(edited, "limit_to: 5", "limit_to: 6", 1), PlanHash: plan.GetPlanHash()})
		wantCode(t, "apply of other YAML than reviewed", err, connect.CodeFailedPrecondition)
	})

	applied, err := r.root.ApplyConfig(ctx, &adminv1.ApplyConfigRequest{Yaml: edited, PlanHash: plan.GetPlanHash()})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if applied.GetWritten() != 1 || len(applied.GetApplied()) != 1 || applied.GetApplied()[0].GetName() != "per-user-rpm" {
		t.Errorf("applied %v, want per-user-rpm written", applied)
	}
	rl, err := r.root.GetRateLimit(ctx, &adminv1.GetRateLimitRequest{Name: "per-user-rpm"})
	if err != nil || rl.GetRateLimit().GetLimits()[0].GetLimitTo() != 5 {
		t.Errorf("stored rate limit %v (%v), want limit 5", rl.GetRateLimit(), err)
	}
	// The keys and the webhook survive: the placeholders kept them.
	acct, err := r.root.GetProviderAccount(ctx, &adminv1.GetProviderAccountRequest{Name: "acme"})
	if err != nil || !acct.GetProviderAccount().GetHasApiKey() {
		t.Errorf("account after apply: %v (%v), want its key kept", acct.GetProviderAccount(), err)
	}
	events, err := r.root.ListAuditEvents(ctx, &adminv1.ListAuditEventsRequest{ResourceKind: "rate_limit"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := events.GetAuditEvents()[0]; ev.GetRpc() != "UpdateRateLimit" || ev.GetPrincipal() != "admin-token" || ev.GetResourceName() != "per-user-rpm" {
		t.Errorf("newest rate limit audit event %v, want the apply's UpdateRateLimit by admin-token", ev)
	}
	again, err := r.root.PlanConfig(ctx, &adminv1.PlanConfigRequest{Yaml: edited})
	if err != nil || again.GetUpdated()+again.GetCreated() != 0 {
		t.Errorf("plan after apply: %v (%v), want nothing to change", again.GetText(), err)
	}

	t.Run("stale plan refused", func(t *testing.T) {
		back := strings.Replace(edited, "limit_to: 5", "limit_to: 3", 1)
		p, err := r.root.PlanConfig(ctx, &adminv1.PlanConfigRequest{Yaml: back})
		if err != nil {
			t.Fatal(err)
		}
		// Someone else changes the rate limit after the review.
		if _, err := r.root.UpdateRateLimit(ctx, &adminv1.UpdateRateLimitRequest{RateLimit: &adminv1.RateLimit{Name: "per-user-rpm",
			Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 9}}, AppliesPer: []string{"user"}}}); err != nil {
			t.Fatal(err)
		}
		_, err = r.root.ApplyConfig(ctx, &adminv1.ApplyConfigRequest{Yaml: back, PlanHash: p.GetPlanHash()})
		wantCode(t, "apply of a stale plan", err, connect.CodeFailedPrecondition)
		rl, _ := r.root.GetRateLimit(ctx, &adminv1.GetRateLimitRequest{Name: "per-user-rpm"})
		if got := rl.GetRateLimit().GetLimits()[0].GetLimitTo(); got != 9 {
			t.Errorf("limit after the refused apply: %d, want 9 (untouched)", got)
		}
	})

	t.Run("a write the server refuses stops the apply, naming the resource", func(t *testing.T) {
		bad := strings.Replace(edited, "limit_to: 5", "limit_to: 4", 1) + `---
- name: vgroup
  type: provider-account/virtual-model
  integrations:
    - name: bad
      type: integration/model/virtual
      routing_config:
        type: weight-based-routing
        load_balance_targets:
          - target: acme/nope
            weight: 100
`
		p, err := r.root.PlanConfig(ctx, &adminv1.PlanConfigRequest{Yaml: bad})
		if err != nil {
			t.Fatal(err)
		}
		if p.GetCreated() != 1 || p.GetUpdated() != 1 {
			t.Fatalf("plan: %s", p.GetText())
		}
		_, err = r.root.ApplyConfig(ctx, &adminv1.ApplyConfigRequest{Yaml: bad, PlanHash: p.GetPlanHash()})
		wantCode(t, "apply with a bad target", err, connect.CodeInvalidArgument)
		if err == nil || !strings.Contains(err.Error(), "applied 0 of 2: virtual-model vgroup/bad: ") || !strings.Contains(err.Error(), "acme/nope") {
			t.Errorf("apply: %v, want the count written and the refused resource named", err)
		}
		rl, _ := r.root.GetRateLimit(ctx, &adminv1.GetRateLimitRequest{Name: "per-user-rpm"})
		if got := rl.GetRateLimit().GetLimits()[0].GetLimitTo(); got != 9 {
			t.Errorf("limit after the stopped apply: %d, want 9, as the stale-plan case left it (the rate limit comes after the virtual model)", got)
		}
	})

	t.Run("refused YAML names the field", func(t *testing.T) {
		t.Setenv("LLMGW_TEST_SERVER_SECRET", "server-secret")
		for _, tc := range []struct{ name, yaml, want string }{
			{"env reference", strings.Replace(yaml, "'"+gitops.Redacted+"'", "env://LLMGW_TEST_SERVER_SECRET", 1), "auth_data.api_key: env:// and file:// references"},
			{"file reference", strings.Replace(yaml, "'"+gitops.Redacted+"'", "file:///etc/hostname", 1), "auth_data.api_key: env:// and file:// references"},
			{"inline secret", strings.Replace(yaml, "'"+gitops.Redacted+"'", "sk-inline", 1), "auth_data.api_key: secrets are never sent inline"},
			{"secret manager", strings.Replace(yaml, "'"+gitops.Redacted+"'", "vault://secret/llmgw#openai", 1), "provider account acme: auth_data: vault://secret/llmgw#openai is a secret manager's reference"},
			{"webhook URL from the environment", strings.Replace(yaml, "https://hooks.example.com/(redacted)", "env://LLMGW_TEST_SERVER_SECRET", 1), "notification_target[0].url: env:// and file:// references"},
			{"kept key of a new account", strings.Replace(yaml, "name: acme\n", "name: newacct\n", 1), "provider account newacct: auth_data.api_key"},
			{"redacted URL with nothing stored", strings.Replace(yaml, "https://hooks.example.com/(redacted)", "https://other.example.com/(redacted)", 1), "alerts.notification_target[0].url"},
			{"invalid field", strings.Replace(yaml, "limit_to: 2", "limit_to: many", 1), fmt.Sprintf("line %d: document ", lineOf(yaml, "limit_to: 2")) + "4: rate_limits[0].limits[0].limit_to"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := r.root.PlanConfig(ctx, &adminv1.PlanConfigRequest{Yaml: tc.yaml})
				wantCode(t, "plan", err, connect.CodeInvalidArgument)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("plan: %v, want an error with %q", err, tc.want)
				}
				if err != nil && strings.Contains(err.Error(), "server-secret") {
					t.Errorf("the error holds the server's secret: %v", err)
				}
			})
		}
	})
}

// lineOf is the 1-based line of text that holds s.
func lineOf(text, s string) int {
	return strings.Count(text[:strings.Index(text, s)], "\n") + 1
}
