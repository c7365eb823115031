// Package kafka is the gateway's usage-event producer: it writes every usage event to a Kafka
// topic (key: the event id; value: the llmgw.usage.v1.UsageEvent, marshaled), and keeps the
// events it cannot write in a disk spool (analytics/spool) until Kafka takes them.
//
// Delivery is at least once, in order per replica: while the spool holds events, new events
// are appended behind them and the spool is replayed oldest first; a write that failed after
// Kafka took part of it, or a crash between a write and its commit, writes events again, so
// downstream deduplicates by event id. An event is lost only when the spool is full (or the
// disk fails): it is then counted (Dropped) and logged.
//
// It is not on the request path: a usage.Queue hands it batches (usage.BatchSink).
package kafka

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/llmgw/llmgw/analytics/event"
	"github.com/llmgw/llmgw/analytics/spool"
	"github.com/llmgw/llmgw/gateway/usage"
)

// zstdLevel is the zstd level usage batches are compressed at: the fastest. At kafka-go's
// default (3) the encoder a producer keeps holds 1.7 MB; at 1 it holds 0.6 MB, and a chunk of
// usage events, which repeat their field names and most values, compresses as well
// (TestCompressionLevel measures both).
const zstdLevel = 1

// kafka-go configures its zstd codec, like its others, in one table for the process: the level
// is set there, before any writer can use it.
func init() { compress.ZstdCodec.Level = zstdLevel }

// DefaultTopic is the topic usage events are written to unless configured otherwise.
const DefaultTopic = "llmgw.usage"

