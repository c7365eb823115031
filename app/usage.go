package app

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmgw/llmgw/analytics/event"
	"github.com/llmgw/llmgw/analytics/kafka"
	"github.com/llmgw/llmgw/analytics/spool"
	"github.com/llmgw/llmgw/gateway/metrics"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
	"github.com/llmgw/llmgw/gen/go/llmgw/usage/v1/usagev1connect"
)

// usageQueueBytes bounds the usage events held in memory between the request path and their
// sink (usage.Queue): about 70,000 events of the size a chat request's event counts.
const usageQueueBytes = 64 << 20

// usageCloseGrace bounds how long shutdown spends writing the spooled usage events to Kafka
// after the queue's last delivery; what is left stays in the spool for the next start.
const usageCloseGrace = 10 * time.Second

// UsageConfig is where usage events go besides the request log: Kafka when Brokers is set,
// else the embedded usage store.
type UsageConfig struct {
	Replica       string
	Region        string
	Brokers       string // comma-separated
	Topic         string
	SASLMechanism string
	Username      string
	TLS           bool
	SpoolMaxBytes int64
	// ClickHouse, with Kafka, is the database the consumer loads (clickhouse://...): the
	// Usage API answers from it. Empty: no Usage API with Kafka.
	ClickHouse string
}

// usageFlags defines the usage flags on fs, with their defaults from the environment (the
// helpers of flags).
func usageFlags(fs *flag.FlagSet, c *UsageConfig, env func(k, def string) string, envBytes func(string, int64) int64, envBool func(string, bool) bool) {
	host, _ := os.Hostname()
	fs.StringVar(&c.Replica, "replica", env("LLMGW_REPLICA", host), "this replica's name in usage events (default: the host name) (LLMGW_REPLICA)")
	fs.StringVar(&c.Region, "region", env("LLMGW_REGION", ""), "this replica's region in usage events (LLMGW_REGION)")
	fs.StringVar(&c.Brokers, "kafka-brokers", env("LLMGW_KAFKA_BROKERS", ""), "comma-separated Kafka brokers to write usage events to; unset: the embedded usage store in the data dir (LLMGW_KAFKA_BROKERS)")
	fs.StringVar(&c.Topic, "kafka-topic", env("LLMGW_KAFKA_TOPIC", kafka.DefaultTopic), "Kafka topic of usage events (LLMGW_KAFKA_TOPIC)")
	fs.StringVar(&c.SASLMechanism, "kafka-sasl-mechanism", env("LLMGW_KAFKA_SASL_MECHANISM", ""), "Kafka SASL mechanism: plain, scram-sha-256 or scram-sha-512; the password is read from LLMGW_KAFKA_PASSWORD (LLMGW_KAFKA_SASL_MECHANISM)")
	fs.StringVar(&c.Username, "kafka-username", env("LLMGW_KAFKA_USERNAME", ""), "Kafka SASL username (LLMGW_KAFKA_USERNAME)")
	fs.BoolVar(&c.TLS, "kafka-tls", envBool("LLMGW_KAFKA_TLS", false), "connect to Kafka over TLS, verified against the system's roots (LLMGW_KAFKA_TLS)")
	if fs.Name() == "serve" { // migrate defines its own --clickhouse, the database it migrates
		fs.StringVar(&c.ClickHouse, "clickhouse", env("LLMGW_CLICKHOUSE", ""), "with --kafka-brokers: the ClickHouse database llmgw consume loads (clickhouse://[user:password@]host:9000/llmgw); the Usage API answers from it (LLMGW_CLICKHOUSE)")
	}
	fs.Int64Var(&c.SpoolMaxBytes, "spool-max-bytes", envBytes("LLMGW_SPOOL_MAX_BYTES", 1<<30), "cap on the disk spool (<data-dir>/spool) that keeps usage events while Kafka is unreachable; past it events are dropped and counted (LLMGW_SPOOL_MAX_BYTES)")
}

// kafkaOptions are the producer's options from c and the password in LLMGW_KAFKA_PASSWORD.
func kafkaOptions(c *UsageConfig, getenv func(string) string) kafka.Options {
	return kafka.Options{Topic: c.Topic, Brokers: brokerList(c.Brokers), SASLMechanism: c.SASLMechanism, Username: c.Username,
		Password: getenv("LLMGW_KAFKA_PASSWORD"), TLS: kafkaTLS(c.TLS)}
}

