package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// Snapshots is where TestModel finds a model's adapter: the data plane's current
// configuration (a *snapshot.Holder). Implementations are safe for concurrent use.
type Snapshots interface {
	// Load returns the current snapshot, or nil before the first one.
	Load() *snapshot.Snapshot
}

// DefaultTestTimeout bounds a TestModel request.
const DefaultTestTimeout = 15 * time.Second

// testMaxTokens bounds the test request's answer.
const testMaxTokens = 16

// WithModelTest lets TestModel send its request through the adapters of snaps' models, giving
// up after timeout (DefaultTestTimeout when 0) and measuring latency with now (time.Now when
// nil). Without it TestModel is refused as unavailable.
func WithModelTest(snaps Snapshots, timeout time.Duration, now func() time.Time) Option {
	return func(s *Service) {
		if timeout <= 0 {
			timeout = DefaultTestTimeout
		}
		if now == nil {
			now = time.Now
		}
		s.tests = &modelTest{snaps: snaps, timeout: timeout, now: now}
	}
}

type modelTest struct {
	snaps   Snapshots
	timeout time.Duration
	now     func() time.Time
}

// TestModel implements adminv1connect.AdminServiceHandler.
func (s *Service) TestModel(ctx context.Context, req *adminv1.TestModelRequest) (*adminv1.TestModelResponse, error) {
	const rpc = "TestModel"
	var snap *snapshot.Snapshot
	if s.tests != nil {
		snap = s.tests.snaps.Load()
	}
	if snap == nil {
		return nil, s.fail(ctx, rpc, apierr.New(apierr.KindUnavailable, "this process has no data plane configuration to test models with"))
	}
	fqn := req.GetModel()
	m, ok := snap.Model(fqn)
	if !ok {
		if _, virtual := snap.VirtualModel(fqn); virtual {
			return nil, s.fail(ctx, rpc, apierr.Invalid("model", "model %q is a virtual model; test one of its targets", fqn))
		}
		return nil, s.fail(ctx, rpc, apierr.New(apierr.KindNotFound, "model %q does not exist", fqn))
	}
	if m.Virtual {
		return nil, s.fail(ctx, rpc, apierr.Invalid("model", "model %q is a virtual model; test one of its targets", fqn))
	}
	if m.Adapter == nil {
		s.logger.LogAttrs(ctx, slog.LevelInfo, "admin: model test: no adapter", slog.String("model", fqn), slog.Any("error", m.BuildErr))
		return &adminv1.TestModelResponse{ErrorClass: "invalid_config", Latency: durationpb.New(0)}, nil
	}
	n := int64(testMaxTokens)
	call := &provider.ChatCall{Request: &chat.Request{Model: fqn, MaxTokens: &n,
		Messages: []chat.Message{{Role: "user", Content: &chat.Content{Text: "ping"}}}}}
	// The clock starts before the deadline is set, so a timed-out test reports at least
	// the timeout.
	start := s.tests.now()
	tctx, cancel := context.WithTimeout(ctx, s.tests.timeout)
	defer cancel()
	res, err := m.Adapter.Chat(tctx, call)
	latency := durationpb.New(s.tests.now().Sub(start))
	if err == nil {
		// An answer is a chat.completion with a list of choices, or the data plane could not
		// serve it either.
		var answer struct {
			Choices []json.RawMessage `json:"choices"`
		}
		if jerr := json.Unmarshal(res.JSON, &answer); jerr != nil {
			err = provider.BadResponse(jerr)
		}
	}
	if err == nil {
		return &adminv1.TestModelResponse{Ok: true, HttpStatus: http.StatusOK, Latency: latency}, nil
	}
	if ctx.Err() != nil { // the caller went away, not the upstream
		return nil, s.fail(ctx, rpc, apierr.New(apierr.KindCanceled, "request canceled"))
	}
	e := apierr.From(err)
	// The cause holds the upstream's text, clipped and masked (provider.Clip): for the log
	// only, never the answer.
	s.logger.LogAttrs(ctx, slog.LevelInfo, "admin: model test failed", slog.String("model", fqn), slog.Int("status", e.UpstreamStatus), slog.String("error", err.Error()))
	return &adminv1.TestModelResponse{HttpStatus: int32(e.UpstreamStatus), Latency: latency, ErrorClass: errorClass(e)}, nil
}

// errorClass is the sanitized reason of a failed test: from the upstream's status when it
// answered one, else from the error's kind.
func errorClass(e *apierr.Error) string {
	switch st := e.UpstreamStatus; {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return "auth_failed"
	case st == http.StatusNotFound:
		return "not_found"
	case st == http.StatusTooManyRequests:
		return "rate_limited"
	case st == http.StatusServiceUnavailable || st == 529:
		return "unavailable"
	case st == http.StatusGatewayTimeout || st == http.StatusRequestTimeout:
		return "timeout"
	case st >= 400 && st < 500:
		return "rejected_request"
	case st != 0:
		return "upstream_error"
	}
	switch e.Kind {
	case apierr.KindUpstreamTimeout:
		return "timeout"
	case apierr.KindUpstreamUnavailable:
		return "unreachable"
	case apierr.KindUpstreamBadResponse:
		return "bad_response"
	case apierr.KindInvalidRequest:
		return "rejected_request"
	default:
		return "upstream_error"
	}
}
