package app

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/llmgw/llmgw/configfile"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// gitopsFile is a config file with every kind apply writes: a provider account with a key and
// two models (one with its own key), a virtual model, a routing rule, an authz rule,
// TrueFoundry's rate limit and budget documents and llmgw's own rate_limits.
const gitopsFile = `
- name: acme
  type: provider-account/openai
  base_url: http://127.0.0.1:9/v1
  auth_data: {type: api-key, api_key: env://GITOPS_OPENAI_KEY}
  integrations:
    - {name: gpt-4o, type: integration/model/openai, model_id: gpt-4o-2024-08-06, model_types: [chat]}
    - name: mini
      type: integration/model/openai
      auth_data: {type: bearer-auth, bearer_token: env://GITOPS_MINI_KEY}
- name: prod
  type: provider-account/virtual-model
  integrations:
    - name: chat
      type: integration/model/virtual
      routing_config:
        type: weight-based-routing
        load_balance_targets:
          - {target: acme/gpt-4o, weight: 90}
          - {target: acme/mini, weight: 10}
- name: routing
  type: gateway-load-balancing-config
  rules:
    - id: mini-to-4o
      type: priority-based-routing
      when: {models: [acme/mini], subjects: [team:backend]}
      load_balance_targets:
        - {target: acme/gpt-4o, priority: 0}
- authz_rules:
    - {name: everyone, models: ["acme/*", prod/chat], users: ["*"]}
  rate_limits:
    - name: per-user-rpm
      limits: [{unit: requests_per_minute, limit_to: RPM}]
      applies_per: [user]
---
name: limits
type: gateway-rate-limiting-config
rules:
  - id: backend-tpm
    when: {subjects: ["team:backend"]}
    limit_to: 1000
    unit: tokens_per_minute
---
name: budgets
type: gateway-budget-config
rules:
  - id: monthly
    limit_to: 20
    unit: cost_per_month
    alerts:
      notification_target:
        - {type: slack-webhook, url: env://GITOPS_SLACK_URL}
        - {type: webhook, url: https://alerts.example.com/hook, secret: env://GITOPS_HOOK_SECRET}
`

