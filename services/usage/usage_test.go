package usage

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/analytics/embedded"
	"github.com/llmgw/llmgw/analytics/query/querytest"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/usage/v1/usagev1connect"
)

// client serves the Usage API over a store holding events, with "now" at now, and returns a
// client per viewer: the test header names the viewer, as the server's edge would set it.
func client(t *testing.T, now time.Time, events ...querytest.Event) func(v string) usagev1connect.UsageServiceClient {
	t.Helper()
	st, err := embedded.Open(context.Background(), filepath.Join(t.TempDir(), embedded.FileName), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var ps []*usagev1.UsageEvent
	for _, e := range events {
		ps = append(ps, e.Proto())
	}
	if err := st.Write(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	path, h := usagev1connect.NewUsageServiceHandler(New(st, nil, WithClock(func() time.Time { return now })))
	mux := http.NewServeMux()
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch v := r.Header.Get("X-Test-Viewer"); {
		case v == "admin":
			ctx = WithViewer(ctx, Viewer{Admin: true})
		case strings.HasPrefix(v, "user:"):
			ctx = WithViewer(ctx, Viewer{User: strings.TrimPrefix(v, "user:")})
		case strings.HasPrefix(v, "va:"):
			ctx = WithViewer(ctx, Viewer{VirtualAccount: strings.TrimPrefix(v, "va:")})
		case v == "nobody":
			ctx = WithViewer(ctx, Viewer{})
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return func(v string) usagev1connect.UsageServiceClient {
		return usagev1connect.NewUsageServiceClient(srv.Client(), srv.URL, connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				if v != "" {
					req.Header().Set("X-Test-Viewer", v)
				}
				return next(ctx, req)
			}
		})))
	}
}

var fixtures = []querytest.Event{
	{ID: "a1", At: time.Hour, Model: "acct/a", Target: "acct/a", User: "alice", Prompt: 10, Completion: 2, Cost: 0.5, Latency: 100 * time.Millisecond},
	{ID: "a2", At: 2 * time.Hour, Model: "acct/b", Target: "acct/b", User: "alice", Status: "upstream_error", Prompt: 1, Cost: 0.25, Latency: 50 * time.Millisecond},
	{ID: "b1", At: time.Hour, Model: "acct/a", Target: "acct/a", User: "bob", Prompt: 100, Completion: 20, Cost: 4, Latency: 10 * time.Millisecond},
	{ID: "v1", At: time.Hour, Model: "acct/a", Target: "acct/a", VA: "billing", Prompt: 7, Cost: 1, Latency: 10 * time.Millisecond},
}

func rangeFilter() *usagev1.Filter {
	return &usagev1.Filter{StartTime: timestamppb.New(querytest.T0), EndTime: timestamppb.New(querytest.T0.Add(24 * time.Hour))}
}

func TestWhoSeesWhat(t *testing.T) {
	c := client(t, querytest.T0.Add(48*time.Hour), fixtures...)
	ctx := context.Background()
	tests := []struct {
		viewer   string
		requests int64
		cost     float64
		users    []string
	}{
		{"admin", 4, 5.75, []string{"bob", "", "alice"}},
		{"user:alice", 2, 0.75, []string{"alice"}},
		{"user:bob", 1, 4, []string{"bob"}},
		{"user:carol", 0, 0, nil},
		{"va:billing", 1, 1, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.viewer, func(t *testing.T) {
			res, err := c(tt.viewer).GetCostBreakdown(ctx, &usagev1.GetCostBreakdownRequest{Filter: rangeFilter(), GroupBy: usagev1.Dimension_DIMENSION_USER})
			if err != nil {
				t.Fatal(err)
			}
			if res.GetTotals().GetRequests() != tt.requests || res.GetTotals().GetCostUsd() != tt.cost {
				t.Errorf("totals %v, want %d requests costing %v", res.GetTotals(), tt.requests, tt.cost)
			}
			var users []string
			for _, g := range res.GetGroups() {
				users = append(users, g.GetKey())
			}
			if d := cmp.Diff(tt.users, users); d != "" {
				t.Errorf("groups (-want +got)\n%s", d)
			}
			list, err := c(tt.viewer).ListRequests(ctx, &usagev1.ListRequestsRequest{Filter: rangeFilter()})
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(list.GetEvents())) != tt.requests {
				t.Errorf("listed %d events, want %d", len(list.GetEvents()), tt.requests)
			}
		})
	}
	// Naming someone else is refused, not silently answered with one's own usage.
	for _, v := range []string{"user:alice", "va:billing"} {
		f := rangeFilter()
		f.Users, f.VirtualAccounts = []string{"bob"}, nil
		if v == "va:billing" {
			f.Users, f.VirtualAccounts = nil, []string{"other"}
		}
		_, err := c(v).GetTimeSeries(ctx, &usagev1.GetTimeSeriesRequest{Filter: f})
		if connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("%s asking for another's usage: %v, want PermissionDenied", v, err)
		}
	}
	f := rangeFilter()
	f.Users = []string{"alice"}
	if _, err := c("user:alice").GetTimeSeries(ctx, &usagev1.GetTimeSeriesRequest{Filter: f}); err != nil {
		t.Errorf("alice naming herself: %v", err)
	}
	// One event: another user's is not found, one's own is.
	if _, err := c("user:alice").GetRequest(ctx, &usagev1.GetRequestRequest{EventId: "b1"}); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("alice reading bob's event: %v, want NotFound", err)
	}
	got, err := c("user:alice").GetRequest(ctx, &usagev1.GetRequestRequest{EventId: "a2"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fixtures[1].Proto(), got.GetEvent(), protocmp.Transform()); d != "" {
		t.Errorf("alice's event (-want +got)\n%s", d)
	}
	if _, err := c("admin").GetRequest(ctx, &usagev1.GetRequestRequest{EventId: "b1"}); err != nil {
		t.Errorf("admin reading bob's event: %v", err)
	}
	for _, v := range []string{"", "nobody"} {
		_, err := c(v).GetCostBreakdown(ctx, &usagev1.GetCostBreakdownRequest{Filter: rangeFilter()})
		if code := connect.CodeOf(err); code != connect.CodeUnauthenticated && code != connect.CodePermissionDenied {
			t.Errorf("viewer %q: %v, want refused", v, err)
		}
	}
}

