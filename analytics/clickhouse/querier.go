package clickhouse

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/chpool"
	"github.com/ClickHouse/ch-go/proto"
	gproto "google.golang.org/protobuf/proto"

	"github.com/llmgw/llmgw/analytics/query"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// Querier answers the Usage API (query.Querier) from a migrated ClickHouse database.
//
// It reads usage_events with FINAL, so an event stored twice (two consumers inserting the same
// batch after a rebalance, before a merge) counts once, and every answer is exact: sums,
// counts and nearest-rank percentiles over the raw rows. The per-minute rollups (0002) are
// not read: they are approximate for percentiles (t-digests) and count an event twice if it
// was inserted twice, which FINAL hides in the raw table but not in a sum of rollup rows.
//
// User input reaches SQL only as literals quoted by lit. It is safe for concurrent use; Close
// it when done.
type Querier struct {
	pool *chpool.Pool
}

var _ query.Querier = (*Querier)(nil)

// MaxQueryConns bounds the connections a Querier opens to ClickHouse.
const MaxQueryConns = 8

// NewQuerier returns a Querier over c's database, which Migrate must have prepared. It does
// not connect until the first query, so it can be made before ClickHouse is up.
func NewQuerier(ctx context.Context, c Config) (*Querier, error) {
	p, err := chpool.New(ctx, chpool.Options{ClientOptions: c.options(c.Database), MaxConns: MaxQueryConns})
	if err != nil {
		return nil, fmt.Errorf("clickhouse querier: %w", err)
	}
	return &Querier{pool: p}, nil
}

// Close closes the Querier's connections.
func (q *Querier) Close() error {
	q.pool.Close()
	return nil
}

// do runs cq on a pooled connection; a connection whose query failed is closed, not reused
// (its state is unknown after an error or a cancellation).
func (q *Querier) do(ctx context.Context, cq ch.Query) error {
	c, err := q.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect to clickhouse: %w", err)
	}
	if err := c.Do(ctx, cq); err != nil {
		c.Close()
		return err
	}
	c.Release()
	return nil
}

// lit quotes s as a ClickHouse string literal: inside single quotes, backslash, quote and NUL
// escaped, every other byte as is (ClickHouse's parser reads any byte inside a quoted string).
func lit(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// lits quotes vs as a comma-separated list of literals.
func lits(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = lit(v)
	}
	return strings.Join(q, ", ")
}

// ceilMicro returns t in Unix microseconds, rounded up: stored times have microseconds, so
// time >= ceilMicro(t) is time >= t, and time < ceilMicro(t) is time < t.
func ceilMicro(t time.Time) int64 {
	us := t.UnixMicro()
	if time.UnixMicro(us).Before(t) {
		us++
	}
	return us
}

func microLit(us int64) string {
	return "fromUnixTimestamp64Micro(toInt64(" + strconv.FormatInt(us, 10) + "), 'UTC')"
}

// where renders f as conditions over usage_events. A zero Start or End leaves that side of
// the range open (Request's filter may have no range).
func where(f query.Filter) []string {
	var conds []string
	if !f.Start.IsZero() {
		conds = append(conds, "time >= "+microLit(ceilMicro(f.Start)))
	}
	if !f.End.IsZero() {
		conds = append(conds, "time < "+microLit(ceilMicro(f.End)))
	}
	in := func(col string, vs []string) {
		if len(vs) > 0 {
			conds = append(conds, col+" IN ("+lits(vs)+")")
		}
	}
	in("model", f.Models)
	in("target_model", f.Targets)
	in("user", f.Users)
	in("virtual_account", f.VirtualAccounts)
	if len(f.Teams) > 0 {
		conds = append(conds, "hasAny(teams, ["+lits(f.Teams)+"])")
	}
	keys := make([]string, 0, len(f.Metadata))
	for k := range f.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		conds = append(conds, "mapContains(metadata, "+lit(k)+")", "metadata["+lit(k)+"] = "+lit(f.Metadata[k]))
	}
	return conds
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// groupExpr returns the ARRAY JOIN clause (for teams) and the String expression of a grouping.
func groupExpr(g query.GroupBy) (join, key string, err error) {
	switch g.Dim {
	case query.DimNone:
		return "", "''", nil
	case query.DimModel:
		return "", "CAST(model, 'String')", nil
	case query.DimTarget:
		return "", "CAST(target_model, 'String')", nil
	case query.DimUser:
		return "", "user", nil
	case query.DimVirtualAccount:
		return "", "CAST(virtual_account, 'String')", nil
	case query.DimTeam:
		// Each of the event's teams once; an event of no team in "".
		return " ARRAY JOIN if(empty(teams), [''], arrayDistinct(CAST(teams, 'Array(String)'))) AS team_g", "team_g", nil
	case query.DimMetadata:
		if g.MetadataKey == "" {
			return "", "", query.Invalid("grouping by metadata needs a metadata key")
		}
		return "", "metadata[" + lit(g.MetadataKey) + "]", nil
	}
	return "", "", query.Invalid("unknown dimension %d", g.Dim)
}

