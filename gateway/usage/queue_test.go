package usage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type blockingSink struct {
	mu      sync.Mutex
	entered chan struct{}
	release chan struct{}
	got     []string
}

func (s *blockingSink) Record(_ context.Context, e *Event) {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	s.mu.Lock()
	s.got = append(s.got, e.RequestID)
	s.mu.Unlock()
}

func TestQueueNeverBlocksAndCountsDrops(t *testing.T) {
	sink := &blockingSink{entered: make(chan struct{}, 1), release: make(chan struct{})} // buffered: the signal waits for the test
	var logs strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	one := Event{RequestID: "a"}
	q := NewQueue(3*one.Size(), sink, logger) // room for three such events
	ctx, cancel := context.WithCancel(context.Background())
	go q.Run(ctx, time.Hour)

	start := time.Now()
	first := Event{RequestID: "a"}
	q.Record(context.Background(), &first)
	<-sink.entered // the sink now holds "a" and stalls
	for _, id := range []string{"b", "c", "d", "e"} {
		e := Event{RequestID: id}
		q.Record(context.Background(), &e)
		e.RequestID = "mutated" // the queue must have copied it
	}
	if time.Since(start) > time.Second {
		t.Fatal("Record blocked on a stalled sink")
	}
	// The sink holds one event, which counts until it is delivered, and the queue two; the
	// other two are dropped and counted.
	if d := q.Dropped(); d != 2 {
		t.Errorf("dropped %d, want 2", d)
	}
	cancel()
	close(sink.release)
	<-q.Done()
	if strings.Join(sink.got, ",") != "a,b,c" {
		t.Errorf("delivered %v, want a,b,c (drained on shutdown)", sink.got)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "dropped_total=2") {
		t.Errorf("drops not reported: %s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

var _ io.Writer = writerFunc(nil)

func TestLogRecorderWritesTheRequestsIdentity(t *testing.T) {
	var b strings.Builder
	r := LogRecorder{Logger: slog.New(slog.NewJSONHandler(&b, nil))}
	r.Record(context.Background(), &Event{
		RequestID: "01a2-server", ClientRequestID: "client-1", Surface: "openai",
		Principal: "unauthenticated", KeyPrefix: "llmgw-AbCdEf", Model: "acct/m", Status: "invalid_api_key", HTTPStatus: 401,
	})
	for _, want := range []string{`"request_id":"01a2-server"`, `"client_request_id":"client-1"`, `"surface":"openai"`,
		`"principal":"unauthenticated"`, `"key_prefix":"llmgw-AbCdEf"`, `"model":"acct/m"`, `"status":"invalid_api_key"`, `"http_status":401`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("request line lacks %s: %s", want, b.String())
		}
	}
}

// batchSink is a BatchSink that keeps what it is given.
type batchSink struct {
	mu      sync.Mutex
	batches [][]string
}

func (s *batchSink) Record(_ context.Context, e *Event) {
	s.RecordBatch(context.Background(), []Event{*e})
}

func (s *batchSink) RecordBatch(_ context.Context, es []Event) {
	ids := make([]string, len(es))
	for i := range es {
		ids[i] = es[i].RequestID
	}
	s.mu.Lock()
	s.batches = append(s.batches, ids)
	s.mu.Unlock()
}

// TestQueueHandsBatchesAndFreesTheirBytes: a BatchSink gets everything queued in one call, in
// order, and the queue's bytes return to zero once it has them.
func TestQueueHandsBatchesAndFreesTheirBytes(t *testing.T) {
	sink := &batchSink{}
	q := NewQueue(1<<20, sink, slog.New(slog.DiscardHandler))
	for _, id := range []string{"a", "b", "c"} {
		q.Record(context.Background(), &Event{RequestID: id})
	}
	if got, want := q.Bytes(), 3*(&Event{RequestID: "a"}).Size(); got != want || q.Len() != 3 {
		t.Fatalf("queued %d events of %d bytes, want 3 of %d", q.Len(), got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run delivers what is queued and returns
	q.Run(ctx, time.Hour)
	if len(sink.batches) != 1 || strings.Join(sink.batches[0], ",") != "a,b,c" { // one chunk
		t.Errorf("batches %v, want one of a,b,c", sink.batches)
	}
	if q.Bytes() != 0 || q.Len() != 0 || q.Dropped() != 0 {
		t.Errorf("after delivery: %d bytes, %d events, %d dropped; want 0, 0, 0", q.Bytes(), q.Len(), q.Dropped())
	}
}

// TestEventSizeCountsWhatTheEventHolds: strings, lists and the metadata map add to the size.
func TestEventSizeCountsWhatTheEventHolds(t *testing.T) {
	base := Event{RequestID: "r"}
	for _, tt := range []struct {
		name string
		e    Event
		want int64
	}{
		{"a string's bytes", Event{RequestID: "r", Model: "acct/model"}, 10},
		{"a team", Event{RequestID: "r", Teams: []string{"eng"}}, stringSize + 3},
		{"an attempt", Event{RequestID: "r", Attempts: []Attempt{{Target: "a/m", Status: "ok"}}}, attemptSize + 5},
		{"a metadata entry", Event{RequestID: "r", Metadata: map[string]string{"k": "vv"}}, 2*stringSize + 3},
		{"counted rules", Event{RequestID: "r", Counted: []string{"budget:x"}, WouldBlock: []string{"budget:x"}}, 2 * (stringSize + 8)},
	} {
		if got := tt.e.Size() - base.Size(); got != tt.want {
			t.Errorf("%s: adds %d bytes, want %d", tt.name, got, tt.want)
		}
	}
}

// realisticEvent is a chat request's event as the pipeline records it.
func realisticEvent() Event {
	return Event{
		RequestID: "01938f7e-5c2a-7b3e-9f1d-2a4b6c8d0e1f", Surface: "openai", Principal: "user:alice", KeyID: "k_01938f7e5c2a",
		Time: time.Now(), User: "alice", Teams: []string{"ml-platform", "search"}, Model: "openai-main/gpt-4o-mini", Target: "openai-main/gpt-4o-mini",
		Attempts:      []Attempt{{Target: "openai-main/gpt-4o-mini", Status: "ok", HTTPStatus: 200, Latency: 812 * time.Millisecond}},
		UpstreamModel: "gpt-4o-mini-2024-07-18", Operation: "chat", Stream: true, Metadata: map[string]string{"env": "prod", "feature": "summarize"},
		Counted: []string{"rate_limit:per-user-rpm", "budget:team-monthly"}, Status: "ok", HTTPStatus: 200,
		CostUSD: 0.000321, Priced: true, Latency: 830 * time.Millisecond, Upstream: 812 * time.Millisecond, TimeToFirstToken: 210 * time.Millisecond,
	}
}

type discardBatch struct{}

func (discardBatch) Record(context.Context, *Event)       {}
func (discardBatch) RecordBatch(context.Context, []Event) {}

// BenchmarkQueueCPUPerEvent is the CPU an event costs from Record to the sink, delivery
// included: one goroutine records and, every 1,024 events, delivers what is queued.
func BenchmarkQueueCPUPerEvent(b *testing.B) {
	e := realisticEvent()
	q := NewQueue(64<<20, discardBatch{}, slog.New(slog.DiscardHandler))
	var taken []*chunk
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q.Record(ctx, &e)
		if i++; i%1024 == 0 {
			taken = q.deliver(ctx, taken)
		}
	}
	if d := q.Dropped(); d != 0 {
		b.Fatalf("%d dropped", d)
	}
}

// TestQueueConcurrentRecordersKeepTheirOrder: events from many goroutines all arrive, each
// goroutine's in its order, across chunks.
func TestQueueConcurrentRecordersKeepTheirOrder(t *testing.T) {
	sink := &batchSink{}
	q := NewQueue(1<<30, sink, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	go q.Run(ctx, time.Hour)
	const writers, each = 8, 1000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				q.Record(context.Background(), &Event{RequestID: strconv.Itoa(w) + ":" + strconv.Itoa(i)})
			}
		})
	}
	wg.Wait()
	cancel()
	<-q.Done()
	next := make([]int, writers)
	n := 0
	for _, b := range sink.batches {
		if len(b) > chunkLen {
			t.Fatalf("a batch of %d, over a chunk", len(b))
		}
		for _, id := range b {
			w, i, _ := strings.Cut(id, ":")
			wi, _ := strconv.Atoi(w)
			ii, _ := strconv.Atoi(i)
			if ii != next[wi] {
				t.Fatalf("writer %d: event %d after %d", wi, ii, next[wi]-1)
			}
			next[wi]++
			n++
		}
	}
	if n != writers*each || q.Dropped() != 0 || q.Bytes() != 0 {
		t.Errorf("delivered %d of %d, dropped %d, %d bytes left", n, writers*each, q.Dropped(), q.Bytes())
	}
}

