package embedded

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/llmgw/llmgw/analytics/query"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// where renders f as a WHERE clause over events aliased e, with its arguments. A zero Start or
// End leaves that side of the range open.
func where(f query.Filter) (string, []any) {
	var conds []string
	var args []any
	lo, hi := int64(0), int64(-1)
	if !f.Start.IsZero() {
		lo = keyOf(f.Start)
		conds = append(conds, "e.id >= ?", "e.ts >= ?")
		args = append(args, lo, f.Start.UnixMicro())
	}
	if !f.End.IsZero() {
		// Keys are in milliseconds: the millisecond of End is the last one that may hold an
		// event before it.
		hi = keyOf(f.End) + 1<<seqBits
		conds = append(conds, "e.id < ?", "e.ts < ?")
		args = append(args, hi, f.End.UnixMicro())
	}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		conds = append(conds, col+" IN ("+marks(len(vals))+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	in("e.model", f.Models)
	in("e.target", f.Targets)
	in("e.user", f.Users)
	in("e.virtual_account", f.VirtualAccounts)
	// The subqueries read their tables' (value, id) indexes within the same key range.
	idRange := func() string {
		s := ""
		if lo > 0 {
			s += " AND id >= " + strconv.FormatInt(lo, 10)
		}
		if hi >= 0 {
			s += " AND id < " + strconv.FormatInt(hi, 10)
		}
		return s
	}
	if len(f.Teams) > 0 {
		conds = append(conds, "e.id IN (SELECT id FROM event_teams WHERE team IN ("+marks(len(f.Teams))+")"+idRange()+")")
		for _, t := range f.Teams {
			args = append(args, t)
		}
	}
	keys := make([]string, 0, len(f.Metadata))
	for k := range f.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		conds = append(conds, "e.id IN (SELECT id FROM event_metadata WHERE key = ? AND value = ?"+idRange()+")")
		args = append(args, k, f.Metadata[k])
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// groupExpr returns the join and the key expression of a grouping.
func groupExpr(g query.GroupBy) (join, key string, args []any, err error) {
	switch g.Dim {
	case query.DimNone:
		return "", "''", nil, nil
	case query.DimModel:
		return "", "e.model", nil, nil
	case query.DimTarget:
		return "", "e.target", nil, nil
	case query.DimUser:
		return "", "e.user", nil, nil
	case query.DimVirtualAccount:
		return "", "e.virtual_account", nil, nil
	case query.DimTeam:
		return " LEFT JOIN event_teams g ON g.id = e.id", "COALESCE(g.team, '')", nil, nil
	case query.DimMetadata:
		if g.MetadataKey == "" {
			return "", "", nil, query.Invalid("grouping by metadata needs a metadata key")
		}
		return " LEFT JOIN event_metadata g ON g.id = e.id AND g.key = ?", "COALESCE(g.value, '')", []any{g.MetadataKey}, nil
	}
	return "", "", nil, query.Invalid("unknown dimension %d", g.Dim)
}

const totalsCols = `count(*), coalesce(sum(e.failed), 0), coalesce(sum(e.prompt), 0), coalesce(sum(e.completion), 0), coalesce(sum(e.cache_read), 0), coalesce(sum(e.cache_write), 0), coalesce(sum(e.reasoning), 0), coalesce(sum(e.cost_usd), 0.0), coalesce(sum(e.unpriced), 0)`

func scanTotals(dest []any, t *query.Totals) []any {
	return append(dest, &t.Requests, &t.Failures, &t.PromptTokens, &t.CompletionTokens, &t.CacheReadTokens, &t.CacheWriteTokens, &t.ReasoningTokens, &t.CostUSD, &t.Unpriced)
}

// cell is one group's bucket of an aggregate.
type cell struct {
	group  string
	bucket int64 // the bucket's start, Unix microseconds; 0 for a breakdown
}

// hourUs is an hour in microseconds, the rollup's grain.
const hourUs = int64(time.Hour / time.Microsecond)

// rollup returns the hourly rollup that answers a filter and grouping exactly, or "" when
// none does (metadata; teams with users or virtual accounts; several teams, whose events
// would count once per team).
func rollup(f query.Filter, g query.GroupBy) string {
	users := len(f.Users)+len(f.VirtualAccounts) > 0 || g.Dim == query.DimUser || g.Dim == query.DimVirtualAccount
	switch {
	case len(f.Metadata) > 0 || g.Dim == query.DimMetadata:
		return ""
	case g.Dim == query.DimTeam:
		if users || len(f.Teams) > 0 {
			return "" // the events' other teams are groups too
		}
		return "rollup_hour_team"
	case len(f.Teams) > 0:
		if users || len(f.Teams) > 1 {
			return ""
		}
		return "rollup_hour_team"
	case users:
		return "rollup_hour"
	}
	return "rollup_hour_model"
}

// aggregate sums the events f selects per group and bucket of width microseconds (0: one
// bucket). The whole hours of the range are read from the hourly rollup when it can answer
// (widths of an hour or more), the rest from the events.
func (s *Store) aggregate(ctx context.Context, f query.Filter, g query.GroupBy, width int64) (map[cell]*query.Totals, error) {
	out := map[cell]*query.Totals{}
	if table := rollup(f, g); table != "" && width%hourUs == 0 {
		start, end := f.Start.UnixMicro(), f.End.UnixMicro()
		hs := (start + hourUs - 1) / hourUs * hourUs // the first whole hour
		he := end / hourUs * hourUs                  // the end of the last whole hour
		if hs < he {
			if start < hs {
				head := f
				head.End = time.UnixMicro(hs)
				if err := s.aggregateEvents(ctx, head, g, width, out); err != nil {
					return nil, err
				}
			}
			if err := s.aggregateRollup(ctx, table, f, g, width, hs/hourUs, he/hourUs, out); err != nil {
				return nil, err
			}
			if he < end {
				tail := f
				tail.Start = time.UnixMicro(he)
				if err := s.aggregateEvents(ctx, tail, g, width, out); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
	}
	return out, s.aggregateEvents(ctx, f, g, width, out)
}

func add(out map[cell]*query.Totals, c cell, t query.Totals) {
	if cur, ok := out[c]; ok {
		cur.Add(t)
		return
	}
	out[c] = &t
}

func (s *Store) aggregateEvents(ctx context.Context, f query.Filter, g query.GroupBy, width int64, out map[cell]*query.Totals) error {
	join, key, gargs, err := groupExpr(g)
	if err != nil {
		return err
	}
	bucket := "0"
	if width > 0 {
		bucket = "e.ts / " + strconv.FormatInt(width, 10) + " * " + strconv.FormatInt(width, 10)
	}
	w, wargs := where(f)
	rows, err := s.db.QueryContext(ctx, `SELECT `+key+`, `+bucket+`, `+totalsCols+` FROM events e`+join+w+` GROUP BY 1, 2`, append(gargs, wargs...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c cell
		var t query.Totals
		if err := rows.Scan(scanTotals([]any{&c.group, &c.bucket}, &t)...); err != nil {
			return err
		}
		add(out, c, t)
	}
	return rows.Err()
}

// aggregateRollup sums the hours [from, to) of the rollup table.
func (s *Store) aggregateRollup(ctx context.Context, table string, f query.Filter, g query.GroupBy, width, from, to int64, out map[cell]*query.Totals) error {
	key := "''"
	switch g.Dim {
	case query.DimModel:
		key = "r.model"
	case query.DimTarget:
		key = "r.target"
	case query.DimUser:
		key = "r.user"
	case query.DimVirtualAccount:
		key = "r.virtual_account"
	case query.DimTeam:
		key = "r.team"
	}
	bucket := "0"
	if width > 0 {
		bucket = "r.hour * " + strconv.FormatInt(hourUs, 10) + " / " + strconv.FormatInt(width, 10) + " * " + strconv.FormatInt(width, 10)
	}
	conds := []string{"r.hour >= ?", "r.hour < ?"}
	args := []any{from, to}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		conds = append(conds, col+" IN ("+marks(len(vals))+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	in("r.model", f.Models)
	in("r.target", f.Targets)
	in("r.user", f.Users)
	in("r.virtual_account", f.VirtualAccounts)
	in("r.team", f.Teams)
	rows, err := s.db.QueryContext(ctx, `SELECT `+key+`, `+bucket+`, sum(r.requests), sum(r.failures), sum(r.prompt), sum(r.completion), sum(r.cache_read), sum(r.cache_write), sum(r.reasoning), sum(r.cost_usd), sum(r.unpriced)
		FROM `+table+` r WHERE `+strings.Join(conds, " AND ")+` GROUP BY 1, 2`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c cell
		var t query.Totals
		if err := rows.Scan(scanTotals([]any{&c.group, &c.bucket}, &t)...); err != nil {
			return err
		}
		add(out, c, t)
	}
	return rows.Err()
}

// TimeSeries implements query.Querier.
func (s *Store) TimeSeries(ctx context.Context, q query.SeriesQuery) (*query.SeriesResult, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	width := q.Bucket.Microseconds()
	first := q.Filter.Start.UnixMicro() / width
	last := (q.Filter.End.UnixMicro() - 1) / width
	if last-first+1 > query.MaxBuckets {
		return nil, query.Invalid("the range spans %d buckets, more than %d: use wider buckets or a shorter range", last-first+1, query.MaxBuckets)
	}
	cells, err := s.aggregate(ctx, q.Filter, q.GroupBy, width)
	if err != nil {
		return nil, fmt.Errorf("time series: %w", err)
	}
	byGroup := map[string]*query.Series{}
	for c, t := range cells {
		se := byGroup[c.group]
		if se == nil {
			se = &query.Series{Group: c.group}
			byGroup[c.group] = se
		}
		se.Points = append(se.Points, query.Point{Start: time.UnixMicro(c.bucket).UTC(), Totals: *t})
		se.Totals.Add(*t)
	}
	series := make([]query.Series, 0, len(byGroup))
	for _, se := range byGroup {
		slices.SortFunc(se.Points, func(a, b query.Point) int { return a.Start.Compare(b.Start) })
		series = append(series, *se)
	}
	sort.Slice(series, func(i, j int) bool {
		return query.Less(series[i].Group, series[i].Totals, series[j].Group, series[j].Totals)
	})
	res := &query.SeriesResult{Series: series}
	if len(series) == 0 {
		res.Series = nil
	}
	if len(series) > query.MaxSeries {
		res.Series, res.Truncated = series[:query.MaxSeries], true
	}
	return res, nil
}

// Breakdown implements query.Querier.
func (s *Store) Breakdown(ctx context.Context, q query.BreakdownQuery) (*query.BreakdownResult, error) {
	if err := q.Filter.CheckRange(); err != nil {
		return nil, err
	}
	cells, err := s.aggregate(ctx, q.Filter, q.GroupBy, 0)
	if err != nil {
		return nil, fmt.Errorf("breakdown: %w", err)
	}
	res := &query.BreakdownResult{}
	for c, t := range cells {
		res.Groups = append(res.Groups, query.Group{Key: c.group, Totals: *t})
	}
	sort.Slice(res.Groups, func(i, j int) bool {
		return query.Less(res.Groups[i].Key, res.Groups[i].Totals, res.Groups[j].Key, res.Groups[j].Totals)
	})
	if len(res.Groups) > query.MaxGroups {
		res.Groups, res.Truncated = res.Groups[:query.MaxGroups], true
	}
	if q.GroupBy.Dim == query.DimTeam || res.Truncated {
		// An event counts in each of its teams, and truncated groups are left out: the
		// totals are their own query, each event once.
		all, err := s.aggregate(ctx, q.Filter, query.GroupBy{}, 0)
		if err != nil {
			return nil, fmt.Errorf("breakdown totals: %w", err)
		}
		for _, t := range all {
			res.Totals.Add(*t)
		}
		return res, nil
	}
	for _, g := range res.Groups {
		res.Totals.Add(g.Totals)
	}
	return res, nil
}

// Latency implements query.Querier.
func (s *Store) Latency(ctx context.Context, f query.Filter) ([]query.ModelLatency, error) {
	if err := f.CheckRange(); err != nil {
		return nil, err
	}
	w, args := where(f)
	if w == "" {
		w = " WHERE e.failed = 0"
	} else {
		w += " AND e.failed = 0"
	}
	rows, err := s.db.QueryContext(ctx, `SELECT e.model, e.latency_us, e.ttft_us FROM events e`+w, args...)
	if err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	defer rows.Close()
	type acc struct{ lat, ttft []time.Duration }
	by := map[string]*acc{}
	for rows.Next() {
		var m string
		var lat, ttft int64
		if err := rows.Scan(&m, &lat, &ttft); err != nil {
			return nil, fmt.Errorf("latency: %w", err)
		}
		a := by[m]
		if a == nil {
			a = &acc{}
			by[m] = a
		}
		a.lat = append(a.lat, time.Duration(lat)*time.Microsecond)
		if ttft > 0 {
			a.ttft = append(a.ttft, time.Duration(ttft)*time.Microsecond)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	out := make([]query.ModelLatency, 0, len(by))
	for m, a := range by {
		slices.Sort(a.lat)
		slices.Sort(a.ttft)
		out = append(out, query.ModelLatency{Model: m, Requests: int64(len(a.lat)), Latency: percentiles(a.lat), Streams: int64(len(a.ttft)), TTFT: percentiles(a.ttft)})
	}
	slices.SortFunc(out, func(a, b query.ModelLatency) int { return strings.Compare(a.Model, b.Model) })
	return out, nil
}

func percentiles(sorted []time.Duration) query.Percentiles {
	return query.Percentiles{P50: query.Percentile(sorted, 50), P95: query.Percentile(sorted, 95), P99: query.Percentile(sorted, 99)}
}

// Requests implements query.Querier. Its page token is the key of the page's last event.
func (s *Store) Requests(ctx context.Context, q query.RequestsQuery) (*query.RequestsPage, error) {
	if err := q.Filter.CheckRange(); err != nil {
		return nil, err
	}
	if q.PageSize < 1 || q.PageSize > query.MaxPageSize {
		return nil, query.Invalid("page size %d: want 1 to %d", q.PageSize, query.MaxPageSize)
	}
	w, args := where(q.Filter)
	if q.FailuresOnly {
		w += " AND e.failed = 1"
	}
	if q.PageToken != "" {
		after, err := decodeToken(q.PageToken)
		if err != nil {
			return nil, err
		}
		w += " AND e.id < ?"
		args = append(args, after)
	}
	args = append(args, q.PageSize+1)
	rows, err := s.db.QueryContext(ctx, `SELECT e.id, r.event FROM events e JOIN event_records r ON r.id = e.id`+w+` ORDER BY e.id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	defer rows.Close()
	page := &query.RequestsPage{}
	var lastID int64
	for rows.Next() {
		var id int64
		var b []byte
		if err := rows.Scan(&id, &b); err != nil {
			return nil, fmt.Errorf("requests: %w", err)
		}
		if len(page.Events) == q.PageSize {
			page.NextPageToken = encodeToken(lastID)
			break
		}
		e := &usagev1.UsageEvent{}
		if err := proto.Unmarshal(b, e); err != nil {
			return nil, fmt.Errorf("requests: event %d: %w", id, err)
		}
		page.Events = append(page.Events, e)
		lastID = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	return page, nil
}

const tokenPrefix = "e1."

func encodeToken(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + strconv.FormatInt(id, 36)))
}

func decodeToken(tok string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil {
		if s, ok := strings.CutPrefix(string(b), tokenPrefix); ok {
			if id, err := strconv.ParseInt(s, 36, 64); err == nil && id > 0 {
				return id, nil
			}
		}
	}
	return 0, query.Invalid("malformed page token")
}

// Request implements query.Querier.
func (s *Store) Request(ctx context.Context, eventID string, f query.Filter) (*usagev1.UsageEvent, error) {
	w, args := where(f)
	if w == "" {
		w = " WHERE e.event_id = ?"
	} else {
		w += " AND e.event_id = ?"
	}
	args = append(args, eventID)
	var b []byte
	var req, resp []byte
	var reqTrunc, respTrunc sql.NullBool
	err := s.db.QueryRowContext(ctx, `SELECT r.event, b.request, b.response, b.request_truncated, b.response_truncated
		FROM events e JOIN event_records r ON r.id = e.id LEFT JOIN event_bodies b ON b.id = e.id`+w, args...).Scan(&b, &req, &resp, &reqTrunc, &respTrunc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", query.ErrNotFound, eventID)
	}
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	e := &usagev1.UsageEvent{}
	if err := proto.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	if reqTrunc.Valid {
		e.Bodies = &usagev1.Bodies{Request: req, Response: resp, RequestTruncated: reqTrunc.Bool, ResponseTruncated: respTrunc.Bool}
	}
	return e, nil
}
