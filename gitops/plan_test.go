package gitops

import (
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
