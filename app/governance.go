package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/gateway/alert"
	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/lease"
	"github.com/llmgw/llmgw/gateway/limiter"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/quota"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// governance is the process's rate-limit counters and budget spend, the guard that enforces
// the snapshot's rules with them, and the notifier of budget alerts. The counters live here,
// outside the snapshot, so a configuration change never resets them.
type governance struct {
	limits   *limiter.Limiter
	ledger   *budget.Ledger
	guard    *quota.Guard
	notifier *alert.Notifier
	snaps    *snapshot.Holder
}

// newGovernance returns empty engines reading now (time.Now when nil), whose guard reports its
// refusals to refusals (the metrics); gateway/checkpoint loads their state before serving and
// saves it while they change. Budget alerts' events go to rec. A gateway replica's guard admits
// within the leases its control plane grants (leases, nil elsewhere).
func newGovernance(snaps *snapshot.Holder, client *http.Client, logger *slog.Logger, now func() time.Time, rec pipeline.Recorder, refusals quota.Refusals, leases *lease.Leases) *governance {
	if now == nil {
		now = time.Now
	}
	g := &governance{snaps: snaps}
	g.notifier = alert.New(client, logger, alert.WithTargets(g.targets), alert.WithEvent(func(ctx context.Context, a budget.Alert) {
		rec.Record(ctx, alertEvent(a, now()))
	}))
	g.limits = limiter.New(limiter.WithClock(now))
	g.ledger = budget.New(budget.WithClock(now), budget.WithAlerts(g.notifier.Notify))
	opts := []quota.Option{quota.WithClock(now), quota.WithRefusals(refusals)}
	if leases != nil {
		opts = append(opts, quota.WithLeases(leases))
	}
	g.guard = quota.New(g.limits, g.ledger, opts...)
	return g
}

// targets looks a budget's notification targets up in the current snapshot.
func (g *governance) targets(rule string) []alert.Target {
	snap := g.snaps.Load()
	if snap == nil {
		return nil
	}
	var out []alert.Target
	for _, t := range snap.Governance().Targets(rule) {
		out = append(out, alert.Target{Type: t.Type, URL: t.URL, Secret: t.Secret})
	}
	return out
}

// LimitStatus implements the Admin API's status listing over the live counters.
func (g *governance) LimitStatus(_ context.Context, rule string) ([]*adminv1.LimitStatus, error) {
	snap := g.snaps.Load()
	var out []*adminv1.LimitStatus
	rateLimit := func(r string, u limiter.Unit) (int64, bool) { return snap.Governance().RateLimit(r, u) }
	for _, s := range g.limits.Status(rateLimit) {
		if rule != "" && s.Rule != rule {
			continue
		}
		out = append(out, &adminv1.LimitStatus{Rule: s.Rule, Kind: "rate_limit", Unit: s.Unit.String(), Bucket: s.Bucket,
			Used: float64(s.Used), Limit: float64(s.Limit), Remaining: float64(s.Remaining), ResetTime: timestamppb.New(s.Reset)})
	}
	budgetLimit := func(r string, u budget.Unit) (int64, bool) { return snap.Governance().Budget(r, u) }
	for _, s := range g.ledger.Status(budgetLimit) {
		if rule != "" && s.Rule != rule {
			continue
		}
		scale := 1.0
		if s.Unit.Cost() {
			scale = 1e-9 // nano-dollars to dollars
		}
		used := float64(s.Spend+s.Reserved) * scale
		out = append(out, &adminv1.LimitStatus{Rule: s.Rule, Kind: "budget", Unit: s.Unit.String(), Bucket: s.Bucket,
			Used: used, Limit: float64(s.Limit) * scale, Remaining: float64(s.Remaining) * scale, ResetTime: timestamppb.New(s.PeriodEnd)})
	}
	return out, nil
}

// pruneEvery is how often the counters of removed rules and empty buckets are dropped.
const pruneEvery = time.Minute

// prune drops, every interval until ctx ends, what pruneOnce drops.
func (g *governance) prune(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.pruneOnce()
		}
	}
}

// pruneOnce drops the counters and spend of rules the current snapshot no longer has, and the
// buckets with nothing in their current window or period, so memory follows the active
// buckets. A rule deleted and created again under the same name starts from zero.
func (g *governance) pruneOnce() (limits, budgets int) {
	snap := g.snaps.Load()
	if snap == nil {
		return 0, 0
	}
	rules := snap.Governance()
	limits = g.limits.Prune(func(rule string, u limiter.Unit) bool { _, ok := rules.RateLimit(rule, u); return ok })
	budgets = g.ledger.Prune(func(rule string, u budget.Unit) bool { _, ok := rules.Budget(rule, u); return ok })
	return limits, budgets
}

// alertEvent is the usage-stream event of a budget alert: operation "budget_alert", the budget
// in Counted, and the bucket, threshold, spend and limit (US dollars for a cost unit) in
// Metadata. Its request id names the rule, bucket, period and threshold, so the records of one
// alert by several replicas are one in a sink keyed on it.
func alertEvent(a budget.Alert, now time.Time) *usage.Event {
	amount := func(n int64) string {
		if a.Unit.Cost() {
			return strconv.FormatFloat(float64(n)/1e9, 'f', -1, 64)
		}
		return strconv.FormatInt(n, 10)
	}
	return &usage.Event{
		RequestID: fmt.Sprintf("alert:%s:%s:%s:%d", a.Rule, a.Bucket, a.PeriodStart.UTC().Format(time.RFC3339), a.Threshold),
		Time:      now, Principal: "gateway", Operation: "budget_alert", Status: "threshold_crossed",
		Counted: []string{"budget:" + a.Rule},
		Metadata: map[string]string{"unit": a.Unit.String(), "bucket": a.Bucket, "threshold_percent": strconv.Itoa(a.Threshold),
			"spend": amount(a.Spend), "limit": amount(a.Limit), "period_end": a.PeriodEnd.UTC().Format(time.RFC3339), "audit": strconv.FormatBool(a.Audit)},
	}
}
