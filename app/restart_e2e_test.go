package app

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/limiter"
)

// TestGovernanceStateSurvivesRestart counts requests and spend in a running gateway, stops it,
// starts it again on the same database, and finds the same window counts and spend: a restart
// neither forgets spend nor resets a window.
func TestGovernanceStateSurvivesRestart(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "llmgw.db")
	t0 := time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)
	start := func(now time.Time) (*gateway, *governance) {
		var gov *governance
		g := startGatewayHooks(t, hooks{
			clock:      func() time.Time { return now },
			governance: func(s *governance) { gov = s },
		}, nil, "--db", db)
		if gov == nil {
			t.Fatal("the governance hook was not called before serving")
		}
		return g, gov
	}
	rpm := limiter.Check{Rule: "alice-rpm", Unit: limiter.RequestsPerMinute, Bucket: "user:alice", Limit: 5}
	tpd := limiter.Check{Rule: "team-tpd", Unit: limiter.TokensPerDay, Bucket: "team:ml", Limit: 10_000}
	monthly := budget.Check{Rule: "team-monthly", Unit: budget.CostPerMonth, Bucket: "team:ml", Limit: budget.NanoUSD(500)}
	// Limits come from the config, not from the saved state: Status asks for them.
	ruleLimits := func(rule string) (int64, bool) {
		n, ok := map[string]int64{rpm.Rule: rpm.Limit, tpd.Rule: tpd.Limit, monthly.Rule: monthly.Limit}[rule]
		return n, ok
	}
	limitStatus := func(gov *governance) []limiter.Status {
		return gov.limits.Status(func(rule string, _ limiter.Unit) (int64, bool) { return ruleLimits(rule) })
	}
	budgetStatus := func(gov *governance) []budget.Status {
		return gov.ledger.Status(func(rule string, _ budget.Unit) (int64, bool) { return ruleLimits(rule) })
	}
	admit := func(gov *governance, tokens int64) bool {
		var d limiter.Decision
		c := tpd
		c.Amount = tokens
		if err := gov.limits.Admit(&d, []limiter.Check{rpm, c}); err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			d.Reservation.Settle(tokens)
		}
		return d.Allowed
	}
	spend := func(gov *governance, usd float64) bool {
		d := new(budget.Decision)
		c := monthly
		c.Amount = budget.NanoUSD(usd)
		if err := gov.ledger.Reserve(d, []budget.Check{c}); err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			d.Reservation.Settle(budget.NanoUSD(usd), 0)
		}
		return d.Allowed
	}

	g, gov := start(t0)
	for range 3 {
		if !admit(gov, 1000) {
			t.Fatal("request refused before the limit")
		}
	}
	if !spend(gov, 420.5) {
		t.Fatal("spend refused before the budget")
	}
	limits, ledger := limitStatus(gov), budgetStatus(gov)
	g.stop()

	// Twenty seconds later: the same minute window, the same month.
	g, gov = start(t0.Add(20 * time.Second))
	if d := cmp.Diff(limits, limitStatus(gov)); d != "" {
		t.Errorf("rate-limit windows after restart (-before +after):\n%s", d)
	}
	if d := cmp.Diff(ledger, budgetStatus(gov)); d != "" {
		t.Errorf("budget spend after restart (-before +after):\n%s", d)
	}
	// The limits still hold across the restart: 2 more requests fit the 5 a minute, the 3rd
	// does not; $79.50 is left of $500.
	if !admit(gov, 10) || !admit(gov, 10) || admit(gov, 10) {
		t.Error("the restarted minute window does not admit exactly 2 more of 5")
	}
	if spend(gov, 80) || !spend(gov, 79.5) {
		t.Error("the restarted budget does not leave exactly $79.50 of $500")
	}
	g.stop()
	for _, want := range []string{"restored rate-limit counters", "restored budget spend"} {
		if !strings.Contains(g.Logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, g.Logs)
		}
	}
	// The only warnings are the budget's alerts (90 and 100 percent of $500 reached): no state
	// was dropped.
	for _, line := range strings.Split(g.Logs.String(), "\n") {
		if strings.Contains(line, `"level":"WARN"`) && !strings.Contains(line, "budget threshold crossed") {
			t.Errorf("warning in the logs: %s", line)
		}
	}
}
