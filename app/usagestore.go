package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/llmgw/llmgw/analytics/embedded"
	"github.com/llmgw/llmgw/analytics/event"
)

// openEmbedded opens the embedded usage store, <data dir>/usage.db, where usage events go when
// no Kafka is configured and which the Usage API reads.
func openEmbedded(ctx context.Context, cfg *Config, conv *event.Converter, logger *slog.Logger) (*embedded.Store, error) {
	dir := dataDir(cfg)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("usage store: %w", err)
	}
	return embedded.Open(ctx, filepath.Join(dir, embedded.FileName), embedded.Options{
		Retention: time.Duration(cfg.UsageRetentionDays) * 24 * time.Hour,
		Logger:    logger,
		Converter: conv,
	})
}
