// Package usage implements the Usage API (llmgw.usage.v1.UsageService) as a Connect handler
// over a query.Querier: the embedded store by default, ClickHouse when configured. It
// converts between the wire types and the querier's plain ones and narrows every query to
// what the caller may see. It does not authenticate: the server's edge does, and puts the
// caller's Viewer in the context (WithViewer).
package usage

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/analytics/query"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/snapshot"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/usage/v1/usagev1connect"
)

// Viewer is who asks: an admin sees every event; otherwise the caller sees only the events of
// its User, or, for a virtual account's key, of its VirtualAccount.
type Viewer struct {
	Admin          bool
	User           string
	VirtualAccount string
}

// ViewerOf is the viewer of an authenticated principal: the admin token and the keys of users
// with the admin or viewer role see all usage; any other key sees its own user's, or its own
// virtual account's, usage.
func ViewerOf(p *snapshot.Principal) Viewer {
	return Viewer{Admin: p.HasRole(snapshot.RoleAdmin) || p.HasRole(snapshot.RoleViewer), User: p.User, VirtualAccount: p.VirtualAccount}
}

type viewerKey struct{}

// WithViewer returns ctx carrying v.
func WithViewer(ctx context.Context, v Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

func viewerFrom(ctx context.Context) (Viewer, bool) {
	v, ok := ctx.Value(viewerKey{}).(Viewer)
	return v, ok
}

// DefaultRange is the range a query covers when its filter names no start.
const DefaultRange = 24 * time.Hour

// Default and largest page sizes of ListRequests.
const (
	DefaultPageSize = 50
	MaxPageSize     = query.MaxPageSize
)

// Service implements usagev1connect.UsageServiceHandler. It is safe for concurrent use.
type Service struct {
	q      query.Querier
	now    func() time.Time
	logger *slog.Logger
}

var _ usagev1connect.UsageServiceHandler = (*Service)(nil)

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock that "now" (a filter's default end) reads; default time.Now.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// New returns a Service over q. A nil logger discards logs.
func New(q query.Querier, logger *slog.Logger, opts ...Option) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{q: q, now: time.Now, logger: logger}
	for _, o := range opts {
		o(s)
	}
	return s
}

// fail renders err for the client and logs it once (internal errors with their cause).
func (s *Service) fail(ctx context.Context, rpc string, err error) error {
	switch {
	case errors.Is(err, query.ErrInvalid):
		err = apierr.Invalid("", "%s", err.Error())
	case errors.Is(err, query.ErrNotFound):
		err = apierr.New(apierr.KindNotFound, "usage event not found")
	}
	e := apierr.From(err)
	level := slog.LevelDebug
	if e.Kind == apierr.KindInternal {
		level = slog.LevelError
	}
	s.logger.LogAttrs(ctx, level, "usage: request failed", slog.String("rpc", rpc), slog.String("error", err.Error()))
	return apierr.ConnectError(e)
}

// filter converts f, applies its defaults (the last DefaultRange up to now) and narrows it to
// what the caller may see. A non-admin caller naming another user or virtual account is
// refused rather than silently shown its own usage.
func (s *Service) filter(ctx context.Context, f *usagev1.Filter) (query.Filter, error) {
	out := query.Filter{
		Models:          f.GetModels(),
		Targets:         f.GetTargets(),
		Users:           f.GetUsers(),
		Teams:           f.GetTeams(),
		VirtualAccounts: f.GetVirtualAccounts(),
		Metadata:        f.GetMetadata(),
	}
	if f.GetEndTime() != nil {
		out.End = f.GetEndTime().AsTime()
	} else {
		out.End = s.now().UTC()
	}
	if f.GetStartTime() != nil {
		out.Start = f.GetStartTime().AsTime()
	} else {
		out.Start = out.End.Add(-DefaultRange)
	}
	if !out.Start.Before(out.End) {
		return out, apierr.Invalid("filter.start_time", "the range's start must be before its end")
	}
	return narrow(ctx, out)
}

// narrow restricts f to the caller's own events.
func narrow(ctx context.Context, f query.Filter) (query.Filter, error) {
	v, ok := viewerFrom(ctx)
	if !ok {
		return f, apierr.New(apierr.KindUnauthenticated, "missing API key: send it as 'Authorization: Bearer <key>'")
	}
	only := func(asked []string, own, what string) ([]string, error) {
		for _, a := range asked {
			if a != own {
				return nil, apierr.New(apierr.KindPermissionDenied, "this key sees only its own %s's usage", what)
			}
		}
		return []string{own}, nil
	}
	var err error
	switch {
	case v.Admin:
	case v.User != "":
		f.Users, err = only(f.Users, v.User, "user")
	case v.VirtualAccount != "":
		f.VirtualAccounts, err = only(f.VirtualAccounts, v.VirtualAccount, "virtual account")
	default:
		err = apierr.New(apierr.KindPermissionDenied, "this key has no usage to see")
	}
	return f, err
}

func groupBy(d usagev1.Dimension, key string) (query.GroupBy, error) {
	g := query.GroupBy{MetadataKey: key}
	switch d {
	case usagev1.Dimension_DIMENSION_UNSPECIFIED:
		g.Dim = query.DimNone
	case usagev1.Dimension_DIMENSION_MODEL:
		g.Dim = query.DimModel
	case usagev1.Dimension_DIMENSION_TARGET:
		g.Dim = query.DimTarget
	case usagev1.Dimension_DIMENSION_USER:
		g.Dim = query.DimUser
	case usagev1.Dimension_DIMENSION_TEAM:
		g.Dim = query.DimTeam
	case usagev1.Dimension_DIMENSION_VIRTUAL_ACCOUNT:
		g.Dim = query.DimVirtualAccount
	case usagev1.Dimension_DIMENSION_METADATA:
		g.Dim = query.DimMetadata
		if key == "" {
			return g, apierr.Invalid("group_by_metadata_key", "grouping by metadata needs group_by_metadata_key")
		}
	default:
		return g, apierr.Invalid("group_by", "unknown dimension %d", d)
	}
	if g.Dim != query.DimMetadata && key != "" {
		return g, apierr.Invalid("group_by_metadata_key", "group_by_metadata_key is only for DIMENSION_METADATA")
	}
	return g, nil
}

func bucket(g usagev1.Granularity) (time.Duration, error) {
	switch g {
	case usagev1.Granularity_GRANULARITY_UNSPECIFIED, usagev1.Granularity_GRANULARITY_HOUR:
		return time.Hour, nil
	case usagev1.Granularity_GRANULARITY_MINUTE:
		return time.Minute, nil
	case usagev1.Granularity_GRANULARITY_DAY:
		return 24 * time.Hour, nil
	}
	return 0, apierr.Invalid("granularity", "unknown granularity %d", g)
}

func totals(t query.Totals) *usagev1.Totals {
	return &usagev1.Totals{
		Requests:         t.Requests,
		Failures:         t.Failures,
		PromptTokens:     t.PromptTokens,
		CompletionTokens: t.CompletionTokens,
		CacheReadTokens:  t.CacheReadTokens,
		CacheWriteTokens: t.CacheWriteTokens,
		ReasoningTokens:  t.ReasoningTokens,
		CostUsd:          t.CostUSD,
		UnpricedRequests: t.Unpriced,
	}
}

// GetTimeSeries implements usagev1connect.UsageServiceHandler.
func (s *Service) GetTimeSeries(ctx context.Context, req *usagev1.GetTimeSeriesRequest) (*usagev1.GetTimeSeriesResponse, error) {
	f, err := s.filter(ctx, req.GetFilter())
	if err != nil {
		return nil, s.fail(ctx, "GetTimeSeries", err)
	}
	g, err := groupBy(req.GetGroupBy(), req.GetGroupByMetadataKey())
	if err != nil {
		return nil, s.fail(ctx, "GetTimeSeries", err)
	}
	b, err := bucket(req.GetGranularity())
	if err != nil {
		return nil, s.fail(ctx, "GetTimeSeries", err)
	}
	res, err := s.q.TimeSeries(ctx, query.SeriesQuery{Filter: f, Bucket: b, GroupBy: g})
	if err != nil {
		return nil, s.fail(ctx, "GetTimeSeries", err)
	}
	out := &usagev1.GetTimeSeriesResponse{Truncated: res.Truncated, StartTime: timestamppb.New(f.Start), EndTime: timestamppb.New(f.End)}
	for _, se := range res.Series {
		ps := make([]*usagev1.Point, len(se.Points))
		for i, p := range se.Points {
			ps[i] = &usagev1.Point{StartTime: timestamppb.New(p.Start), Totals: totals(p.Totals)}
		}
		out.Series = append(out.Series, &usagev1.Series{Group: se.Group, Points: ps, Totals: totals(se.Totals)})
	}
	return out, nil
}

// GetCostBreakdown implements usagev1connect.UsageServiceHandler.
func (s *Service) GetCostBreakdown(ctx context.Context, req *usagev1.GetCostBreakdownRequest) (*usagev1.GetCostBreakdownResponse, error) {
	f, err := s.filter(ctx, req.GetFilter())
	if err != nil {
		return nil, s.fail(ctx, "GetCostBreakdown", err)
	}
	g, err := groupBy(req.GetGroupBy(), req.GetGroupByMetadataKey())
	if err != nil {
		return nil, s.fail(ctx, "GetCostBreakdown", err)
	}
	res, err := s.q.Breakdown(ctx, query.BreakdownQuery{Filter: f, GroupBy: g})
	if err != nil {
		return nil, s.fail(ctx, "GetCostBreakdown", err)
	}
	out := &usagev1.GetCostBreakdownResponse{Truncated: res.Truncated, Totals: totals(res.Totals)}
	for _, gr := range res.Groups {
		out.Groups = append(out.Groups, &usagev1.Group{Key: gr.Key, Totals: totals(gr.Totals)})
	}
	return out, nil
}

func percentiles(p query.Percentiles) *usagev1.Percentiles {
	return &usagev1.Percentiles{P50: durationpb.New(p.P50), P95: durationpb.New(p.P95), P99: durationpb.New(p.P99)}
}

// GetLatencyPercentiles implements usagev1connect.UsageServiceHandler.
func (s *Service) GetLatencyPercentiles(ctx context.Context, req *usagev1.GetLatencyPercentilesRequest) (*usagev1.GetLatencyPercentilesResponse, error) {
	f, err := s.filter(ctx, req.GetFilter())
	if err != nil {
		return nil, s.fail(ctx, "GetLatencyPercentiles", err)
	}
	res, err := s.q.Latency(ctx, f)
	if err != nil {
		return nil, s.fail(ctx, "GetLatencyPercentiles", err)
	}
	out := &usagev1.GetLatencyPercentilesResponse{}
	for _, m := range res {
		ml := &usagev1.ModelLatency{Model: m.Model, Requests: m.Requests, Latency: percentiles(m.Latency), Streams: m.Streams}
		if m.Streams > 0 {
			ml.Ttft = percentiles(m.TTFT)
		}
		out.Models = append(out.Models, ml)
	}
	return out, nil
}

// ListRequests implements usagev1connect.UsageServiceHandler.
func (s *Service) ListRequests(ctx context.Context, req *usagev1.ListRequestsRequest) (*usagev1.ListRequestsResponse, error) {
	f, err := s.filter(ctx, req.GetFilter())
	if err != nil {
		return nil, s.fail(ctx, "ListRequests", err)
	}
	size := int(req.GetPageSize())
	switch {
	case size == 0:
		size = DefaultPageSize
	case size < 0 || size > MaxPageSize:
		return nil, s.fail(ctx, "ListRequests", apierr.Invalid("page_size", "page_size must be between 1 and %d", MaxPageSize))
	}
	page, err := s.q.Requests(ctx, query.RequestsQuery{Filter: f, FailuresOnly: req.GetFailuresOnly(), PageSize: size, PageToken: req.GetPageToken()})
	if err != nil {
		return nil, s.fail(ctx, "ListRequests", err)
	}
	return &usagev1.ListRequestsResponse{Events: page.Events, NextPageToken: page.NextPageToken}, nil
}

// GetRequest implements usagev1connect.UsageServiceHandler. An event the caller may not see
// is not found, as one that does not exist.
func (s *Service) GetRequest(ctx context.Context, req *usagev1.GetRequestRequest) (*usagev1.GetRequestResponse, error) {
	if req.GetEventId() == "" {
		return nil, s.fail(ctx, "GetRequest", apierr.Invalid("event_id", "event_id is required"))
	}
	f, err := narrow(ctx, query.Filter{})
	if err != nil {
		return nil, s.fail(ctx, "GetRequest", err)
	}
	e, err := s.q.Request(ctx, req.GetEventId(), f)
	if err != nil {
		return nil, s.fail(ctx, "GetRequest", err)
	}
	return &usagev1.GetRequestResponse{Event: e}, nil
}
