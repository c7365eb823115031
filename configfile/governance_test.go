package configfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/limiter"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/masterkey"
	"github.com/llmgw/llmgw/store"
)

// tfyRateLimits are TrueFoundry's documented V1 rate limit examples, unchanged: a team's tokens
// per minute counted per user, a per-user daily request limit, a named user on one model, and a
// per-project limit selected by metadata.
const tfyRateLimits = `name: ratelimiting-config
type: gateway-rate-limiting-config
rules:
  - id: "team-backend-tpm"
    when:
      subjects: ["team:backend"]
    limit_to: 20000
    unit: tokens_per_minute
    rate_limit_applies_per: ['user']
  - id: "per-user-daily-requests"
    when: {}
    limit_to: 1000
    unit: requests_per_day
    rate_limit_applies_per: ['user']
  - id: "openai-gpt4-dev-env"
    when:
      subjects: ["user:bob@email.com"]
      models: ["openai-main/gpt4"]
    limit_to: 1000
    unit: requests_per_day
  - id: "project-hourly-limit"
    when:
      metadata:
        environment: "production"
    limit_to: 50000
    unit: tokens_per_hour
    rate_limit_applies_per: ["metadata.project_id"]
`

// tfyBudgets is TrueFoundry's documented V1 budget shape: a monthly team budget with alerts and
// a per-user daily budget in audit mode. The notification targets are the two types llmgw
// delivers to, with the URL and secret as references.
const tfyBudgets = `name: budget-config
type: gateway-budget-config
rules:
  - id: "team-monthly-budget"
    when:
      subjects: ["team:engineering"]
    limit_to: 5000
    unit: cost_per_month
    budget_applies_per: ["team"]
    alerts:
      thresholds: [75, 90, 100]
      notification_target:
        - type: slack-webhook
          url: env://SLACK_WEBHOOK_URL
        - type: webhook
          url: https://hooks.example.com/llmgw
          secret: env://ALERT_WEBHOOK_SECRET
  - id: "user-daily-budget"
    when: {}
    limit_to: 10
    unit: cost_per_day
    budget_applies_per: ["user"]
    audit_mode: true
`

var tfyEnv = map[string]string{"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/abc", "ALERT_WEBHOOK_SECRET": "whsec-0123456789"}

