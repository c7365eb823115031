package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/llmgw/llmgw/configfile"
	"github.com/llmgw/llmgw/gateway/catalog"
	"github.com/llmgw/llmgw/gateway/checkpoint"
	"github.com/llmgw/llmgw/gateway/lease"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/replica"
	"github.com/llmgw/llmgw/secretref"
	"github.com/llmgw/llmgw/services/controlplane"
	"github.com/llmgw/llmgw/store"
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
	st       *store.Store       // nil in a gateway
	reloader *snapshot.Reloader // nil in a gateway
	feed     *controlplane.Feed // nil in a gateway
	replica  *replica.Replica   // nil unless a gateway
	leases   *lease.Leases      // a gateway's share of every limit and budget
	state    checkpoint.Store   // where rate-limit and budget state outlives a restart
	batchKey []byte
	close    func()
	logger   *slog.Logger
	// secrets holds the config file's secret-manager values (nil when it has none), read
	// again every secretEvery.
	secrets     *secretref.Cache
	secretEvery time.Duration
}

// leaseSync is how often a replica reports usage and renews its leases (and at once when a
// lease runs low).
const leaseSync = 200 * time.Millisecond

func (p *plane) dialect() string {
	if p.st == nil {
		return "none (gateway)"
	}
	return p.st.Dialect()
}

// run keeps the configuration current until ctx is done: the store's revision is checked
// every interval, or the control plane's stream is watched.
func (p *plane) run(ctx context.Context, interval time.Duration) {
	if p.reloader != nil {
		go p.reloader.Run(ctx, interval)
	}
	if p.secrets != nil {
		go refreshSecrets(ctx, p.secrets, p.secretEvery, p.reloader, p.logger)
	}
	if p.replica != nil {
		go p.replica.Run(ctx)
		go p.leases.Run(ctx, leaseSync, func(err error) {
			p.logger.Warn("lease exchange failed; admitting on leases, then by local accounting", "error", err)
		})
	}
}

// storePlane opens the store, applies the config file, and builds the first snapshot, which
// every configuration write rebuilds and publishes to the replicas.
func storePlane(ctx context.Context, cfg *Config, getenv func(string) string, stderr io.Writer, snaps *snapshot.Holder, reg *registry.Registry, cat *catalog.Catalog, h *hooks, logger *slog.Logger) (_ *plane, err error) {
	var reloader *snapshot.Reloader
	// The config file is read first: the store refuses Admin API virtual models and routing
	// rules of the names the file defines, which are not stored and take precedence.
	var file *configfile.File
	if cfg.ConfigFile != "" {
		if file, err = readFile(cfg.ConfigFile, getenv); err != nil {
			return nil, err
		}
	}
	fileVirtual, fileRules := routingNames(file)
	st, err := openStore(ctx, cfg, getenv, store.Options{
		FileVirtualModels: fileVirtual,
		FileRoutingRules:  fileRules,
		Logger:            logger,
		ValidateProvider:  reg.Validate,
		ValidateModel:     reg.Check,
		OnChange: func() {
			// Read-your-writes: the Admin call returns after the new snapshot serves, and
			// once the replicas' streams have been woken with it.
			if reloader != nil {
				if err := reloader.Reload(context.Background()); err != nil {
					logger.Warn("could not reload configuration after a write", "error", err)
				}
			}
		},
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = st.Close()
		}
	}()
	if st.Dialect() == store.DialectSQLite {
		if err := st.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrate sqlite: %w", err)
		}
	} else if err := st.CheckSchema(ctx); err != nil {
		return nil, err
	}
	if err := bootstrap(ctx, st, getenv, stderr, logger); err != nil {
		return nil, err
	}
	var src snapshot.Source = st
	var missing *missingSecrets
	var secrets *secretref.Cache
	closeSecrets := func() {}
	if file != nil {
		if err := applyFile(ctx, st, cfg.ConfigFile, file, logger); err != nil {
			return nil, err
		}
		if len(file.MissingSecrets)+len(file.VirtualModels)+len(file.RoutingRules)+len(file.BodyLogging) > 0 {
			missing = &missingSecrets{Source: st, missing: file.MissingSecrets, virtual: file.VirtualModels, routing: file.RoutingRules, bodies: file.BodyLogging, logger: logger}
			src = *missing
		}
		if len(file.ManagedSecrets) > 0 {
			if cfg.SecretRefresh <= 0 {
				return nil, fmt.Errorf("--secret-refresh (LLMGW_SECRET_REFRESH) must be positive, not %v", cfg.SecretRefresh)
			}
			if secrets, closeSecrets, err = newSecretCache(ctx, file.ManagedSecrets, getenv, h, logger); err != nil {
				return nil, err
			}
			defer func() {
				if err != nil {
					closeSecrets()
				}
			}()
			src = managedSecrets{Source: src, refs: file.ManagedSecrets, cache: secrets}
		}
	}
	feed := controlplane.NewFeed()
	reloader = snapshot.NewReloader(src, reg, cat, snaps, logger)
	reloader.OnConfig(func(c *snapshot.Config) {
		if err := feed.Publish(c); err != nil {
			logger.Error("could not publish the configuration to gateway replicas", "error", err)
		}
	})
	if err := reloader.Reload(ctx); err != nil {
		return nil, fmt.Errorf("build snapshot: %w", err)
	}
	if missing != nil {
		missing.log(snaps.Load(), logger)
	}
	return &plane{st: st, reloader: reloader, feed: feed, state: st, batchKey: st.DeriveKey("batch ids"), logger: logger,
		secrets: secrets, secretEvery: cfg.SecretRefresh, close: func() { closeSecrets(); _ = st.Close() }}, nil
}

// gatewayPlane starts a replica from the config saved by its last run, if any; the stream
// from the control plane (plane.run) brings it up to date.
func gatewayPlane(cfg *Config, getenv func(string) string, snaps *snapshot.Holder, reg *registry.Registry, cat *catalog.Catalog, h *hooks, logger *slog.Logger) (*plane, error) {
	dir := dataDir(cfg)
	key, err := gatewayMasterKey(dir, getenv)
	if err != nil {
		return nil, err
	}
	sealer, err := store.NewSealer(key)
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
	return &plane{replica: r, leases: lease.New(id, r, lopts...), state: fileState{dir: filepath.Join(dir, "state")}, batchKey: store.DeriveKey(key, "batch ids"), close: func() {}, logger: logger}, nil
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
		key, err := store.ParseMasterKey(k)
		if err != nil {
			return nil, fmt.Errorf("LLMGW_MASTER_KEY: %w", err)
		}
		return key, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		return nil, fmt.Errorf("--role gateway needs the control plane's master key: set LLMGW_MASTER_KEY or put it in %s", filepath.Join(dir, "master.key"))
	}
	return store.ParseMasterKey(string(b))
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
	return replica.WriteFile(f.path(key), data)
}

// now is the hooks' clock, or time.Now.
func (h *hooks) now() func() time.Time {
	if h.clock != nil {
		return h.clock
	}
	return time.Now
}
