//go:build llmgw_gateway_only

package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/llmgw/llmgw/analytics/event"
	"github.com/llmgw/llmgw/gateway/catalog"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
	"github.com/llmgw/llmgw/gen/go/llmgw/usage/v1/usagev1connect"
)

// A gateway-only build (go build -tags llmgw_gateway_only ./cmd/llmgw, `make gateway`) serves
// `llmgw serve --role gateway` and nothing that needs the database: no store, no Admin API, no
// web app, no embedded usage store, no ClickHouse, no cloud secret managers. What those would
// do, it refuses at start with errGatewayOnly, naming what was asked and what to run instead.

// build names this build in `llmgw version` and the serving log line.
const build = "gateway-only"

// errGatewayOnly is what a gateway-only build answers to what only the full build does.
func errGatewayOnly(what string) error {
	return fmt.Errorf("%s: this llmgw is a gateway-only build (llmgw_gateway_only): it serves --role gateway, with usage events to Kafka; use the full llmgw build for that", what)
}

func storePlane(_ context.Context, cfg *Config, _ func(string) string, _ io.Writer, _ *snapshot.Holder, _ *registry.Registry, _ *catalog.Catalog, _ *hooks, _ *slog.Logger) (*plane, error) {
	return nil, errGatewayOnly("--role " + cfg.Role)
}

func runMigrate(context.Context, []string, func(string) string, io.Writer, io.Writer) error {
	return errGatewayOnly("llmgw migrate")
}

func runConsume(context.Context, []string, func(string) string, io.Writer) error {
	return errGatewayOnly("llmgw consume")
}

func embeddedSink(context.Context, *Config, *event.Converter, usage.Sink, *slog.Logger) (*usageSink, error) {
	return nil, errors.Join(errGatewayOnly("the embedded usage store"), errors.New("set --kafka-brokers (LLMGW_KAFKA_BROKERS)"))
}

func clickHouseAPI(context.Context, string, *slog.Logger) (usagev1connect.UsageServiceHandler, func(), error) {
	return nil, nil, errGatewayOnly("the Usage API's ClickHouse")
}

// apply and get are clients of the Admin API (llmgw apply, llmgw get); run them from the full
// build. Leaving them out keeps the Admin API's client, one generic instantiation per method,
// out of the replica's binary and its resident pages.
func apply(context.Context, []string, func(string) string, io.Writer, io.Writer) error {
	return errGatewayOnly("llmgw apply")
}

func get(context.Context, []string, func(string) string, io.Writer, io.Writer) error {
	return errGatewayOnly("llmgw get")
}
