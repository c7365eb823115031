package clickhouse

import (
	"context"
	"fmt"
	"testing"

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
