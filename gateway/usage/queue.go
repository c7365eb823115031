package usage

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Sink receives usage events from a Queue, one at a time, off the request path.
type Sink interface {
	Record(ctx context.Context, e *Event)
}

// BatchSink is a Sink that takes a Queue's events a batch at a time (a Kafka producer, a
// database insert). The Queue reuses the slice after the call returns.
type BatchSink interface {
	Sink
	RecordBatch(ctx context.Context, es []Event)
}

// Queue hands usage events to a sink in the background, so a slow sink (a disk that stalls
// the request log, a Kafka producer) never adds latency to a request. It holds at most its
// size in bytes of events, as Size counts them, the events being delivered included. It never
// blocks: when full it counts the event as dropped and says so in the log every interval, so
// nothing is lost silently. It is safe for concurrent use.
//
// Events are kept in fixed chunks of chunkLen, recycled once delivered: recording copies the
// event into a chunk and allocates only when every chunk kept so far is in use. Besides the
// bytes it counts, the queue holds the unused slots of its partly filled chunks and up to
// maxFree spare chunks: about 1 MB.
type Queue struct {
	max    int64
	sink   Sink
	logger *slog.Logger
	wake   chan struct{} // signalled when events are queued; capacity 1
	done   chan struct{}

	mu    sync.Mutex
	full  []*chunk // filled chunks, oldest first
	cur   *chunk   // the chunk being filled, or nil
	free  []*chunk // delivered chunks for reuse, at most maxFree
	bytes int64    // Size of the events queued and of those being delivered
	n     int64    // the events queued and being delivered

	dropped atomic.Uint64

	// Linger, when positive, lets a partly filled chunk wait up to this long for more events
	// before it is delivered, so that at a modest rate the sink gets batches instead of one
	// event per wake-up (a Kafka write, an SQLite transaction). A full chunk goes at once.
	// Set it before Run.
	Linger time.Duration
	// NewTimer arms the linger's timer and returns its channel and its Stop (nil:
	// time.NewTimer's); tests pass a fake. Set it before Run.
	NewTimer func(time.Duration) (<-chan time.Time, func() bool)
}

// chunkLen is the number of events in a chunk: about 60 KB.
const chunkLen = 128

// MaxBatch is the most events a BatchSink is handed at once: one chunk.
const MaxBatch = chunkLen

// maxFree bounds the delivered chunks kept for reuse; the rest are left to the collector.
const maxFree = 16

type chunk struct {
	n     int
	evs   [chunkLen]Event
	sizes [chunkLen]int64 // the events' Size
}

// NewQueue returns a queue holding up to maxBytes of events (as Size counts them) in front of
// sink. A sink that is a BatchSink gets the queued events in batches of up to chunkLen, in
// order; another gets them one at a time. Call Run to start delivery.
func NewQueue(maxBytes int64, sink Sink, logger *slog.Logger) *Queue {
	return &Queue{max: maxBytes, sink: sink, logger: logger, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Record queues a copy of e, or counts it as dropped when the queue is full. It holds a lock
// only to copy the event into place.
func (q *Queue) Record(_ context.Context, e *Event) {
	n := e.Size()
	q.mu.Lock()
	if q.bytes+n > q.max {
		q.mu.Unlock()
		q.dropped.Add(1)
		return
	}
	// With a linger, the deliverer needs waking only for the first event of a batch (it then
	// arms its timer) and for a full chunk; the events between wait for the timer without a
	// wake-up, a goroutine switch, each.
	waiting := len(q.full) > 0 || (q.cur != nil && q.cur.n > 0)
	c := q.cur
	if c == nil || c.n == chunkLen {
		if c != nil {
			q.full = append(q.full, c)
		}
		if k := len(q.free); k > 0 {
			c, q.free = q.free[k-1], q.free[:k-1]
		} else {
			c = new(chunk)
		}
		q.cur = c
	}
	c.evs[c.n], c.sizes[c.n] = *e, n
	c.n++
	q.bytes += n
	q.n++
	signal := q.Linger <= 0 || !waiting || c.n == chunkLen
	q.mu.Unlock()
	if !signal {
		return
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Dropped is the number of events the queue could not take.
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }

// Bytes is the size of the events queued or being delivered, as Size counts them.
func (q *Queue) Bytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// Len is the number of events queued or being delivered.
func (q *Queue) Len() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// Run delivers events until ctx is done, then delivers what is still queued and returns.
// Producers must have stopped by then (the server has shut down); events recorded after Run
// returns stay queued, or are counted as dropped once the queue is full.
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
	var taken []*chunk
	var lingering <-chan time.Time // the armed linger's channel; nil when none
	stopLinger := func() bool { return false }
	after := q.NewTimer
	if after == nil {
		after = func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		}
	}
	for {
		select {
		case <-q.wake:
			if q.Linger > 0 && !q.chunkFull() {
				if lingering == nil {
					lingering, stopLinger = after(q.Linger)
				}
				continue
			}
			if lingering != nil {
				stopLinger()
				lingering = nil
			}
			taken = q.deliver(bg, taken)
		case <-lingering:
			lingering = nil
			taken = q.deliver(bg, taken) // an event recorded meanwhile finds none waiting: it wakes us
		case <-tick.C:
			report()
		case <-ctx.Done():
			q.deliver(bg, taken)
			report()
			return
		}
	}
}

// chunkFull reports whether a whole chunk waits for delivery.
func (q *Queue) chunkFull() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.full) > 0 || (q.cur != nil && q.cur.n == chunkLen)
}

