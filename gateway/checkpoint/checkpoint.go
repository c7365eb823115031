package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/limiter"
)

// The keys the state is stored under.
const (
	LimiterKey = "governance.limiter"
	BudgetKey  = "governance.budget"
)

// DefaultInterval is the save interval llmgw uses: the most counting a crash can lose while
// the database answers.
const DefaultInterval = time.Second

// saveTimeout bounds one save, so a database that hangs delays the next tick rather than
// stopping saves for good.
const saveTimeout = 5 * time.Second

// warnEvery is how often, at most, a run of failed saves is logged.
const warnEvery = time.Minute

// Store is where a Checkpointer keeps its state; the config database's store implements it.
type Store interface {
	// LoadState returns what SaveState last stored under key, or nil when nothing was.
	LoadState(ctx context.Context, key string) ([]byte, error)
	// SaveState replaces what is stored under key with data.
	SaveState(ctx context.Context, key string, data []byte) error
}

// part is one engine's state under one key.
type part struct {
	key    string
	what   string
	encode func() ([]byte, error)
	// restore decodes data into the engine and reports how many entries it skipped.
	restore func(data []byte) (skipped int, err error)
	// saved is what the Store holds as far as this process knows: the last value loaded or
	// saved; a save is skipped while the encoding equals it.
	saved []byte
}

// Checkpointer loads and saves the state of one Limiter and one Ledger. Its methods are safe
// for concurrent use; saves are serialized.
type Checkpointer struct {
	st     Store
	logger *slog.Logger

	mu       sync.Mutex // guards parts' saved and the failure counters
	parts    []*part
	failures int       // failed saves in a row
	warned   time.Time // when the last failure was logged
}

// New returns a Checkpointer of l and b (either may be nil) that keeps their state in st and
// logs to logger (nil discards).
func New(st Store, l *limiter.Limiter, b *budget.Ledger, logger *slog.Logger) *Checkpointer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Checkpointer{st: st, logger: logger}
	if l != nil {
		c.parts = append(c.parts, &part{
			key: LimiterKey, what: "rate-limit counters",
			encode: func() ([]byte, error) { return encodeLimiter(l.Snapshot()) },
			restore: func(data []byte) (int, error) {
				counts, skipped, err := decodeLimiter(data)
				if err == nil {
					l.Restore(counts)
				}
				return skipped, err
			},
		})
	}
	if b != nil {
		c.parts = append(c.parts, &part{
			key: BudgetKey, what: "budget spend",
			encode: func() ([]byte, error) { return encodeBudget(b.Snapshot()) },
			restore: func(data []byte) (int, error) {
				spend, skipped, err := decodeBudget(data)
				if err == nil {
					b.Restore(spend)
				}
				return skipped, err
			},
		})
	}
	return c
}

// Load restores the engines from the Store; call it once, at start, before serving. A value
// that does not decode or has an unknown version is logged as a warning and ignored: that
// engine starts empty, and the next save replaces the value. Load returns an error only when
// the Store cannot be read: starting empty then, and saving over the stored state a second
// later, would forget the spend the caller relies on, so the caller should not serve.
func (c *Checkpointer) Load(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.parts {
		data, err := c.st.LoadState(ctx, p.key)
		if err != nil {
			return fmt.Errorf("load %s: %w", p.what, err)
		}
		if data == nil {
			continue
		}
		skipped, err := p.restore(data)
		if err != nil {
			c.logger.LogAttrs(ctx, slog.LevelWarn, "ignoring stored "+p.what+": starting empty; the next save replaces it",
				slog.String("key", p.key), slog.Int("bytes", len(data)), slog.String("error", err.Error()))
			continue
		}
		p.saved = data
		if skipped > 0 {
			c.logger.LogAttrs(ctx, slog.LevelWarn, "ignoring stored "+p.what+" of unknown units",
				slog.String("key", p.key), slog.Int("entries", skipped))
		}
		c.logger.LogAttrs(ctx, slog.LevelInfo, "restored "+p.what, slog.String("key", p.key), slog.Int("bytes", len(data)))
	}
	return nil
}

// Save writes the state of each engine whose encoding changed since it was last loaded or
// saved. A part that fails is tried again by the next Save; the error joins every failure.
func (c *Checkpointer) Save(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.save(ctx)
}

func (c *Checkpointer) save(ctx context.Context) error {
	var errs []error
	for _, p := range c.parts {
		data, err := p.encode()
		if err != nil {
			errs = append(errs, fmt.Errorf("encode %s: %w", p.what, err))
			continue
		}
		if p.saved != nil && bytes.Equal(data, p.saved) {
			continue
		}
		if err := c.st.SaveState(ctx, p.key, data); err != nil {
			errs = append(errs, fmt.Errorf("save %s: %w", p.what, err))
			continue
		}
		p.saved = data
	}
	return errors.Join(errs...)
}

// Run saves every interval (DefaultInterval when it is not positive) until ctx is done, then
// saves once more, within a few seconds, and returns. Cancel ctx only after the last request
// has settled its reservations, so the final save holds them all. A failed save is logged as
// a warning at most once a minute while saves keep failing, and retried at the next tick.
func (c *Checkpointer) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
			defer cancel()
			if err := c.Save(final); err != nil {
				c.logger.LogAttrs(final, slog.LevelWarn, "could not save rate-limit and budget state at shutdown: counting since the last save is lost",
					slog.String("error", err.Error()))
			}
			return
		case <-tick.C:
			c.tick(ctx)
		}
	}
}

// tick saves once and logs the outcome of a run of failures.
func (c *Checkpointer) tick(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, saveTimeout)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.save(sctx)
	now := time.Now()
	switch {
	case err == nil && c.failures > 0:
		c.logger.LogAttrs(ctx, slog.LevelInfo, "saved rate-limit and budget state again", slog.Int("failed_saves", c.failures))
		c.failures = 0
	case err != nil && ctx.Err() != nil:
		// Shutting down: the final save reports.
	case err != nil:
		c.failures++
		if c.failures == 1 || now.Sub(c.warned) >= warnEvery {
			c.warned = now
			c.logger.LogAttrs(ctx, slog.LevelWarn, "could not save rate-limit and budget state; requests are unaffected, will retry",
				slog.Int("failed_saves", c.failures), slog.String("error", err.Error()))
		}
	}
}
