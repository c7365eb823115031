package usage

import "context"

// Tee is a sink that hands every event to each of its sinks in turn (the request log and a
// store, say). It is safe for concurrent use when its sinks are.
type Tee []Sink

// Record implements Sink.
func (t Tee) Record(ctx context.Context, e *Event) {
	for _, s := range t {
		s.Record(ctx, e)
	}
}
