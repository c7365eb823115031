//go:build !llmgw_gateway_only

package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/llmgw/llmgw/configfile"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/secretref"
	"github.com/llmgw/llmgw/secretref/secretrefaws"
	"github.com/llmgw/llmgw/secretref/secretrefazure"
	"github.com/llmgw/llmgw/secretref/secretrefgcp"
	"github.com/llmgw/llmgw/secretref/secretrefvault"
)

// secretManagers returns the fetcher of every secret-manager scheme, each with its ambient
// credentials. None touches the network or reads credentials before its first reference is
// read. The returned close releases the clients made.
func secretManagers(getenv func(string) string) (map[string]secretref.Fetcher, func()) {
	aws := secretrefaws.New()
	gcp := secretrefgcp.New()
	return map[string]secretref.Fetcher{
		secretref.SchemeAWSSSM:  aws,
		secretref.SchemeAWSSM:   aws,
		secretref.SchemeGCPSM:   gcp,
		secretref.SchemeAzureKV: secretrefazure.New(),
		secretref.SchemeVault:   secretrefvault.New(getenv),
	}, func() { _ = gcp.Close() }
}

// newSecretCache reads every secret-manager reference of the config file once, at start; a
// reference that cannot be read leaves its models unavailable (managedSecrets) until a
// refresh reads it.
func newSecretCache(ctx context.Context, refs []configfile.ManagedSecret, getenv func(string) string, h *hooks, logger *slog.Logger) (*secretref.Cache, func(), error) {
	fetchers, closeFetchers := secretManagers(getenv)
	var opts []secretref.Option
	if h.secretTicker != nil {
		opts = append(opts, secretref.WithTicker(h.secretTicker))
	}
	c := secretref.New(fetchers, logger, opts...)
	for _, r := range refs {
		if err := c.Add(r.Ref); err != nil {
			closeFetchers()
			return nil, nil, fmt.Errorf("config: %w", err)
		}
	}
	c.Refresh(ctx)
	return c, closeFetchers, nil
}

// managedSecrets sets the provider keys that the config file keeps in a secret manager on
// every snapshot config, from the cache's last values: they are never stored, and a rotated
// secret reaches the adapters (and, through the config pushed to them, the gateway replicas)
// when the cache's refresh rebuilds the snapshot. The file's reference wins over a key set
// for the same account or model through the Admin API; one that was never read leaves the
// account's (or model's) models unavailable, as a missing env:// secret does.
type managedSecrets struct {
	snapshot.Source
	refs  []configfile.ManagedSecret
	cache *secretref.Cache
}

// Revision is the wrapped source's: a refreshed secret rebuilds the snapshot through
// Reloader.Reload, not through the revision.
func (m managedSecrets) Revision(ctx context.Context) (int64, error) {
	return revisionOf(ctx, m.Source)
}

func (m managedSecrets) SnapshotConfig(ctx context.Context) (*snapshot.Config, error) {
	cfg, err := m.Source.SnapshotConfig(ctx)
	if err != nil {
		return nil, err
	}
	missing := slices.Clone(cfg.MissingSecrets) // the wrapped source's slice is its own
	for _, r := range m.refs {
		v, ok, problem := m.cache.Value(r.Ref)
		if !ok {
			missing = append(missing, snapshot.MissingSecret{Account: r.Account, Model: r.Model, Problem: problem})
		}
		if r.Model == "" {
			for i := range cfg.Accounts {
				if cfg.Accounts[i].Name == r.Account {
					cfg.Accounts[i].APIKey = v
				}
			}
			continue
		}
		for i := range cfg.Models {
			if cfg.Models[i].Account == r.Account && cfg.Models[i].Name == r.Model {
				cfg.Models[i].APIKey = v
			}
		}
	}
	cfg.MissingSecrets = missing
	return cfg, nil
}

// refreshSecrets refreshes c every interval until ctx is done and rebuilds the snapshot after
// a refresh that changed a value.
func refreshSecrets(ctx context.Context, c *secretref.Cache, interval time.Duration, r *snapshot.Reloader, logger *slog.Logger) {
	c.Run(ctx, interval, func(ctx context.Context) {
		if err := r.Reload(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("could not rebuild the configuration with a refreshed secret; serving the last snapshot", "error", err)
		}
	})
}
