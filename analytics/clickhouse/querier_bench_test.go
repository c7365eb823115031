package clickhouse

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"

	"github.com/llmgw/llmgw/analytics/chtest"
	"github.com/llmgw/llmgw/analytics/query"
)

// benchRows is the size of the benchmark's usage_events: a week of a million events.
const benchRows = 1_000_000

// BenchmarkQuerier measures the Usage API's queries over benchRows events spread over a week
// (20 models, 1000 users, 10 teams, 3 metadata values, 5% failures), generated in the server
// with INSERT ... SELECT FROM numbers() (the materialized views fill the rollups as usual).
func BenchmarkQuerier(b *testing.B) {
	ctx := context.Background()
	c, err := ParseURL("clickhouse://" + chtest.Start(b) + "/bench")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Migrate(ctx, c, Retention{}); err != nil {
		b.Fatal(err)
	}
	q, err := NewQuerier(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	week := 7 * 24 * time.Hour
	step := week.Microseconds() / benchRows
	insert := fmt.Sprintf(`INSERT INTO usage_events (event_id, time, user, teams, virtual_account, model, target_model, status,
		prompt_tokens, completion_tokens, cost_usd, priced, latency_us, ttft_us, stream, metadata, attempts.target, attempts.status,
		attempts.http_status, attempts.latency_us, attempts.error_class)
	SELECT concat('ev-', toString(number)), fromUnixTimestamp64Micro(toInt64(%d + number * %d), 'UTC'),
		concat('user', toString(number %% 1000)), if(number %% 3 = 0, [], [concat('team', toString(number %% 10))]),
		if(number %% 7 = 0, 'va1', ''), concat('acct/m', toString(number %% 20)), concat('acct/m', toString(number %% 20)),
		if(number %% 20 = 0, 'upstream_error', 'ok'), number %% 1000, number %% 500, (number %% 1000) / 100000.0, number %% 50 != 0,
		1000 + (number * 7919) %% 2000000, if(number %% 2 = 0, 100 + (number * 104729) %% 100000, 0), number %% 2 = 0,
		map('env', ['prod', 'dev', 'test'][1 + number %% 3]), [concat('acct/m', toString(number %% 20))], ['ok'], [200], [1000], ['']
	FROM numbers(%d)`, start.UnixMicro(), step, benchRows)
	if err := q.do(ctx, ch.Query{Body: insert}); err != nil {
		b.Fatal(err)
	}
	if err := q.do(ctx, ch.Query{Body: "OPTIMIZE TABLE usage_events FINAL"}); err != nil {
		b.Fatal(err)
	}
	if n := countRowsB(b, q, "SELECT count() AS n FROM usage_events"); n != benchRows {
		b.Fatalf("%d rows", n)
	}
	all := query.Filter{Start: start, End: start.Add(week)}
	day := query.Filter{Start: start.Add(24 * time.Hour), End: start.Add(48 * time.Hour)}
	run := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("TimeSeries/week-by-hour", func() error {
		_, err := q.TimeSeries(ctx, query.SeriesQuery{Filter: all, Bucket: time.Hour})
		return err
	})
	run("TimeSeries/week-by-hour-per-model", func() error {
		_, err := q.TimeSeries(ctx, query.SeriesQuery{Filter: all, Bucket: time.Hour, GroupBy: query.GroupBy{Dim: query.DimModel}})
		return err
	})
	run("TimeSeries/day-by-minute-top100-of-1000-users", func() error {
		_, err := q.TimeSeries(ctx, query.SeriesQuery{Filter: day, Bucket: time.Minute, GroupBy: query.GroupBy{Dim: query.DimUser}})
		return err
	})
	run("Breakdown/week-by-team", func() error {
		_, err := q.Breakdown(ctx, query.BreakdownQuery{Filter: all, GroupBy: query.GroupBy{Dim: query.DimTeam}})
		return err
	})
	run("Latency/week", func() error {
		_, err := q.Latency(ctx, all)
		return err
	})
	run("Requests/first-page-of-50", func() error {
		_, err := q.Requests(ctx, query.RequestsQuery{Filter: all, PageSize: 50})
		return err
	})
	run("Requests/first-page-of-50-one-user", func() error {
		f := all
		f.Users = []string{"user7"}
		_, err := q.Requests(ctx, query.RequestsQuery{Filter: f, PageSize: 50})
		return err
	})
	page, err := q.Requests(ctx, query.RequestsQuery{Filter: all, PageSize: 500})
	if err != nil {
		b.Fatal(err)
	}
	run("Requests/second-page-of-50", func() error {
		_, err := q.Requests(ctx, query.RequestsQuery{Filter: all, PageSize: 50, PageToken: page.NextPageToken})
		return err
	})
	run("Request/by-id", func() error {
		_, err := q.Request(ctx, "ev-123457", query.Filter{})
		return err
	})
}

func countRowsB(b *testing.B, q *Querier, body string) uint64 {
	b.Helper()
	var n proto.ColUInt64
	if err := q.do(context.Background(), ch.Query{Body: body, Result: proto.Results{{Name: "n", Data: &n}}}); err != nil {
		b.Fatal(err)
	}
	return n.Row(0)
}
