// Package consumer moves usage events from the Kafka topic the gateways write to a sink (the
// ClickHouse writer): a consumer-group member that fetches messages, batches them by count or
// time, writes each batch, and commits the batch's offsets only once the write succeeded. While
// the sink fails it retries the same batch with capped exponential backoff and commits nothing,
// so an outage of ClickHouse loses nothing; a batch written again after a crash between write
// and commit is deduplicated by the sink.
//
// The limit of that guarantee: Kafka delivers at least once, and a group member keeps the batch
// it holds when a rebalance gives its partitions to another member, which reads the same
// uncommitted messages. With the ClickHouse sink the raw table never shows the duplicate (the
// sink skips ids already stored, and a ReplacingMergeTree collapses the rest), but if both
// members insert the same events at the same moment (two inserts in flight together, or both
// retrying into a ClickHouse that has just come back), the rollups fed by materialized views
// count them twice. One consumer per group, or scaling the group only while ClickHouse is
// healthy, avoids it; the raw table is always exact.
//
// It is not the producer (the gateway's side), and it knows the sink only as a Sink.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"

	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// Reader is the part of a Kafka consumer-group reader the consumer uses. *kafka.Reader
// (NewReader) is one; it must not commit by itself.
type Reader interface {
	// FetchMessage returns the next message without committing it.
	FetchMessage(ctx context.Context) (kafka.Message, error)
	// CommitMessages commits the offsets of msgs.
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Sink stores batches of events. Write must be idempotent: after a crash between a write and
// its commit the same events come again, and an event already stored must not be stored
// twice. It returns how many events it stored.
type Sink interface {
	Write(ctx context.Context, events []*usagev1.UsageEvent) (int, error)
}

// Defaults for Options.
const (
	DefaultBatchSize  = 10_000
	DefaultBatchWait  = time.Second
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// commitTimeout bounds an offset commit; it runs even when the consumer is stopping, so a
// batch already written is not redelivered needlessly.
const commitTimeout = 10 * time.Second

// writeTimeout bounds one write attempt. An attempt under way when the consumer is told to stop
// runs to its end (within this bound) rather than being cut off half way through an insert;
// only the waits between attempts are abandoned.
const writeTimeout = 2 * time.Minute

// Options tune a Consumer; zero values take the defaults.
type Options struct {
	// BatchSize is the most messages in one batch (DefaultBatchSize).
	BatchSize int
	// BatchWait is how long a batch may wait for more messages after its first one before it
	// is written (DefaultBatchWait).
	BatchWait time.Duration
	// MinBackoff and MaxBackoff bound the wait before retrying a failed write: it starts at
	// MinBackoff and doubles up to MaxBackoff (DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the consumer's log; nil discards it.
	Logger *slog.Logger
}

// Stats are a consumer's counters since it started.
type Stats struct {
	// Messages counts the messages fetched.
	Messages uint64
	// Malformed counts the messages skipped because they are not a usable UsageEvent.
	Malformed uint64
	// Stored counts the events the sink stored; Messages-Malformed-Stored were repeats.
	Stored uint64
	// WriteFailures counts failed writes (each is retried).
	WriteFailures uint64
	// Commits counts the batches whose offsets were committed.
	Commits uint64
}

// Consumer runs the fetch-write-commit loop. Run it once.
type Consumer struct {
	r      Reader
	sink   Sink
	o      Options
	logger *slog.Logger
	// wait sleeps d or until ctx is done; tests replace it to see the backoff.
	wait func(ctx context.Context, d time.Duration) error

	messages, malformed, stored, writeFailures, commits atomic.Uint64
}

// New returns a consumer that reads from r and writes to sink.
func New(r Reader, sink Sink, o Options) *Consumer {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BatchWait <= 0 {
		o.BatchWait = DefaultBatchWait
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Consumer{r: r, sink: sink, o: o, logger: logger, wait: sleep}
}

// Stats returns the consumer's counters. It is safe to call while Run runs.
func (c *Consumer) Stats() Stats {
	return Stats{
		Messages:      c.messages.Load(),
		Malformed:     c.malformed.Load(),
		Stored:        c.stored.Load(),
		WriteFailures: c.writeFailures.Load(),
		Commits:       c.commits.Load(),
	}
}

// Run consumes until ctx is done, then returns nil. A write under way when ctx ends is finished
// and its batch committed; a batch not yet written, or waiting to retry, is abandoned
// uncommitted (another member, or the next start, reads it again). It returns an error only
// when the reader fails (for example, it was closed).
func (c *Consumer) Run(ctx context.Context) error {
	msgs := make([]kafka.Message, 0, c.o.BatchSize)
	events := make([]*usagev1.UsageEvent, 0, c.o.BatchSize)
	for {
		var err error
		msgs, err = c.fetch(ctx, msgs[:0])
		if ctx.Err() != nil {
			if len(msgs) > 0 {
				c.logger.Info("stopping: batch abandoned uncommitted", "messages", len(msgs))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("fetch from kafka: %w", err)
		}
		events = c.decode(msgs, events[:0])
		if !c.write(ctx, events) {
			c.logger.Info("stopping: batch abandoned uncommitted", "messages", len(msgs))
			return nil
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		err = c.r.CommitMessages(cctx, msgs...)
		cancel()
		if err != nil {
			// The events are stored: a later commit covers these offsets, and a redelivery
			// before it is deduplicated.
			c.logger.Warn("commit kafka offsets", "messages", len(msgs), "err", err)
			continue
		}
		c.commits.Add(1)
	}
}

// fetch appends to msgs until it holds BatchSize messages or BatchWait has passed since the
// first. It returns early, with what it has, when ctx is done or the reader fails.
func (c *Consumer) fetch(ctx context.Context, msgs []kafka.Message) ([]kafka.Message, error) {
	m, err := c.r.FetchMessage(ctx)
	if err != nil {
		return msgs, err
	}
	c.messages.Add(1)
	msgs = append(msgs, m)
	bctx, cancel := context.WithTimeout(ctx, c.o.BatchWait)
	defer cancel()
	for len(msgs) < c.o.BatchSize {
		m, err := c.r.FetchMessage(bctx)
		if err != nil {
			if bctx.Err() != nil {
				return msgs, nil // the batch's time is up, or ctx is done: Run tells which
			}
			return msgs, err
		}
		c.messages.Add(1)
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// The range of times ClickHouse's Date can partition by; an event outside it is malformed.
var (
	minTime = time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2149, 1, 1, 0, 0, 0, 0, time.UTC)
)

// maxEventID bounds an event id; the gateway's are 36-byte UUIDs.
const maxEventID = 128

// decode appends msgs' events to events, counting and logging (without their content) the
// messages that are not usable events. Those are skipped, and committed with the batch, so one
// bad message never stalls the group.
func (c *Consumer) decode(msgs []kafka.Message, events []*usagev1.UsageEvent) []*usagev1.UsageEvent {
	for _, m := range msgs {
		e := &usagev1.UsageEvent{}
		var reason string
		switch err := proto.Unmarshal(m.Value, e); {
		case len(m.Value) == 0:
			reason = "empty value"
		case err != nil:
			reason = "not a llmgw.usage.v1.UsageEvent"
		case e.EventId == "" || len(e.EventId) > maxEventID:
			reason = "no event id, or one too long"
		case e.Time == nil || e.Time.CheckValid() != nil:
			reason = "no valid time"
		case e.Time.AsTime().Before(minTime) || !e.Time.AsTime().Before(maxTime):
			reason = "time out of range"
		}
		if reason != "" {
			c.malformed.Add(1)
			c.logger.Warn("malformed usage message skipped", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "bytes", len(m.Value), "reason", reason)
			continue
		}
		events = append(events, e)
	}
	return events
}

// write writes events until the sink takes them, backing off between failures. It returns
// false when ctx ends before a write succeeds.
func (c *Consumer) write(ctx context.Context, events []*usagev1.UsageEvent) bool {
	if len(events) == 0 {
		return true
	}
	backoff := c.o.MinBackoff
	for {
		if ctx.Err() != nil {
			return false
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
		n, err := c.sink.Write(wctx, events)
		cancel()
		if err == nil {
			c.stored.Add(uint64(n))
			c.logger.Debug("usage batch stored", "events", len(events), "stored", n)
			return true
		}
		c.writeFailures.Add(1)
		c.logger.Warn("usage batch not stored; retrying, offsets not committed", "events", len(events), "retry_in", backoff, "err", err)
		if c.wait(ctx, backoff) != nil {
			return false
		}
		backoff = min(2*backoff, c.o.MaxBackoff)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewReader returns a kafka-go consumer-group reader of topic for Consumer: offsets are
// committed only by the consumer, synchronously, and a new group starts at the oldest message
// so nothing written before the first consumer started is missed. dialer, when set, is how it
// connects (SASL, TLS); nil is kafka-go's default, plaintext. Close it when done.
func NewReader(brokers []string, topic, group string, dialer *kafka.Dialer, logger *slog.Logger) (*kafka.Reader, error) {
	if len(brokers) == 0 || topic == "" || group == "" {
		return nil, errors.New("kafka reader: brokers, topic and group are required")
	}
	cfg := kafka.ReaderConfig{
		Brokers:        brokers,
		Topic:          topic,
		GroupID:        group,
		StartOffset:    kafka.FirstOffset,
		CommitInterval: 0, // synchronous commits, only through CommitMessages
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        500 * time.Millisecond,
		Dialer:         dialer,
	}
	if logger != nil {
		cfg.ErrorLogger = kafka.LoggerFunc(func(msg string, args ...any) {
			logger.Warn("kafka: " + fmt.Sprintf(msg, args...))
		})
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka reader: %w", err)
	}
	return kafka.NewReader(cfg), nil
}
