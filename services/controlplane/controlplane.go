// Package controlplane serves llmgw.controlplane.v1.ControlPlaneService: the configuration a
// control plane pushes to its gateway replicas. A Feed holds the latest configuration, encoded
// once per revision; every replica's WatchConfig stream sends it, then waits for the next.
package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/llmgw/llmgw/control/leasewire"
	"github.com/llmgw/llmgw/control/pool"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/lease"
	"github.com/llmgw/llmgw/gateway/snapshot"
	controlplanev1 "github.com/llmgw/llmgw/gen/go/llmgw/controlplane/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/controlplane/v1/controlplanev1connect"
	"github.com/llmgw/llmgw/replica"
)

// DefaultHeartbeat is how often a quiet stream carries a heartbeat.
const DefaultHeartbeat = 5 * time.Second

// Feed is the configuration a control plane serves. It is safe for concurrent use.
type Feed struct {
	mu      sync.Mutex
	rev     int64
	payload []byte
	changed chan struct{} // closed by the next Publish
}

// NewFeed returns a feed with nothing published yet; streams wait for the first Publish.
func NewFeed() *Feed { return &Feed{changed: make(chan struct{})} }

// Publish makes cfg the configuration every stream sends, and wakes them. A config whose
// revision is not newer than the feed's is still published when its content differs (a
// config file's part changed while the store's revision did not), under the next revision.
func (f *Feed) Publish(cfg *snapshot.Config) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rev := cfg.Revision
	if rev <= f.rev {
		if string(b) == string(f.payload) {
			return nil
		}
		rev = f.rev + 1
	}
	f.rev, f.payload = rev, b
	close(f.changed)
	f.changed = make(chan struct{})
	return nil
}

// Revision is the revision published last (0: none yet).
func (f *Feed) Revision() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rev
}

func (f *Feed) current() (rev int64, payload []byte, changed <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rev, f.payload, f.changed
}

// Tokens authenticates gateway tokens; the store implements it.
type Tokens interface {
	// CheckGatewayToken returns the id and name of the unrevoked token secret is, or an error.
	CheckGatewayToken(ctx context.Context, secret string) (id, name string, err error)
}

// Service implements controlplanev1connect.ControlPlaneServiceHandler.
type Service struct {
	feed      *Feed
	tokens    Tokens
	heartbeat time.Duration
	done      <-chan struct{}
	leases    lease.Exchanger
	users     Users
	logger    *slog.Logger
}

var _ controlplanev1connect.ControlPlaneServiceHandler = (*Service)(nil)

// Option configures a Service.
type Option func(*Service)

// WithHeartbeat sets how often a quiet stream carries a heartbeat (default DefaultHeartbeat).
func WithHeartbeat(d time.Duration) Option { return func(s *Service) { s.heartbeat = d } }

// WithDone ends every stream when done is closed: the server's graceful shutdown waits for
// open streams, and replicas reconnect to another control plane or retry.
func WithDone(done <-chan struct{}) Option { return func(s *Service) { s.done = done } }

// WithLeases serves ExchangeLeases from x (control/pool.Pool). Without it the RPC is
// unimplemented and replicas keep their limits by local accounting.
func WithLeases(x lease.Exchanger) Option { return func(s *Service) { s.leases = x } }

// Users stores users by name; the store (through the wiring) implements it.
type Users interface {
	// EnsureUser creates user name unless it exists.
	EnsureUser(ctx context.Context, name string) error
}

// WithUsers serves EnsureUsers from u. Without it the RPC is unimplemented.
func WithUsers(u Users) Option { return func(s *Service) { s.users = u } }

// maxEnsureUsers bounds the names of one EnsureUsers call.
const maxEnsureUsers = 100

// EnsureUsers implements controlplanev1connect.ControlPlaneServiceHandler.
func (s *Service) EnsureUsers(ctx context.Context, req *controlplanev1.EnsureUsersRequest) (*controlplanev1.EnsureUsersResponse, error) {
	if _, _, err := s.check(ctx, bearer(ctx)); err != nil {
		return nil, err
	}
	if s.users == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("this control plane stores no users"))
	}
	if len(req.GetNames()) > maxEnsureUsers {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("names: at most %d", maxEnsureUsers))
	}
	for _, name := range req.GetNames() {
		if err := s.users.EnsureUser(ctx, name); err != nil {
			return nil, apierr.ConnectError(err)
		}
	}
	return &controlplanev1.EnsureUsersResponse{}, nil
}

// New returns the service over feed.
func New(feed *Feed, tokens Tokens, logger *slog.Logger, opts ...Option) *Service {
	s := &Service{feed: feed, tokens: tokens, heartbeat: DefaultHeartbeat, logger: logger}
	for _, o := range opts {
		o(s)
	}
	return s
}