// TestQueueLingers: with Linger, a partly filled chunk waits for the linger's timer (armed with
// the configured delay, once per batch) and then goes in one batch; a full chunk goes at once;
// shutdown delivers what waits.
func TestQueueLingers(t *testing.T) {
	sink := &batchSink{}
	q := NewQueue(1<<30, sink, slog.New(slog.DiscardHandler))
	q.Linger = 50 * time.Millisecond
	armed := make(chan time.Duration, 16)
	fire := make(chan time.Time)
	q.NewTimer = func(d time.Duration) (<-chan time.Time, func() bool) {
		armed <- d
		return fire, func() bool { return true }
	}
	delivered := func() int {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		n := 0
		for _, b := range sink.batches {
			n += len(b)
		}
		return n
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx, time.Hour); close(done) }()

	for i := range 10 {
		q.Record(ctx, &Event{RequestID: fmt.Sprint("a", i)})
	}
	if d := <-armed; d != 50*time.Millisecond {
		t.Fatalf("linger armed for %v, want 50ms", d)
	}
	if n := delivered(); n != 0 {
		t.Fatalf("%d events delivered before the linger ended", n)
	}
	fire <- time.Now()
	waitFor("the lingering batch", func() bool { return delivered() == 10 })
	if len(sink.batches) != 1 {
		t.Errorf("batches %v, want the ten events in one", sink.batches)
	}

	// A full chunk does not wait for the timer, which is never fired here.
	for i := range chunkLen {
		q.Record(ctx, &Event{RequestID: fmt.Sprint("b", i)})
	}
	waitFor("a full chunk", func() bool { return delivered() == 10+chunkLen })

	q.Record(ctx, &Event{RequestID: "last"})
	cancel()
	<-done
	if n := delivered(); n != 10+chunkLen+1 {
		t.Errorf("after shutdown %d delivered, want %d", n, 10+chunkLen+1)
	}
}

