package usage

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// LineCap bounds the request log to PerSecond lines a second, so that at high rates the line
// that repeats the usage event does not cost every request its formatting: lines over the cap
// are not written, and the first line of the next second says how many were left out. Usage
// events, the record of every request, are not affected. It is safe for concurrent use.
type LineCap struct {
	PerSecond int64
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	second  int64 // Unix second of the current window
	written int64 // lines written in it
	dropped int64 // lines left out since the last summary
}

// allow reports whether a line may be written now; when a new second begins after lines were
// left out, it logs how many first.
func (c *LineCap) allow(ctx context.Context, logger *slog.Logger) bool {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	sec := now().Unix()
	c.mu.Lock()
	if sec != c.second {
		c.second, c.written = sec, 0
		if n := c.dropped; n > 0 {
			c.dropped = 0
			c.mu.Unlock()
			logger.LogAttrs(ctx, slog.LevelInfo, "request log over its cap: lines left out (usage events record every request)",
				slog.Int64("left_out", n), slog.Int64("cap_per_second", c.PerSecond))
			c.mu.Lock()
		}
	}
	ok := c.written < c.PerSecond
	if ok {
		c.written++
	} else {
		c.dropped++
	}
	c.mu.Unlock()
	return ok
}
