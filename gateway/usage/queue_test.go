package usage

import (
	"context"
	"io"
	"log/slog"
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
	q := NewQueue(2, sink, logger)
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
	// The sink holds one event, the queue two; the other two are dropped and counted.
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
