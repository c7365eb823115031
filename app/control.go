//go:build !llmgw_gateway_only

package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/llmgw/llmgw/configfile"
	"github.com/llmgw/llmgw/control/pool"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/catalog"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
	"github.com/llmgw/llmgw/masterkey"
	"github.com/llmgw/llmgw/secretref"
	"github.com/llmgw/llmgw/services/admin"
	"github.com/llmgw/llmgw/services/controlplane"
	"github.com/llmgw/llmgw/services/server"
	"github.com/llmgw/llmgw/store"
	"github.com/llmgw/llmgw/web"
)

// The control plane's half of the process: the database, the config file, the Admin API, the
// web app and the control-plane service. A gateway-only build (the llmgw_gateway_only tag)
// leaves this file out, and with it the store, ent, SQLite, ClickHouse and the cloud secret
// managers' SDKs; gatewayonly.go takes its place.

// build names this build in `llmgw version` and the serving log line.
const build = "full"

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
	pl := &plane{reloader: reloader, state: st, batchKey: st.DeriveKey("batch ids"), logger: logger,
		users: storeUsers{st: st}, dialect: st.Dialect(), touchKeys: st.TouchAPIKeys,
		close: func() { closeSecrets(); _ = st.Close() }}
	pl.control = func(ctx context.Context, d controlDeps) (adminv1connect.AdminServiceHandler, server.Pinger, error) {
		return serveControl(ctx, st, feed, d, logger)
	}
	if secrets != nil {
		every := cfg.SecretRefresh
		pl.refresh = func(ctx context.Context) { refreshSecrets(ctx, secrets, every, reloader, logger) }
		pl.secretFailures = secrets.Failures
	}
	return pl, nil
}

// serveControl wires what a process with the database serves besides inference: the Admin API
// over st, the web app, and the control-plane service that pushes feed's configurations (and,
// on a control plane, leases) to gateway replicas.
func serveControl(ctx context.Context, st *store.Store, feed *controlplane.Feed, d controlDeps, logger *slog.Logger) (adminv1connect.AdminServiceHandler, server.Pinger, error) {
	hb := controlplane.DefaultHeartbeat
	if d.h.heartbeat > 0 {
		hb = d.h.heartbeat
	}
	cpOpts := []controlplane.Option{controlplane.WithHeartbeat(hb), controlplane.WithDone(ctx.Done()), controlplane.WithUsers(storeUsers{st: st})}
	var status admin.LimitStatus = d.gov
	if d.cfg.Role == RoleControl {
		// Only a control plane shares limits: an all-in-one process admits its own
		// traffic outside the pool, so replicas of it keep local accounting.
		lp := pool.New(pool.WithStore(st), pool.WithLogger(logger), pool.WithClock(d.h.now()))
		if err := lp.Load(ctx); err != nil {
			return nil, nil, fmt.Errorf("load lease state: %w", err)
		}
		cpOpts = append(cpOpts, controlplane.WithLeases(lp))
		status = poolStatus{pool: lp, now: d.h.now()}
	}
	adm := admin.New(st, logger, admin.WithLimitStatus(status), admin.WithRoutingState(d.routing), admin.WithModelTest(d.snaps, admin.DefaultTestTimeout, d.h.now()))
	// The web app is served where the Admin API is: it is an Admin API client.
	// Its single sign-on calls the login identity provider, which the CSP allows.
	ui, err := web.New("/ui/", web.WithConnectOrigins(func() []string { return server.LoginOrigins(d.snaps) }))
	if err != nil {
		return nil, nil, err
	}
	d.opts.UI = ui
	d.opts.ControlPlane = controlplane.New(feed, st, logger, cpOpts...)
	return adm, st, nil
}

// storeUsers stores the users that OIDC logins create (oidc.UserStore), in processes with a
// database; a gateway replica has the control plane store them.
type storeUsers struct{ st *store.Store }

// EnsureUser creates user name, without teams: a login's teams come from its token.
func (u storeUsers) EnsureUser(ctx context.Context, name string) error {
	_, err := u.st.GetUser(ctx, name)
	var ae *apierr.Error
	if err == nil || !errors.As(err, &ae) || ae.Kind != apierr.KindNotFound {
		return err
	}
	_, err = u.st.CreateUser(ctx, &adminv1.User{Name: name})
	if errors.As(err, &ae) && ae.Kind == apierr.KindAlreadyExists {
		return nil // created meanwhile, by another process
	}
	return err
}

