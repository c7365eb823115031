// Package replica is a gateway replica's link to its control plane: it watches the
// configuration stream (llmgw.controlplane.v1.ControlPlaneService.WatchConfig), hands every new
// revision to the data plane, and keeps the last one sealed in the data directory, so a replica
// restarted while the control plane is unreachable serves what it had. It never opens the
// database and is never on a request's path.
package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/llmgw/llmgw/control/leasewire"
	"github.com/llmgw/llmgw/gateway/lease"
	"github.com/llmgw/llmgw/gateway/snapshot"
	controlplanev1 "github.com/llmgw/llmgw/gen/go/llmgw/controlplane/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/controlplane/v1/controlplanev1connect"
)

// Format is the encoding of WatchConfigResponse.config: snapshot.Config as JSON. The control
// plane sends it; a replica refuses any other.
const Format = "llmgw.snapshot.v1+json"

// SavedFile is the file in the data directory that holds the last config, sealed.
const SavedFile = "replica-config.sealed"

// savedAD binds the sealed file to its purpose: it cannot be swapped for another sealed value.
var savedAD = []byte("llmgw replica config v1")

// Sealer encrypts the saved config; masterkey.Sealer under the master key implements it.
type Sealer interface {
	Seal(plaintext, additionalData []byte) []byte
	Open(sealed, additionalData []byte) ([]byte, error)
}

