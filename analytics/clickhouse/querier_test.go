package clickhouse

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/analytics/chtest"
	"github.com/llmgw/llmgw/analytics/query"
	"github.com/llmgw/llmgw/analytics/query/querytest"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// openQuerier returns a function that loads events into a fresh database on the server at addr
// (one database per call) with a Writer, and returns a Querier over it.
func openQuerier(addr string) querytest.Open {
	n := 0
	return func(t *testing.T, events []*usagev1.UsageEvent) query.Querier {
		t.Helper()
		n++
		c, err := ParseURL(fmt.Sprintf("clickhouse://%s/q%d", addr, n))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		// No TTL: the fixtures happen in March 2026, older than any retention by now.
		if _, err := Migrate(ctx, c, Retention{}); err != nil {
			t.Fatal(err)
		}
		w := NewWriter(c)
		defer w.Close()
		if got, err := w.Write(ctx, events); err != nil || got != len(events) {
			t.Fatalf("write: %d of %d: %v", got, len(events), err)
		}
		q, err := NewQuerier(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		return q
	}
}

// TestQuerierConformance: the ClickHouse Querier gives the conformance suite's exact answers,
// the same as the embedded store's, over events written by the Writer.
func TestQuerierConformance(t *testing.T) {
	querytest.Run(t, openQuerier(chtest.Start(t)))
}

// hostile are strings that would break out of a badly quoted SQL literal.
var hostile = []string{`o'brien`, `back\slash`, `x'); DROP TABLE usage_events; --`, "nul\x00byte", `\'`, `'`, `\`}

// TestQuerierQuotesUserInput: filter values, metadata keys and values, grouping keys, event ids
// and page tokens full of quotes and backslashes select exactly the events that have them, as
// literals, and never change the SQL.
func TestQuerierQuotesUserInput(t *testing.T) {
	ctx := context.Background()
	var events []*usagev1.UsageEvent
	for i, s := range hostile {
		events = append(events, querytest.Event{
			ID: s, At: time.Duration(i) * time.Second, Model: s, Target: s, User: s, VA: s,
			Teams: []string{s}, Meta: map[string]string{s: s}, Cost: float64(i + 1), Prompt: int64(i + 1),
		}.Proto())
	}
	q := openQuerier(chtest.Start(t))(t, events).(*Querier)
	all := query.Filter{Start: querytest.T0, End: querytest.T0.Add(time.Hour)}
	for i, s := range hostile {
		for name, set := range map[string]func(*query.Filter){
			"model":    func(f *query.Filter) { f.Models = []string{s} },
			"target":   func(f *query.Filter) { f.Targets = []string{s} },
			"user":     func(f *query.Filter) { f.Users = []string{s} },
			"team":     func(f *query.Filter) { f.Teams = []string{s} },
			"account":  func(f *query.Filter) { f.VirtualAccounts = []string{s} },
			"metadata": func(f *query.Filter) { f.Metadata = map[string]string{s: s} },
		} {
			f := all
			set(&f)
			got, err := q.Breakdown(ctx, query.BreakdownQuery{Filter: f})
			if err != nil {
				t.Fatalf("%s %q: %v", name, s, err)
			}
			if got.Totals.Requests != 1 || got.Totals.PromptTokens != int64(i+1) {
				t.Errorf("%s %q: %+v, want the one event with it", name, s, got.Totals)
			}
		}
		e, err := q.Request(ctx, s, query.Filter{Users: []string{s}})
		if err != nil || e.GetEventId() != s {
			t.Errorf("request %q: %v %v", s, e.GetEventId(), err)
		}
		got, err := q.Breakdown(ctx, query.BreakdownQuery{Filter: all, GroupBy: query.GroupBy{Dim: query.DimMetadata, MetadataKey: s}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Groups) != 2 || got.Groups[0].Key != s && got.Groups[1].Key != s {
			t.Errorf("grouped by metadata key %q: %+v", s, got.Groups)
		}
	}
	// Paging one event at a time goes through every hostile id in the tokens.
	var ids []string
	tok := ""
	for range len(hostile) + 1 {
		page, err := q.Requests(ctx, query.RequestsQuery{Filter: all, PageSize: 1, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			ids = append(ids, e.GetEventId())
		}
		if tok = page.NextPageToken; tok == "" {
			break
		}
	}
	want := slices.Clone(hostile)
	slices.Reverse(want)
	if d := cmp.Diff(want, ids); d != "" {
		t.Errorf("pages (-want +got)\n%s", d)
	}
	if n := countRows(t, q, "SELECT count() AS n FROM usage_events"); n != uint64(len(hostile)) {
		t.Errorf("usage_events has %d rows, want %d", n, len(hostile))
	}
}

func countRows(t *testing.T, q *Querier, body string) uint64 {
	t.Helper()
	var n proto.ColUInt64
	if err := q.do(context.Background(), ch.Query{Body: body, Result: proto.Results{{Name: "n", Data: &n}}}); err != nil {
		t.Fatal(err)
	}
	return n.Row(0)
}

// TestQuerierCountsADuplicateOnce: an event stored twice (two consumers inserting the same batch
// after a rebalance), not yet merged, counts once in every answer and is listed once.
func TestQuerierCountsADuplicateOnce(t *testing.T) {
	ctx := context.Background()
	events := []*usagev1.UsageEvent{
		querytest.Event{ID: "d1", At: time.Second, Model: "acct/a", User: "alice", Teams: []string{"t1"}, Cost: 1, Prompt: 10, Latency: time.Millisecond}.Proto(),
		querytest.Event{ID: "d2", At: 2 * time.Second, Model: "acct/a", User: "bob", Cost: 2, Prompt: 20, Latency: 3 * time.Millisecond}.Proto(),
	}
	q := openQuerier(chtest.Start(t))(t, events).(*Querier)
	for _, s := range []string{"SYSTEM STOP MERGES usage_events", "INSERT INTO usage_events SELECT * FROM usage_events"} {
		if err := q.do(ctx, ch.Query{Body: s}); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if n := countRows(t, q, "SELECT count() AS n FROM usage_events"); n != 4 {
		t.Fatalf("usage_events has %d rows unmerged, want 4 (each event twice)", n)
	}
	f := query.Filter{Start: querytest.T0, End: querytest.T0.Add(time.Hour)}
	b, err := q.Breakdown(ctx, query.BreakdownQuery{Filter: f, GroupBy: query.GroupBy{Dim: query.DimTeam}})
	if err != nil {
		t.Fatal(err)
	}
	want := &query.BreakdownResult{
		Groups: []query.Group{{Key: "", Totals: query.Totals{Requests: 1, PromptTokens: 20, CostUSD: 2}}, {Key: "t1", Totals: query.Totals{Requests: 1, PromptTokens: 10, CostUSD: 1}}},
		Totals: query.Totals{Requests: 2, PromptTokens: 30, CostUSD: 3},
	}
	if d := cmp.Diff(want, b); d != "" {
		t.Errorf("breakdown (-want +got)\n%s", d)
	}
	s, err := q.TimeSeries(ctx, query.SeriesQuery{Filter: f, Bucket: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Series) != 1 || s.Series[0].Totals.Requests != 2 {
		t.Errorf("time series: %+v", s.Series)
	}
	l, err := q.Latency(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 1 || l[0].Requests != 2 || l[0].Latency.P50 != time.Millisecond {
		t.Errorf("latency: %+v", l)
	}
	page, err := q.Requests(ctx, query.RequestsQuery{Filter: f, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2 {
		t.Errorf("requests: %d events, want 2", len(page.Events))
	}
}

// TestQuerierPagesEventsOfTheSameInstant: events of the same microsecond are paged by id,
// each once, whatever the page size.
func TestQuerierPagesEventsOfTheSameInstant(t *testing.T) {
	ctx := context.Background()
	var events []*usagev1.UsageEvent
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("s%d", i)
		events = append(events, querytest.Event{ID: id, At: time.Minute, Model: "acct/a"}.Proto())
		want = append([]string{id}, want...)
	}
	events = append(events, querytest.Event{ID: "later", At: time.Minute + time.Microsecond, Model: "acct/a"}.Proto(),
		querytest.Event{ID: "earlier", At: time.Minute - time.Microsecond, Model: "acct/a"}.Proto())
	want = append(append([]string{"later"}, want...), "earlier")
	q := openQuerier(chtest.Start(t))(t, events)
	for _, size := range []int{1, 2, 3, 10} {
		var ids []string
		tok := ""
		for range len(events) + 1 {
			page, err := q.Requests(ctx, query.RequestsQuery{Filter: query.Filter{Start: querytest.T0, End: querytest.T0.Add(time.Hour)}, PageSize: size, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Events {
				ids = append(ids, e.GetEventId())
			}
			if tok = page.NextPageToken; tok == "" {
				break
			}
		}
		if d := cmp.Diff(want, ids); d != "" {
			t.Errorf("page size %d (-want +got)\n%s", size, d)
		}
	}
}

// TestQuerierConcurrentAndAfterErrors: queries from many goroutines share the pool, and a
// query cancelled half way or refused by the server leaves the Querier answering the next.
func TestQuerierConcurrentAndAfterErrors(t *testing.T) {
	ctx := context.Background()
	var events []*usagev1.UsageEvent
	for i := range 50 {
		events = append(events, querytest.Event{ID: fmt.Sprintf("c%02d", i), At: time.Duration(i) * time.Second, Model: "acct/a", Prompt: 1}.Proto())
	}
	q := openQuerier(chtest.Start(t))(t, events).(*Querier)
	f := query.Filter{Start: querytest.T0, End: querytest.T0.Add(time.Hour)}
	check := func() {
		t.Helper()
		b, err := q.Breakdown(ctx, query.BreakdownQuery{Filter: f})
		if err != nil || b.Totals.Requests != 50 {
			t.Errorf("breakdown: %+v %v", b, err)
		}
	}
	errs := make(chan error, 2*MaxQueryConns)
	for range cap(errs) {
		go func() {
			b, err := q.Breakdown(ctx, query.BreakdownQuery{Filter: f, GroupBy: query.GroupBy{Dim: query.DimModel}})
			if err == nil && (len(b.Groups) != 1 || b.Groups[0].Totals.Requests != 50) {
				err = fmt.Errorf("groups %+v", b.Groups)
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := q.Breakdown(cctx, query.BreakdownQuery{Filter: f}); err == nil {
		t.Error("a cancelled query answered")
	}
	check()
	if err := q.do(ctx, ch.Query{Body: "SELECT throwIf(1, 'refused')"}); err == nil {
		t.Error("a failing query did not fail")
	}
	check()
	// No events: no models, as an empty list (the embedded store's answer), not nil.
	if l, err := q.Latency(ctx, query.Filter{Start: querytest.T0.Add(2 * time.Hour), End: querytest.T0.Add(3 * time.Hour)}); err != nil || l == nil || len(l) != 0 {
		t.Errorf("latency of no events: %#v %v", l, err)
	}
}

// TestNewQuerierConnectsOnFirstQuery: a Querier can be made before ClickHouse is up (serve
// starts without it); its queries fail until ClickHouse answers.
func TestNewQuerierConnectsOnFirstQuery(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := ParseURL("clickhouse://" + addr + "/llmgw")
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQuerier(context.Background(), c)
	if err != nil {
		t.Fatalf("NewQuerier with ClickHouse down: %v", err)
	}
	defer q.Close()
	_, err = q.Latency(context.Background(), query.Filter{Start: querytest.T0, End: querytest.T0.Add(time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "connect to clickhouse") {
		t.Errorf("query with ClickHouse down: %v", err)
	}
}

// TestQuerierTruncatesSeriesOfEveryDimension: past MaxSeries groups, only the most expensive
// groups' buckets are read, for the dimensions computed in SQL (a team of the event's teams, a
// metadata value) as for plain columns.
func TestQuerierTruncatesSeriesOfEveryDimension(t *testing.T) {
	ctx := context.Background()
	var events []*usagev1.UsageEvent
	for i := range query.MaxSeries + 1 {
		v := fmt.Sprintf("g%03d", i)
		events = append(events, querytest.Event{ID: v, At: time.Duration(i) * time.Second, Model: "acct/a",
			Teams: []string{v}, Meta: map[string]string{"k'ey": v}, Cost: float64(i + 1)}.Proto())
	}
	q := openQuerier(chtest.Start(t))(t, events)
	for _, g := range []query.GroupBy{{Dim: query.DimTeam}, {Dim: query.DimMetadata, MetadataKey: "k'ey"}, {Dim: query.DimModel}} {
		got, err := q.TimeSeries(ctx, query.SeriesQuery{Filter: query.Filter{Start: querytest.T0, End: querytest.T0.Add(time.Hour)}, Bucket: time.Minute, GroupBy: g})
		if err != nil {
			t.Fatalf("%+v: %v", g, err)
		}
		if g.Dim == query.DimModel {
			if got.Truncated || len(got.Series) != 1 || got.Series[0].Totals.Requests != int64(query.MaxSeries+1) {
				t.Errorf("by model: %+v", got)
			}
			continue
		}
		if !got.Truncated || len(got.Series) != query.MaxSeries || got.Series[0].Group != "g100" || got.Series[query.MaxSeries-1].Group != "g001" {
			t.Errorf("%+v: truncated %v, %d series", g, got.Truncated, len(got.Series))
			continue
		}
		for _, s := range got.Series {
			if len(s.Points) != 1 || s.Totals.Requests != 1 {
				t.Errorf("%+v: series %s: %+v", g, s.Group, s)
			}
		}
	}
}