func TestTimeSeriesOverTheWire(t *testing.T) {
	now := querytest.T0.Add(3 * time.Hour)
	c := client(t, now, fixtures...)
	ctx := context.Background()
	// No range: the last 24 hours up to now.
	res, err := c("admin").GetTimeSeries(ctx, &usagev1.GetTimeSeriesRequest{GroupBy: usagev1.Dimension_DIMENSION_MODEL})
	if err != nil {
		t.Fatal(err)
	}
	tot := func(requests, failures, prompt, completion int64, cost float64) *usagev1.Totals {
		return &usagev1.Totals{Requests: requests, Failures: failures, PromptTokens: prompt, CompletionTokens: completion, CostUsd: cost}
	}
	h := func(n int) *timestamppb.Timestamp {
		return timestamppb.New(querytest.T0.Add(time.Duration(n) * time.Hour))
	}
	want := &usagev1.GetTimeSeriesResponse{
		StartTime: timestamppb.New(now.Add(-24 * time.Hour)), EndTime: timestamppb.New(now),
		Series: []*usagev1.Series{
			{Group: "acct/a", Points: []*usagev1.Point{{StartTime: h(1), Totals: tot(3, 0, 117, 22, 5.5)}}, Totals: tot(3, 0, 117, 22, 5.5)},
			{Group: "acct/b", Points: []*usagev1.Point{{StartTime: h(2), Totals: tot(1, 1, 1, 0, 0.25)}}, Totals: tot(1, 1, 1, 0, 0.25)},
		},
	}
	if d := cmp.Diff(want, res, protocmp.Transform()); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	lat, err := c("admin").GetLatencyPercentiles(ctx, &usagev1.GetLatencyPercentilesRequest{Filter: rangeFilter()})
	if err != nil {
		t.Fatal(err)
	}
	if len(lat.GetModels()) != 1 || lat.GetModels()[0].GetRequests() != 3 || lat.GetModels()[0].GetLatency().GetP99().AsDuration() != 100*time.Millisecond || lat.GetModels()[0].GetTtft() != nil {
		t.Errorf("latency: %v, want acct/a only (acct/b's one request failed)", lat)
	}
}

func TestInvalidRequests(t *testing.T) {
	c := client(t, querytest.T0.Add(time.Hour), fixtures...)("admin")
	ctx := context.Background()
	backwards := &usagev1.Filter{StartTime: timestamppb.New(querytest.T0.Add(time.Hour)), EndTime: timestamppb.New(querytest.T0)}
	week := &usagev1.Filter{StartTime: timestamppb.New(querytest.T0), EndTime: timestamppb.New(querytest.T0.Add(7 * 24 * time.Hour))}
	tests := []struct {
		name string
		call func() error
	}{
		{"backwards range", func() error {
			_, err := c.GetTimeSeries(ctx, &usagev1.GetTimeSeriesRequest{Filter: backwards})
			return err
		}},
		{"too many buckets", func() error {
			_, err := c.GetTimeSeries(ctx, &usagev1.GetTimeSeriesRequest{Filter: week, Granularity: usagev1.Granularity_GRANULARITY_MINUTE})
			return err
		}},
		{"metadata grouping without a key", func() error {
			_, err := c.GetCostBreakdown(ctx, &usagev1.GetCostBreakdownRequest{GroupBy: usagev1.Dimension_DIMENSION_METADATA})
			return err
		}},
		{"a metadata key without metadata grouping", func() error {
			_, err := c.GetCostBreakdown(ctx, &usagev1.GetCostBreakdownRequest{GroupBy: usagev1.Dimension_DIMENSION_USER, GroupByMetadataKey: "k"})
			return err
		}},
		{"page size over the bound", func() error {
			_, err := c.ListRequests(ctx, &usagev1.ListRequestsRequest{PageSize: MaxPageSize + 1})
			return err
		}},
		{"malformed page token", func() error {
			_, err := c.ListRequests(ctx, &usagev1.ListRequestsRequest{PageToken: "zzz"})
			return err
		}},
		{"no event id", func() error {
			_, err := c.GetRequest(ctx, &usagev1.GetRequestRequest{})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
				t.Errorf("%v, want InvalidArgument", err)
			}
		})
	}
}