func openStore(ctx context.Context, cfg *Config, getenv func(string) string, opts store.Options) (*store.Store, error) {
	if k := getenv("LLMGW_MASTER_KEY"); k != "" {
		key, err := masterkey.Parse(k)
		if err != nil {
			return nil, fmt.Errorf("LLMGW_MASTER_KEY: %w", err)
		}
		opts.MasterKey = key
	}
	opts.DataDir = dataDir(cfg)
	return store.Open(ctx, cfg.DB, opts)
}

// runMigrate runs `llmgw migrate`: the database's migrations, or with --clickhouse the
// ClickHouse analytics schema.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, cfg, err := flags("migrate", getenv, stderr)
	if err != nil {
		return err
	}
	e := &envReader{getenv: getenv}
	chc := clickHouseMigrateFlags(fs, e)
	if err := e.err(); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if chc.URL != "" {
		return migrateClickHouse(ctx, cfg, chc, stdout, stderr)
	}
	return migrate(ctx, cfg, getenv, stdout, stderr)
}

func migrate(ctx context.Context, cfg *Config, getenv func(string) string, stdout, stderr io.Writer) error {
	logger, err := newLogger(cfg, stderr, nil)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, getenv, store.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintln(stdout, "database is up to date")
	return nil
}

// readFile reads and parses the config file. Its secrets that could not be resolved are
// listed in it (the file still applies, their accounts and models without a key, and the rest
// serves), and so are its virtual models and routing rules, which are not stored.
func readFile(path string, getenv func(string) string) (*configfile.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	f, err := configfile.Parse(data, configfile.EnvFileResolver(getenv))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return f, nil
}

// routingNames returns the names of the virtual models (fqn) and the ids of the routing rules
// that f (nil: no file) defines.
func routingNames(f *configfile.File) (virtual, rules []string) {
	if f == nil {
		return nil, nil
	}
	for _, v := range f.VirtualModels {
		virtual = append(virtual, v.Account+"/"+v.Name)
	}
	for _, r := range f.RoutingRules {
		rules = append(rules, r.ID)
	}
	return virtual, rules
}

// applyFile applies the config file f, read from path, to the store.
func applyFile(ctx context.Context, st *store.Store, path string, f *configfile.File, logger *slog.Logger) error {
	n, err := configfile.Apply(ctx, st, f)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, publicMessage(err))
	}
	logger.Info("applied config file", "path", path, "changes", n, "virtual_models", len(f.VirtualModels), "routing_rules", len(f.RoutingRules), "body_logging_rules", len(f.BodyLogging))
	return nil
}

// missingSecrets adds the config file's unresolved secrets to every snapshot config. They are
// resolved once, at start: an environment variable cannot change in a running process, and
// a file:// secret that appears later is read at the next start (or set with the Admin API,
// which takes precedence at once). It adds the file's body logging rules, which live in the
// file only, and its virtual models and routing rules to the Admin API's: the file's come
// first, and the file's definition wins over a stored one of the same name (the Admin API
// refuses to write such a name while the file defines it; one stored before the file defined
// it is left out with a warning).
type missingSecrets struct {
	snapshot.Source
	missing []snapshot.MissingSecret
	virtual []snapshot.VirtualModel
	routing []snapshot.RoutingRule
	bodies  []snapshot.BodyLogRule
	logger  *slog.Logger
}

// Revision is the store's: the file's part changes only with a restart.
func (m missingSecrets) Revision(ctx context.Context) (int64, error) {
	return revisionOf(ctx, m.Source)
}

// revisionOf is the revision of src, which a source wrapping another passes on.
func revisionOf(ctx context.Context, src snapshot.Source) (int64, error) {
	if r, ok := src.(snapshot.Revisioner); ok {
		return r.Revision(ctx)
	}
	return 0, errors.New("the source has no revision")
}

func (m missingSecrets) SnapshotConfig(ctx context.Context) (*snapshot.Config, error) {
	cfg, err := m.Source.SnapshotConfig(ctx)
	if err != nil {
		return nil, err
	}
	cfg.MissingSecrets = m.missing
	vms := slices.Clone(m.virtual)
	for _, v := range cfg.VirtualModels {
		if slices.ContainsFunc(m.virtual, func(f snapshot.VirtualModel) bool { return f.Account == v.Account && f.Name == v.Name }) {
			m.logger.Warn("stored virtual model left out: the config file defines one of the same name", "model", v.Account+"/"+v.Name)
			continue
		}
		vms = append(vms, v)
	}
	rules := slices.Clone(m.routing)
	for _, r := range cfg.RoutingRules {
		if slices.ContainsFunc(m.routing, func(f snapshot.RoutingRule) bool { return f.ID == r.ID }) {
			m.logger.Warn("stored routing rule left out: the config file defines one of the same id", "rule", r.ID)
			continue
		}
		rules = append(rules, r)
	}
	cfg.VirtualModels, cfg.RoutingRules = vms, rules
	cfg.BodyLogging = m.bodies
	return cfg, nil
}