func wantTFY() ([]*adminv1.RateLimit, []*adminv1.Budget) {
	enforce := adminv1.Mode_MODE_ENFORCE
	limits := []*adminv1.RateLimit{
		{Name: "openai-gpt4-dev-env", When: &adminv1.Condition{Subjects: []string{"user:bob@email.com"}, Models: []string{"openai-main/gpt4"}}, Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_day", LimitTo: 1000}}, Mode: enforce},
		{Name: "per-user-daily-requests", When: &adminv1.Condition{}, Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_day", LimitTo: 1000}}, AppliesPer: []string{"user"}, Mode: enforce},
		{Name: "project-hourly-limit", When: &adminv1.Condition{Metadata: map[string]string{"environment": "production"}}, Limits: []*adminv1.RateLimitEntry{{Unit: "tokens_per_hour", LimitTo: 50000}}, AppliesPer: []string{"metadata.project_id"}, Mode: enforce},
		{Name: "team-backend-tpm", When: &adminv1.Condition{Subjects: []string{"team:backend"}}, Limits: []*adminv1.RateLimitEntry{{Unit: "tokens_per_minute", LimitTo: 20000}}, AppliesPer: []string{"user"}, Mode: enforce},
	}
	budgets := []*adminv1.Budget{
		{Name: "team-monthly-budget", When: &adminv1.Condition{Subjects: []string{"team:engineering"}}, Unit: "cost_per_month", LimitTo: 5000, AppliesPer: []string{"team"}, Mode: enforce,
			Alerts: &adminv1.BudgetAlerts{Thresholds: []int32{75, 90, 100}, NotificationTarget: []*adminv1.NotificationTarget{
				{Type: "slack-webhook", Url: "https://hooks.slack.com/services/T0/B0/abc"},
				{Type: "webhook", Url: "https://hooks.example.com/llmgw", HasSecret: true},
			}}},
		{Name: "user-daily-budget", When: &adminv1.Condition{}, Unit: "cost_per_day", LimitTo: 10, AppliesPer: []string{"user"}, Mode: adminv1.Mode_MODE_AUDIT,
			Alerts: &adminv1.BudgetAlerts{Thresholds: []int32{75, 90, 100}}},
	}
	return limits, budgets
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "llmgw.db"), store.Options{MasterKey: bytes.Repeat([]byte{3}, masterkey.Size)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

var ignoreTimes = cmp.Options{
	protocmp.Transform(),
	protocmp.IgnoreFields(&adminv1.RateLimit{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.Budget{}, "create_time", "update_time"),
}

// TestTrueFoundryDocuments: TrueFoundry's V1 rate limit and budget documents, in one file,
// apply to the native resources; applying again changes nothing, and the compiled rules match
// requests as the documents say.
func TestTrueFoundryDocuments(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	parse := func() *File {
		f, err := Parse([]byte(tfyRateLimits+"---\n"+tfyBudgets), env(tfyEnv))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if n, err := Apply(ctx, st, parse()); err != nil || n != 6 {
		t.Fatalf("first apply: %d changes, %v; want 6", n, err)
	}
	if n, err := Apply(ctx, st, parse()); err != nil || n != 0 {
		t.Fatalf("second apply: %d changes, %v; want none", n, err)
	}
	wantLimits, wantBudgets := wantTFY()
	limits, err := st.ListRateLimits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantLimits, limits, ignoreTimes); d != "" {
		t.Errorf("rate limits (-want +got):\n%s", d)
	}
	budgets, err := st.ListBudgets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantBudgets, budgets, ignoreTimes); d != "" {
		t.Errorf("budgets (-want +got):\n%s", d)
	}

	cfg, err := st.SnapshotConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Budgets[0].Targets[1].Secret; got != "whsec-0123456789" {
		t.Errorf("webhook secret in the snapshot = %q", got)
	}
	rules := governance.Compile(cfg.RateLimits, cfg.Budgets)
	if p := rules.Problems(); p != nil {
		t.Fatal(p)
	}
	req := governance.Request{User: "alice", Teams: []string{"backend", "engineering"}, Model: "openai-main/gpt4", Metadata: map[string]string{"environment": "production", "project_id": "p1"}}
	lim, bud := rules.Match(&req, nil, nil)
	wantLim := []limiter.Check{
		{Rule: "per-user-daily-requests", Unit: limiter.RequestsPerDay, Bucket: "user:alice", Limit: 1000},
		{Rule: "project-hourly-limit", Unit: limiter.TokensPerHour, Bucket: "metadata.project_id:p1", Limit: 50000},
		{Rule: "team-backend-tpm", Unit: limiter.TokensPerMinute, Bucket: "user:alice", Limit: 20000},
	}
	if d := cmp.Diff(wantLim, lim); d != "" {
		t.Errorf("rate limit checks (-want +got):\n%s", d)
	}
	wantBud := []budget.Check{
		{Rule: "team-monthly-budget", Unit: budget.CostPerMonth, Bucket: "team:engineering", Limit: 5000 * budget.NanoPerUSD, Thresholds: []int{75, 90, 100}},
		{Rule: "user-daily-budget", Unit: budget.CostPerDay, Bucket: "user:alice", Limit: 10 * budget.NanoPerUSD, Audit: true, Thresholds: []int{75, 90, 100}},
	}
	if d := cmp.Diff(wantBud, bud); d != "" {
		t.Errorf("budget checks (-want +got):\n%s", d)
	}

	// A changed limit updates the one rule; resources not in the file are left alone.
	if _, err := st.CreateRateLimit(ctx, &adminv1.RateLimit{Name: "api-only", Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_hour", LimitTo: 3}}}); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(tfyRateLimits, "limit_to: 20000", "limit_to: 30000", 1)
	f, err := Parse([]byte(changed+"---\n"+tfyBudgets), env(tfyEnv))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := Apply(ctx, st, f); err != nil || n != 1 {
		t.Fatalf("apply with a changed limit: %d changes, %v; want 1", n, err)
	}
	if got, err := st.GetRateLimit(ctx, "api-only"); err != nil || got.GetLimits()[0].GetLimitTo() != 3 {
		t.Errorf("api-only after apply: %v, %v", got, err)
	}
}

// TestNativeShape: rate_limits and budgets in llmgw's own shape.
func TestNativeShape(t *testing.T) {
	const text = `rate_limits:
  - name: team-ml
    when: {subjects: [team:ml, virtual-account:billing], models: [acme/*, prod/smart]}
    limits:
      - {unit: requests_per_minute, limit_to: 60}
      - {unit: tokens_per_day, limit_to: 1000000}
    applies_per: [user, model]
    mode: audit
budgets:
  - name: quarter
    unit: cost_per_quarter
    limit_to: 250.5
    alerts: {thresholds: [50, 100]}
    fail_closed: true
`
	f, err := Parse([]byte(text), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	wantRL := []*adminv1.RateLimit{{Name: "team-ml",
		When:       &adminv1.Condition{Subjects: []string{"team:ml", "virtualaccount:billing"}, Models: []string{"acme/*", "prod/smart"}},
		Limits:     []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 60}, {Unit: "tokens_per_day", LimitTo: 1000000}},
		AppliesPer: []string{"user", "model"}, Mode: adminv1.Mode_MODE_AUDIT}}
	wantB := []*adminv1.Budget{{Name: "quarter", When: &adminv1.Condition{}, Unit: "cost_per_quarter", LimitTo: 250.5, Mode: adminv1.Mode_MODE_ENFORCE, FailClosed: true, Alerts: &adminv1.BudgetAlerts{Thresholds: []int32{50, 100}}}}
	if d := cmp.Diff(wantRL, f.RateLimits, protocmp.Transform()); d != "" {
		t.Errorf("rate limits (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantB, f.Budgets, protocmp.Transform()); d != "" {
		t.Errorf("budgets (-want +got):\n%s", d)
	}
	st := openStore(t)
	if n, err := Apply(t.Context(), st, f); err != nil || n != 2 {
		t.Fatalf("apply: %d, %v", n, err)
	}
	if n, err := Apply(t.Context(), st, f); err != nil || n != 0 {
		t.Fatalf("second apply: %d, %v", n, err)
	}
}

func TestGovernanceErrorsNameDocumentAndField(t *testing.T) {
	const rlDoc = "document 1 (ratelimiting-config)"
	const bDoc = "document 1 (budget-config)"
	tests := []struct {
		name, text, doc, field, msg string
	}{
		{"unknown rule field", strings.Replace(tfyRateLimits, "    unit: tokens_per_minute\n", "    unit: tokens_per_minute\n    burst: 5\n", 1), rlDoc, "rules[0].burst", "unknown field"},
		{"unknown document field", strings.Replace(tfyRateLimits, "rules:", "description: x\nrules:", 1), rlDoc, "description", "unknown field"},
		{"unknown when field", strings.Replace(tfyRateLimits, `subjects: ["team:backend"]`, `subject: ["team:backend"]`, 1), rlDoc, "rules[0].when.subject", "unknown field"},
		{"unknown unit", strings.Replace(tfyRateLimits, "unit: tokens_per_minute", "unit: tokens_per_second", 1), rlDoc, "rules[0].unit", "unknown rate limit unit"},
		{"negative limit", strings.Replace(tfyRateLimits, "limit_to: 20000", "limit_to: -1", 1), rlDoc, "rules[0].limit_to", "positive"},
		{"subject of unknown kind", strings.Replace(tfyRateLimits, "team:backend", "serviceaccount:backend", 1), rlDoc, "rules[0].when.subjects[0]", "must be"},
		{"bad applies_per", strings.Replace(tfyRateLimits, "['user']", "['project_id']", 1), rlDoc, "rules[0].rate_limit_applies_per[0]", "must be"},
		{"three applies_per", strings.Replace(tfyRateLimits, "['user']", "['user', 'model', 'team']", 1), rlDoc, "rules[0].rate_limit_applies_per", "at most 2"},
		{"duplicate id", strings.Replace(tfyRateLimits, "per-user-daily-requests", "team-backend-tpm", 1), rlDoc, "rules[1].id", "duplicate"},
		{"budget unknown unit", strings.Replace(tfyBudgets, "cost_per_month", "cost_per_year", 1), bDoc, "rules[0].unit", "unknown budget unit"},
		{"budget unknown field", strings.Replace(tfyBudgets, "audit_mode: true", "audit_mode: true\n    priority: 1", 1), bDoc, "rules[1].priority", "unknown field"},
		{"email target", strings.Replace(tfyBudgets, "type: slack-webhook", "type: email", 1), bDoc, "rules[0].alerts.notification_target[0].type", "unsupported notification target type"},
		{"slack bot target field", strings.Replace(tfyBudgets, "url: env://SLACK_WEBHOOK_URL", "notification_channel: x", 1), bDoc, "rules[0].alerts.notification_target[0].notification_channel", "unknown field"},
		{"inline secret", strings.Replace(tfyBudgets, "env://ALERT_WEBHOOK_SECRET", "whsec-inline", 1), bDoc, "rules[0].alerts.notification_target[1].secret", "references"},
		{"unset url variable", strings.Replace(tfyBudgets, "SLACK_WEBHOOK_URL", "UNSET_URL", 1), bDoc, "rules[0].alerts.notification_target[0].url", "is not set"},
		{"secret-manager url", strings.Replace(tfyBudgets, "env://SLACK_WEBHOOK_URL", "vault://secret/alerts#slack", 1), bDoc, "rules[0].alerts.notification_target[0].url", "only for provider keys"},
		{"secret-manager signing key", strings.Replace(tfyBudgets, "env://ALERT_WEBHOOK_SECRET", "aws-sm://alerts", 1), bDoc, "rules[0].alerts.notification_target[1].secret", "only for provider keys"},
		{"threshold out of range", strings.Replace(tfyBudgets, "[75, 90, 100]", "[0, 90]", 1), bDoc, "rules[0].alerts.thresholds[0]", "percentage"},
		{"audit_mode not a bool", strings.Replace(tfyBudgets, "audit_mode: true", "audit_mode: yes please", 1), bDoc, "rules[1].audit_mode", "true or false"},
		{"native unknown field", "rate_limits:\n  - {name: x, limits: [{unit: requests_per_minute, limit_to: 1}], when: {}, burst: 2}\n", "document 1", "rate_limits[0].burst", "unknown field"},
		{"native bad mode", "budgets:\n  - {name: x, unit: cost_per_day, limit_to: 1, mode: block}\n", "document 1", "budgets[0].mode", "unsupported mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.text), env(tfyEnv))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Doc != tt.doc || e.Field != tt.field || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got %q / %q / %q, want %q / %q / ...%q...", e.Doc, e.Field, e.Msg, tt.doc, tt.field, tt.msg)
			}
			if strings.Contains(err.Error(), "whsec-inline") {
				t.Errorf("the error quotes the inline secret: %v", err)
			}
		})
	}
}

// TestReadmeGovernanceExample: the README's rate limit and budget example parses as shown.
func TestReadmeGovernanceExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, part := range strings.Split(string(b), "```yaml\n")[1:] {
		if text, _, _ := strings.Cut(part, "```"); strings.Contains(text, "type: gateway-rate-limiting-config") {
			block = text
		}
	}
	if block == "" {
		t.Fatal("README.md has no yaml block with a gateway-rate-limiting-config")
	}
	f, err := Parse([]byte(block), env(map[string]string{"ALERT_WEBHOOK_SECRET": "s3cret-value", "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/x"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.RateLimits) != 1 || len(f.Budgets) != 1 || len(f.Budgets[0].GetAlerts().GetNotificationTarget()) != 2 {
		t.Errorf("parsed %d rate limits and %d budgets: %v %v", len(f.RateLimits), len(f.Budgets), f.RateLimits, f.Budgets)
	}
}
