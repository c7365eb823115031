//go:build !llmgw_gateway_only

package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/llmgw/llmgw/analytics/clickhouse"
	"github.com/llmgw/llmgw/analytics/consumer"
	"github.com/llmgw/llmgw/analytics/kafka"
)

// clickHouseMigrateConfig is what `llmgw migrate --clickhouse` adds to migrate's flags.
type clickHouseMigrateConfig struct {
	URL       string
	Retention clickhouse.Retention
}

// clickHouseMigrateFlags adds --clickhouse and the retention flags to migrate's flag set.
func clickHouseMigrateFlags(fs *flag.FlagSet, e *envReader) *clickHouseMigrateConfig {
	c := &clickHouseMigrateConfig{}
	fs.StringVar(&c.URL, "clickhouse", e.str("LLMGW_CLICKHOUSE", ""), "migrate this ClickHouse database (clickhouse://[user:password@]host:9000/llmgw) instead of the config database (LLMGW_CLICKHOUSE)")
	fs.IntVar(&c.Retention.Days, "clickhouse-retention-days", e.count("LLMGW_CLICKHOUSE_RETENTION_DAYS", 90, 0), "days ClickHouse keeps usage events and rollups; 0 keeps them forever (LLMGW_CLICKHOUSE_RETENTION_DAYS)")
	fs.IntVar(&c.Retention.BodyDays, "clickhouse-body-retention-days", e.count("LLMGW_CLICKHOUSE_BODY_RETENTION_DAYS", 7, 0), "days ClickHouse keeps logged request and response bodies; 0 keeps them forever (LLMGW_CLICKHOUSE_BODY_RETENTION_DAYS)")
	return c
}

func migrateClickHouse(ctx context.Context, cfg *Config, c *clickHouseMigrateConfig, stdout, stderr io.Writer) error {
	if c.Retention.Days < 0 || c.Retention.BodyDays < 0 {
		return fmt.Errorf("retention days must be 0 (keep forever) or more")
	}
	logger, err := newLogger(cfg, stderr, nil)
	if err != nil {
		return err
	}
	chc, err := clickhouse.ParseURL(c.URL)
	if err != nil {
		return err
	}
	res, err := clickhouse.Migrate(ctx, chc, c.Retention)
	if err != nil {
		return fmt.Errorf("migrate clickhouse: %w", err)
	}
	for _, m := range res.Applied {
		logger.Info("clickhouse migration applied", "migration", m)
	}
	for _, t := range res.TTLChanged {
		logger.Info("clickhouse retention set", "table", t)
	}
	fmt.Fprintf(stdout, "clickhouse is up to date (schema version %d, %d migrations applied now, retention %d days, bodies %d days)\n",
		res.Version, len(res.Applied), c.Retention.Days, c.Retention.BodyDays)
	return nil
}

// consumeConfig is the configuration of `llmgw consume`.
type consumeConfig struct {
	LogLevel, LogFormat string
	KafkaBrokers        string
	KafkaTopic          string
	KafkaGroup          string
	ClickHouse          string
	BatchSize           int
	BatchWait           time.Duration
	// SASLMechanism, Username, Password (LLMGW_KAFKA_PASSWORD only) and TLS are how the
	// consumer connects to Kafka, as serve's producer does.
	SASLMechanism, Username, Password string
	TLS                               bool
}