// log warns once per missing secret, naming the account, the model and the reference (never
// a value), and whether the account answers 503 or serves with the secret stored earlier.
func (m missingSecrets) log(snap *snapshot.Snapshot, logger *slog.Logger) {
	for _, ms := range m.missing {
		name := ms.Account
		if ms.Model != "" {
			name += "/" + ms.Model
		}
		attrs := []any{"account", ms.Account, "problem", ms.Problem}
		if ms.Model != "" {
			attrs = []any{"account", ms.Account, "model", ms.Model, "problem", ms.Problem}
		}
		if _, ok := snap.Unavailable()[name]; ok {
			logger.Warn("a secret in the config file is missing: this provider account's models answer 503 until it is set", attrs...)
		} else {
			logger.Warn("a secret in the config file is missing: the secret stored earlier is used", attrs...)
		}
	}
}

// publicMessage keeps the store's field-naming message and drops nothing else.
func publicMessage(err error) error {
	var e *apierr.Error
	if errors.As(err, &e) && e.Param != "" {
		return fmt.Errorf("%w (field %s)", err, e.Param)
	}
	return err
}

// bootstrap prepares a fresh database: the admin token, the built-in mock account, and
// accounts for provider keys found in the environment. On later starts it only updates the
// admin token when LLMGW_ADMIN_TOKEN changed, with a warning.
func bootstrap(ctx context.Context, st *store.Store, getenv func(string) string, stderr io.Writer, logger *slog.Logger) error {
	stored, err := st.AdminTokenHash(ctx)
	if err != nil {
		return err
	}
	fresh := stored == ""
	if tok := getenv("LLMGW_ADMIN_TOKEN"); tok != "" {
		if h := snapshot.KeyHash(tok); h != stored {
			if err := st.SetAdminTokenHash(ctx, h); err != nil {
				return err
			}
			if !fresh {
				// Loudly: whoever held the previous admin token has just lost it.
				logger.Warn("the admin token was replaced from LLMGW_ADMIN_TOKEN: the previous admin token no longer works")
			}
		}
	} else if fresh {
		tok := snapshot.NewKeySecret()
		if err := st.SetAdminTokenHash(ctx, snapshot.KeyHash(tok)); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "\n  Generated admin token (shown once; store it, or set LLMGW_ADMIN_TOKEN):\n\n    %s\n\n", tok)
	}
	if !fresh {
		return nil
	}
	type seedAccount struct {
		account *adminv1.ProviderAccount
		models  []*adminv1.Model
	}
	seed := []seedAccount{{
		account: &adminv1.ProviderAccount{Name: "mock", Provider: "mock"},
		models: []*adminv1.Model{
			{Account: "mock", Name: "echo", Types: []string{snapshot.TypeChat}},
			{Account: "mock", Name: "embed", Types: []string{snapshot.TypeEmbedding}},
		},
	}}
	if k := getenv("OPENAI_API_KEY"); k != "" {
		seed = append(seed, seedAccount{
			account: &adminv1.ProviderAccount{Name: "openai", Provider: "openai", ApiKey: k},
			models: []*adminv1.Model{
				{Account: "openai", Name: "gpt-4o", Types: []string{snapshot.TypeChat}},
				{Account: "openai", Name: "gpt-4o-mini", Types: []string{snapshot.TypeChat}},
				{Account: "openai", Name: "text-embedding-3-small", Types: []string{snapshot.TypeEmbedding}},
			},
		})
	}
	if k := getenv("ANTHROPIC_API_KEY"); k != "" {
		seed = append(seed, seedAccount{
			account: &adminv1.ProviderAccount{Name: "anthropic", Provider: "anthropic", ApiKey: k},
			models: []*adminv1.Model{
				{Account: "anthropic", Name: "claude-sonnet-4-5", Types: []string{snapshot.TypeChat}},
				{Account: "anthropic", Name: "claude-haiku-4-5", Types: []string{snapshot.TypeChat}},
			},
		})
	}
	for _, s := range seed {
		if _, err := st.CreateProviderAccount(ctx, s.account); err != nil {
			var e *apierr.Error
			if errors.As(err, &e) && e.Kind == apierr.KindAlreadyExists {
				continue
			}
			return fmt.Errorf("bootstrap %s: %w", s.account.Name, err)
		}
		for _, m := range s.models {
			if _, err := st.CreateModel(ctx, m); err != nil {
				return fmt.Errorf("bootstrap %s/%s: %w", m.Account, m.Name, err)
			}
		}
		logger.Info("created provider account", "name", s.account.Name, "provider", s.account.Provider)
	}
	return nil
}
