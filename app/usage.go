package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/llmgw/llmgw/analytics/embedded"
	"github.com/llmgw/llmgw/gateway/usage"
	usagesvc "github.com/llmgw/llmgw/services/usage"
)

// openUsage opens the embedded usage store in the data directory and starts its writer. It
// returns the usage queue's sink (requestLog, then the store), the Usage API over the store,
// and a stop function that writes what the store still holds and closes it: call it after the
// queue has delivered its last event.
func openUsage(ctx context.Context, cfg *Config, requestLog usage.Sink, logger *slog.Logger) (usage.Sink, *usagesvc.Service, func(), error) {
	dir := dataDir(cfg)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("usage store: %w", err)
	}
	st, err := embedded.Open(ctx, filepath.Join(dir, embedded.FileName), embedded.Options{
		Retention: time.Duration(cfg.UsageRetentionDays) * 24 * time.Hour,
		Logger:    logger,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	rctx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	ran := make(chan struct{})
	go func() {
		st.Run(rctx)
		close(ran)
	}()
	stop := func() {
		stopRun()
		<-ran
		if err := st.Close(); err != nil {
			logger.Warn("usage store: close", "error", err)
		}
	}
	return usage.Tee{requestLog, st}, usagesvc.New(st, logger), stop, nil
}