// WatchConfig implements controlplanev1connect.ControlPlaneServiceHandler. The token is checked
// when the stream opens and again whenever it wakes (a new revision or a heartbeat), so a
// revoked token's streams end within one heartbeat, and at once when the revocation is the
// write that wakes them.
func (s *Service) WatchConfig(ctx context.Context, req *controlplanev1.WatchConfigRequest, stream *connect.ServerStream[controlplanev1.WatchConfigResponse]) error {
	secret := bearer(ctx)
	id, name, err := s.check(ctx, secret)
	if err != nil {
		return err
	}
	s.logger.LogAttrs(ctx, slog.LevelInfo, "gateway replica connected", slog.String("gateway_token", id), slog.String("token_name", name),
		slog.String("gateway_id", clip(req.GetGatewayId())), slog.Int64("revision", req.GetRevision()))
	defer s.logger.LogAttrs(ctx, slog.LevelInfo, "gateway replica disconnected", slog.String("gateway_token", id), slog.String("gateway_id", clip(req.GetGatewayId())))
	sent := req.GetRevision()
	first := true
	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	for {
		rev, payload, changed := s.feed.current()
		msg := &controlplanev1.WatchConfigResponse{Revision: sent, HeartbeatIntervalMs: s.heartbeat.Milliseconds()}
		if rev != 0 && rev != sent {
			// A replica ahead of this control plane (one restarted from an old backup) is
			// brought back to what the control plane serves: any difference is sent.
			msg = &controlplanev1.WatchConfigResponse{Revision: rev, Format: replica.Format, Config: payload, HeartbeatIntervalMs: s.heartbeat.Milliseconds()}
		}
		if msg.Config != nil || first {
			if err := stream.Send(msg); err != nil {
				return err
			}
			sent, first = msg.Revision, false
			if msg.Config != nil {
				tick.Reset(s.heartbeat)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return connect.NewError(connect.CodeUnavailable, errors.New("the control plane is shutting down"))
		case <-changed:
		case <-tick.C:
			if err := stream.Send(&controlplanev1.WatchConfigResponse{Revision: sent, HeartbeatIntervalMs: s.heartbeat.Milliseconds()}); err != nil {
				return err
			}
		}
		if _, _, err := s.check(ctx, secret); err != nil {
			return err
		}
	}
}

// ExchangeLeases implements controlplanev1connect.ControlPlaneServiceHandler. The replica is
// named by its token and its gateway_id, so one replica cannot report as another token's.
func (s *Service) ExchangeLeases(ctx context.Context, req *controlplanev1.ExchangeLeasesRequest) (*controlplanev1.ExchangeLeasesResponse, error) {
	id, _, err := s.check(ctx, bearer(ctx))
	if err != nil {
		return nil, err
	}
	if s.leases == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("this process shares no limits with replicas (serve --role control does): keep local accounting"))
	}
	if req.GetGatewayId() == "" || len(req.GetGatewayId()) > 128 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("gateway_id: 1 to 128 characters naming the replica"))
	}
	resp, err := s.leases.Exchange(ctx, leasewire.RequestFromProto(id+"/"+req.GetGatewayId(), req))
	if err != nil {
		if errors.Is(err, pool.ErrInvalid) {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
		s.logger.LogAttrs(ctx, slog.LevelError, "lease exchange failed", slog.String("error", err.Error()))
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("the control plane could not record the exchange; resend it"))
	}
	return leasewire.ResponseToProto(resp), nil
}

// check authenticates a token. A store that cannot answer is Unavailable, so the replica
// retries; anything else is Unauthenticated.
func (s *Service) check(ctx context.Context, secret string) (id, name string, err error) {
	if secret == "" {
		return "", "", connect.NewError(connect.CodeUnauthenticated, errors.New("a gateway token is required (authorization: Bearer <token>)"))
	}
	id, name, err = s.tokens.CheckGatewayToken(ctx, secret)
	if err != nil {
		if ae := (*apierr.Error)(nil); errors.As(err, &ae) && ae.Kind == apierr.KindUnavailable {
			return "", "", connect.NewError(connect.CodeUnavailable, errors.New("the control plane's database is unreachable"))
		}
		if ctx.Err() != nil {
			return "", "", connect.NewError(connect.CodeCanceled, ctx.Err())
		}
		s.logger.LogAttrs(ctx, slog.LevelWarn, "gateway token refused", slog.String("error", err.Error()))
		return "", "", connect.NewError(connect.CodeUnauthenticated, errors.New("invalid or revoked gateway token"))
	}
	return id, name, nil
}

// bearer returns the bearer token of the call's authorization header.
func bearer(ctx context.Context) string {
	ci, ok := connect.CallInfoForHandlerContext(ctx)
	if !ok {
		return ""
	}
	v := ci.RequestHeader().Get("Authorization")
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}

// clip bounds a caller-given name for the logs.
func clip(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}
