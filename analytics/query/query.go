// Package query defines what the Usage API asks of a usage store, in plain Go types, so that
// one service (services/usage) answers from any backend: the embedded SQLite store
// (analytics/embedded) in the single-process default, ClickHouse when configured. Every
// implementation must give the same answers for the same events; the semantics below are the
// contract.
//
// It is not the wire API (that is llmgw.usage.v1) and does no authorization: the service
// narrows the Filter to what the caller may see before it calls a Querier.
package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// Querier answers the Usage API's questions. Implementations are safe for concurrent use.
type Querier interface {
	// TimeSeries returns the usage per bucket of width q.Bucket, one series per value of q.GroupBy.
	TimeSeries(ctx context.Context, q SeriesQuery) (*SeriesResult, error)
	// Breakdown returns the usage per value of q.GroupBy.
	Breakdown(ctx context.Context, q BreakdownQuery) (*BreakdownResult, error)
	// Latency returns latency percentiles per requested model.
	Latency(ctx context.Context, f Filter) ([]ModelLatency, error)
	// Requests returns a page of events, newest first, without bodies.
	Requests(ctx context.Context, q RequestsQuery) (*RequestsPage, error)
	// Request returns one event with its attempts and bodies, or an error wrapping ErrNotFound
	// (also when f excludes it: a caller learns nothing of events it may not see).
	Request(ctx context.Context, eventID string, f Filter) (*usagev1.UsageEvent, error)
}

// ErrNotFound is wrapped by Request when there is no such event.
var ErrNotFound = errors.New("usage event not found")

// ErrInvalid is wrapped by errors of queries that cannot be answered as asked (a malformed
// page token, too many buckets).
var ErrInvalid = errors.New("invalid usage query")

// Filter selects events. Every set field must match; an empty slice or map matches all.
// Start and End are required: Start inclusive, End exclusive, compared with the event's
// time (when the request arrived).
type Filter struct {
	Start, End      time.Time
	Models          []string // the requested model
	Targets         []string // the serving (or last failing) target's model
	Users           []string
	Teams           []string // any of the event's teams
	VirtualAccounts []string
	Metadata        map[string]string // every key present with this value
}

// Dimension is what usage is grouped by.
type Dimension int

// The dimensions. DimNone groups everything into one group with key "".
const (
	DimNone Dimension = iota
	DimModel
	DimTarget
	DimUser
	DimTeam // an event counts once in each of its teams; an event of no team in ""
	DimVirtualAccount
	DimMetadata // by the value of GroupBy.MetadataKey; "" for events without it
)

// GroupBy names a dimension, and the metadata key for DimMetadata.
type GroupBy struct {
	Dim         Dimension
	MetadataKey string
}

// Totals is the usage of a set of events. A failure is an event whose status is not "ok".
type Totals struct {
	Requests         int64
	Failures         int64
	PromptTokens     int64
	CompletionTokens int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	ReasoningTokens  int64
	CostUSD          float64
	Unpriced         int64 // events of models without a price
}

// Add adds o to t.
func (t *Totals) Add(o Totals) {
	t.Requests += o.Requests
	t.Failures += o.Failures
	t.PromptTokens += o.PromptTokens
	t.CompletionTokens += o.CompletionTokens
	t.CacheReadTokens += o.CacheReadTokens
	t.CacheWriteTokens += o.CacheWriteTokens
	t.ReasoningTokens += o.ReasoningTokens
	t.CostUSD += o.CostUSD
	t.Unpriced += o.Unpriced
}

// SeriesQuery asks for a time series.
type SeriesQuery struct {
	Filter  Filter
	Bucket  time.Duration // time.Minute, time.Hour or 24*time.Hour
	GroupBy GroupBy
}

// MaxBuckets bounds the buckets a time series range may span.
const MaxBuckets = 10_000

// MaxSeries bounds the series of a time series; the cheapest beyond it are left out.
const MaxSeries = 100

// MaxGroups bounds the groups of a breakdown; the cheapest beyond it are left out.
const MaxGroups = 1_000

// Point is one bucket: Start is the bucket's start, a multiple of the bucket width since the
// Unix epoch (so aligned to UTC), in UTC.
type Point struct {
	Start  time.Time
	Totals Totals
}

// Series is the usage of one group over time: the buckets with events, oldest first.
type Series struct {
	Group  string
	Points []Point
	Totals Totals
}

// SeriesResult is a time series: at most MaxSeries series, ordered by Less.
type SeriesResult struct {
	Series    []Series
	Truncated bool
}

// BreakdownQuery asks for usage per group.
type BreakdownQuery struct {
	Filter  Filter
	GroupBy GroupBy
}

// Group is the usage of one value of a dimension.
type Group struct {
	Key    string
	Totals Totals
}

// BreakdownResult is usage per group: at most MaxGroups groups, ordered by Less, and the
// totals of every selected event (each counted once, whatever its teams).
type BreakdownResult struct {
	Groups    []Group
	Truncated bool
	Totals    Totals
}

// Less is the order of groups and series: most expensive first, then most requests, then by
// key.
func Less(ka string, a Totals, kb string, b Totals) bool {
	if a.CostUSD != b.CostUSD {
		return a.CostUSD > b.CostUSD
	}
	if a.Requests != b.Requests {
		return a.Requests > b.Requests
	}
	return ka < kb
}

// Percentiles are nearest-rank percentiles: Pn is the element at 1-based rank ceil(n/100 *
// count) of the sorted durations.
type Percentiles struct {
	P50, P95, P99 time.Duration
}

// ModelLatency is the latency of one requested model over its successful events (status
// "ok"): total latency over all of them, time to first token over those with one (streams).
type ModelLatency struct {
	Model    string
	Requests int64
	Latency  Percentiles
	Streams  int64
	TTFT     Percentiles // zero when Streams is 0
}

// RequestsQuery asks for a page of the request log.
type RequestsQuery struct {
	Filter       Filter
	FailuresOnly bool
	PageSize     int    // 1..MaxPageSize
	PageToken    string // from the previous page; opaque, backend specific
}

// MaxPageSize bounds RequestsQuery.PageSize.
const MaxPageSize = 500

// RequestsPage is a page of events, newest first (by time; events of the same millisecond in
// an order of the store's choosing, stable across pages), without bodies; NextPageToken is
// empty on the last page.
type RequestsPage struct {
	Events        []*usagev1.UsageEvent
	NextPageToken string
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted, which must be
// sorted ascending; 0 for an empty slice.
func Percentile(sorted []time.Duration, p int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (p*n + 99) / 100 // ceil(p*n/100)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// Invalid returns an error wrapping ErrInvalid.
func Invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// CheckRange refuses a filter without a time range, or whose start is not before its end.
func (f Filter) CheckRange() error {
	if f.Start.IsZero() || f.End.IsZero() {
		return Invalid("a time range is required")
	}
	if !f.Start.Before(f.End) {
		return Invalid("the range's start must be before its end")
	}
	return nil
}

// Check refuses a time series query without a valid range or with a bucket width other than
// a minute, an hour or a day.
func (q SeriesQuery) Check() error {
	if err := q.Filter.CheckRange(); err != nil {
		return err
	}
	switch q.Bucket {
	case time.Minute, time.Hour, 24 * time.Hour:
		return nil
	}
	return Invalid("bucket width %s: want a minute, an hour or a day", q.Bucket)
}
