package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/catalog"
	"github.com/llmgw/llmgw/gateway/checkpoint"
	"github.com/llmgw/llmgw/gateway/keyuse"
	"github.com/llmgw/llmgw/gateway/lease"
	"github.com/llmgw/llmgw/gateway/oidc"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
	"github.com/llmgw/llmgw/masterkey"
	"github.com/llmgw/llmgw/replica"
	"github.com/llmgw/llmgw/services/server"
)

// The roles of serve.
const (
	// RoleAll is one process with everything: the database, the Admin and Usage APIs, the
	// control-plane service for replicas, and inference.
	RoleAll = "all"
	// RoleControl owns the database and serves the Admin and Usage APIs and the control-plane
	// service; it serves no inference.
	RoleControl = "control"
	// RoleGateway serves inference from the config its control plane pushes; it never opens
	// the database.
	RoleGateway = "gateway"
)

// checkRole refuses role settings that would do nothing or cannot work.
func checkRole(cfg *Config, getenv func(string) string) error {
	switch cfg.Role {
	case RoleAll, RoleControl:
		if cfg.ControlPlane != "" {
			return fmt.Errorf("--control-plane (LLMGW_CONTROL_PLANE) is for --role gateway; this process is --role %s", cfg.Role)
		}
	case RoleGateway:
		if cfg.ControlPlane == "" {
			return errors.New("--role gateway needs --control-plane (LLMGW_CONTROL_PLANE), the control plane's URL")
		}
		if !strings.HasPrefix(cfg.ControlPlane, "http://") && !strings.HasPrefix(cfg.ControlPlane, "https://") {
			return fmt.Errorf("--control-plane %q is not an http:// or https:// URL", cfg.ControlPlane)
		}
		if getenv("LLMGW_GATEWAY_TOKEN") == "" {
			return errors.New("--role gateway needs LLMGW_GATEWAY_TOKEN: create one on the control plane (POST /api/v1/gateway-tokens)")
		}
		if cfg.ConfigFile != "" {
			return errors.New("--config is for the control plane: a gateway's configuration comes from --control-plane")
		}
	default:
		return fmt.Errorf("--role %q: want all, control or gateway", cfg.Role)
	}
	return nil
}

// plane is where a process's configuration comes from: its store (roles all and control),
// which it also publishes to replicas, or a control plane (role gateway).
type plane struct {
	// control serves what a process with the database adds to the gateway (the Admin API,
	// the web app, the control-plane service); nil in a gateway.
	control func(ctx context.Context, d controlDeps) (adminv1connect.AdminServiceHandler, server.Pinger, error)
	// touchKeys records API keys' last use in the database; nil in a gateway.
	touchKeys keyuse.Sink
	// users stores the users OIDC logins create: the store, or a replica's control plane.
	users    oidc.UserStore
	dialect  string             // the database's, or "none (gateway)"
	reloader *snapshot.Reloader // nil in a gateway
	// refresh reads the config file's secret-manager references again, on its own schedule,
	// until ctx is done; nil without them.
	refresh  func(ctx context.Context)
	replica  *replica.Replica // nil unless a gateway
	leases   *lease.Leases    // a gateway's share of every limit and budget
	state    checkpoint.Store // where rate-limit and budget state outlives a restart
	batchKey []byte
	close    func()
	logger   *slog.Logger
	// secretFailures counts failed secret-manager reads (nil without secret-manager
	// references), for the metrics.
	secretFailures func() map[string]int64
}

// controlDeps is what plane.control wires the Admin API and the control-plane service to.
type controlDeps struct {
	cfg     *Config
	h       *hooks
	snaps   *snapshot.Holder
	gov     *governance
	routing routingState
	opts    *server.Options
}

// leaseSync is how often a replica reports usage and renews its leases (and at once when a
// lease runs low).
const leaseSync = 200 * time.Millisecond

// run keeps the configuration current until ctx is done: the store's revision is checked
// every interval, or the control plane's stream is watched.
func (p *plane) run(ctx context.Context, interval time.Duration) {
	if p.reloader != nil {
		go p.reloader.Run(ctx, interval)
	}
	if p.refresh != nil {
		go p.refresh(ctx)
	}
	if p.replica != nil {
		go p.replica.Run(ctx)
		go p.leases.Run(ctx, leaseSync, func(err error) {
			p.logger.Warn("lease exchange failed; admitting on leases, then by local accounting", "error", err)
		})
	}
}