const totalsCols = `toInt64(count()) AS requests, toInt64(countIf(status != 'ok')) AS failures,
	sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion, sum(cache_read_tokens) AS cache_read,
	sum(cache_write_tokens) AS cache_write, sum(reasoning_tokens) AS reasoning, sum(cost_usd) AS cost,
	toInt64(countIf(NOT priced)) AS unpriced`

// totalsResult decodes totalsCols.
type totalsResult struct {
	requests, failures, prompt, completion, cacheRead, cacheWrite, reasoning, unpriced proto.ColInt64
	cost                                                                               proto.ColFloat64
}

func (r *totalsResult) results() proto.Results {
	return proto.Results{
		{Name: "requests", Data: &r.requests}, {Name: "failures", Data: &r.failures},
		{Name: "prompt", Data: &r.prompt}, {Name: "completion", Data: &r.completion},
		{Name: "cache_read", Data: &r.cacheRead}, {Name: "cache_write", Data: &r.cacheWrite},
		{Name: "reasoning", Data: &r.reasoning}, {Name: "cost", Data: &r.cost},
		{Name: "unpriced", Data: &r.unpriced},
	}
}

func (r *totalsResult) row(i int) query.Totals {
	return query.Totals{
		Requests: r.requests.Row(i), Failures: r.failures.Row(i),
		PromptTokens: r.prompt.Row(i), CompletionTokens: r.completion.Row(i),
		CacheReadTokens: r.cacheRead.Row(i), CacheWriteTokens: r.cacheWrite.Row(i),
		ReasoningTokens: r.reasoning.Row(i), CostUSD: r.cost.Row(i), Unpriced: r.unpriced.Row(i),
	}
}

