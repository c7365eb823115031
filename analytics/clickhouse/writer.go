package clickhouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"

	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// Writer loads batches of usage events into a migrated database: events into usage_events,
// their bodies into usage_bodies. It keeps one connection, dialled on first use and again after
// any error, so a ClickHouse that went away is reached again by the next Write.
//
// A Writer is not safe for concurrent use; a consumer runs one per goroutine. Close it when done.
type Writer struct {
	cfg    Config
	client *ch.Client
	events columns
	bodies columns
	ids    proto.ColStr
	// pending is the batch whose insert failed, identified by its events' ids; events and
	// bodies still hold its blocks, and token names them, so a retry sends the same blocks.
	pending, token string
}

// NewWriter returns a Writer for c's database, which Migrate must have prepared. It does not
// connect until the first Write.
func NewWriter(c Config) *Writer {
	return &Writer{cfg: c, events: eventColumns(), bodies: bodyColumns()}
}

// Write stores events and returns how many it inserted. It is idempotent: events whose id is
// already stored (a batch redelivered after a crash between insert and offset commit) and
// repeats within events are skipped. A batch whose insert failed is retried with the same
// blocks under the same insert_deduplication_token, so an insert that reached some tables and
// not others (ClickHouse died half way) is completed without counting anything twice in the
// rollups. Every event must have an id and a time (the consumer refuses others as malformed).
// On error the events may or may not be stored; call Write again with the same events.
func (w *Writer) Write(ctx context.Context, events []*usagev1.UsageEvent) (inserted int, err error) {
	if len(events) == 0 {
		return 0, nil
	}
	if w.client == nil || w.client.IsClosed() {
		if w.client, err = w.cfg.dial(ctx, w.cfg.Database); err != nil {
			return 0, err
		}
	}
	defer func() {
		if err != nil {
			// The connection's state is unknown after a failed or cancelled query.
			w.client.Close()
			w.client = nil
		}
	}()
	if key := batchKey(events); key != w.pending {
		fresh, err := w.prepare(ctx, events)
		if err != nil {
			return 0, err
		}
		if len(fresh) == 0 {
			return 0, nil
		}
		// The token names exactly the events in the blocks: equal tokens, equal blocks.
		w.pending, w.token = key, batchKey(fresh)
	}
	settings := []ch.Setting{
		{Key: "insert_deduplication_token", Value: w.token, Important: true},
		{Key: "insert_deduplicate", Value: "1", Important: true},
		{Key: "deduplicate_blocks_in_dependent_materialized_views", Value: "1", Important: true},
		// A batch replayed from a long outage may span many days (partitions).
		{Key: "max_partitions_per_insert_block", Value: "0", Important: true},
	}
	// Bodies first: once an event row exists, a redelivery skips the event and would never
	// write its bodies.
	if w.bodies.rows() > 0 {
		in := w.bodies.input()
		if err := w.client.Do(ctx, ch.Query{Body: in.Into("usage_bodies"), Input: in, Settings: settings}); err != nil {
			return 0, fmt.Errorf("insert into usage_bodies: %w", err)
		}
	}
	in := w.events.input()
	if err := w.client.Do(ctx, ch.Query{Body: in.Into("usage_events"), Input: in, Settings: settings}); err != nil {
		return 0, fmt.Errorf("insert into usage_events: %w", err)
	}
	w.pending = ""
	return w.events.rows(), nil
}

// prepare fills the events and bodies blocks with the events not yet stored, and returns them.
func (w *Writer) prepare(ctx context.Context, events []*usagev1.UsageEvent) ([]*usagev1.UsageEvent, error) {
	w.pending = ""
	stored, err := w.stored(ctx, events)
	if err != nil {
		return nil, err
	}
	w.events.reset()
	w.bodies.reset()
	seen := make(map[string]bool, len(events))
	var fresh []*usagev1.UsageEvent
	for _, e := range events {
		id := e.GetEventId()
		if seen[id] || stored[id] {
			continue
		}
		seen[id] = true
		fresh = append(fresh, e)
		w.events.append(e)
		if e.GetBodies() != nil {
			w.bodies.append(e)
		}
	}
	return fresh, nil
}

// batchKey identifies a batch by its events' ids, in order.
func batchKey(events []*usagev1.UsageEvent) string {
	h := sha256.New()
	for _, e := range events {
		h.Write([]byte(e.GetEventId()))
		h.Write([]byte{0})
	}
	return "llmgw-" + hex.EncodeToString(h.Sum(nil))
}

// stored returns which of events' ids usage_events already has. The ids go as external data;
// the batch's time range lets the primary index skip everything else (a redelivered event has
// the same time).
func (w *Writer) stored(ctx context.Context, events []*usagev1.UsageEvent) (map[string]bool, error) {
	w.ids.Reset()
	lo, hi := eventTime(events[0]), eventTime(events[0])
	for _, e := range events {
		w.ids.Append(e.GetEventId())
		t := eventTime(e)
		if t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	var got proto.ColStr
	out := map[string]bool{}
	err := w.client.Do(ctx, ch.Query{
		Body: fmt.Sprintf("SELECT DISTINCT event_id FROM usage_events WHERE time >= %s AND time <= %s AND event_id IN (SELECT id FROM batch_ids)",
			micros(lo.Truncate(time.Microsecond)), micros(hi.Add(time.Microsecond))),
		ExternalTable: "batch_ids",
		ExternalData:  []proto.InputColumn{{Name: "id", Data: &w.ids}},
		Result:        proto.Results{{Name: "event_id", Data: &got}},
		OnResult: func(context.Context, proto.Block) error {
			for i := range got.Rows() {
				out[got.Row(i)] = true
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("look up stored event ids: %w", err)
	}
	return out, nil
}

func micros(t time.Time) string {
	return fmt.Sprintf("fromUnixTimestamp64Micro(%d, 'UTC')", t.UnixMicro())
}

// Close closes the connection, if any.
func (w *Writer) Close() error {
	if w.client == nil {
		return nil
	}
	err := w.client.Close()
	w.client = nil
	return err
}