// gatewayPlane starts a replica from the config saved by its last run, if any; the stream
// from the control plane (plane.run) brings it up to date.
func gatewayPlane(cfg *Config, getenv func(string) string, snaps *snapshot.Holder, reg *registry.Registry, cat *catalog.Catalog, h *hooks, logger *slog.Logger) (*plane, error) {
	dir := dataDir(cfg)
	key, err := gatewayMasterKey(dir, getenv)
	if err != nil {
		return nil, err
	}
	sealer, err := masterkey.NewSealer(key)
	if err != nil {
		return nil, err
	}
	id := cfg.GatewayID
	if id == "" {
		id, _ = os.Hostname()
	}
	var last *snapshot.Config
	r, err := replica.New(replica.Options{
		URL:       strings.TrimSuffix(cfg.ControlPlane, "/"),
		Token:     getenv("LLMGW_GATEWAY_TOKEN"),
		GatewayID: id,
		DataDir:   dir,
		Sealer:    sealer,
		Apply: func(c *snapshot.Config) {
			// Replicas, like the store's reloader, keep the compiled snapshot when nothing
			// but the revision moved.
			if last != nil && sameConfig(last, c) {
				return
			}
			snaps.Store(snapshot.Compile(c, reg, cat, logger))
			last = c
		},
		MinBackoff: h.backoff,
		MaxBackoff: h.backoff * 20,
		Logger:     logger.With("component", "replica"),
	})
	if err != nil {
		return nil, err
	}
	if _, err := r.LoadSaved(); err != nil {
		return nil, err
	}
	lopts := []lease.Option{lease.WithPolicy(func(k lease.Kind, rule string) lease.Policy {
		if snap := snaps.Load(); snap != nil && snap.Governance().FailClosed(k == lease.Budget, rule) {
			return lease.FailClosed
		}
		return lease.FailOpen
	})}
	if h.clock != nil {
		lopts = append(lopts, lease.WithClock(h.clock))
	}
	return &plane{replica: r, users: r, dialect: "none (gateway)", leases: lease.New(id, r, lopts...), state: fileState{dir: filepath.Join(dir, "state")}, batchKey: masterkey.Derive(key, "batch ids"), close: func() {}, logger: logger}, nil
}

// sameConfig reports whether two configs differ only in their revision.
func sameConfig(a, b *snapshot.Config) bool {
	x, y := *a, *b
	x.Revision, y.Revision = 0, 0
	return reflect.DeepEqual(&x, &y)
}

// gatewayMasterKey is LLMGW_MASTER_KEY, else master.key in the data directory. A gateway never
// makes one up: it must be the control plane's, or batch ids would not match across replicas.
func gatewayMasterKey(dir string, getenv func(string) string) ([]byte, error) {
	if k := getenv("LLMGW_MASTER_KEY"); k != "" {
		key, err := masterkey.Parse(k)
		if err != nil {
			return nil, fmt.Errorf("LLMGW_MASTER_KEY: %w", err)
		}
		return key, nil
	}
	path := filepath.Join(dir, masterkey.FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--role gateway needs the control plane's master key: set LLMGW_MASTER_KEY or put it in %s", path)
	}
	return masterkey.Parse(string(b))
}

// fileState keeps a gateway's rate-limit and budget state in files of its data directory, as
// the store keeps a control plane's.
type fileState struct{ dir string }

func (f fileState) path(key string) string {
	return filepath.Join(f.dir, strings.NewReplacer("/", "_", "\\", "_", "..", "_").Replace(key)+".json")
}

func (f fileState) LoadState(_ context.Context, key string) ([]byte, error) {
	b, err := os.ReadFile(f.path(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (f fileState) SaveState(_ context.Context, key string, data []byte) error {
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return err
	}
	// Unsynced, as the store's state saves: saved every second, it is what a crash of the
	// process must not lose; a power loss may lose the last saves (a file it leaves empty is
	// ignored at start, with a warning).
	return replica.WriteFile(f.path(key), data, false)
}

// now is the hooks' clock, or time.Now.
func (h *hooks) now() func() time.Time {
	if h.clock != nil {
		return h.clock
	}
	return time.Now
}