// groups returns the totals per group of the events f selects, at most limit groups, ordered
// by query.Less (most expensive first), and whether there were more.
func (q *Querier) groups(ctx context.Context, f query.Filter, g query.GroupBy, limit int) ([]query.Group, bool, error) {
	join, key, err := groupExpr(g)
	if err != nil {
		return nil, false, err
	}
	body := "SELECT " + key + " AS grp, " + totalsCols + " FROM usage_events FINAL" + join + whereClause(where(f)) +
		" GROUP BY grp ORDER BY cost DESC, requests DESC, grp ASC LIMIT " + strconv.Itoa(limit+1)
	var grp proto.ColStr
	var tr totalsResult
	var out []query.Group
	err = q.do(ctx, ch.Query{
		Body:   body,
		Result: append(proto.Results{{Name: "grp", Data: &grp}}, tr.results()...),
		OnResult: func(context.Context, proto.Block) error {
			for i := range grp.Rows() {
				out = append(out, query.Group{Key: grp.Row(i), Totals: tr.row(i)})
			}
			return nil
		},
	})
	if err != nil {
		return nil, false, err
	}
	// ClickHouse's float sums and order agree with Less; sorting again makes it exact.
	sort.SliceStable(out, func(i, j int) bool { return query.Less(out[i].Key, out[i].Totals, out[j].Key, out[j].Totals) })
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// TimeSeries implements query.Querier.
func (q *Querier) TimeSeries(ctx context.Context, sq query.SeriesQuery) (*query.SeriesResult, error) {
	if err := sq.Check(); err != nil {
		return nil, err
	}
	width := sq.Bucket.Microseconds()
	first := ceilMicro(sq.Filter.Start) / width
	last := (ceilMicro(sq.Filter.End) - 1) / width
	if n := last - first + 1; n > query.MaxBuckets {
		return nil, query.Invalid("the range spans %d buckets, more than %d: use wider buckets or a shorter range", n, query.MaxBuckets)
	}
	join, key, err := groupExpr(sq.GroupBy)
	if err != nil {
		return nil, err
	}
	// The series are the top MaxSeries groups over the whole range; only their buckets are
	// read, so a grouping of many values never brings back more than MaxSeries series.
	top, truncated, err := q.groups(ctx, sq.Filter, sq.GroupBy, query.MaxSeries)
	if err != nil {
		return nil, fmt.Errorf("time series: %w", err)
	}
	if len(top) == 0 {
		return &query.SeriesResult{}, nil
	}
	conds := where(sq.Filter)
	if truncated {
		keys := make([]string, len(top))
		for i, g := range top {
			keys[i] = g.Key
		}
		conds = append(conds, key+" IN ("+lits(keys)+")")
	}
	w := strconv.FormatInt(width, 10)
	body := "SELECT " + key + " AS grp, toInt64(intDiv(toUnixTimestamp64Micro(time), " + w + ") * " + w + ") AS bucket, " + totalsCols +
		" FROM usage_events FINAL" + join + whereClause(conds) + " GROUP BY grp, bucket ORDER BY grp, bucket"
	var grp proto.ColStr
	var bucket proto.ColInt64
	var tr totalsResult
	byGroup := map[string]*query.Series{}
	err = q.do(ctx, ch.Query{
		Body:   body,
		Result: append(proto.Results{{Name: "grp", Data: &grp}, {Name: "bucket", Data: &bucket}}, tr.results()...),
		OnResult: func(context.Context, proto.Block) error {
			for i := range grp.Rows() {
				g := grp.Row(i)
				se := byGroup[g]
				if se == nil {
					se = &query.Series{Group: g}
					byGroup[g] = se
				}
				t := tr.row(i)
				se.Points = append(se.Points, query.Point{Start: time.UnixMicro(bucket.Row(i)).UTC(), Totals: t})
				se.Totals.Add(t)
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("time series: %w", err)
	}
	res := &query.SeriesResult{Truncated: truncated}
	for _, se := range byGroup {
		slices.SortFunc(se.Points, func(a, b query.Point) int { return a.Start.Compare(b.Start) })
		res.Series = append(res.Series, *se)
	}
	sort.Slice(res.Series, func(i, j int) bool {
		return query.Less(res.Series[i].Group, res.Series[i].Totals, res.Series[j].Group, res.Series[j].Totals)
	})
	return res, nil
}

// Breakdown implements query.Querier.
func (q *Querier) Breakdown(ctx context.Context, bq query.BreakdownQuery) (*query.BreakdownResult, error) {
	if err := bq.Filter.CheckRange(); err != nil {
		return nil, err
	}
	groups, truncated, err := q.groups(ctx, bq.Filter, bq.GroupBy, query.MaxGroups)
	if err != nil {
		return nil, fmt.Errorf("breakdown: %w", err)
	}
	res := &query.BreakdownResult{Groups: groups, Truncated: truncated}
	if bq.GroupBy.Dim == query.DimTeam || truncated {
		// An event counts in each of its teams, and truncated groups are left out: the totals
		// are their own query, each event once.
		all, _, err := q.groups(ctx, bq.Filter, query.GroupBy{}, 1)
		if err != nil {
			return nil, fmt.Errorf("breakdown totals: %w", err)
		}
		for _, g := range all {
			res.Totals.Add(g.Totals)
		}
		return res, nil
	}
	for _, g := range groups {
		res.Totals.Add(g.Totals)
	}
	return res, nil
}

// Latency implements query.Querier. The percentiles are nearest-rank over the exact sorted
// durations (query.Percentile), computed in ClickHouse: element ceil(p*n/100) of the sorted
// array. ClickHouse's quantileExact picks element floor(p*n/100)+1, another rank, and the
// rollups' t-digests are approximate, so neither is used.
func (q *Querier) Latency(ctx context.Context, f query.Filter) ([]query.ModelLatency, error) {
	if err := f.CheckRange(); err != nil {
		return nil, err
	}
	conds := append(where(f), "status = 'ok'")
	rank := func(arr, n, p string) string {
		return arr + "[greatest(1, intDiv(" + p + " * " + n + " + 99, 100))]"
	}
	body := `SELECT m, n, ` + rank("l", "n", "50") + ` AS l50, ` + rank("l", "n", "95") + ` AS l95, ` + rank("l", "n", "99") + ` AS l99,
		s, ` + rank("t", "s", "50") + ` AS t50, ` + rank("t", "s", "95") + ` AS t95, ` + rank("t", "s", "99") + ` AS t99
	FROM (SELECT CAST(model, 'String') AS m, toInt64(count()) AS n, arraySort(groupArray(latency_us)) AS l,
		arraySort(groupArrayIf(ttft_us, ttft_us > 0)) AS t, toInt64(length(t)) AS s
		FROM usage_events FINAL` + whereClause(conds) + ` GROUP BY m)
	ORDER BY m`
	var (
		m             proto.ColStr
		n, s          proto.ColInt64
		l50, l95, l99 proto.ColInt64
		t50, t95, t99 proto.ColInt64
		out           = []query.ModelLatency{} // like the embedded store: empty, not nil
		us            = func(c *proto.ColInt64, i int) time.Duration { return time.Duration(c.Row(i)) * time.Microsecond }
	)
	err := q.do(ctx, ch.Query{
		Body: body,
		Result: proto.Results{{Name: "m", Data: &m}, {Name: "n", Data: &n}, {Name: "l50", Data: &l50}, {Name: "l95", Data: &l95}, {Name: "l99", Data: &l99},
			{Name: "s", Data: &s}, {Name: "t50", Data: &t50}, {Name: "t95", Data: &t95}, {Name: "t99", Data: &t99}},
		OnResult: func(context.Context, proto.Block) error {
			for i := range m.Rows() {
				ml := query.ModelLatency{Model: m.Row(i), Requests: n.Row(i),
					Latency: query.Percentiles{P50: us(&l50, i), P95: us(&l95, i), P99: us(&l99, i)}, Streams: s.Row(i)}
				if ml.Streams > 0 {
					ml.TTFT = query.Percentiles{P50: us(&t50, i), P95: us(&t95, i), P99: us(&t99, i)}
				}
				out = append(out, ml)
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	return out, nil
}

// Requests implements query.Querier. Events are ordered by (time, event_id) descending; the
// page token is the position of the page's last event, and the next page starts after it.
func (q *Querier) Requests(ctx context.Context, rq query.RequestsQuery) (*query.RequestsPage, error) {
	if err := rq.Filter.CheckRange(); err != nil {
		return nil, err
	}
	if rq.PageSize < 1 || rq.PageSize > query.MaxPageSize {
		return nil, query.Invalid("page size %d: want 1 to %d", rq.PageSize, query.MaxPageSize)
	}
	conds := where(rq.Filter)
	if rq.FailuresOnly {
		conds = append(conds, "status != 'ok'")
	}
	if rq.PageToken != "" {
		at, id, err := decodeToken(rq.PageToken)
		if err != nil {
			return nil, err
		}
		t := microLit(at)
		conds = append(conds, "time <= "+t, "(time < "+t+" OR event_id < "+lit(id)+")")
	}
	events, err := q.events(ctx, conds, "ORDER BY time DESC, event_id DESC LIMIT "+strconv.Itoa(rq.PageSize+1))
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	page := &query.RequestsPage{Events: events}
	if len(events) > rq.PageSize {
		page.Events = events[:rq.PageSize]
		last := page.Events[rq.PageSize-1]
		page.NextPageToken = encodeToken(last.GetTime().AsTime().UnixMicro(), last.GetEventId())
	}
	return page, nil
}

// events reads the events of usage_events (FINAL) that meet conds, without bodies.
func (q *Querier) events(ctx context.Context, conds []string, tail string) ([]*usagev1.UsageEvent, error) {
	cols := eventColumns()
	var out []*usagev1.UsageEvent
	err := q.do(ctx, ch.Query{
		Body:   "SELECT " + selectList(cols) + " FROM usage_events FINAL" + whereClause(conds) + " " + tail,
		Result: cols.results(),
		OnResult: func(context.Context, proto.Block) error {
			for i := range cols.rows() {
				e := &usagev1.UsageEvent{}
				cols.event(i, e)
				// The columns set every field: an event without a target gets none back.
				if e.Target != nil && gproto.Size(e.Target) == 0 {
					e.Target = nil
				}
				out = append(out, e)
			}
			return nil
		},
	})
	return out, err
}

func selectList(cs columns) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = "`" + c.name + "`"
	}
	return strings.Join(names, ", ")
}

const tokenPrefix = "c1."

// encodeToken encodes a position in the request log: an event's time and id.
func encodeToken(us int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + strconv.FormatInt(us, 36) + "." + id))
}

func decodeToken(tok string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil {
		if s, ok := strings.CutPrefix(string(b), tokenPrefix); ok {
			if ts, id, ok := strings.Cut(s, "."); ok {
				if us, err := strconv.ParseInt(ts, 36, 64); err == nil && us > 0 {
					return us, id, nil
				}
			}
		}
	}
	return 0, "", query.Invalid("malformed page token")
}

// Request implements query.Querier.
func (q *Querier) Request(ctx context.Context, eventID string, f query.Filter) (*usagev1.UsageEvent, error) {
	conds := append(where(f), "event_id = "+lit(eventID))
	events, err := q.events(ctx, conds, "LIMIT 1")
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: %q", query.ErrNotFound, eventID)
	}
	e := events[0]
	// The bodies, if logged and not yet expired (usage_bodies has a shorter TTL).
	bcols := bodyColumns()
	err = q.do(ctx, ch.Query{
		Body:   "SELECT " + selectList(bcols) + " FROM usage_bodies FINAL WHERE event_id = " + lit(eventID) + " LIMIT 1",
		Result: bcols.results(),
		OnResult: func(context.Context, proto.Block) error {
			for i := range bcols.rows() {
				b := &usagev1.UsageEvent{}
				bcols.event(i, b)
				e.Bodies = b.Bodies
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("request bodies: %w", err)
	}
	return e, nil
}
