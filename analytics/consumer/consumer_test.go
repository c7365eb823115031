package consumer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"

	"github.com/llmgw/llmgw/analytics/usagetest"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

var base = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// memLog is an in-memory one-partition topic with a consumer group's committed offset: a fake
// Reader. A new reader on the same log starts at the committed offset, as a restarted group
// member does.
type memLog struct {
	mu        sync.Mutex
	msgs      []kafka.Message
	committed int64
	commits   int
	more      chan struct{}
	// failCommit, when set, is called instead of committing.
	failCommit func() error
}

func newMemLog() *memLog { return &memLog{more: make(chan struct{})} }

func (l *memLog) add(values ...[]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range values {
		l.msgs = append(l.msgs, kafka.Message{Topic: "llmgw.usage", Offset: int64(len(l.msgs)), Value: v})
	}
	close(l.more)
	l.more = make(chan struct{})
}

func (l *memLog) reader() *memReader {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &memReader{log: l, next: l.committed}
}

func (l *memLog) state() (committed int64, commits int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.committed, l.commits
}

type memReader struct {
	log  *memLog
	next int64
}

var _ Reader = (*memReader)(nil)

func (r *memReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	for {
		r.log.mu.Lock()
		if r.next < int64(len(r.log.msgs)) {
			m := r.log.msgs[r.next]
			r.next++
			r.log.mu.Unlock()
			return m, nil
		}
		more := r.log.more
		r.log.mu.Unlock()
		select {
		case <-more:
		case <-ctx.Done():
			return kafka.Message{}, ctx.Err()
		}
	}
}

func (r *memReader) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	if r.log.failCommit != nil {
		return r.log.failCommit()
	}
	for _, m := range msgs {
		r.log.committed = max(r.log.committed, m.Offset+1)
	}
	r.log.commits++
	return nil
}

// memSink is an idempotent in-memory Sink that can be made to fail.
type memSink struct {
	mu      sync.Mutex
	stored  map[string]*usagev1.UsageEvent
	batches []int
	fail    error
	// written, when set, is called after each successful write.
	written func()
}

func newMemSink() *memSink { return &memSink{stored: map[string]*usagev1.UsageEvent{}} }

func (s *memSink) Write(ctx context.Context, events []*usagev1.UsageEvent) (int, error) {
	s.mu.Lock()
	if s.fail != nil {
		err := s.fail
		s.mu.Unlock()
		return 0, err
	}
	n := 0
	for _, e := range events {
		if s.stored[e.EventId] == nil {
			s.stored[e.EventId] = e
			n++
		}
	}
	s.batches = append(s.batches, len(events))
	written := s.written
	s.mu.Unlock()
	if written != nil {
		written()
	}
	// Like an insert whose context ends before its answer: stored, yet an error.
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return n, nil
}

func (s *memSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stored)
}

