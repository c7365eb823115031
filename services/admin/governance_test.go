package admin_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"

	"github.com/llmgw/llmgw/services/admin"
	"github.com/llmgw/llmgw/store"
)

// fakeStatus is a LimitStatus that returns fixed statuses and records the rule asked for.
type fakeStatus struct {
	rule string
	out  []*adminv1.LimitStatus
}

func (f *fakeStatus) LimitStatus(_ context.Context, rule string) ([]*adminv1.LimitStatus, error) {
	f.rule = rule
	return f.out, nil
}

var _ admin.LimitStatus = (*fakeStatus)(nil)

func newGovernanceClient(t *testing.T, opts ...admin.Option) adminv1connect.AdminServiceClient {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "llmgw.db"), store.Options{MasterKey: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle(adminv1connect.NewAdminServiceHandler(admin.New(st, nil, opts...)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return adminv1connect.NewAdminServiceClient(srv.Client(), srv.URL)
}

// TestGovernanceResources: rate limits and budgets through the Connect client: invalid ones are
// refused with InvalidArgument naming the field, and a webhook secret is never returned.
func TestGovernanceResources(t *testing.T) {
	c := newGovernanceClient(t)
	ctx := t.Context()

	_, err := c.CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: &adminv1.RateLimit{
		Name: "rpm", Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_fortnight", LimitTo: 5}},
	}})
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "rate_limit.limits[0].unit") {
		t.Errorf("unknown unit: %v, want InvalidArgument naming rate_limit.limits[0].unit", err)
	}
	rl, err := c.CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: &adminv1.RateLimit{
		Name: "rpm", When: &adminv1.Condition{Subjects: []string{"team:ml"}}, Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 5}}, AppliesPer: []string{"user"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rl.GetRateLimit().GetMode() != adminv1.Mode_MODE_ENFORCE {
		t.Errorf("mode = %v, want enforce by default", rl.GetRateLimit().GetMode())
	}

	const secret = "webhook-hmac-secret-0123456789"
	b, err := c.CreateBudget(ctx, &adminv1.CreateBudgetRequest{Budget: &adminv1.Budget{
		Name: "month", Unit: "cost_per_month", LimitTo: 500,
		Alerts: &adminv1.BudgetAlerts{NotificationTarget: []*adminv1.NotificationTarget{{Type: "webhook", Url: "https://hooks.example.com/x", Secret: secret}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBudget(ctx, &adminv1.GetBudgetRequest{Name: "month"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*adminv1.Budget{b.GetBudget(), got.GetBudget()} {
		tg := m.GetAlerts().GetNotificationTarget()[0]
		if tg.GetSecret() != "" || !tg.GetHasSecret() || strings.Contains(m.String(), secret) {
			t.Errorf("budget returned with its secret or without has_secret: %v", m)
		}
	}
	_, err = c.CreateBudget(ctx, &adminv1.CreateBudgetRequest{Budget: &adminv1.Budget{Name: "neg", Unit: "cost_per_day", LimitTo: -1}})
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument || !strings.Contains(ce.Message(), "budget.limit_to") {
		t.Errorf("negative limit: %v, want InvalidArgument naming budget.limit_to", err)
	}
}

func TestListLimitStatus(t *testing.T) {
	t.Run("not wired", func(t *testing.T) {
		resp, err := newGovernanceClient(t).ListLimitStatus(t.Context(), &adminv1.ListLimitStatusRequest{})
		if err != nil || len(resp.GetStatuses()) != 0 {
			t.Errorf("ListLimitStatus = %v, %v; want an empty list", resp, err)
		}
	})
	t.Run("wired", func(t *testing.T) {
		want := []*adminv1.LimitStatus{{Rule: "rpm", Kind: "rate_limit", Unit: "requests_per_minute", Bucket: "user:alice", Used: 3, Limit: 5, Remaining: 2, ResetTime: timestamppb.New(timestamppb.Now().AsTime())}}
		f := &fakeStatus{out: want}
		resp, err := newGovernanceClient(t, admin.WithLimitStatus(f)).ListLimitStatus(t.Context(), &adminv1.ListLimitStatusRequest{Rule: "rpm"})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, resp.GetStatuses(), protocmp.Transform()); d != "" || f.rule != "rpm" {
			t.Errorf("statuses (-want +got):\n%s\nrule asked for: %q", d, f.rule)
		}
	})
}