// consumeFlags defines consume's flags, with defaults from their LLMGW_* variables.
func consumeFlags(getenv func(string) string, stderr io.Writer) (*flag.FlagSet, *consumeConfig, error) {
	e := &envReader{getenv: getenv}
	c := &consumeConfig{}
	fs := flag.NewFlagSet("consume", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.LogLevel, "log-level", e.str("LLMGW_LOG_LEVEL", "info"), "debug, info, warn or error (LLMGW_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", e.str("LLMGW_LOG_FORMAT", "text"), "text or json (LLMGW_LOG_FORMAT)")
	fs.StringVar(&c.KafkaBrokers, "kafka-brokers", e.str("LLMGW_KAFKA_BROKERS", ""), "Kafka bootstrap brokers, comma-separated host:port (LLMGW_KAFKA_BROKERS)")
	fs.StringVar(&c.KafkaTopic, "kafka-topic", e.str("LLMGW_KAFKA_TOPIC", kafka.DefaultTopic), "topic the gateways write usage events to (LLMGW_KAFKA_TOPIC)")
	fs.StringVar(&c.KafkaGroup, "kafka-group", e.str("LLMGW_KAFKA_GROUP", "llmgw-consumer"), "consumer group; consumers in one group share the topic's partitions (LLMGW_KAFKA_GROUP)")
	fs.StringVar(&c.ClickHouse, "clickhouse", e.str("LLMGW_CLICKHOUSE", ""), "ClickHouse database to load, migrated by llmgw migrate --clickhouse: clickhouse://[user:password@]host:9000/llmgw (LLMGW_CLICKHOUSE)")
	fs.IntVar(&c.BatchSize, "batch-size", e.count("LLMGW_CONSUME_BATCH_SIZE", consumer.DefaultBatchSize, 1), "most events in one ClickHouse insert (LLMGW_CONSUME_BATCH_SIZE)")
	fs.DurationVar(&c.BatchWait, "batch-wait", e.duration("LLMGW_CONSUME_BATCH_WAIT", consumer.DefaultBatchWait), "longest an event waits for its batch to fill before the insert (LLMGW_CONSUME_BATCH_WAIT)")
	fs.StringVar(&c.SASLMechanism, "kafka-sasl-mechanism", e.str("LLMGW_KAFKA_SASL_MECHANISM", ""), "Kafka SASL mechanism: plain, scram-sha-256 or scram-sha-512; the password is read from LLMGW_KAFKA_PASSWORD (LLMGW_KAFKA_SASL_MECHANISM)")
	fs.StringVar(&c.Username, "kafka-username", e.str("LLMGW_KAFKA_USERNAME", ""), "Kafka SASL username (LLMGW_KAFKA_USERNAME)")
	fs.BoolVar(&c.TLS, "kafka-tls", e.bool("LLMGW_KAFKA_TLS", false), "connect to Kafka over TLS, verified against the system's roots (LLMGW_KAFKA_TLS)")
	c.Password = getenv("LLMGW_KAFKA_PASSWORD")
	return fs, c, e.err()
}

func parseConsumeFlags(args []string, getenv func(string) string, stderr io.Writer) (*consumeConfig, error) {
	fs, c, err := consumeFlags(getenv, stderr)
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case c.KafkaBrokers == "":
		return nil, fmt.Errorf("consume: --kafka-brokers (LLMGW_KAFKA_BROKERS) is required")
	case c.ClickHouse == "":
		return nil, fmt.Errorf("consume: --clickhouse (LLMGW_CLICKHOUSE) is required")
	case c.BatchSize < 1:
		return nil, fmt.Errorf("consume: --batch-size must be at least 1")
	case c.BatchWait <= 0:
		return nil, fmt.Errorf("consume: --batch-wait must be positive")
	}
	return c, nil
}

// runConsume runs `llmgw consume`.
func runConsume(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cc, err := parseConsumeFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	return consume(ctx, cc, stderr)
}

// consume runs the Kafka-to-ClickHouse consumer until ctx ends (SIGTERM): a batch already
// stored is committed, one not yet stored is left for the next start.
func consume(ctx context.Context, c *consumeConfig, stderr io.Writer) error {
	logger, err := newLogger(&Config{LogLevel: c.LogLevel, LogFormat: c.LogFormat}, stderr, nil)
	if err != nil {
		return err
	}
	chc, err := clickhouse.ParseURL(c.ClickHouse)
	if err != nil {
		return err
	}
	if err := clickhouse.CheckSchema(ctx, chc); err != nil {
		return err
	}
	brokers := brokerList(c.KafkaBrokers)
	dialer, err := kafkaDialer(c)
	if err != nil {
		return err
	}
	r, err := consumer.NewReader(brokers, c.KafkaTopic, c.KafkaGroup, dialer, logger)
	if err != nil {
		return err
	}
	defer r.Close()
	w := clickhouse.NewWriter(chc)
	defer w.Close()
	cons := consumer.New(r, w, consumer.Options{BatchSize: c.BatchSize, BatchWait: c.BatchWait, Logger: logger})
	logger.Info("consuming usage events", "brokers", brokers, "topic", c.KafkaTopic, "group", c.KafkaGroup,
		"clickhouse", chc.Address, "database", chc.Database, "batch_size", c.BatchSize, "batch_wait", c.BatchWait)
	err = cons.Run(ctx)
	st := cons.Stats()
	logger.Info("consumer stopped", "messages", st.Messages, "stored", st.Stored, "malformed", st.Malformed,
		"write_failures", st.WriteFailures, "commits", st.Commits)
	return err
}

// kafkaDialer is how consume connects to Kafka: with c's SASL mechanism and TLS, checked as
// the producer checks them; nil (kafka-go's plaintext default) when neither is set.
func kafkaDialer(c *consumeConfig) (*kafkago.Dialer, error) {
	m, err := kafka.Mechanism(kafka.Options{SASLMechanism: c.SASLMechanism, Username: c.Username, Password: c.Password})
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	if m == nil && !c.TLS {
		return nil, nil
	}
	return &kafkago.Dialer{Timeout: 10 * time.Second, DualStack: true, SASLMechanism: m, TLS: kafkaTLS(c.TLS)}, nil
}
