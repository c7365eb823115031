//go:build !llmgw_gateway_only

package app

import (
	"cmp"
	"context"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/control/pool"
	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/lease"
	"github.com/llmgw/llmgw/gateway/limiter"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// poolStatus is a control plane's ListLimitStatus: the global counts its replicas report
// through their leases, not a local count (a control plane admits nothing itself).
type poolStatus struct {
	pool *pool.Pool
	now  func() time.Time
}

func (p poolStatus) LimitStatus(_ context.Context, rule string) ([]*adminv1.LimitStatus, error) {
	var out []*adminv1.LimitStatus
	for _, c := range p.pool.Counts() {
		k := c.Key
		if rule != "" && k.Rule != rule {
			continue
		}
		// Used is what replicas reported; Remaining leaves out the leases they hold.
		s := &adminv1.LimitStatus{Rule: k.Rule, Bucket: k.Bucket, Used: float64(c.Used), Limit: float64(c.Limit), Remaining: float64(max(c.Free, 0))}
		switch k.Kind {
		case lease.RateLimit:
			u := limiter.Unit(k.Unit)
			s.Kind, s.Unit = "rate_limit", u.String()
			s.ResetTime = timestamppb.New(p.now().Add(u.SubWindow())) // the oldest sub-window rolls off
		case lease.Budget:
			u := budget.Unit(k.Unit)
			s.Kind, s.Unit = "budget", u.String()
			_, end := u.Period(time.Unix(k.Period, 0))
			s.ResetTime = timestamppb.New(end)
			if u.Cost() {
				s.Used, s.Limit, s.Remaining = s.Used*1e-9, s.Limit*1e-9, s.Remaining*1e-9 // nano-dollars
			}
		default:
			continue
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *adminv1.LimitStatus) int {
		return cmp.Or(cmp.Compare(a.GetRule(), b.GetRule()), cmp.Compare(a.GetUnit(), b.GetUnit()), cmp.Compare(a.GetBucket(), b.GetBucket()))
	})
	return out, nil
}
