package budget_test

import (
	"testing"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/limiter"
)

// BenchmarkGuards is what the request seam adds per request with three rate limits and two
// budgets matching: one Admit, one Reserve, one settle of each.
func BenchmarkGuards(b *testing.B) {
	lim, led := limiter.New(), budget.New()
	rates := []limiter.Check{
		{Rule: "global", Unit: limiter.RequestsPerMinute, Limit: 1 << 40},
		{Rule: "team-tpm", Unit: limiter.TokensPerMinute, Bucket: "team:ml", Limit: 1 << 40, Amount: 1500},
		{Rule: "user-rpd", Unit: limiter.RequestsPerDay, Bucket: "user:alice|model:acct/gpt", Limit: 1 << 40},
	}
	budgets := []budget.Check{
		{Rule: "team-month", Unit: budget.CostPerMonth, Bucket: "team:ml", Limit: 1 << 60, Amount: budget.NanoUSD(0.02)},
		{Rule: "user-day", Unit: budget.TokensPerDay, Bucket: "user:alice", Limit: 1 << 60, Amount: 1500},
	}
	var rd limiter.Decision
	var bd budget.Decision
	b.ReportAllocs()
	for b.Loop() {
		if err := lim.Admit(&rd, rates); err != nil || !rd.Allowed {
			b.Fatal("rate limit refused", err)
		}
		if err := led.Reserve(&bd, budgets); err != nil || !bd.Allowed {
			b.Fatal("budget refused", err)
		}
		rd.Reservation.Settle(900)
		bd.Reservation.Settle(budget.NanoUSD(0.011), 900)
	}
}
