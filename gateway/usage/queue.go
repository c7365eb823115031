package usage

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Sink receives usage events from a Queue, one at a time, off the request path.
type Sink interface {
	Record(ctx context.Context, e *Event)
}

// Queue hands usage events to a sink in the background, so a slow sink (a disk that stalls
// the request log, later a Kafka producer) never adds latency to a request. It never blocks:
// when full it counts the event as dropped and says so in the log every interval, so nothing
// is lost silently. It is safe for concurrent use.
type Queue struct {
	ch      chan Event
	sink    Sink
	logger  *slog.Logger
	dropped atomic.Uint64
	done    chan struct{}
}

// NewQueue returns a queue of capacity size in front of sink. Call Run to start delivery.
func NewQueue(size int, sink Sink, logger *slog.Logger) *Queue {
	return &Queue{ch: make(chan Event, size), sink: sink, logger: logger, done: make(chan struct{})}
}

// Record queues a copy of e, or counts it as dropped when the queue is full.
func (q *Queue) Record(_ context.Context, e *Event) {
	select {
	case q.ch <- *e:
	default:
		q.dropped.Add(1)
	}
}

// Dropped is the number of events the queue could not take.
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }

// Len is the number of events queued and not yet handed to the sink.
func (q *Queue) Len() int { return len(q.ch) }

// Cap is the queue's capacity (NewQueue's size).
func (q *Queue) Cap() int { return cap(q.ch) }

// Run delivers events until ctx is done, then delivers what is still queued and returns.
// Producers must have stopped by then (the server has shut down); events recorded after Run
// returns are counted as dropped once the queue fills.
func (q *Queue) Run(ctx context.Context, reportEvery time.Duration) {
	defer close(q.done)
	tick := time.NewTicker(reportEvery)
	defer tick.Stop()
	bg := context.WithoutCancel(ctx)
	var reported uint64
	report := func() {
		if d := q.dropped.Load(); d != reported {
			q.logger.Error("usage queue full: events dropped", "dropped_total", d, "dropped_since_last_report", d-reported)
			reported = d
		}
	}
	for {
		select {
		case e := <-q.ch:
			q.sink.Record(bg, &e)
		case <-tick.C:
			report()
		case <-ctx.Done():
			for {
				select {
				case e := <-q.ch:
					q.sink.Record(bg, &e)
				default:
					report()
					return
				}
			}
		}
	}
}

// Done is closed when Run has returned.
func (q *Queue) Done() <-chan struct{} { return q.done }
