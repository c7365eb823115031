package clickhouse

import (
	"context"
	"testing"

	"github.com/ClickHouse/ch-go"

	"github.com/llmgw/llmgw/analytics/usagetest"
)

// TestRetryAfterPartialInsert: an insert that reached usage_events but failed in a
// materialized view (ClickHouse dying, or a view failing, half way through an insert) is
// retried by the consumer with the same events; the retry fills the rollups that missed the
// first attempt and does not count twice in the ones that had it.
func TestRetryAfterPartialInsert(t *testing.T) {
	ctx := context.Background()
	c := testDB(t, "llmgw", Retention{Days: 90, BodyDays: 7})
	cl := dialTest(t, c)
	// A view that fails while fail_switch has a row: the insert reaches usage_events and the
	// views that run before it, not the others.
	for _, q := range []string{
		"CREATE TABLE fail_switch (x UInt8) ENGINE = Memory",
		"CREATE TABLE fail_sink (n UInt64) ENGINE = Memory",
		"CREATE MATERIALIZED VIEW a_fail_mv TO fail_sink AS SELECT throwIf((SELECT count() FROM fail_switch) > 0, 'view failed') + count() AS n FROM usage_events",
		"INSERT INTO fail_switch VALUES (1)",
	} {
		if err := cl.Do(ctx, ch.Query{Body: q}); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	w := NewWriter(c)
	defer w.Close()
	events := usagetest.Events("partial", 0, 50, base)
	if _, err := w.Write(ctx, events); err == nil {
		t.Fatal("write succeeded through a failing view")
	}
	t.Logf("after the failed write: %d raw rows, %d in usage_minute",
		queryUint(t, cl, "SELECT count() AS n FROM usage_events"), queryUint(t, cl, "SELECT toUInt64(sum(requests)) AS n FROM usage_minute"))
	if err := cl.Do(ctx, ch.Query{Body: "TRUNCATE TABLE fail_switch"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(ctx, events); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]uint64{
		"SELECT count() AS n FROM usage_events":                      50,
		"SELECT toUInt64(sum(requests)) AS n FROM usage_minute":      50,
		"SELECT toUInt64(sum(requests)) AS n FROM usage_minute_team": uint64(countTeams(events)),
	} {
		if got := queryUint(t, cl, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	rollupsMatchRaw(t, cl)
}
