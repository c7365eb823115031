package secretref

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fetcher reads secrets from one secret manager. Fetch returns the current value of the
// secret ref names; its error must not contain the value. Implementations are safe for
// concurrent use.
type Fetcher interface {
	Fetch(ctx context.Context, ref Ref) (string, error)
}

// DefaultInterval is how often Run refreshes every secret unless told otherwise.
const DefaultInterval = 5 * time.Minute

// DefaultFetchTimeout bounds one Fetch.
const DefaultFetchTimeout = 30 * time.Second

// Cache holds the last value read of each secret reference added to it and refreshes them
// all on an interval (Run) or when told (Refresh; call it once after the Adds, at start). A refresh that fails keeps the last value, counts the failure by
// scheme (Failures) and logs the reference and the error, never a value. The zero value is
// not usable; call New. It is safe for concurrent use.
type Cache struct {
	fetchers map[string]Fetcher
	logger   *slog.Logger
	timeout  time.Duration
	ticker   func(d time.Duration) (<-chan time.Time, func())

	mu       sync.Mutex
	entries  map[string]*entry // by reference as written
	order    []string          // references in the order added
	failures map[string]int64  // by scheme

	refresh sync.Mutex // one refresh at a time
}

type entry struct {
	ref   Ref
	value string
	ok    bool  // value was read at least once
	err   error // the last fetch's error, scrubbed; nil after a success
}

// Option configures a Cache.
type Option func(*Cache)

// WithFetchTimeout bounds each Fetch (default DefaultFetchTimeout).
func WithFetchTimeout(d time.Duration) Option { return func(c *Cache) { c.timeout = d } }

// WithTicker replaces the ticker Run waits on (default time.NewTicker): tick(d) returns the
// channel of ticks every d and the function that stops it.
func WithTicker(tick func(d time.Duration) (<-chan time.Time, func())) Option {
	return func(c *Cache) { c.ticker = tick }
}

// New returns an empty cache that reads each scheme with fetchers[scheme].
func New(fetchers map[string]Fetcher, logger *slog.Logger, opts ...Option) *Cache {
	c := &Cache{fetchers: fetchers, logger: logger, timeout: DefaultFetchTimeout,
		entries: map[string]*entry{}, failures: map[string]int64{},
		ticker: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Add parses ref and adds it to the cache, unless it was added before; the next Refresh
// reads it. A malformed reference or one whose scheme has no fetcher is an error and is not
// added.
func (c *Cache) Add(raw string) error {
	ref, err := Parse(raw)
	if err != nil {
		return err
	}
	if c.fetchers[ref.Scheme] == nil {
		return fmt.Errorf("secret reference %s: no %s:// secret manager is configured", raw, ref.Scheme)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[raw]; ok {
		return nil
	}
	c.entries[raw] = &entry{ref: ref}
	c.order = append(c.order, raw)
	return nil
}

// Value returns the last value read of ref (as written). When none was ever read it returns
// ok false and the problem, which names the reference and nothing else: it is shown to
// clients (a 503's message), so the manager's error, which may name internal hosts, is only
// logged.
func (c *Cache) Value(raw string) (value string, ok bool, problem string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[raw]
	switch {
	case e == nil:
		return "", false, "secret " + raw + " was never read"
	case !e.ok:
		return "", false, "secret " + raw + " could not be read from its secret manager"
	}
	return e.value, true, ""
}

// Failures returns how many reads failed, by scheme, since the cache was made.
func (c *Cache) Failures() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.failures))
	for k, v := range c.failures {
		out[k] = v
	}
	return out
}

// maxConcurrent bounds the reads of one Refresh in flight at once.
const maxConcurrent = 8

// Refresh reads every reference (at most maxConcurrent at once, each bounded by the fetch
// timeout) and reports whether a value changed or was read for the first time. A read that
// fails keeps the last value. One Refresh runs at a time.
func (c *Cache) Refresh(ctx context.Context) bool {
	c.refresh.Lock()
	defer c.refresh.Unlock()
	c.mu.Lock()
	refs := make([]string, len(c.order))
	copy(refs, c.order)
	entries := make([]*entry, len(refs))
	for i, raw := range refs {
		entries[i] = c.entries[raw]
	}
	c.mu.Unlock()
	var (
		wg      sync.WaitGroup
		changed atomic.Bool
		sema    = make(chan struct{}, maxConcurrent)
	)
	for i, e := range entries {
		wg.Add(1)
		sema <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sema }()
			if c.fetch(ctx, refs[i], e) {
				changed.Store(true)
			}
		}()
	}
	wg.Wait()
	return changed.Load()
}

// Run refreshes every interval until ctx is done and calls onChange after a refresh that
// changed a value.
func (c *Cache) Run(ctx context.Context, interval time.Duration, onChange func(context.Context)) {
	tick, stop := c.ticker(interval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if c.Refresh(ctx) && ctx.Err() == nil {
				onChange(ctx)
			}
		}
	}
}

// fetch reads e once and stores the outcome; it reports whether the value changed.
func (c *Cache) fetch(ctx context.Context, raw string, e *entry) bool {
	fctx, cancel := context.WithTimeout(ctx, c.timeout)
	v, err := c.fetchers[e.ref.Scheme].Fetch(fctx, e.ref)
	cancel()
	if err == nil && v == "" {
		err = errors.New("the secret is empty")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return false // shutting down: not the manager's failure
		}
		e.err = errors.New(c.scrub(err.Error(), v))
		c.failures[e.ref.Scheme]++
		if e.ok {
			c.logger.Warn("could not refresh a secret from its secret manager; the last value read is kept", "ref", raw, "error", e.err)
		} else {
			c.logger.Warn("could not read a secret from its secret manager; the models that use it are unavailable until it is read", "ref", raw, "error", e.err)
		}
		return false
	}
	changed := !e.ok || e.value != v
	e.value, e.ok, e.err = v, true, nil
	if changed {
		c.logger.Info("read a secret from its secret manager", "ref", raw)
	}
	return changed
}

// scrub removes from msg every value the cache holds (and extra), should a manager's error
// ever quote one. Called with c.mu held.
func (c *Cache) scrub(msg string, extra string) string {
	for _, e := range c.entries {
		if e.ok && e.value != "" {
			msg = strings.ReplaceAll(msg, e.value, "[REDACTED]")
		}
	}
	if extra != "" {
		msg = strings.ReplaceAll(msg, extra, "[REDACTED]")
	}
	return msg
}