// brokerList is a comma-separated broker flag's brokers, blanks left out.
func brokerList(s string) []string {
	var out []string
	for b := range strings.SplitSeq(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// kafkaTLS is the TLS configuration of --kafka-tls (serve and consume): the system's roots;
// nil when off.
func kafkaTLS(on bool) *tls.Config {
	if !on {
		return nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// usageSink is where the usage queue delivers: the embedded usage store and sink (the request
// log), or with Kafka configured, the Kafka producer and sink.
type usageSink struct {
	sink     usage.Sink
	producer *kafka.Producer // nil without Kafka
	// store is the embedded usage store (nil with Kafka): its writer runs until close, then
	// the store closes.
	store   usageStore
	chClose func()                             // closes the Usage API's ClickHouse, with Kafka and --clickhouse
	api     usagev1connect.UsageServiceHandler // the Usage API over store or ClickHouse; nil with Kafka alone
	stop    context.CancelFunc
	done    chan struct{}
	closed  bool
	grace   time.Duration // usageCloseGrace
}

// usageStore is the embedded usage store as the sink runs it (analytics/embedded.Store).
type usageStore interface {
	Run(ctx context.Context)
	Close() error
}

// newUsageSink returns the usage sink of cfg: logs, with Kafka when configured, its spool in
// <data dir>/spool, else with the embedded usage store in <data dir>/usage.db. Call start, and
// after the queue's last delivery, close (which a serve that fails before it serves calls too).
func newUsageSink(ctx context.Context, cfg *Config, getenv func(string) string, snaps *snapshot.Holder, logs usage.Sink, logger *slog.Logger) (*usageSink, error) {
	u := &cfg.Usage
	if u.Brokers == "" && u.ClickHouse != "" {
		return nil, fmt.Errorf("--clickhouse (LLMGW_CLICKHOUSE) needs --kafka-brokers: without Kafka, usage events go to the embedded store and the Usage API answers from it")
	}
	if u.Brokers == "" {
		return embeddedSink(ctx, cfg, event.NewConverter(u.Replica, u.Region, snaps), logs, logger)
	}
	sp, err := spool.Open(filepath.Join(dataDir(cfg), "spool"), u.SpoolMaxBytes, logger)
	if err != nil {
		return nil, err
	}
	p, err := kafka.New(kafkaOptions(u, getenv), event.NewConverter(u.Replica, u.Region, snaps), sp, logger)
	if err != nil {
		sp.Close()
		return nil, err
	}
	s := &usageSink{sink: usage.Tee{p, logs}, producer: p, grace: usageCloseGrace}
	if u.ClickHouse != "" {
		if s.api, s.chClose, err = clickHouseAPI(ctx, u.ClickHouse, logger); err != nil {
			p.Close(ctx)
			return nil, fmt.Errorf("--clickhouse: %w", err)
		}
	}
	return s, nil
}

// watch reports the Kafka producer's spool and losses to m (nothing without Kafka).
func (s *usageSink) watch(m *metrics.Metrics) {
	if s.producer == nil {
		return
	}
	m.WatchUsage(metrics.Stage{Name: "kafka", Depth: s.producer.Spooled, Spool: s.producer.SpoolBytes, Dropped: s.producer.Dropped})
}

// start replays the Kafka spool, or writes to the embedded store, in the background until
// close.
func (s *usageSink) start(ctx context.Context) {
	run := func(ctx context.Context) {}
	switch {
	case s.producer != nil:
		run = s.producer.Run
	case s.store != nil:
		run = s.store.Run
	default:
		return
	}
	ctx, s.stop = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		run(ctx)
		close(s.done)
	}()
}

// close writes what the spool holds to Kafka for up to usageCloseGrace and closes the
// producer; the events left stay in the spool for the next start.
func (s *usageSink) close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.stop != nil {
		s.stop()
		<-s.done // the embedded store has written what it held
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			return fmt.Errorf("close the usage store: %w", err)
		}
		return nil
	}
	if s.producer == nil {
		return nil
	}
	if s.chClose != nil {
		s.chClose()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.grace)
	defer cancel()
	if err := s.producer.Close(cctx); err != nil {
		return fmt.Errorf("close the usage producer: %w", err)
	}
	return nil
}
