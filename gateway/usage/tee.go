package usage

import "context"

// Tee is a sink that hands every event to each of its sinks in turn (Kafka and the request
// log, say, or the embedded store and the request log). It is a BatchSink: a batch goes whole
// to each sink that takes batches, event by event to the others. It is safe for concurrent use
// when its sinks are.
type Tee []Sink

// Record implements Sink.
func (t Tee) Record(ctx context.Context, e *Event) {
	for _, s := range t {
		s.Record(ctx, e)
	}
}

// RecordBatch implements BatchSink.
func (t Tee) RecordBatch(ctx context.Context, es []Event) {
	for _, s := range t {
		recordBatch(ctx, s, es)
	}
}

// recordBatch hands es to s whole when s takes batches, else event by event.
func recordBatch(ctx context.Context, s Sink, es []Event) {
	if b, ok := s.(BatchSink); ok {
		b.RecordBatch(ctx, es)
		return
	}
	for i := range es {
		s.Record(ctx, &es[i])
	}
}

var _ BatchSink = Tee(nil)
