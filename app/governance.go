package app

import (
	"time"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/limiter"
)

// governanceState is the process's one set of rate-limit counters and budget spend. The guard
// that enforces rate limits and budgets counts in these two instances; gateway/checkpoint
// loads them at start, before serving, saves them every second while they change, and once
// more at shutdown, after the last request has settled. They live apart from the config
// snapshot, keyed by rule id, so a config change never resets them.
type governanceState struct {
	limits *limiter.Limiter
	ledger *budget.Ledger
}

// newGovernanceState returns empty engines reading now (time.Now when nil).
func newGovernanceState(now func() time.Time) *governanceState {
	if now == nil {
		now = time.Now
	}
	return &governanceState{
		limits: limiter.New(limiter.WithClock(now)),
		ledger: budget.New(budget.WithClock(now)),
	}
}
