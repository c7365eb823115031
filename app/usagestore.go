//go:build !llmgw_gateway_only

package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/llmgw/llmgw/analytics/clickhouse"
	"github.com/llmgw/llmgw/analytics/embedded"
	"github.com/llmgw/llmgw/analytics/event"
	"github.com/llmgw/llmgw/gateway/usage"
	"github.com/llmgw/llmgw/gen/go/llmgw/usage/v1/usagev1connect"
	usagesvc "github.com/llmgw/llmgw/services/usage"
)

// embeddedSink is the usage sink without Kafka: the embedded usage store, <data dir>/usage.db,
// which the Usage API reads, and logs.
func embeddedSink(ctx context.Context, cfg *Config, conv *event.Converter, logs usage.Sink, logger *slog.Logger) (*usageSink, error) {
	dir := dataDir(cfg)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("usage store: %w", err)
	}
	st, err := embedded.Open(ctx, filepath.Join(dir, embedded.FileName), embedded.Options{
		Retention: time.Duration(cfg.UsageRetentionDays) * 24 * time.Hour,
		Logger:    logger,
		Converter: conv,
	})
	if err != nil {
		return nil, err
	}
	return &usageSink{sink: usage.Tee{st, logs}, store: st, api: usagesvc.New(st, logger)}, nil
}

// clickHouseAPI is the Usage API over the ClickHouse database of --clickhouse, and its close.
func clickHouseAPI(ctx context.Context, url string, logger *slog.Logger) (usagev1connect.UsageServiceHandler, func(), error) {
	chc, err := clickhouse.ParseURL(url)
	if err != nil {
		return nil, nil, err
	}
	q, err := clickhouse.NewQuerier(ctx, chc)
	if err != nil {
		return nil, nil, err
	}
	return usagesvc.New(q, logger), func() { _ = q.Close() }, nil
}