// TestLingerWakesOncePerBatch: with a linger, only the first event of a batch and a full chunk
// wake the deliverer; without one, every event does.
func TestLingerWakesOncePerBatch(t *testing.T) {
	q := NewQueue(1<<30, &batchSink{}, slog.New(slog.DiscardHandler))
	q.Linger = time.Second
	ctx := context.Background()
	q.Record(ctx, &Event{RequestID: "first"})
	if len(q.wake) != 1 {
		t.Fatal("the first event of a batch did not wake the deliverer")
	}
	<-q.wake
	for i := range chunkLen - 2 {
		q.Record(ctx, &Event{RequestID: fmt.Sprint(i)})
	}
	if len(q.wake) != 0 {
		t.Fatal("an event of a lingering batch woke the deliverer")
	}
	q.Record(ctx, &Event{RequestID: "fills the chunk"})
	if len(q.wake) != 1 {
		t.Fatal("a full chunk did not wake the deliverer")
	}

	q = NewQueue(1<<30, &batchSink{}, slog.New(slog.DiscardHandler))
	q.Record(ctx, &Event{RequestID: "a"})
	<-q.wake
	q.Record(ctx, &Event{RequestID: "b"})
	if len(q.wake) != 1 {
		t.Fatal("without a linger an event did not wake the deliverer")
	}
}
