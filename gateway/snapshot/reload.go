package snapshot

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/llmgw/llmgw/gateway/catalog"
)

// Source produces the config to compile; the store implements it.
type Source interface {
	SnapshotConfig(ctx context.Context) (*Config, error)
}

// Revisioner is a Source that can tell its configuration revision cheaply (the store: one
// row). Run reloads such a source only when its revision moved.
type Revisioner interface {
	Revision(ctx context.Context) (int64, error)
}

// Reloader rebuilds the snapshot from a source and swaps it in. When the source fails, the
// current snapshot keeps serving. It is safe for concurrent use.
type Reloader struct {
	src    Source
	b      Builder
	cat    *catalog.Catalog
	h      *Holder
	logger *slog.Logger

	mu       sync.Mutex
	last     *Config
	onConfig func(*Config)
}

// OnConfig has f called, under the reloader's lock, with every config that Reload swaps in
// (the control plane publishes it to its replicas). Call it before the first Reload.
func (r *Reloader) OnConfig(f func(*Config)) { r.onConfig = f }

// NewReloader returns a reloader that compiles with b and cat (nil for none) into h.
func NewReloader(src Source, b Builder, cat *catalog.Catalog, h *Holder, logger *slog.Logger) *Reloader {
	return &Reloader{src: src, b: b, cat: cat, h: h, logger: logger}
}

// Reload reads the source and swaps in a new snapshot if the config changed.
func (r *Reloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := r.src.SnapshotConfig(ctx)
	if err != nil {
		return err
	}
	if r.last != nil && reflect.DeepEqual(r.last, cfg) {
		return nil
	}
	r.h.Store(Compile(cfg, r.b, r.cat, r.logger))
	r.last = cfg
	if r.onConfig != nil {
		r.onConfig(cfg)
	}
	return nil
}

// changed reports whether the source's revision moved since the last reload; a source that
// cannot tell, or fails to, is read whole.
func (r *Reloader) changed(ctx context.Context) bool {
	rv, ok := r.src.(Revisioner)
	if !ok {
		return true
	}
	rev, err := rv.Revision(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	return err != nil || r.last == nil || rev != r.last.Revision
}

// Run checks the source every interval until ctx is done, so processes sharing a database
// converge and changes made elsewhere are picked up; a Revisioner source is read whole only
// when its revision moved. Failures are logged; the last snapshot keeps serving.
func (r *Reloader) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if !r.changed(ctx) {
				continue
			}
			if err := r.Reload(ctx); err != nil && ctx.Err() == nil {
				r.logger.Warn("could not reload configuration; serving the last snapshot", "error", err)
			}
		}
	}
}