// deliver hands every queued event to the sink, a chunk at a time, and returns taken emptied
// for reuse. The events count against the queue's size until the sink has them.
func (q *Queue) deliver(ctx context.Context, taken []*chunk) []*chunk {
	q.mu.Lock()
	taken = append(taken[:0], q.full...)
	clear(q.full)
	q.full = q.full[:0]
	if q.cur != nil && q.cur.n > 0 {
		taken = append(taken, q.cur)
		q.cur = nil
	}
	q.mu.Unlock()
	for _, c := range taken {
		evs := c.evs[:c.n]
		recordBatch(ctx, q.sink, evs)
		var n int64
		for _, s := range c.sizes[:c.n] {
			n += s
		}
		clear(evs) // let the collector have what the events point to
		delivered := int64(c.n)
		c.n = 0
		q.mu.Lock()
		q.bytes -= n
		q.n -= delivered
		if len(q.free) < maxFree {
			q.free = append(q.free, c)
		}
		q.mu.Unlock()
	}
	clear(taken)
	return taken[:0]
}

// Done is closed when Run has returned.
func (q *Queue) Done() <-chan struct{} { return q.done }

const (
	eventSize   = int64(unsafe.Sizeof(Event{}))
	attemptSize = int64(unsafe.Sizeof(Attempt{}))
	stringSize  = int64(unsafe.Sizeof(""))
)

// Size is the memory e holds, as a Queue counts it: the Event itself, the bytes of its strings
// and the lists and map it points to. The strings and lists shared with the configuration
// (teams, targets) are counted as if they were e's own, so the count errs high.
func (e *Event) Size() int64 {
	n := eventSize + int64(len(e.RequestID)+len(e.ClientRequestID)+len(e.Surface)+len(e.Principal)+len(e.KeyPrefix)+
		len(e.KeyID)+len(e.User)+len(e.VirtualAccount)+len(e.Model)+len(e.Target)+len(e.UpstreamModel)+len(e.Operation)+len(e.Status))
	n += stringsSize(e.Teams) + stringsSize(e.Counted) + stringsSize(e.WouldBlock)
	for i := range e.Attempts {
		a := &e.Attempts[i]
		n += attemptSize + int64(len(a.Target)+len(a.Status)+len(a.ErrorClass))
	}
	for k, v := range e.Metadata {
		n += 2*stringSize + int64(len(k)+len(v))
	}
	if e.Usage.PromptTokensDetails != nil {
		n += int64(unsafe.Sizeof(*e.Usage.PromptTokensDetails))
	}
	if e.Usage.CompletionTokensDetails != nil {
		n += int64(unsafe.Sizeof(*e.Usage.CompletionTokensDetails))
	}
	return n
}

func stringsSize(ss []string) int64 {
	n := int64(len(ss)) * stringSize
	for _, s := range ss {
		n += int64(len(s))
	}
	return n
}
