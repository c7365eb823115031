// Package querytest is the conformance suite of query.Querier: the same hand-built events
// and the same exact answers for every usage store (embedded SQLite, ClickHouse). A store's
// test calls Run with a function that loads events into a fresh store.
package querytest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/analytics/query"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// Open returns a fresh store holding events (all of them written before it returns).
type Open func(t *testing.T, events []*usagev1.UsageEvent) query.Querier

// T0 is the start of the day the fixtures happen on (UTC midnight).
var T0 = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

// Event builds a usage event for tests.
type Event struct {
	ID, Model, Target, User, VA, Status string
	At                                  time.Duration // after T0
	Teams                               []string
	Meta                                map[string]string
	Prompt, Completion, CacheRead       int64
	CacheWrite, Reasoning               int64
	Cost                                float64
	Unpriced, Stream                    bool
	Latency, TTFT                       time.Duration
	Bodies                              *usagev1.Bodies
}

// Proto returns e in its wire form.
func (e Event) Proto() *usagev1.UsageEvent {
	status := e.Status
	if status == "" {
		status = "ok"
	}
	p := &usagev1.UsageEvent{
		EventId: e.ID, Time: timestamppb.New(T0.Add(e.At)), Model: e.Model, User: e.User, Teams: e.Teams,
		VirtualAccount: e.VA, Status: status, Stream: e.Stream, Metadata: e.Meta,
		Tokens:  &usagev1.Tokens{Prompt: e.Prompt, Completion: e.Completion, CacheRead: e.CacheRead, CacheWrite: e.CacheWrite, Reasoning: e.Reasoning},
		CostUsd: e.Cost, Priced: !e.Unpriced, LatencyUs: e.Latency.Microseconds(), TtftUs: e.TTFT.Microseconds(),
		Attempts: []*usagev1.Attempt{{Target: e.Target, Status: status, HttpStatus: 200, LatencyUs: e.Latency.Microseconds()}},
		Bodies:   e.Bodies,
	}
	if e.Target != "" {
		p.Target = &usagev1.Target{Model: e.Target, Account: "acct"}
	}
	if status != "ok" {
		p.HttpStatus, p.ErrorClass = 502, "upstream_5xx"
	}
	return p
}

// fixtures are the suite's events: bucket boundaries at the minute, hour and day, users,
// teams, a virtual account, metadata, failures, an unpriced event and one outside every range.
func fixtures() []Event {
	ms := time.Millisecond
	return []Event{
		{ID: "e1", At: 10 * time.Second, Model: "acct/a", Target: "acct/a", User: "alice", Teams: []string{"t1", "t2"}, Meta: map[string]string{"env": "prod", "app": "x"},
			Prompt: 10, Completion: 5, CacheRead: 2, CacheWrite: 3, Reasoning: 1, Cost: 0.5, Latency: 100 * ms},
		{ID: "e2", At: 59*time.Second + 999*ms, Model: "acct/a", Target: "acct/a", User: "bob", Teams: []string{"t1"}, Status: "upstream_error",
			Prompt: 3, Cost: 0.25, Latency: 50 * ms},
		{ID: "e3", At: time.Minute, Model: "acct/b", Target: "acct/x", User: "alice", Teams: []string{"t1", "t2"}, Meta: map[string]string{"env": "dev"},
			Prompt: 4, Completion: 6, Cost: 0.125, Stream: true, Latency: 200 * ms, TTFT: 20 * ms},
		{ID: "e4", At: 59*time.Minute + 59*time.Second, Model: "acct/b", Target: "acct/b", VA: "billing", Prompt: 7, Completion: 1, Unpriced: true, Latency: 400 * ms},
		{ID: "e5", At: time.Hour, Model: "acct/a", Target: "acct/a", User: "alice", Teams: []string{"t1", "t2"}, Prompt: 1, Completion: 1, Cost: 1, Latency: 300 * ms},
		{ID: "e6", At: 24*time.Hour - time.Microsecond, Model: "acct/a", Target: "acct/a", User: "carol", Prompt: 2, Completion: 2, Cost: 0.0625, Latency: 10 * ms},
		{ID: "e7", At: 24 * time.Hour, Model: "acct/a", Target: "acct/a", User: "alice", Teams: []string{"t1", "t2"}, Prompt: 5, Completion: 5, Cost: 2, Latency: 20 * ms},
		{ID: "e8", At: -time.Microsecond, Model: "acct/a", Target: "acct/a", User: "alice", Prompt: 1000, Cost: 100, Latency: 1000 * ms},
	}
}

