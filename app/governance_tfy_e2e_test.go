package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// tfyTeamExamples are TrueFoundry's V1 team examples as their docs write them (a team's
// tokens_per_minute applied per user; a monthly team budget with alerts), with the numbers
// scaled down so a test reaches them. The test adds fake/priced, at one dollar an output
// token, through the Admin API.
func tfyTeamExamples(upstream string) string {
	return fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
- authz_rules:
    - models: [fake/*]
      users: [alice, bob, carol, dave, erin]
---
name: ratelimiting-config
type: gateway-rate-limiting-config
rules:
  - id: "team-backend-tpm"
    when:
      subjects: ["team:backend"]
    limit_to: 80
    unit: tokens_per_minute
    rate_limit_applies_per: ['user']
---
name: budget-config
type: gateway-budget-config
rules:
  - id: "team-monthly-budget"
    when:
      subjects: ["team:engineering"]
    limit_to: 20
    unit: cost_per_month
    budget_applies_per: ["team"]
    alerts:
      thresholds: [75, 90, 100]
      notification_target:
        - type: slack-webhook
          url: env://SLACK_WEBHOOK_URL
        - type: webhook
          url: env://ALERT_WEBHOOK_URL
          secret: env://ALERT_WEBHOOK_SECRET
`, upstream)
}

// TestTrueFoundryTeamExamples drives TrueFoundry's two team examples with requests, on the
// gateway's clock:
//   - the backend team's tokens_per_minute applies to each of its users on their own: alice's
//     fourth request would not fit her 80 tokens (it reserves about 34
//     on top of the 54 her first three settled to) and her fourth is refused as OpenAI
//     refuses tokens, while bob, in the same team, still has his; carol, in no team, is not
//     limited; a minute later alice is admitted again;
//   - the engineering team's monthly budget is one bucket for the team: dave and erin spend
//     it together ($7 a request against $20), then both are refused with insufficient_quota;
//     the 75, 90 and 100 percent alerts reach the Slack webhook and the signed webhook once
//     each; on the 1st of the next month the team is admitted again.
func TestTrueFoundryTeamExamples(t *testing.T) {
	var now atomic.Pointer[time.Time]
	t0 := time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)
	now.Store(&t0)
	advance := func(to time.Time) { now.Store(&to) }

	const secret = "whsec-tfy-example-0123"
	var mu sync.Mutex
	var slack []string
	slackHook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Text string `json:"text"`
		}
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.Text == "" {
			t.Errorf("slack body: %v %q", err, m.Text)
		}
		mu.Lock()
		slack = append(slack, m.Text)
		mu.Unlock()
	}))
	defer slackHook.Close()
	hookURL, deliveries := signedWebhook(t, secret)

	up := providertest.NewOpenAI(t)
	g := startGatewayHooks(t, hooks{clock: func() time.Time { return *now.Load() }}, map[string]string{
		"FAKE_OPENAI_KEY":      providerSecret,
		"SLACK_WEBHOOK_URL":    slackHook.URL,
		"ALERT_WEBHOOK_URL":    hookURL,
		"ALERT_WEBHOOK_SECRET": secret,
	}, "--config", writeConfig(t, tfyTeamExamples(up.BaseURL())))
	ctx := context.Background()
	admin := g.adminClient()
	if _, err := admin.CreateModel(ctx, &adminv1.CreateModelRequest{Model: &adminv1.Model{Account: "fake", Name: "priced", UpstreamModel: "gpt-4o-mini",
		Types: []string{"chat"}, Pricing: &adminv1.Pricing{OutputPerMtok: 1e6}}}); err != nil {
		t.Fatal(err)
	}
	for _, team := range []string{"backend", "engineering"} {
		if _, err := admin.CreateTeam(ctx, &adminv1.CreateTeamRequest{Team: &adminv1.Team{Name: team}}); err != nil {
			t.Fatal(err)
		}
	}
	client := func(key string) openai.Client {
		return openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
	}
	alice, bob, carol := client(g.userKey(t, "alice", "backend")), client(g.userKey(t, "bob", "backend")), client(g.userKey(t, "carol"))
	dave, erin := client(g.userKey(t, "dave", "engineering")), client(g.userKey(t, "erin", "engineering"))

	// refusal is nil for an admitted request, else the OpenAI error a refusal must be.
	refusal := func(c openai.Client, maxTokens int64) *openai.Error {
		t.Helper()
		_, err := c.Chat.Completions.New(ctx, chatParams("fake/priced", maxTokens))
		if err == nil {
			return nil
		}
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != 429 {
			t.Fatalf("want an admitted request or a 429, got %v", err)
		}
		return ae
	}

	// The team's tokens_per_minute, per user. A request reserves its prompt estimate (its
	// body's bytes / 4: about 24) and max_tokens 10, then settles to what the fake answers:
	// 11 prompt and 7 completion tokens.
	for i := range 3 {
		if ae := refusal(alice, 10); ae != nil {
			t.Fatalf("alice's request %d refused: %v", i, ae)
		}
	}
	ae := refusal(alice, 10)
	if ae == nil || ae.Type != "tokens" || ae.Code != "rate_limit_exceeded" || !strings.Contains(ae.Message, "team-backend-tpm") || ae.Response.Header.Get("Retry-After") == "" {
		t.Fatalf("alice's fourth request: %v, want a tokens 429 naming team-backend-tpm with Retry-After", ae)
	}
	for i := range 3 {
		if ae := refusal(bob, 10); ae != nil {
			t.Fatalf("bob (same team, his own counter) request %d refused: %v", i, ae)
		}
	}
	for i := range 6 {
		if ae := refusal(carol, 10); ae != nil {
			t.Fatalf("carol (no team) request %d refused: %v", i, ae)
		}
	}
	st, err := admin.ListLimitStatus(ctx, &adminv1.ListLimitStatusRequest{Rule: "team-backend-tpm"})
	if err != nil {
		t.Fatal(err)
	}
	buckets := map[string]float64{}
	for _, s := range st.GetStatuses() {
		buckets[s.GetBucket()] = s.GetUsed()
	}
	if len(buckets) != 2 || buckets["user:alice"] != 54 || buckets["user:bob"] != 54 {
		t.Errorf("rate-limit buckets %v, want alice and bob at 54 tokens each", buckets)
	}
	advance(t0.Add(61 * time.Second))
	if ae := refusal(alice, 10); ae != nil {
		t.Fatalf("alice a minute later: %v", ae)
	}

	// The engineering team's monthly budget: one bucket for dave and erin. A request reserves
	// $1 (max_tokens 1) and settles to $7 (7 completion tokens).
	for i, c := range []openai.Client{dave, erin, dave} {
		if ae := refusal(c, 1); ae != nil {
			t.Fatalf("team request %d refused: %v", i, ae)
		}
	}
	for name, c := range map[string]openai.Client{"dave": dave, "erin": erin} {
		ae := refusal(c, 1)
		if ae == nil || ae.Code != "insufficient_quota" || !strings.Contains(ae.Message, "team-monthly-budget") {
			t.Fatalf("%s over the team's budget: %v, want insufficient_quota naming team-monthly-budget", name, ae)
		}
	}
	if ae := refusal(alice, 1); ae != nil {
		t.Fatalf("alice (not in engineering) refused: %v", ae)
	}
	bst, err := admin.ListLimitStatus(ctx, &adminv1.ListLimitStatusRequest{Rule: "team-monthly-budget"})
	if err != nil {
		t.Fatal(err)
	}
	if s := bst.GetStatuses(); len(s) != 1 || s[0].GetBucket() != "team:engineering" || s[0].GetUsed() != 21 || s[0].GetLimit() != 20 {
		t.Errorf("budget status %v, want team:engineering at $21 of $20", s)
	}
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(slack) >= 3 && len(deliveries()) >= 3 })

	// The next month starts at 00:00 UTC on the 1st: the team is admitted again.
	advance(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	if ae := refusal(erin, 1); ae != nil {
		t.Fatalf("erin in the next month: %v", ae)
	}

	g.stop() // the notifier's queue is flushed at shutdown: nothing more can arrive
	signed := deliveries()
	mu.Lock()
	defer mu.Unlock()
	if len(slack) != 3 || len(signed) != 3 {
		t.Fatalf("%d Slack and %d webhook deliveries, want 3 each (75, 90, 100 once):\n%q\n%v", len(slack), len(signed), slack, signed)
	}
	seen := map[float64]bool{}
	for _, m := range signed {
		if m["rule"] != "team-monthly-budget" || m["bucket"] != "team:engineering" {
			t.Errorf("webhook delivery %v, want the team's budget and bucket", m)
		}
		th, _ := m["threshold_percent"].(float64)
		seen[th] = true
	}
	if !seen[75] || !seen[90] || !seen[100] {
		t.Errorf("webhook thresholds %v, want 75, 90 and 100", seen)
	}
	for _, text := range slack {
		if !strings.Contains(text, "team-monthly-budget") {
			t.Errorf("Slack message %q does not name the budget", text)
		}
	}
}
