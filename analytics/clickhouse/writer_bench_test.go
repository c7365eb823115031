package clickhouse

import (
	"context"
	"fmt"
	"testing"

	"github.com/llmgw/llmgw/analytics/chtest"
	"github.com/llmgw/llmgw/analytics/usagetest"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// BenchmarkWrite measures Write on batches of fresh events against the chtest server: the
// stored-id lookup, the columnar encoding and the insert with its four materialized views.
func BenchmarkWrite(b *testing.B) {
	for _, size := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			c, err := ParseURL("clickhouse://" + chtest.Start(b) + "/llmgw")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Migrate(context.Background(), c, Retention{Days: 90, BodyDays: 7}); err != nil {
				b.Fatal(err)
			}
			w := NewWriter(c)
			defer w.Close()
			batches := make([][]*usagev1.UsageEvent, b.N)
			for i := range batches {
				batches[i] = usagetest.Events(fmt.Sprintf("bench%d", i), 0, size, base)
			}
			b.ResetTimer()
			for i := range b.N {
				if n, err := w.Write(context.Background(), batches[i]); err != nil || n != size {
					b.Fatalf("write: %d %v", n, err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