// TestApplyAndGet drives `llmgw apply` and `llmgw get` against a running server through Run:
//   - --dry-run reports every resource created, the keys by their references, and writes
//     nothing;
//   - apply writes them through the Admin API; a second apply reports every one unchanged;
//   - a changed limit is reported with the field (and, with --show-diff, old and new values),
//     only that resource is written;
//   - get prints the stored resources in the file's shapes, keys redacted; its rate limits
//     read back through configfile are what the file has;
//   - invalid input exits with an error naming the field, from the file or from the server;
//   - no secret value appears in any output.
func TestApplyAndGet(t *testing.T) {
	secrets := map[string]string{
		"GITOPS_OPENAI_KEY":  "sk-gitops-account-secret-0001",
		"GITOPS_MINI_KEY":    "sk-gitops-model-secret-0002",
		"GITOPS_SLACK_URL":   "https://hooks.slack.com/services/T000/B000/slacksecret0003",
		"GITOPS_HOOK_SECRET": "hook-signing-secret-0004",
	}
	g := startGateway(t, nil)
	env := map[string]string{"LLMGW_SERVER": g.URL, "LLMGW_ADMIN_TOKEN": g.Token}
	for k, v := range secrets {
		env[k] = v
	}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	var outputs []string
	run := func(args ...string) (string, error) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		err := Run(ctx, args, getenv, &stdout, &stderr)
		outputs = append(outputs, stdout.String(), stderr.String())
		if err != nil {
			outputs = append(outputs, err.Error())
		}
		return stdout.String(), err
	}
	file := writeConfig(t, strings.Replace(gitopsFile, "RPM", "100", 1))
	admin := g.adminClient()

	out, err := run("apply", "-f", file, "--dry-run", "--show-diff")
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	for _, want := range []string{
		"provider-account acme: created\n", "    + api_key: env://GITOPS_OPENAI_KEY\n",
		"model acme/gpt-4o: created\n", "    + upstream_model: gpt-4o-2024-08-06\n",
		"model acme/mini: created\n", "virtual-model prod/chat: created\n",
		"    + routing_config.load_balance_targets[0].weight: 90\n",
		"routing-rule mini-to-4o: created\n", "authz-rule everyone: created\n",
		"rate-limit per-user-rpm: created\n", "    + limits[0].limit_to: 100\n",
		"rate-limit backend-tpm: created\n", "budget monthly: created\n",
		"    + alerts.notification_target[0].url: env://GITOPS_SLACK_URL\n",
		"    + alerts.notification_target[1].secret: env://GITOPS_HOOK_SECRET\n",
		"9 created, 0 changed, 0 unchanged\n", "dry run: nothing was written\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if _, err := admin.GetProviderAccount(ctx, &adminv1.GetProviderAccountRequest{Name: "acme"}); err == nil {
		t.Error("the dry run created provider account acme")
	}
	if rls, err := admin.ListRateLimits(ctx, &adminv1.ListRateLimitsRequest{}); err != nil || len(rls.GetRateLimits()) != 0 {
		t.Errorf("after the dry run: rate limits %v, %v; want none", rls.GetRateLimits(), err)
	}

	out, err = run("apply", "-f", file)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if !strings.Contains(out, "applied: 9 written\n") || strings.Contains(out, "    + ") {
		t.Errorf("apply output (without --show-diff, no field lines):\n%s", out)
	}
	acct, err := admin.GetProviderAccount(ctx, &adminv1.GetProviderAccountRequest{Name: "acme"})
	if err != nil || !acct.GetProviderAccount().GetHasApiKey() {
		t.Fatalf("acme after apply: %v, %v; want it with a key", acct, err)
	}
	mini, err := admin.GetModel(ctx, &adminv1.GetModelRequest{Account: "acme", Name: "mini"})
	if err != nil || !mini.GetModel().GetHasApiKey() {
		t.Errorf("acme/mini after apply: %v, %v; want it with its own key", mini, err)
	}
	b, err := admin.GetBudget(ctx, &adminv1.GetBudgetRequest{Name: "monthly"})
	if err != nil {
		t.Fatal(err)
	}
	nts := b.GetBudget().GetAlerts().GetNotificationTarget()
	if len(nts) != 2 || nts[0].GetUrl() != secrets["GITOPS_SLACK_URL"] || !nts[1].GetHasSecret() {
		t.Errorf("budget monthly's targets: %v", nts)
	}
	if _, err := admin.GetRoutingRule(ctx, &adminv1.GetRoutingRuleRequest{Id: "mini-to-4o"}); err != nil {
		t.Errorf("routing rule: %v", err)
	}
	if _, err := admin.GetVirtualModel(ctx, &adminv1.GetVirtualModelRequest{Group: "prod", Name: "chat"}); err != nil {
		t.Errorf("virtual model: %v", err)
	}

	// The same file again: nothing to do.
	before, err := admin.ListRateLimits(ctx, &adminv1.ListRateLimitsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out, err = run("apply", "-f", file)
	if err != nil {
		t.Fatalf("second apply: %v\n%s", err, out)
	}
	if !strings.Contains(out, "0 created, 0 changed, 9 unchanged\n") || !strings.Contains(out, "applied: 0 written\n") {
		t.Errorf("second apply, want everything unchanged:\n%s", out)
	}
	after, err := admin.ListRateLimits(ctx, &adminv1.ListRateLimitsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, after, protocmp.Transform()); d != "" {
		t.Errorf("the second apply wrote rate limits (-before +after):\n%s", d)
	}
	// --update-secrets rewrites the stored keys, and says so by reference.
	out, err = run("apply", "-f", file, "--update-secrets", "--dry-run", "--show-diff")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "provider-account acme: changed\n    ~ api_key: (stored) -> env://GITOPS_OPENAI_KEY (rewritten)\n") {
		t.Errorf("--update-secrets dry run:\n%s", out)
	}

	// One limit changed.
	changed := writeConfig(t, strings.Replace(gitopsFile, "RPM", "200", 1))
	out, err = run("apply", "-f", changed, "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "rate-limit per-user-rpm: changed (limits[0].limit_to)\n") || !strings.Contains(out, "0 created, 1 changed, 8 unchanged\n") {
		t.Errorf("dry run of a changed limit:\n%s", out)
	}
	out, err = run("apply", "-f", changed, "--show-diff")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "rate-limit per-user-rpm: changed\n    ~ limits[0].limit_to: 100 -> 200\n") || !strings.Contains(out, "applied: 1 written\n") {
		t.Errorf("apply of a changed limit:\n%s", out)
	}
	rl, err := admin.GetRateLimit(ctx, &adminv1.GetRateLimitRequest{Name: "per-user-rpm"})
	if err != nil || rl.GetRateLimit().GetLimits()[0].GetLimitTo() != 200 {
		t.Errorf("per-user-rpm after apply: %v, %v; want limit 200", rl, err)
	}

	// get: the file's shapes, secrets redacted; rate limits read back as the file has them.
	out, err = run("get", "all")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- name: acme\n  type: provider-account/openai\n", "api_key: '(redacted: stored, write-only)'",
		"type: provider-account/virtual-model", "type: gateway-load-balancing-config", "authz_rules:", "rate_limits:", "budgets:",
		"url: https://hooks.slack.com/(redacted)", "users:"} {
		if !strings.Contains(out, want) {
			t.Errorf("get all lacks %q:\n%s", want, out)
		}
	}
	out, err = run("get", "rate-limits", "--server", g.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, err := configfile.Parse([]byte(out), configfile.EnvFileResolver(getenv))
	if err != nil {
		t.Fatalf("get rate-limits does not parse as a config file: %v\n%s", err, out)
	}
	want, err := configfile.Parse([]byte(strings.Replace(gitopsFile, "RPM", "200", 1)), configfile.EnvFileResolver(getenv))
	if err != nil {
		t.Fatal(err)
	}
	byName := func(a, b *adminv1.RateLimit) bool { return a.GetName() < b.GetName() }
	if d := cmp.Diff(want.RateLimits, got.RateLimits, protocmp.Transform(), cmpopts.SortSlices(byName)); d != "" {
		t.Errorf("rate limits read back by get (-file +get):\n%s", d)
	}
	// Virtual models and routing rules, every default filled in by the server, read back as
	// the file has them.
	out, err = run("get", "virtual-models")
	if err != nil {
		t.Fatal(err)
	}
	routing, err := run("get", "routing-rules")
	if err != nil {
		t.Fatal(err)
	}
	if got, err = configfile.Parse([]byte(out+"---\n"+routing), nil); err != nil {
		t.Fatalf("get virtual-models and routing-rules do not parse as a config file: %v\n%s---\n%s", err, out, routing)
	}
	if d := cmp.Diff(want.VirtualModels, got.VirtualModels); d != "" {
		t.Errorf("virtual models read back by get (-file +get):\n%s", d)
	}
	if d := cmp.Diff(want.RoutingRules, got.RoutingRules); d != "" {
		t.Errorf("routing rules read back by get (-file +get):\n%s", d)
	}
	out, err = run("get", "authz-rules")
	if err != nil {
		t.Fatal(err)
	}
	if got, err = configfile.Parse([]byte(out), nil); err != nil {
		t.Fatalf("get authz-rules does not parse as a config file: %v\n%s", err, out)
	}
	if d := cmp.Diff(want.Rules, got.Rules, protocmp.Transform()); d != "" {
		t.Errorf("authz rules read back by get (-file +get):\n%s", d)
	}
	if _, err := run("get", "widgets"); err == nil || !strings.Contains(err.Error(), "rate-limits") {
		t.Errorf("get of an unknown kind: %v, want the kinds listed", err)
	}

	// Invalid input: from the file, and from the server, each naming the field.
	bad := writeConfig(t, strings.Replace(gitopsFile, "RPM", "-5", 1))
	if _, err := run("apply", "-f", bad, "--dry-run"); err == nil || !strings.Contains(err.Error(), "rate_limits[0].limits[0].limit_to") {
		t.Errorf("apply of a negative limit: %v, want an error naming rate_limits[0].limits[0].limit_to", err)
	}
	dangling := writeConfig(t, `
- name: other
  type: provider-account/virtual-model
  integrations:
    - name: chat
      type: integration/model/virtual
      routing_config:
        type: weight-based-routing
        load_balance_targets: [{target: acme/nope, weight: 100}]
`)
	if _, err := run("apply", "-f", dangling); err == nil || !strings.Contains(err.Error(), "load_balance_targets[0].target") {
		t.Errorf("apply of a target that does not exist: %v, want the server's error naming the field", err)
	}
	unset := writeConfig(t, "- {name: x, type: provider-account/openai, auth_data: {type: api-key, api_key: env://GITOPS_UNSET}}\n")
	if _, err := run("apply", "-f", unset, "--dry-run"); err == nil || !strings.Contains(err.Error(), "env://GITOPS_UNSET is not set") {
		t.Errorf("apply with an unset secret: %v, want an error naming the reference", err)
	}
	env["LLMGW_ADMIN_TOKEN"] = "wrong"
	if _, err := run("apply", "-f", file, "--dry-run"); err == nil || !strings.Contains(err.Error(), "LLMGW_ADMIN_TOKEN") {
		t.Errorf("apply with a wrong admin token: %v", err)
	}

	all := strings.Join(outputs, "\n")
	for name, v := range secrets {
		if strings.Contains(all, v) || strings.Contains(all, strings.TrimPrefix(v, "https://hooks.slack.com/")) {
			t.Errorf("the value of %s appears in apply's or get's output", name)
		}
	}
	if logs := g.Logs.String(); strings.Contains(logs, secrets["GITOPS_OPENAI_KEY"]) {
		t.Error("the server logged a provider key")
	}
}
