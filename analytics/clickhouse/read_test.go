package clickhouse

import (
	"context"
	"testing"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"

	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// readEvents returns usage_events' rows (FINAL, so deduplicated) ordered by event id, each
// joined with its bodies, decoded with the same column set Write encodes with.
func readEvents(t testing.TB, c Config) []*usagev1.UsageEvent {
	t.Helper()
	ctx := context.Background()
	cl, err := c.dial(ctx, c.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*usagev1.UsageEvent
	cols := eventColumns()
	if err := cl.Do(ctx, ch.Query{
		Body:   "SELECT " + names(cols) + " FROM usage_events FINAL ORDER BY event_id",
		Result: cols.results(),
		OnResult: func(context.Context, proto.Block) error {
			for i := range cols.rows() {
				e := &usagev1.UsageEvent{}
				cols.event(i, e)
				out = append(out, e)
			}
			return nil
		},
	}); err != nil {
		t.Fatal(err)
	}
	byID := map[string]*usagev1.UsageEvent{}
	for _, e := range out {
		byID[e.EventId] = e
	}
	bcols := bodyColumns()
	if err := cl.Do(ctx, ch.Query{
		Body:   "SELECT " + names(bcols) + " FROM usage_bodies FINAL",
		Result: bcols.results(),
		OnResult: func(context.Context, proto.Block) error {
			for i := range bcols.rows() {
				b := &usagev1.UsageEvent{}
				bcols.event(i, b)
				if e := byID[b.EventId]; e != nil {
					e.Bodies = b.Bodies
				} else {
					t.Errorf("usage_bodies has %s, usage_events does not", b.EventId)
				}
			}
			return nil
		},
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func names(cs columns) string {
	s := ""
	for i, c := range cs {
		if i > 0 {
			s += ", "
		}
		s += "`" + c.name + "`"
	}
	return s
}

// dialTest connects to c's database, for tests that query it.
func dialTest(t testing.TB, c Config) *ch.Client {
	t.Helper()
	cl, err := c.dial(context.Background(), c.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}
