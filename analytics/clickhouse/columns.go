package clickhouse

import (
	"bytes"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// column is one ClickHouse column of a table and how it maps to a UsageEvent, both ways: add
// appends an event's value, set copies row i into an event. Each column is written once, in
// eventColumns or bodyColumns, so the insert and the read cannot disagree on a name or a type.
type column struct {
	name string
	data proto.Column
	add  func(*usagev1.UsageEvent)
	set  func(int, *usagev1.UsageEvent)
}

func col[T any](name string, c proto.ColumnOf[T], get func(*usagev1.UsageEvent) T, put func(*usagev1.UsageEvent, T)) column {
	return column{
		name: name,
		data: c,
		add:  func(e *usagev1.UsageEvent) { c.Append(get(e)) },
		set:  func(i int, e *usagev1.UsageEvent) { put(e, c.Row(i)) },
	}
}

// columns is a table's column set: append events, then insert them as one block.
type columns []column

func (cs columns) append(e *usagev1.UsageEvent) {
	for _, c := range cs {
		c.add(e)
	}
}

func (cs columns) reset() {
	for _, c := range cs {
		c.data.Reset()
	}
}

func (cs columns) rows() int {
	if len(cs) == 0 {
		return 0
	}
	return cs[0].data.Rows()
}

func (cs columns) input() proto.Input {
	in := make(proto.Input, len(cs))
	for i, c := range cs {
		in[i] = proto.InputColumn{Name: c.name, Data: c.data}
	}
	return in
}

func (cs columns) results() proto.Results {
	out := make(proto.Results, len(cs))
	for i, c := range cs {
		out[i] = proto.ResultColumn{Name: c.name, Data: c.data}
	}
	return out
}

// event returns row i as an event.
func (cs columns) event(i int, e *usagev1.UsageEvent) {
	for _, c := range cs {
		c.set(i, e)
	}
}

func lowCard() *proto.ColLowCardinality[string] { return new(proto.ColStr).LowCardinality() }

func tokens(e *usagev1.UsageEvent) *usagev1.Tokens {
	if e.Tokens == nil {
		e.Tokens = &usagev1.Tokens{}
	}
	return e.Tokens
}

func target(e *usagev1.UsageEvent) *usagev1.Target {
	if e.Target == nil {
		e.Target = &usagev1.Target{}
	}
	return e.Target
}

func bodies(e *usagev1.UsageEvent) *usagev1.Bodies {
	if e.Bodies == nil {
		e.Bodies = &usagev1.Bodies{}
	}
	return e.Bodies
}

// attempt returns the j-th attempt of e, growing the list as needed.
func attempt(e *usagev1.UsageEvent, j int) *usagev1.Attempt {
	for len(e.Attempts) <= j {
		e.Attempts = append(e.Attempts, &usagev1.Attempt{})
	}
	return e.Attempts[j]
}

func attemptsCol[T any](name string, c proto.ColumnOf[T], get func(*usagev1.Attempt) T, put func(*usagev1.Attempt, T)) column {
	return col("attempts."+name, proto.NewArray[T](c),
		func(e *usagev1.UsageEvent) []T {
			out := make([]T, len(e.Attempts))
			for j, a := range e.Attempts {
				out[j] = get(a)
			}
			return out
		},
		func(e *usagev1.UsageEvent, vs []T) {
			for j, v := range vs {
				put(attempt(e, j), v)
			}
		})
}

func eventTime(e *usagev1.UsageEvent) time.Time { return e.GetTime().AsTime() }

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func nonEmptySlice(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// eventColumns is usage_events (migrations/0001_usage_events.sql), column by column.
func eventColumns() columns {
	type E = usagev1.UsageEvent
	str := func(name string, get func(*E) string, put func(*E, string)) column {
		return col(name, new(proto.ColStr), get, put)
	}
	lc := func(name string, get func(*E) string, put func(*E, string)) column {
		return col(name, lowCard(), get, put)
	}
	i64 := func(name string, get func(*E) int64, put func(*E, int64)) column {
		return col(name, new(proto.ColInt64), get, put)
	}
	flag := func(name string, get func(*E) bool, put func(*E, bool)) column {
		return col(name, new(proto.ColBool), get, put)
	}
	return columns{
		str("event_id", (*E).GetEventId, func(e *E, v string) { e.EventId = v }),
		col("time", new(proto.ColDateTime64).WithPrecision(proto.PrecisionMicro).WithLocation(time.UTC), eventTime,
			func(e *E, v time.Time) { e.Time = timestamppb.New(v) }),
		lc("replica", (*E).GetReplica, func(e *E, v string) { e.Replica = v }),
		lc("region", (*E).GetRegion, func(e *E, v string) { e.Region = v }),
		str("client_request_id", (*E).GetClientRequestId, func(e *E, v string) { e.ClientRequestId = v }),
		lc("surface", (*E).GetSurface, func(e *E, v string) { e.Surface = v }),

		str("principal", (*E).GetPrincipal, func(e *E, v string) { e.Principal = v }),
		str("key_id", (*E).GetKeyId, func(e *E, v string) { e.KeyId = v }),
		str("key_prefix", (*E).GetKeyPrefix, func(e *E, v string) { e.KeyPrefix = v }),
		str("user", (*E).GetUser, func(e *E, v string) { e.User = v }),
		col("teams", proto.NewArray[string](lowCard()), (*E).GetTeams, func(e *E, v []string) { e.Teams = nonEmptySlice(v) }),
		lc("virtual_account", (*E).GetVirtualAccount, func(e *E, v string) { e.VirtualAccount = v }),

		lc("model", (*E).GetModel, func(e *E, v string) { e.Model = v }),
		lc("target_model", func(e *E) string { return e.GetTarget().GetModel() }, func(e *E, v string) { target(e).Model = v }),
		lc("target_account", func(e *E) string { return e.GetTarget().GetAccount() }, func(e *E, v string) { target(e).Account = v }),
		lc("target_provider", func(e *E) string { return e.GetTarget().GetProvider() }, func(e *E, v string) { target(e).Provider = v }),
		lc("upstream_model", (*E).GetUpstreamModel, func(e *E, v string) { e.UpstreamModel = v }),
		lc("operation", (*E).GetOperation, func(e *E, v string) { e.Operation = v }),
		flag("stream", (*E).GetStream, func(e *E, v bool) { e.Stream = v }),
		attemptsCol("target", lowCard(), (*usagev1.Attempt).GetTarget, func(a *usagev1.Attempt, v string) { a.Target = v }),
		attemptsCol("status", lowCard(), (*usagev1.Attempt).GetStatus, func(a *usagev1.Attempt, v string) { a.Status = v }),
		attemptsCol("http_status", new(proto.ColInt32), (*usagev1.Attempt).GetHttpStatus, func(a *usagev1.Attempt, v int32) { a.HttpStatus = v }),
		attemptsCol("latency_us", new(proto.ColInt64), (*usagev1.Attempt).GetLatencyUs, func(a *usagev1.Attempt, v int64) { a.LatencyUs = v }),
		attemptsCol("error_class", lowCard(), (*usagev1.Attempt).GetErrorClass, func(a *usagev1.Attempt, v string) { a.ErrorClass = v }),

		lc("status", (*E).GetStatus, func(e *E, v string) { e.Status = v }),
		lc("error_class", (*E).GetErrorClass, func(e *E, v string) { e.ErrorClass = v }),
		col("http_status", new(proto.ColInt32), (*E).GetHttpStatus, func(e *E, v int32) { e.HttpStatus = v }),

		i64("prompt_tokens", func(e *E) int64 { return e.GetTokens().GetPrompt() }, func(e *E, v int64) { tokens(e).Prompt = v }),
		i64("completion_tokens", func(e *E) int64 { return e.GetTokens().GetCompletion() }, func(e *E, v int64) { tokens(e).Completion = v }),
		i64("cache_read_tokens", func(e *E) int64 { return e.GetTokens().GetCacheRead() }, func(e *E, v int64) { tokens(e).CacheRead = v }),
		i64("cache_write_tokens", func(e *E) int64 { return e.GetTokens().GetCacheWrite() }, func(e *E, v int64) { tokens(e).CacheWrite = v }),
		i64("reasoning_tokens", func(e *E) int64 { return e.GetTokens().GetReasoning() }, func(e *E, v int64) { tokens(e).Reasoning = v }),
		flag("usage_missing", (*E).GetUsageMissing, func(e *E, v bool) { e.UsageMissing = v }),
		flag("usage_estimated", (*E).GetUsageEstimated, func(e *E, v bool) { e.UsageEstimated = v }),
		col("cost_usd", new(proto.ColFloat64), (*E).GetCostUsd, func(e *E, v float64) { e.CostUsd = v }),
		flag("priced", (*E).GetPriced, func(e *E, v bool) { e.Priced = v }),

		i64("latency_us", (*E).GetLatencyUs, func(e *E, v int64) { e.LatencyUs = v }),
		i64("ttft_us", (*E).GetTtftUs, func(e *E, v int64) { e.TtftUs = v }),
		i64("upstream_us", (*E).GetUpstreamUs, func(e *E, v int64) { e.UpstreamUs = v }),
		i64("overhead_us", (*E).GetOverheadUs, func(e *E, v int64) { e.OverheadUs = v }),

		col("counted", proto.NewArray[string](new(proto.ColStr)), (*E).GetCounted, func(e *E, v []string) { e.Counted = nonEmptySlice(v) }),
		col("would_block", proto.NewArray[string](new(proto.ColStr)), (*E).GetWouldBlock, func(e *E, v []string) { e.WouldBlock = nonEmptySlice(v) }),
		col("metadata", proto.NewMap[string, string](new(proto.ColStr), new(proto.ColStr)), (*E).GetMetadata, func(e *E, v map[string]string) { e.Metadata = nonEmpty(v) }),
		// has_bodies says whether usage_bodies has the event's bodies; the bodies themselves
		// are read from there.
		flag("has_bodies", func(e *E) bool { return e.GetBodies() != nil }, func(*E, bool) {}),
	}
}

// bodyColumns is usage_bodies.
func bodyColumns() columns {
	type E = usagev1.UsageEvent
	return columns{
		col("event_id", new(proto.ColStr), (*E).GetEventId, func(e *E, v string) { e.EventId = v }),
		col("time", new(proto.ColDateTime64).WithPrecision(proto.PrecisionMicro).WithLocation(time.UTC), eventTime,
			func(e *E, v time.Time) { e.Time = timestamppb.New(v) }),
		col("request", new(proto.ColBytes), func(e *E) []byte { return e.GetBodies().GetRequest() }, func(e *E, v []byte) { bodies(e).Request = bytes.Clone(v) }),
		col("response", new(proto.ColBytes), func(e *E) []byte { return e.GetBodies().GetResponse() }, func(e *E, v []byte) { bodies(e).Response = bytes.Clone(v) }),
		col("request_truncated", new(proto.ColBool), func(e *E) bool { return e.GetBodies().GetRequestTruncated() }, func(e *E, v bool) { bodies(e).RequestTruncated = v }),
		col("response_truncated", new(proto.ColBool), func(e *E) bool { return e.GetBodies().GetResponseTruncated() }, func(e *E, v bool) { bodies(e).ResponseTruncated = v }),
	}
}