// Options configure a Replica.
type Options struct {
	// URL is the control plane's base URL, such as https://control.example.com:8080.
	URL string
	// Token is the gateway token (LLMGW_GATEWAY_TOKEN).
	Token string
	// GatewayID names this replica in the control plane's logs.
	GatewayID string
	// DataDir keeps SavedFile; empty keeps nothing.
	DataDir string
	Sealer  Sealer
	// Client carries the stream (default: a client without timeout, as the stream is long).
	Client *http.Client
	// Apply receives every config, in revision order, once it is decoded; it must not block
	// for long.
	Apply func(*snapshot.Config)
	// MinBackoff and MaxBackoff bound the wait between reconnections (defaults 100 ms and
	// 10 s); each wait is drawn uniformly up to an exponentially growing cap (full jitter).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

// Replica watches the control plane. It is safe for concurrent use.
type Replica struct {
	opts   Options
	client controlplanev1connect.ControlPlaneServiceClient

	mu        sync.Mutex
	revision  int64
	source    string // "", "saved", "control plane"
	connected bool
	lastErr   string
	lastSeen  time.Time
	silence   time.Duration // three heartbeat intervals: a stream quiet this long is dead
}

// New returns a replica of the control plane at opts.URL.
func New(opts Options) (*Replica, error) {
	if opts.URL == "" {
		return nil, errors.New("replica: no control-plane URL")
	}
	if opts.Token == "" {
		return nil, errors.New("replica: no gateway token (LLMGW_GATEWAY_TOKEN)")
	}
	if opts.Apply == nil {
		return nil, errors.New("replica: no Apply")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(10*time.Second, opts.MinBackoff)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	client := controlplanev1connect.NewControlPlaneServiceClient(&http.Client{Transport: bearer{opts.Token, transport(opts.Client)}}, opts.URL)
	return &Replica{opts: opts, client: client}, nil
}

func transport(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// bearer adds the gateway token to every call.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// saved is SavedFile's content before sealing.
type saved struct {
	Revision int64           `json:"revision"`
	Format   string          `json:"format"`
	Config   json.RawMessage `json:"config"`
}

// LoadSaved applies the config saved by an earlier run, if there is one. It reports whether
// one was applied; a file that does not open (another master key, altered) is an error.
func (r *Replica) LoadSaved() (bool, error) {
	if r.opts.DataDir == "" || r.opts.Sealer == nil {
		return false, nil
	}
	path := filepath.Join(r.opts.DataDir, SavedFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("read saved config: %w", err)
	}
	plain, err := r.opts.Sealer.Open(b, savedAD)
	if err != nil {
		return false, fmt.Errorf("open saved config %s: %w", path, err)
	}
	var s saved
	if err := json.Unmarshal(plain, &s); err != nil {
		return false, fmt.Errorf("decode saved config %s: %w", path, err)
	}
	cfg, err := decode(s.Format, s.Config)
	if err != nil {
		return false, fmt.Errorf("saved config %s: %w", path, err)
	}
	cfg.Revision = s.Revision
	r.opts.Apply(cfg)
	r.mu.Lock()
	r.revision, r.source = s.Revision, "saved"
	r.mu.Unlock()
	r.opts.Logger.Info("serving the saved configuration until the control plane answers", "revision", s.Revision)
	return true, nil
}

// save seals and writes a config; the rename makes the file whole or absent.
func (r *Replica) save(rev int64, format string, config []byte) error {
	if r.opts.DataDir == "" || r.opts.Sealer == nil {
		return nil
	}
	plain, err := json.Marshal(saved{Revision: rev, Format: format, Config: config})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.opts.DataDir, 0o700); err != nil {
		return err
	}
	return WriteFile(filepath.Join(r.opts.DataDir, SavedFile), r.opts.Sealer.Seal(plain, savedAD), true)
}

// WriteFile writes data to path whole or not at all: to a temporary file in its directory,
// then renamed over path. With sync, the file is synced to the disk before the rename, so a
// power loss leaves the old content or the new; without, a crash of the process still does
// (the kernel holds what was written), but a power loss may leave the file empty or old,
// and the call does not wait for the disk, which holds a gateway pinned to one CPU, and its
// requests, for as long as it takes (a trace showed up to 2 ms).
func WriteFile(path string, data []byte, sync bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if sync {
		if err := tmp.Sync(); err != nil {
			_ = tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func decode(format string, b []byte) (*snapshot.Config, error) {
	if format != Format {
		return nil, fmt.Errorf("config format %q is not %q: run the same llmgw version as the control plane", format, Format)
	}
	cfg := &snapshot.Config{}
	if err := json.Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	return cfg, nil
}

// Run watches the control plane until ctx is done, reconnecting after every break with
// backoff and jitter, and resuming from the revision it holds.
func (r *Replica) Run(ctx context.Context) {
	backoff := r.opts.MinBackoff
	for ctx.Err() == nil {
		heard, err := r.watch(ctx)
		r.mu.Lock()
		r.connected = false
		if err != nil && ctx.Err() == nil {
			r.lastErr = err.Error()
		}
		r.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if heard {
			backoff = r.opts.MinBackoff // the link worked: come back fast
		}
		wait := rand.N(backoff) + 1
		r.opts.Logger.Warn("control-plane stream ended; reconnecting", "error", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, r.opts.MaxBackoff)
	}
}

// watch runs one stream. heard reports whether the control plane sent anything; a stream
// silent for three heartbeat intervals is cut, as a dead one.
func (r *Replica) watch(ctx context.Context) (heard bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.mu.Lock()
	rev, silence := r.revision, r.silence
	r.mu.Unlock()
	if silence == 0 {
		silence = 3 * defaultHeartbeat // until the control plane has said its interval
	}
	dog := time.AfterFunc(silence, func() { cancel(errSilent) })
	defer dog.Stop()
	stream, err := r.client.WatchConfig(ctx, &controlplanev1.WatchConfigRequest{Revision: rev, GatewayId: r.opts.GatewayID})
	if err != nil {
		return false, err
	}
	defer stream.Close() //nolint:errcheck // the stream's end is what matters
	for stream.Receive() {
		msg := stream.Msg()
		if hb := msg.GetHeartbeatIntervalMs(); hb > 0 {
			silence = 3 * time.Duration(hb) * time.Millisecond
		}
		dog.Reset(silence)
		now := time.Now()
		r.mu.Lock()
		heard, r.connected, r.lastSeen, r.lastErr, r.silence = true, true, now, "", silence
		r.mu.Unlock()
		if msg.GetConfig() == nil {
			continue // a heartbeat
		}
		cfg, err := decode(msg.GetFormat(), msg.GetConfig())
		if err != nil {
			return heard, err
		}
		cfg.Revision = msg.GetRevision()
		r.opts.Apply(cfg)
		r.mu.Lock()
		r.revision, r.source = msg.GetRevision(), "control plane"
		r.mu.Unlock()
		r.opts.Logger.Info("configuration received", "revision", msg.GetRevision())
		if err := r.save(msg.GetRevision(), msg.GetFormat(), msg.GetConfig()); err != nil {
			r.opts.Logger.Warn("could not save the configuration; a restart without the control plane would not have it", "error", err)
		}
	}
	if cause := context.Cause(ctx); errors.Is(cause, errSilent) {
		return heard, cause
	}
	if err := stream.Err(); err != nil {
		return heard, err
	}
	return heard, errors.New("the control plane ended the stream")
}

// ExchangeTimeout bounds one lease exchange with the control plane.
const ExchangeTimeout = time.Second

// defaultHeartbeat is the control plane's default heartbeat interval.
const defaultHeartbeat = 5 * time.Second

var errSilent = errors.New("no message from the control plane for three heartbeat intervals")

// Status is the replica's link as the readiness answer shows it.
func (r *Replica) Status() map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := map[string]any{"control_plane": "unreachable", "config_revision": r.revision}
	if r.connected {
		st["control_plane"] = "connected"
	}
	if r.source != "" {
		st["config_source"] = r.source
	}
	if !r.lastSeen.IsZero() {
		st["control_plane_last_contact"] = r.lastSeen.UTC().Format(time.RFC3339Nano)
	}
	if r.lastErr != "" && !r.connected {
		st["control_plane_error"] = connectMessage(r.lastErr)
	}
	return st
}

// connectMessage keeps the status short.
func connectMessage(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

// EnsureUser has the control plane store user name (ControlPlaneService.EnsureUsers): the
// users a replica's OIDC logins create on first use (oidc.UserStore).
func (r *Replica) EnsureUser(ctx context.Context, name string) error {
	_, err := r.client.EnsureUsers(ctx, &controlplanev1.EnsureUsersRequest{Names: []string{name}})
	return err
}

// Exchange implements lease.Exchanger over ControlPlaneService.ExchangeLeases, so the
// replica's leases (gateway/lease) sync through the same link as its config.
func (r *Replica) Exchange(ctx context.Context, req *lease.Request) (*lease.Response, error) {
	// Bounded well inside a lease's TTL: a control plane that stalls is unreachable in time
	// for the rules' policies to apply, rather than leaving the leases to lapse.
	ctx, cancel := context.WithTimeout(ctx, ExchangeTimeout)
	defer cancel()
	m := leasewire.RequestToProto(req)
	m.GatewayId = r.opts.GatewayID
	resp, err := r.client.ExchangeLeases(ctx, m)
	if err != nil {
		return nil, err
	}
	return leasewire.ResponseFromProto(resp), nil
}

// Revision is the revision applied last (0: none).
func (r *Replica) Revision() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.revision
}