func protos(es []Event) []*usagev1.UsageEvent {
	out := make([]*usagev1.UsageEvent, len(es))
	for i, e := range es {
		out[i] = e.Proto()
	}
	return out
}

// sum is the totals of the fixtures named.
func sum(names ...string) query.Totals {
	by := map[string]Event{}
	for _, e := range fixtures() {
		by[e.ID] = e
	}
	var t query.Totals
	for _, n := range names {
		e, ok := by[n]
		if !ok {
			panic("no fixture " + n)
		}
		t.Requests++
		if e.Status != "" && e.Status != "ok" {
			t.Failures++
		}
		t.PromptTokens += e.Prompt
		t.CompletionTokens += e.Completion
		t.CacheReadTokens += e.CacheRead
		t.CacheWriteTokens += e.CacheWrite
		t.ReasoningTokens += e.Reasoning
		t.CostUSD += e.Cost
		if e.Unpriced {
			t.Unpriced++
		}
	}
	return t
}

func rng(from, to time.Duration) query.Filter {
	return query.Filter{Start: T0.Add(from), End: T0.Add(to)}
}

func pt(at time.Duration, names ...string) query.Point {
	return query.Point{Start: T0.Add(at), Totals: sum(names...)}
}

// Run runs the suite against the store open returns.
func Run(t *testing.T, open Open) {
	ctx := context.Background()
	q := open(t, protos(fixtures()))
	day := 24 * time.Hour

	t.Run("TimeSeries", func(t *testing.T) {
		one := func(pts ...query.Point) *query.SeriesResult {
			var tot query.Totals
			for _, p := range pts {
				tot.Add(p.Totals)
			}
			return &query.SeriesResult{Series: []query.Series{{Group: "", Points: pts, Totals: tot}}}
		}
		tests := []struct {
			name string
			q    query.SeriesQuery
			want *query.SeriesResult
		}{
			{"minute buckets split at second 60", query.SeriesQuery{Filter: rng(0, 2*time.Minute), Bucket: time.Minute},
				one(pt(0, "e1", "e2"), pt(time.Minute, "e3"))},
			{"hour buckets split at minute 60", query.SeriesQuery{Filter: rng(0, 2*time.Hour), Bucket: time.Hour},
				one(pt(0, "e1", "e2", "e3", "e4"), pt(time.Hour, "e5"))},
			{"day buckets split at UTC midnight; start inclusive, end exclusive", query.SeriesQuery{Filter: rng(0, day+time.Microsecond), Bucket: day},
				one(pt(0, "e1", "e2", "e3", "e4", "e5", "e6"), pt(day, "e7"))},
			{"end excludes an event at it", query.SeriesQuery{Filter: rng(0, day), Bucket: day},
				one(pt(0, "e1", "e2", "e3", "e4", "e5", "e6"))},
			{"a range starting mid-bucket keys the bucket by its aligned start", query.SeriesQuery{Filter: rng(30*time.Minute, 2*time.Hour), Bucket: time.Hour},
				one(pt(0, "e4"), pt(time.Hour, "e5"))},
			{"grouped by user, most expensive first", query.SeriesQuery{Filter: rng(0, 2*day), Bucket: day, GroupBy: query.GroupBy{Dim: query.DimUser}},
				&query.SeriesResult{Series: []query.Series{
					{Group: "alice", Points: []query.Point{pt(0, "e1", "e3", "e5"), pt(day, "e7")}, Totals: sum("e1", "e3", "e5", "e7")},
					{Group: "bob", Points: []query.Point{pt(0, "e2")}, Totals: sum("e2")},
					{Group: "carol", Points: []query.Point{pt(0, "e6")}, Totals: sum("e6")},
					{Group: "", Points: []query.Point{pt(0, "e4")}, Totals: sum("e4")},
				}}},
			{"grouped by team: an event counts in each of its teams", query.SeriesQuery{Filter: rng(0, 2*time.Hour), Bucket: time.Hour, GroupBy: query.GroupBy{Dim: query.DimTeam}},
				&query.SeriesResult{Series: []query.Series{
					{Group: "t1", Points: []query.Point{pt(0, "e1", "e2", "e3"), pt(time.Hour, "e5")}, Totals: sum("e1", "e2", "e3", "e5")},
					{Group: "t2", Points: []query.Point{pt(0, "e1", "e3"), pt(time.Hour, "e5")}, Totals: sum("e1", "e3", "e5")},
					{Group: "", Points: []query.Point{pt(0, "e4")}, Totals: sum("e4")},
				}}},
			{"filtered by model and grouped by target", query.SeriesQuery{Filter: with(rng(0, day), func(f *query.Filter) { f.Models = []string{"acct/b"} }), Bucket: day, GroupBy: query.GroupBy{Dim: query.DimTarget}},
				&query.SeriesResult{Series: []query.Series{
					{Group: "acct/x", Points: []query.Point{pt(0, "e3")}, Totals: sum("e3")},
					{Group: "acct/b", Points: []query.Point{pt(0, "e4")}, Totals: sum("e4")},
				}}},
			{"grouped by metadata key", query.SeriesQuery{Filter: rng(0, time.Hour), Bucket: time.Hour, GroupBy: query.GroupBy{Dim: query.DimMetadata, MetadataKey: "env"}},
				&query.SeriesResult{Series: []query.Series{
					{Group: "prod", Points: []query.Point{pt(0, "e1")}, Totals: sum("e1")},
					{Group: "", Points: []query.Point{pt(0, "e2", "e4")}, Totals: sum("e2", "e4")},
					{Group: "dev", Points: []query.Point{pt(0, "e3")}, Totals: sum("e3")},
				}}},
			{"no events: no series", query.SeriesQuery{Filter: rng(3*day, 4*day), Bucket: time.Hour}, &query.SeriesResult{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := q.TimeSeries(ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(tt.want, got, totalsCmp()); d != "" {
					t.Errorf("(-want +got)\n%s", d)
				}
			})
		}
	})

	t.Run("Filters", func(t *testing.T) {
		all := rng(-time.Hour, 2*day)
		tests := []struct {
			name string
			f    func(*query.Filter)
			want []string
		}{
			{"none", func(*query.Filter) {}, []string{"e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"}},
			{"models", func(f *query.Filter) { f.Models = []string{"acct/b"} }, []string{"e3", "e4"}},
			{"targets", func(f *query.Filter) { f.Targets = []string{"acct/x", "acct/b"} }, []string{"e3", "e4"}},
			{"users", func(f *query.Filter) { f.Users = []string{"bob", "carol"} }, []string{"e2", "e6"}},
			{"teams: any of the event's", func(f *query.Filter) { f.Teams = []string{"t2"} }, []string{"e1", "e3", "e5", "e7"}},
			{"two teams: each event once", func(f *query.Filter) { f.Teams = []string{"t1", "t2"} }, []string{"e1", "e2", "e3", "e5", "e7"}},
			{"a team and a model", func(f *query.Filter) { f.Teams = []string{"t1"}; f.Models = []string{"acct/a"} }, []string{"e1", "e2", "e5", "e7"}},
			{"virtual accounts", func(f *query.Filter) { f.VirtualAccounts = []string{"billing"} }, []string{"e4"}},
			{"metadata", func(f *query.Filter) { f.Metadata = map[string]string{"env": "prod"} }, []string{"e1"}},
			{"metadata: every pair must match", func(f *query.Filter) { f.Metadata = map[string]string{"env": "prod", "app": "y"} }, nil},
			{"combined", func(f *query.Filter) {
				f.Users = []string{"alice"}
				f.Teams = []string{"t1"}
				f.Models = []string{"acct/a"}
			}, []string{"e1", "e5", "e7"}},
			{"range", func(f *query.Filter) { f.Start, f.End = T0, T0.Add(time.Minute) }, []string{"e1", "e2"}},
			{"range of part and whole hours", func(f *query.Filter) { f.Start, f.End = T0.Add(30*time.Minute), T0.Add(day+30*time.Minute) }, []string{"e4", "e5", "e6", "e7"}},
			{"range of part and whole hours, one user", func(f *query.Filter) {
				f.Start, f.End, f.Users = T0.Add(30*time.Minute), T0.Add(day+30*time.Minute), []string{"alice"}
			}, []string{"e5", "e7"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := all
				tt.f(&f)
				got, err := q.Breakdown(ctx, query.BreakdownQuery{Filter: f})
				if err != nil {
					t.Fatal(err)
				}
				want := &query.BreakdownResult{Totals: sum(tt.want...)}
				if len(tt.want) > 0 {
					want.Groups = []query.Group{{Key: "", Totals: sum(tt.want...)}}
				}
				if d := cmp.Diff(want, got, totalsCmp()); d != "" {
					t.Errorf("(-want +got)\n%s", d)
				}
			})
		}
	})

	t.Run("Breakdown", func(t *testing.T) {
		tests := []struct {
			name string
			g    query.GroupBy
			want *query.BreakdownResult
		}{
			{"by model", query.GroupBy{Dim: query.DimModel}, &query.BreakdownResult{
				Groups: []query.Group{{Key: "acct/a", Totals: sum("e1", "e2", "e5", "e6", "e7")}, {Key: "acct/b", Totals: sum("e3", "e4")}},
				Totals: sum("e1", "e2", "e3", "e4", "e5", "e6", "e7")}},
			{"by virtual account", query.GroupBy{Dim: query.DimVirtualAccount}, &query.BreakdownResult{
				Groups: []query.Group{{Key: "", Totals: sum("e1", "e2", "e3", "e5", "e6", "e7")}, {Key: "billing", Totals: sum("e4")}},
				Totals: sum("e1", "e2", "e3", "e4", "e5", "e6", "e7")}},
			{"by team: the totals count each event once", query.GroupBy{Dim: query.DimTeam}, &query.BreakdownResult{
				Groups: []query.Group{{Key: "t1", Totals: sum("e1", "e2", "e3", "e5", "e7")}, {Key: "t2", Totals: sum("e1", "e3", "e5", "e7")}, {Key: "", Totals: sum("e4", "e6")}},
				Totals: sum("e1", "e2", "e3", "e4", "e5", "e6", "e7")}},
			{"by metadata", query.GroupBy{Dim: query.DimMetadata, MetadataKey: "app"}, &query.BreakdownResult{
				Groups: []query.Group{{Key: "", Totals: sum("e2", "e3", "e4", "e5", "e6", "e7")}, {Key: "x", Totals: sum("e1")}},
				Totals: sum("e1", "e2", "e3", "e4", "e5", "e6", "e7")}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := q.Breakdown(ctx, query.BreakdownQuery{Filter: rng(0, 2*day), GroupBy: tt.g})
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(tt.want, got, totalsCmp()); d != "" {
					t.Errorf("(-want +got)\n%s", d)
				}
			})
		}
	})

	t.Run("Latency", func(t *testing.T) {
		got, err := q.Latency(ctx, rng(0, 2*day))
		if err != nil {
			t.Fatal(err)
		}
		ms := time.Millisecond
		want := []query.ModelLatency{
			// acct/a's successful events: 10, 20, 100, 300 ms (e2 failed, e8 out of range).
			{Model: "acct/a", Requests: 4, Latency: query.Percentiles{P50: 20 * ms, P95: 300 * ms, P99: 300 * ms}},
			{Model: "acct/b", Requests: 2, Latency: query.Percentiles{P50: 200 * ms, P95: 400 * ms, P99: 400 * ms},
				Streams: 1, TTFT: query.Percentiles{P50: 20 * ms, P95: 20 * ms, P99: 20 * ms}},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("(-want +got)\n%s", d)
		}
	})

	t.Run("LatencyNearestRank", func(t *testing.T) {
		var es []Event
		for i := 1; i <= 200; i++ {
			e := Event{ID: fmt.Sprintf("p%03d", i), At: time.Duration(i) * time.Second, Model: "acct/p", Target: "acct/p", Latency: time.Duration(201-i) * time.Millisecond}
			if i <= 100 {
				e.Stream, e.TTFT = true, time.Duration(i)*time.Millisecond
			}
			es = append(es, e)
		}
		q := open(t, protos(es))
		got, err := q.Latency(ctx, rng(0, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		ms := time.Millisecond
		want := []query.ModelLatency{{Model: "acct/p", Requests: 200, Latency: query.Percentiles{P50: 100 * ms, P95: 190 * ms, P99: 198 * ms},
			Streams: 100, TTFT: query.Percentiles{P50: 50 * ms, P95: 95 * ms, P99: 99 * ms}}}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("(-want +got)\n%s", d)
		}
	})

	t.Run("Requests", func(t *testing.T) {
		var ids []string
		var tok string
		for range 4 {
			page, err := q.Requests(ctx, query.RequestsQuery{Filter: rng(0, 2*day), PageSize: 2, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Events {
				ids = append(ids, e.GetEventId())
				if e.GetBodies() != nil {
					t.Errorf("%s: a listed event carries bodies", e.GetEventId())
				}
			}
			if tok = page.NextPageToken; tok == "" {
				break
			}
		}
		if d := cmp.Diff([]string{"e7", "e6", "e5", "e4", "e3", "e2", "e1"}, ids); d != "" {
			t.Errorf("pages, newest first (-want +got)\n%s", d)
		}
		if tok != "" {
			t.Error("the last page has a next page token")
		}
		page, err := q.Requests(ctx, query.RequestsQuery{Filter: rng(0, 2*day), FailuresOnly: true, PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 1 || page.Events[0].GetEventId() != "e2" || page.NextPageToken != "" {
			t.Errorf("failures only: %v", page.Events)
		}
		if d := cmp.Diff(fixtures()[1].Proto(), page.Events[0], protocmp.Transform()); d != "" {
			t.Errorf("listed event differs from the one written (-want +got)\n%s", d)
		}
		f := rng(0, 2*day)
		f.Users = []string{"bob"}
		page, err = q.Requests(ctx, query.RequestsQuery{Filter: f, PageSize: 1})
		if err != nil || len(page.Events) != 1 || page.NextPageToken != "" {
			t.Errorf("one event on one page: %v %v %q", err, page, page.NextPageToken)
		}
		if _, err := q.Requests(ctx, query.RequestsQuery{Filter: rng(0, day), PageSize: 2, PageToken: "not-a-token"}); !errors.Is(err, query.ErrInvalid) {
			t.Errorf("malformed token: %v, want ErrInvalid", err)
		}
	})

	t.Run("Request", func(t *testing.T) {
		bodies := &usagev1.Bodies{Request: []byte(`{"q":1}`), Response: []byte(`{"a":2}`), ResponseTruncated: true}
		q := open(t, protos([]Event{
			{ID: "b1", Model: "acct/a", Target: "acct/a", User: "alice", Bodies: bodies},
			{ID: "b2", Model: "acct/a", Target: "acct/a", User: "alice"},
		}))
		got, err := q.Request(ctx, "b1", query.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		want := Event{ID: "b1", Model: "acct/a", Target: "acct/a", User: "alice", Bodies: bodies}.Proto()
		if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
			t.Errorf("with bodies (-want +got)\n%s", d)
		}
		got, err = q.Request(ctx, "b2", query.Filter{Users: []string{"alice"}})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetBodies() != nil || len(got.GetAttempts()) != 1 {
			t.Errorf("without bodies: %v", got)
		}
		if _, err := q.Request(ctx, "b2", query.Filter{Users: []string{"bob"}}); !errors.Is(err, query.ErrNotFound) {
			t.Errorf("another user's event: %v, want ErrNotFound", err)
		}
		if _, err := q.Request(ctx, "nope", query.Filter{}); !errors.Is(err, query.ErrNotFound) {
			t.Errorf("no such event: %v, want ErrNotFound", err)
		}
	})

	t.Run("Bounds", func(t *testing.T) {
		if _, err := q.TimeSeries(ctx, query.SeriesQuery{Filter: rng(0, 7*day), Bucket: time.Minute}); !errors.Is(err, query.ErrInvalid) {
			t.Errorf("7 days of minutes (10,080 buckets): %v, want ErrInvalid", err)
		}
		if _, err := q.TimeSeries(ctx, query.SeriesQuery{Filter: rng(0, 6*day), Bucket: time.Minute}); err != nil {
			t.Errorf("6 days of minutes (8,640 buckets): %v", err)
		}
		if _, err := q.Requests(ctx, query.RequestsQuery{Filter: rng(0, day), PageSize: query.MaxPageSize + 1}); !errors.Is(err, query.ErrInvalid) {
			t.Errorf("page size over the bound: %v, want ErrInvalid", err)
		}
		var es []Event
		for i := range query.MaxSeries + 1 {
			es = append(es, Event{ID: fmt.Sprintf("u%03d", i), At: time.Second, Model: "acct/a", User: fmt.Sprintf("user%03d", i), Cost: float64(i)})
		}
		q := open(t, protos(es))
		got, err := q.TimeSeries(ctx, query.SeriesQuery{Filter: rng(0, time.Hour), Bucket: time.Hour, GroupBy: query.GroupBy{Dim: query.DimUser}})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Truncated || len(got.Series) != query.MaxSeries || got.Series[0].Group != "user100" || got.Series[query.MaxSeries-1].Group != "user001" {
			t.Errorf("101 users: truncated %v, %d series, first %q", got.Truncated, len(got.Series), got.Series[0].Group)
		}
	})
}

func with(f query.Filter, mod func(*query.Filter)) query.Filter {
	mod(&f)
	return f
}

// totalsCmp compares costs to 1e-12 USD (sums of doubles may differ in the last bits across
// stores) and everything else exactly.
func totalsCmp() cmp.Option {
	return cmp.Comparer(func(a, b float64) bool {
		d := a - b
		return d < 1e-12 && d > -1e-12
	})
}