func (s *memSink) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func marshal(t *testing.T, events ...*usagev1.UsageEvent) [][]byte {
	t.Helper()
	var out [][]byte
	for _, e := range events {
		b, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// waitFor polls cond (the consumer works in its own goroutine) until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func run(t *testing.T, c *Consumer) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// TestBatchesBySizeAndCommitsAfterWrite: a full batch is written at once, and its offsets are
// committed after the write.
func TestBatchesBySizeAndCommitsAfterWrite(t *testing.T) {
	l, sink := newMemLog(), newMemSink()
	l.add(marshal(t, usagetest.Events("size", 0, 25, base)...)...)
	// An hour's wait: only the batch size can end these batches.
	c := New(l.reader(), sink, Options{BatchSize: 10, BatchWait: time.Hour})
	stop := run(t, c)
	waitFor(t, "two full batches", func() bool { _, n := l.state(); return n == 2 })
	if committed, _ := l.state(); committed != 20 {
		t.Errorf("committed offset %d, want 20", committed)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if diff := slices.Compare(sink.batches, []int{10, 10}); diff != 0 {
		t.Errorf("batches %v, want [10 10] (the last 5 wait for more, then are abandoned)", sink.batches)
	}
	if committed, _ := l.state(); committed != 20 {
		t.Errorf("after stop: committed %d, want 20: the abandoned batch must not be committed", committed)
	}
}

// TestBatchesByTime: a batch smaller than BatchSize is written once BatchWait has passed.
func TestBatchesByTime(t *testing.T) {
	l, sink := newMemLog(), newMemSink()
	c := New(l.reader(), sink, Options{BatchSize: 1000, BatchWait: 20 * time.Millisecond})
	run(t, c)
	l.add(marshal(t, usagetest.Events("time", 0, 3, base)...)...)
	waitFor(t, "the small batch committed", func() bool { off, _ := l.state(); return off == 3 })
	if sink.count() != 3 {
		t.Errorf("stored %d, want 3", sink.count())
	}
}

// TestRetriesWithCappedBackoffAndCommitsNothingWhileDown: while the sink fails the consumer
// retries the same batch, waiting MinBackoff, then twice as long each time up to MaxBackoff,
// commits nothing, and commits once the write succeeds.
func TestRetriesWithCappedBackoffAndCommitsNothingWhileDown(t *testing.T) {
	l, sink := newMemLog(), newMemSink()
	sink.setFail(errors.New("clickhouse is down"))
	l.add(marshal(t, usagetest.Events("down", 0, 5, base)...)...)
	var logs bytes.Buffer
	var mu sync.Mutex
	c := New(l.reader(), sink, Options{BatchSize: 5, MinBackoff: time.Millisecond, MaxBackoff: 8 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))})
	var waits []time.Duration
	c.wait = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		n := len(waits)
		mu.Unlock()
		if n == 7 {
			sink.setFail(nil)
		}
		return nil
	}
	run(t, c)
	waitFor(t, "the batch committed", func() bool { off, _ := l.state(); return off == 5 })
	mu.Lock()
	defer mu.Unlock()
	want := []time.Duration{1, 2, 4, 8, 8, 8, 8}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(waits, want) {
		t.Errorf("backoff %v, want %v", waits, want)
	}
	if st := c.Stats(); st.WriteFailures != 7 || st.Commits != 1 || st.Stored != 5 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "clickhouse is down") {
		t.Errorf("the failure is not logged:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// TestMalformedMessagesAreCountedSkippedAndCommitted: messages that are not usable events
// are counted, logged without their content, and committed with their batch; the good ones
// around them are stored.
func TestMalformedMessagesAreCountedSkippedAndCommitted(t *testing.T) {
	l, sink := newMemLog(), newMemSink()
	good := usagetest.Events("bad", 0, 3, base)
	noID := proto.Clone(good[0]).(*usagev1.UsageEvent)
	noID.EventId = ""
	noTime := proto.Clone(good[0]).(*usagev1.UsageEvent)
	noTime.EventId, noTime.Time = "no-time", nil
	secret := []byte("\xff\xff not protobuf: sk-secret-in-a-poison-pill")
	l.add(marshal(t, good[0])...)
	l.add(secret, nil)
	l.add(marshal(t, noID, noTime, good[1], good[2])...)
	var logs bytes.Buffer
	var mu sync.Mutex
	c := New(l.reader(), sink, Options{BatchSize: 3, BatchWait: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))})
	run(t, c)
	waitFor(t, "every message committed", func() bool { off, _ := l.state(); return off == 7 })
	if st := c.Stats(); st.Malformed != 4 || st.Messages != 7 || st.Stored != 3 {
		t.Errorf("stats %+v, want 4 malformed of 7, 3 stored", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "malformed usage message skipped"); n != 4 {
		t.Errorf("%d malformed messages logged, want 4:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "sk-secret") {
		t.Errorf("a malformed message's content reached the log:\n%s", logs.String())
	}
}

// TestCrashBetweenWriteAndCommitRedelivers: a consumer that dies after its write and before
// its commit leaves the batch uncommitted; the next one reads it again and the sink, being
// idempotent, stores nothing twice.
func TestCrashBetweenWriteAndCommitRedelivers(t *testing.T) {
	l, sink := newMemLog(), newMemSink()
	l.add(marshal(t, usagetest.Events("crash", 0, 10, base)...)...)
	died := make(chan struct{})
	l.failCommit = func() error {
		close(died)
		l.failCommit = func() error { return errors.New("dead") }
		return errors.New("killed")
	}
	c1 := New(l.reader(), sink, Options{BatchSize: 10})
	stop := run(t, c1)
	<-died
	stop()
	if off, n := l.state(); off != 0 || n != 0 {
		t.Fatalf("committed %d (%d commits) after the crash", off, n)
	}
	l.mu.Lock()
	l.failCommit = nil
	l.mu.Unlock()
	c2 := New(l.reader(), sink, Options{BatchSize: 10})
	run(t, c2)
	waitFor(t, "the redelivered batch committed", func() bool { off, _ := l.state(); return off == 10 })
	if sink.count() != 10 || c2.Stats().Stored != 0 || c2.Stats().Messages != 10 {
		t.Errorf("after redelivery: %d stored, second consumer %+v", sink.count(), c2.Stats())
	}
}

// TestStopAbandonsTheBatchBeingRetried: SIGTERM while ClickHouse is down ends Run promptly,
// without committing the batch.
func TestStopAbandonsTheBatchBeingRetried(t *testing.T) {
	l, sink := newMemLog(), newMemSink()
	sink.setFail(errors.New("down"))
	l.add(marshal(t, usagetest.Events("stop", 0, 4, base)...)...)
	c := New(l.reader(), sink, Options{BatchSize: 4, MinBackoff: time.Hour})
	stop := run(t, c)
	waitFor(t, "a failed write", func() bool { return c.Stats().WriteFailures > 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if off, n := l.state(); off != 0 || n != 0 {
		t.Errorf("committed %d (%d commits)", off, n)
	}
}

// TestStopFinishesTheWriteUnderWay: SIGTERM arriving while a write is under way does not cut
// the insert off half way: the write completes and its batch is committed before Run returns.
func TestStopFinishesTheWriteUnderWay(t *testing.T) {
	l, sink := newMemLog(), newMemSink()
	l.add(marshal(t, usagetest.Events("term", 0, 8, base)...)...)
	ctx, cancel := context.WithCancel(context.Background())
	sink.written = cancel // SIGTERM lands while the sink is writing
	c := New(l.reader(), sink, Options{BatchSize: 8})
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if off, n := l.state(); off != 8 || n != 1 {
		t.Errorf("committed offset %d in %d commits, want 8 in 1", off, n)
	}
	if sink.count() != 8 {
		t.Errorf("stored %d, want 8", sink.count())
	}
}