// SASL mechanisms (Options.SASLMechanism).
const (
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

// Options configure a Producer.
type Options struct {
	// Brokers are the bootstrap brokers, host:port; at least one.
	Brokers []string
	// Topic is the topic written to (default DefaultTopic).
	Topic string
	// SASLMechanism authenticates with SASL: SASLPlain, SASLScramSHA256 or SASLScramSHA512;
	// empty for none. Username and Password are then required, and refused otherwise.
	SASLMechanism      string
	Username, Password string
	// TLS, when set, connects to the brokers over TLS with this configuration.
	TLS *tls.Config
	// WriteTimeout bounds one write to Kafka, its retries included (default 10s): a write
	// that takes longer sends its events to the spool.
	WriteTimeout time.Duration
	// RetryMin and RetryMax bound the wait between replays of the spool while Kafka fails
	// (defaults 500ms and 30s); the wait doubles from RetryMin after each failure.
	RetryMin, RetryMax time.Duration
	// BatchEvents and BatchBytes bound one replay write (defaults usage.MaxBatch, 128
	// events, and 1 MiB). BatchEvents is at most usage.MaxBatch: a write is then one batch a
	// partition, so a batch that fails is written again before any that follow it.
	BatchEvents int
	BatchBytes  int64
}

// Producer writes usage events to Kafka, through its spool when Kafka is down or slow. It is a
// usage.BatchSink. It is safe for concurrent use.
type Producer struct {
	opts   Options
	w      *kafkago.Writer
	tr     *kafkago.Transport // w's
	conv   *event.Converter
	spool  *spool.Spool
	logger *slog.Logger

	appendMu sync.Mutex    // orders RecordBatch calls: a direct write or a spool append each
	replayMu sync.Mutex    // one replay at a time
	kick     chan struct{} // wakes Run when events are spooled; capacity 1

	dropped  atomic.Uint64
	spooling atomic.Bool // Kafka failed and the spool has not been emptied since (for the log)

	dropMu     sync.Mutex
	droppedLog uint64    // Dropped when last logged
	dropLogged time.Time // when last logged
}

var _ usage.BatchSink = (*Producer)(nil)

// New returns a producer for o writing conv's form of events, with sp as its spool (which it
// replays first: events a previous process left). It does not connect until the first write.
// Call Run to replay the spool in the background and Close to finish.
func New(o Options, conv *event.Converter, sp *spool.Spool, logger *slog.Logger) (*Producer, error) {
	if len(o.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers")
	}
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	o.WriteTimeout = cmp.Or(o.WriteTimeout, 10*time.Second)
	o.RetryMin = cmp.Or(o.RetryMin, 500*time.Millisecond)
	o.RetryMax = cmp.Or(o.RetryMax, 30*time.Second)
	o.BatchEvents = min(cmp.Or(o.BatchEvents, usage.MaxBatch), usage.MaxBatch)
	o.BatchBytes = cmp.Or(o.BatchBytes, 1<<20)
	mech, err := Mechanism(o)
	if err != nil {
		return nil, err
	}
	tr := &kafkago.Transport{
		ClientID:    "llmgw",
		DialTimeout: 5 * time.Second,
		IdleTimeout: 30 * time.Second,
		MetadataTTL: 30 * time.Second,
		SASL:        mech,
		TLS:         o.TLS,
	}
	// A live write is one queue chunk, at most usage.MaxBatch events, and a replay write at
	// most as many: one batch a partition. The writer makes room for BatchSize messages in
	// every batch it starts (1,000 was 150 KB a batch, a tenth of all a replica allocated).
	w := &kafkago.Writer{
		Addr:                   kafkago.TCP(o.Brokers...),
		Topic:                  o.Topic,
		Balancer:               &kafkago.Hash{}, // by event id
		RequiredAcks:           kafkago.RequireAll,
		Compression:            kafkago.Zstd,
		BatchSize:              usage.MaxBatch,
		BatchBytes:             max(o.BatchBytes, 1<<20), // a replay batch's bytes, and never less than one large event
		BatchTimeout:           5 * time.Millisecond,     // a write is already a batch: do not wait for more
		MaxAttempts:            3,
		WriteBackoffMin:        100 * time.Millisecond,
		WriteBackoffMax:        time.Second,
		WriteTimeout:           o.WriteTimeout,
		ReadTimeout:            o.WriteTimeout,
		AllowAutoTopicCreation: true,
		Transport:              tr,
	}
	p := &Producer{opts: o, w: w, tr: tr, conv: conv, spool: sp, logger: logger, kick: make(chan struct{}, 1)}
	if sp.Len() > 0 {
		p.spooling.Store(true)
		logger.Info("usage spool holds events from before: replaying them to Kafka first", "events", sp.Len(), "bytes", sp.Size())
	}
	return p, nil
}

// Mechanism is o's SASL mechanism (from SASLMechanism, Username and Password), or nil for
// none. The consumer authenticates with it too.
func Mechanism(o Options) (sasl.Mechanism, error) {
	if o.SASLMechanism == "" {
		if o.Username != "" || o.Password != "" {
			return nil, errors.New("kafka: a username or password without a SASL mechanism")
		}
		return nil, nil
	}
	if o.Username == "" || o.Password == "" {
		return nil, fmt.Errorf("kafka: SASL %s needs a username and a password", o.SASLMechanism)
	}
	switch strings.ToLower(o.SASLMechanism) {
	case SASLPlain:
		return plain.Mechanism{Username: o.Username, Password: o.Password}, nil
	case SASLScramSHA256:
		return scram.Mechanism(scram.SHA256, o.Username, o.Password)
	case SASLScramSHA512:
		return scram.Mechanism(scram.SHA512, o.Username, o.Password)
	}
	return nil, fmt.Errorf("kafka: SASL mechanism %q: want %s, %s or %s", o.SASLMechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
}

// Record writes one event (see RecordBatch).
func (p *Producer) Record(ctx context.Context, e *usage.Event) {
	p.RecordBatch(ctx, []usage.Event{*e})
}

// RecordBatch writes es to Kafka in one write when the spool is empty; the events Kafka did
// not take (a failed or timed-out write), or all of them while the spool holds events, are
// appended to the spool, which Run replays. It returns once every event is in Kafka, in the
// spool, or counted as dropped.
func (p *Producer) RecordBatch(ctx context.Context, es []usage.Event) {
	recs := make([][]byte, 0, len(es))
	for i := range es {
		rec, err := p.encode(&es[i])
		if err != nil {
			p.drop(1, fmt.Errorf("marshal event %s: %w", es[i].RequestID, err))
			continue
		}
		recs = append(recs, rec)
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.spool.Len() == 0 {
		failed, err := p.write(ctx, recs)
		if err == nil {
			return
		}
		if !p.spooling.Swap(true) {
			p.logger.Warn("kafka: could not write usage events; spooling them to disk until it can", "error", err, "events", len(failed))
		}
		recs = failed
	}
	n, err := p.spool.Append(recs)
	if n < len(recs) {
		p.drop(len(recs)-n, err)
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// encode is e's spool record: its key (the event id), length-prefixed, then its value.
func (p *Producer) encode(e *usage.Event) ([]byte, error) {
	b := make([]byte, 0, 16+len(e.RequestID)+768)
	b = binary.AppendUvarint(b, uint64(len(e.RequestID)))
	b = append(b, e.RequestID...)
	return p.conv.Marshal(b, e)
}

// decode splits a spool record into its key and value.
func decode(rec []byte) (key, value []byte, err error) {
	n, k := binary.Uvarint(rec)
	if k <= 0 || uint64(len(rec)-k) < n {
		return nil, nil, errors.New("kafka: a spool record without its key")
	}
	return rec[k : k+int(n)], rec[k+int(n):], nil
}

// write writes recs in one WriteMessages call, bounded by WriteTimeout, and returns those
// Kafka did not take with the error (nil, nil when it took all).
func (p *Producer) write(ctx context.Context, recs [][]byte) ([][]byte, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	msgs := make([]kafkago.Message, 0, len(recs))
	for _, rec := range recs {
		k, v, err := decode(rec)
		if err != nil {
			p.drop(1, err) // cannot happen for records this package wrote
			continue
		}
		msgs = append(msgs, kafkago.Message{Key: k, Value: v})
	}
	wctx, cancel := context.WithTimeout(ctx, p.opts.WriteTimeout)
	defer cancel()
	err := p.w.WriteMessages(wctx, msgs...)
	if err == nil {
		return nil, nil
	}
	// The transport keeps a broker's failure until its next metadata refresh (up to its
	// MetadataTTL): drop its connections, so the next write dials again.
	p.tr.CloseIdleConnections()
	var werrs kafkago.WriteErrors
	if errors.As(err, &werrs) && len(werrs) == len(recs) {
		var failed [][]byte
		for i, e := range werrs {
			if e != nil {
				failed = append(failed, recs[i])
			}
		}
		return failed, fmt.Errorf("kafka: %d of %d events not written: %w", len(failed), len(recs), werrs)
	}
	return recs, fmt.Errorf("kafka: %w", err)
}

// drop counts n events lost because of err, and logs the count at most every 10 seconds.
func (p *Producer) drop(n int, err error) {
	total := p.dropped.Add(uint64(n))
	p.dropMu.Lock()
	defer p.dropMu.Unlock()
	if now := time.Now(); now.Sub(p.dropLogged) >= 10*time.Second {
		p.logger.Error("usage events dropped: the spool is full or failed", "error", err, "dropped_total", total,
			"dropped_since_last_report", total-p.droppedLog, "spool_bytes", p.spool.Size())
		p.dropLogged, p.droppedLog = now, total
	}
}

// Dropped is the number of events lost: the spool was full (or failed) when Kafka could not
// take them.
func (p *Producer) Dropped() uint64 { return p.dropped.Load() }

// SpoolBytes is the size of the spool's files.
func (p *Producer) SpoolBytes() int64 { return p.spool.Size() }

// Spooled is the number of events in the spool.
func (p *Producer) Spooled() int64 { return p.spool.Len() }

// Run replays the spool to Kafka whenever it holds events, until ctx is done.
func (p *Producer) Run(ctx context.Context) {
	for {
		if p.spool.Len() == 0 {
			select {
			case <-p.kick:
			case <-ctx.Done():
				return
			}
			continue
		}
		if err := p.replayUntilEmpty(ctx); err != nil {
			return // ctx is done
		}
	}
}

// replayUntilEmpty replays the spool until it is empty, waiting RetryMin, doubling up to
// RetryMax, between failed attempts; it returns the last failure once ctx is done.
func (p *Producer) replayUntilEmpty(ctx context.Context) error {
	wait := p.opts.RetryMin
	for {
		err := p.Replay(ctx)
		if err == nil {
			return nil
		}
		p.logger.Debug("kafka: spool replay failed; retrying", "error", err, "retry_in", wait, "spooled", p.spool.Len())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait = min(2*wait, p.opts.RetryMax)
	}
}

// Replay writes the spool's events to Kafka, oldest first, until it is empty (nil) or a write
// fails (its error). Events are removed from the spool only once Kafka has taken them.
func (p *Producer) Replay(ctx context.Context) error {
	p.replayMu.Lock()
	defer p.replayMu.Unlock()
	for {
		recs, cur, err := p.spool.Read(p.opts.BatchEvents, p.opts.BatchBytes)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			if p.spooling.Swap(false) {
				p.logger.Info("kafka: the usage spool is delivered; writing events directly again")
			}
			return nil
		}
		if _, err := p.write(ctx, recs); err != nil {
			return err // all of them again next time: some may be written twice
		}
		if err := p.spool.Commit(cur); err != nil {
			return err
		}
	}
}

// Close replays what the spool holds, retrying until ctx is done (the events left stay in the
// spool for the next start), reports the drops not yet logged, and closes the writer and the
// spool. Call it after the queue that feeds the producer has delivered its last events and
// after Run has returned.
func (p *Producer) Close(ctx context.Context) error {
	var errs []error
	if p.spool.Len() > 0 {
		if err := p.replayUntilEmpty(ctx); err != nil {
			p.logger.Warn("kafka: usage events left in the spool for the next start", "events", p.spool.Len(), "bytes", p.spool.Size(), "error", err)
		}
	}
	if d := p.dropped.Load(); d != p.droppedLog {
		p.logger.Error("usage events dropped: the spool is full or failed", "dropped_total", d, "dropped_since_last_report", d-p.droppedLog)
	}
	errs = append(errs, p.w.Close(), p.spool.Close())
	return errors.Join(errs...)
}
