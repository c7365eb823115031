// Package keyuse remembers when each API key was last used and writes that to storage in the
// background, so authentication never waits on a database write.
package keyuse

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Tracker collects key uses between flushes. It is safe for concurrent use.
type Tracker struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{last: make(map[string]time.Time)} }

// Used records that key id was used at t.
func (t *Tracker) Used(id string, at time.Time) {
	t.mu.Lock()
	if at.After(t.last[id]) {
		t.last[id] = at
	}
	t.mu.Unlock()
}

// Sink stores last-used times.
type Sink func(ctx context.Context, last map[string]time.Time) error

// Flush hands the uses collected since the last flush to sink. On failure they are kept and
// retried on the next flush.
func (t *Tracker) Flush(ctx context.Context, sink Sink) error {
	t.mu.Lock()
	batch := t.last
	t.last = make(map[string]time.Time, len(batch))
	t.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := sink(ctx, batch); err != nil {
		for id, at := range batch {
			t.Used(id, at)
		}
		return err
	}
	return nil
}

// Run flushes every interval until ctx is done, then flushes once more.
func (t *Tracker) Run(ctx context.Context, interval time.Duration, sink Sink, logger *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := t.Flush(final, sink); err != nil {
				logger.Warn("could not store API key last-used times", "error", err)
			}
			return
		case <-tick.C:
			if err := t.Flush(ctx, sink); err != nil {
				logger.Warn("could not store API key last-used times; will retry", "error", err)
			}
		}
	}
}
