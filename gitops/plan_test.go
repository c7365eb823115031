package gitops

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://hooks.slack.com/services/T0/B0/secret", "https://hooks.slack.com/(redacted)"},
		{"https://alerts.example.com", "https://alerts.example.com"},
		{"https://alerts.example.com?token=secret", "https://alerts.example.com/(redacted)"},
		{"not a url", "(redacted)"},
	} {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDiffFields compares the server's copy and the file's field by field: output-only and
// write-only fields are left out, a changed value, a field only the file has and one only the
// server has are each reported, and secrets are shown by reference.
func TestDiffFields(t *testing.T) {
	pl := &planner{plan: &Plan{}, refs: map[string]string{"https://hooks.example.com/new-secret": "env://HOOK"}}
	have := &adminv1.Budget{Name: "b", Unit: "cost_per_month", LimitTo: 10, AppliesPer: []string{"user"}, Mode: adminv1.Mode_MODE_ENFORCE,
		Alerts: &adminv1.BudgetAlerts{NotificationTarget: []*adminv1.NotificationTarget{{Type: "webhook", Url: "https://hooks.example.com/old-secret", HasSecret: true}}}}
	want := &adminv1.Budget{Name: "b", Unit: "cost_per_month", LimitTo: 20, Mode: adminv1.Mode_MODE_ENFORCE, When: &adminv1.Condition{Models: []string{"a/m"}},
		Alerts: &adminv1.BudgetAlerts{NotificationTarget: []*adminv1.NotificationTarget{{Type: "webhook", Url: "https://hooks.example.com/new-secret", Secret: "s3cret"}}}}
	pl.add("budget", "b", want, have, nil, nil, nil)
	ch := pl.plan.Changes[0]
	wantFields := []Field{
		{Path: "when.models[0]", Old: unset, New: "a/m"},
		{Path: "limit_to", Old: "10", New: "20"},
		{Path: "alerts.notification_target[0].url", Old: "https://hooks.example.com/(redacted)", New: "env://HOOK"},
		{Path: "applies_per[0]", Old: "user", New: unset},
	}
	if ch.Status != Changed {
		t.Errorf("status %v, want changed", ch.Status)
	}
	if d := cmp.Diff(wantFields, ch.Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	pl.add("budget", "b", have, have, nil, nil, nil)
	if ch := pl.plan.Changes[1]; ch.Status != Unchanged || len(ch.Fields) != 0 {
		t.Errorf("the same budget: %v %v, want unchanged", ch.Status, ch.Fields)
	}
}

// TestReadRefuses: what apply cannot write is an error naming it, before any call.
func TestReadRefuses(t *testing.T) {
	getenv := func(k string) string { return map[string]string{"SET": "v"}[k] }
	for _, tc := range []struct{ name, file, want string }{
		{"unset secret", "- {name: a, type: provider-account/openai, auth_data: {type: api-key, api_key: env://UNSET}}\n",
			"provider account a: auth_data: secret env://UNSET is not set"},
		{"unset model secret", "- name: a\n  type: provider-account/openai\n  integrations:\n    - {name: m, type: integration/model/openai, auth_data: {type: api-key, api_key: env://UNSET}}\n",
			"provider account a: integrations (m).auth_data: secret env://UNSET is not set"},
		{"body logging", "name: logs\ntype: gateway-logging-config\nrules:\n  - {id: all}\n",
			"gateway-logging-config: rules[0] (all): body logging rules are read only by `llmgw serve --config`"},
		{"invalid field", "- authz_rules:\n    - {name: r, models: [nofqn], users: [a]}\n", "authz_rules[0].models[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read([]byte(tc.file), getenv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Read: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
