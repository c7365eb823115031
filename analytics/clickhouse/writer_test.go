package clickhouse

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	"github.com/google/go-cmp/cmp"
	gproto "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/analytics/usagetest"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

var base = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// TestWriteRoundTripsEveryField: every field of every event comes back from usage_events and
// usage_bodies as written (times at ClickHouse's microsecond precision).
func TestWriteRoundTripsEveryField(t *testing.T) {
	ctx := context.Background()
	c := testDB(t, "llmgw", Retention{Days: 90, BodyDays: 7})
	events := usagetest.Events("rt", 0, 120, base)
	// Nanoseconds are not stored: the event keeps its microseconds.
	events[0].Time = timestamppb.New(base.Add(1234567 * time.Nanosecond))
	w := NewWriter(c)
	defer w.Close()
	n, err := w.Write(ctx, events)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(events) {
		t.Fatalf("inserted %d, want %d", n, len(events))
	}
	got := readEvents(t, c)
	want := make([]*usagev1.UsageEvent, len(events))
	for i, e := range events {
		want[i] = protoClone(e)
		want[i].Time = timestamppb.New(e.Time.AsTime().Truncate(time.Microsecond))
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("events read back (-want +got):\n%s", diff)
	}
	// The schema stores what it claims, column by column, for one event with everything.
	cl := dialTest(t, c)
	var status proto.ColStr
	var cost proto.ColFloat64
	var attempts proto.ColUInt64
	if err := cl.Do(ctx, ch.Query{
		Body:   "SELECT toString(attempts.status[1]) AS s, cost_usd AS c, length(attempts.target) AS a FROM usage_events WHERE event_id = 'rt-000005'",
		Result: proto.Results{{Name: "s", Data: &status}, {Name: "c", Data: &cost}, {Name: "a", Data: &attempts}},
	}); err != nil {
		t.Fatal(err)
	}
	if status.Row(0) != "server_error" || cost.Row(0) != events[5].CostUsd || attempts.Row(0) != 2 {
		t.Errorf("rt-000005: first attempt %q, cost %v, %d attempts", status.Row(0), cost.Row(0), attempts.Row(0))
	}
}

func protoClone(e *usagev1.UsageEvent) *usagev1.UsageEvent {
	return gproto.Clone(e).(*usagev1.UsageEvent)
}

// TestWriteIsIdempotent: writing a batch again (a redelivery), or a batch that repeats an
// event, stores each event once, in the raw table without FINAL and in the rollups.
func TestWriteIsIdempotent(t *testing.T) {
	ctx := context.Background()
	c := testDB(t, "llmgw", Retention{Days: 90, BodyDays: 7})
	w := NewWriter(c)
	defer w.Close()
	events := usagetest.Events("idem", 0, 100, base)
	if n, err := w.Write(ctx, events[:60]); err != nil || n != 60 {
		t.Fatalf("first write: %d %v", n, err)
	}
	// The redelivered batch overlaps the first, and repeats an event within itself.
	again := append(append([]*usagev1.UsageEvent{}, events[40:]...), events[70])
	if n, err := w.Write(ctx, again); err != nil || n != 40 {
		t.Fatalf("second write inserted %d (%v), want the 40 new events", n, err)
	}
	if n, err := w.Write(ctx, events); err != nil || n != 0 {
		t.Fatalf("third write inserted %d (%v), want 0", n, err)
	}
	cl := dialTest(t, c)
	for q, want := range map[string]uint64{
		"SELECT count() AS n FROM usage_events":                      100,
		"SELECT count() AS n FROM usage_bodies":                      uint64(countBodies(events)),
		"SELECT toUInt64(sum(requests)) AS n FROM usage_minute":      100,
		"SELECT toUInt64(sum(requests)) AS n FROM usage_minute_team": uint64(countTeams(events)),
	} {
		if got := queryUint(t, cl, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	// A connection that went away is dialled again by the next Write.
	w.client.Close()
	if n, err := w.Write(ctx, usagetest.Events("idem2", 0, 3, base)); err != nil || n != 3 {
		t.Fatalf("write after the connection closed: %d %v", n, err)
	}
}

func countBodies(es []*usagev1.UsageEvent) int {
	n := 0
	for _, e := range es {
		if e.Bodies != nil {
			n++
		}
	}
	return n
}

func countTeams(es []*usagev1.UsageEvent) int {
	n := 0
	for _, e := range es {
		n += len(e.Teams)
	}
	return n
}

func queryUint(t *testing.T, cl *ch.Client, q string) uint64 {
	t.Helper()
	var n proto.ColUInt64
	if err := cl.Do(context.Background(), ch.Query{Body: q, Result: proto.Results{{Name: "n", Data: &n}}}); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n.Rows() != 1 {
		t.Fatalf("%s: %d rows", q, n.Rows())
	}
	return n.Row(0)
}

// totals are the measures every rollup carries, summed.
type totals struct {
	Requests, Failures, Unpriced                         uint64
	Prompt, Completion, CacheRead, CacheWrite, Reasoning int64
	Cost                                                 float64
}

func queryTotals(t *testing.T, cl *ch.Client, q string) map[string]totals {
	t.Helper()
	var (
		key                                  proto.ColStr
		req, fail, unpriced                  proto.ColUInt64
		prompt, compl, cread, cwrite, reason proto.ColInt64
		cost                                 proto.ColFloat64
	)
	out := map[string]totals{}
	if err := cl.Do(context.Background(), ch.Query{Body: q, Result: proto.Results{
		{Name: "k", Data: &key}, {Name: "requests", Data: &req}, {Name: "failures", Data: &fail}, {Name: "unpriced", Data: &unpriced},
		{Name: "prompt", Data: &prompt}, {Name: "completion", Data: &compl}, {Name: "cache_read", Data: &cread},
		{Name: "cache_write", Data: &cwrite}, {Name: "reasoning", Data: &reason}, {Name: "cost", Data: &cost},
	}, OnResult: func(context.Context, proto.Block) error {
		for i := range key.Rows() {
			out[key.Row(i)] = totals{req.Row(i), fail.Row(i), unpriced.Row(i), prompt.Row(i), compl.Row(i), cread.Row(i), cwrite.Row(i), reason.Row(i), cost.Row(i)}
		}
		return nil
	}}); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

const measures = `toUInt64(sum(requests)) AS requests, toUInt64(sum(failures)) AS failures, toUInt64(sum(unpriced)) AS unpriced,
	toInt64(sum(prompt_tokens)) AS prompt, toInt64(sum(completion_tokens)) AS completion, toInt64(sum(cache_read_tokens)) AS cache_read,
	toInt64(sum(cache_write_tokens)) AS cache_write, toInt64(sum(reasoning_tokens)) AS reasoning, sum(cost_usd) AS cost`

const rawMeasures = `toUInt64(count()) AS requests, toUInt64(countIf(status != 'ok')) AS failures, toUInt64(countIf(NOT priced)) AS unpriced,
	toInt64(sum(prompt_tokens)) AS prompt, toInt64(sum(completion_tokens)) AS completion, toInt64(sum(cache_read_tokens)) AS cache_read,
	toInt64(sum(cache_write_tokens)) AS cache_write, toInt64(sum(reasoning_tokens)) AS reasoning, sum(cost_usd) AS cost`

// rollupsMatchRaw compares every rollup's totals, per dimension value and per hour, with the
// same totals computed from usage_events FINAL. Costs agree to 1e-9 USD (the sums add in a
// different order).
func rollupsMatchRaw(t *testing.T, cl *ch.Client) {
	t.Helper()
	for _, q := range []struct{ name, rollup, raw string }{
		{"by model and hour",
			"SELECT concat(toString(model), ' ', toString(toStartOfHour(minute))) AS k, " + measures + " FROM usage_minute GROUP BY k",
			"SELECT concat(toString(model), ' ', toString(toStartOfHour(time))) AS k, " + rawMeasures + " FROM usage_events FINAL GROUP BY k"},
		{"by target",
			"SELECT CAST(target_model, 'String') AS k, " + measures + " FROM usage_minute GROUP BY k",
			"SELECT CAST(target_model, 'String') AS k, " + rawMeasures + " FROM usage_events FINAL GROUP BY k"},
		{"by user and minute",
			"SELECT concat(user, ' ', toString(minute)) AS k, " + measures + " FROM usage_minute GROUP BY k",
			"SELECT concat(user, ' ', toString(toStartOfMinute(time))) AS k, " + rawMeasures + " FROM usage_events FINAL GROUP BY k"},
		{"by virtual account and day",
			"SELECT concat(toString(virtual_account), ' ', toString(toDate(minute))) AS k, " + measures + " FROM usage_minute GROUP BY k",
			"SELECT concat(toString(virtual_account), ' ', toString(toDate(time))) AS k, " + rawMeasures + " FROM usage_events FINAL GROUP BY k"},
		{"by team",
			"SELECT CAST(team, 'String') AS k, " + measures + " FROM usage_minute_team GROUP BY k",
			"SELECT CAST(team, 'String') AS k, " + rawMeasures + " FROM usage_events FINAL ARRAY JOIN teams AS team GROUP BY k"},
		{"by metadata key and value",
			"SELECT concat(key, '=', value) AS k, " + measures + " FROM usage_minute_metadata GROUP BY k",
			"SELECT concat(key, '=', value) AS k, " + rawMeasures + " FROM usage_events FINAL ARRAY JOIN mapKeys(metadata) AS key, mapValues(metadata) AS value GROUP BY k"},
	} {
		rolled, raw := queryTotals(t, cl, q.rollup), queryTotals(t, cl, q.raw)
		if len(raw) < 2 {
			t.Errorf("%s: only %d groups in the raw table: the data does not exercise the rollup", q.name, len(raw))
		}
		if diff := cmp.Diff(raw, rolled, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })); diff != "" {
			t.Errorf("%s: rollup differs from usage_events (-raw +rollup):\n%s", q.name, diff)
		}
	}
}

// TestRollupsMatchRawTable: the per-minute rollups give the raw table's totals by every
// dimension, written in several batches, and the latency percentiles agree with the raw ones.
func TestRollupsMatchRawTable(t *testing.T) {
	ctx := context.Background()
	c := testDB(t, "llmgw", Retention{Days: 90, BodyDays: 7})
	w := NewWriter(c)
	defer w.Close()
	events := usagetest.Events("roll", 0, 600, base)
	for i := 0; i < len(events); i += 97 {
		if _, err := w.Write(ctx, events[i:min(i+97, len(events))]); err != nil {
			t.Fatal(err)
		}
	}
	cl := dialTest(t, c)
	rollupsMatchRaw(t, cl)
	// p50 of latency per model from the t-digest states, against the exact median: close, as a
	// t-digest is (the events' latencies are spread over 200-800 ms).
	digest := queryTotalsFloat(t, cl, "SELECT CAST(model, 'String') AS k, toFloat64(quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_us)[1]) AS v FROM usage_minute GROUP BY k")
	exact := queryTotalsFloat(t, cl, "SELECT CAST(model, 'String') AS k, toFloat64(quantileExact(0.5)(latency_us)) AS v FROM usage_events FINAL GROUP BY k")
	if len(exact) != len(usagetest.Models) {
		t.Fatalf("exact p50 per model: %v", exact)
	}
	for m, want := range exact {
		if got := digest[m]; math.Abs(got-want)/want > 0.02 {
			t.Errorf("%s p50 latency from the rollup %v, exact %v", m, got, want)
		}
	}
	ttft := queryTotalsFloat(t, cl, "SELECT CAST(model, 'String') AS k, toFloat64(quantilesTDigestMerge(0.5, 0.95, 0.99)(ttft_us)[1]) AS v FROM usage_minute GROUP BY k")
	exactTTFT := queryTotalsFloat(t, cl, "SELECT CAST(model, 'String') AS k, toFloat64(quantileExactIf(0.5)(ttft_us, stream AND ttft_us > 0)) AS v FROM usage_events FINAL GROUP BY k")
	for m, want := range exactTTFT {
		if got := ttft[m]; want == 0 || math.Abs(got-want)/want > 0.02 {
			t.Errorf("%s p50 TTFT from the rollup %v, exact %v", m, got, want)
		}
	}
}

func queryTotalsFloat(t *testing.T, cl *ch.Client, q string) map[string]float64 {
	t.Helper()
	var key proto.ColStr
	var v proto.ColFloat64
	out := map[string]float64{}
	if err := cl.Do(context.Background(), ch.Query{Body: q, Result: proto.Results{{Name: "k", Data: &key}, {Name: "v", Data: &v}},
		OnResult: func(context.Context, proto.Block) error {
			for i := range key.Rows() {
				out[key.Row(i)] = v.Row(i)
			}
			return nil
		}}); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// TestReadmeQueriesRun: the example queries in README.md's analytics section run against the
// schema and answer.
func TestReadmeQueriesRun(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```sql\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no sql block")
	}
	ctx := context.Background()
	c := testDB(t, "llmgw", Retention{Days: 90, BodyDays: 7})
	w := NewWriter(c)
	defer w.Close()
	// Events from just now, so the README's "last day" and "last 30 days" find them.
	if _, err := w.Write(ctx, usagetest.Events("readme", 0, 50, time.Now().Add(-time.Hour).UTC())); err != nil {
		t.Fatal(err)
	}
	cl := dialTest(t, c)
	qs := splitStatements(block)
	if len(qs) != 2 {
		t.Fatalf("README sql block has %d statements, want 2", len(qs))
	}
	for _, q := range qs {
		rows := 0
		if err := cl.Do(ctx, ch.Query{Body: q, Result: new(proto.Results).Auto(), OnResult: func(_ context.Context, b proto.Block) error {
			rows += b.Rows
			return nil
		}}); err != nil {
			t.Errorf("%s: %v", q, err)
		} else if rows == 0 {
			t.Errorf("%s: no rows", q)
		}
	}
}
