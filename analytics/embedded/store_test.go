package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/usage"

	"github.com/llmgw/llmgw/analytics/query"
	"github.com/llmgw/llmgw/analytics/query/querytest"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

func openTest(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), FileName), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestQuerierConformance(t *testing.T) {
	querytest.Run(t, func(t *testing.T, events []*usagev1.UsageEvent) query.Querier {
		s := openTest(t, Options{})
		if err := s.Write(context.Background(), events); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func count(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWriteSkipsRedeliveredEvents(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	e := querytest.Event{ID: "dup", Model: "acct/a", Teams: []string{"t"}, Meta: map[string]string{"k": "v"}}.Proto()
	if err := s.Write(ctx, []*usagev1.UsageEvent{e, e}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, []*usagev1.UsageEvent{e}); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"events", "event_records", "event_teams", "event_metadata"} {
		if n := count(t, s, table); n != 1 {
			t.Errorf("%s: %d rows, want 1", table, n)
		}
	}
}

// Events of the same millisecond, within a batch and across batches (and a restart), get
// distinct time-ordered keys.
func TestEventsOfOneMillisecond(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	ctx := context.Background()
	at := time.Date(2026, 3, 10, 12, 0, 0, 500_000, time.UTC) // 12:00:00.0005
	ev := func(id string) *usagev1.UsageEvent {
		return &usagev1.UsageEvent{EventId: id, Time: timestamppb.New(at), Status: "ok"}
	}
	for _, batch := range [][]string{{"a", "b", "c"}, {"d", "e"}} {
		s, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var es []*usagev1.UsageEvent
		for _, id := range batch {
			es = append(es, ev(id))
		}
		if err := s.Write(ctx, es); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, event_id FROM events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	base := keyOf(at)
	for rows.Next() {
		var id int64
		var eid string
		if err := rows.Scan(&id, &eid); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s@%d", eid, id-base))
	}
	if d := cmp.Diff([]string{"a@0", "b@1", "c@2", "d@3", "e@4"}, got); d != "" {
		t.Errorf("keys (-want +got)\n%s", d)
	}
}

func TestPruneDeletesExpiredEvents(t *testing.T) {
	now := querytest.T0.Add(10 * 24 * time.Hour)
	s := openTest(t, Options{Retention: 3 * 24 * time.Hour, Now: func() time.Time { return now }})
	ctx := context.Background()
	var es []*usagev1.UsageEvent
	for i, at := range []time.Duration{0, 6*24*time.Hour + 23*time.Hour, 7*24*time.Hour - time.Millisecond, 7 * 24 * time.Hour, 9 * 24 * time.Hour} {
		es = append(es, querytest.Event{ID: fmt.Sprintf("e%d", i), At: at, Model: "acct/a", Teams: []string{"t"}, Meta: map[string]string{"k": "v"},
			Bodies: &usagev1.Bodies{Request: []byte("q")}}.Proto())
	}
	if err := s.Write(ctx, es); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("pruned %d events, want 3 (older than now - 3 days)", n)
	}
	for _, table := range []string{"events", "event_records", "event_teams", "event_metadata", "event_bodies"} {
		if c := count(t, s, table); c != 2 {
			t.Errorf("%s: %d rows left, want 2", table, c)
		}
	}
	if _, err := s.Request(ctx, "e3", query.Filter{}); err != nil {
		t.Errorf("the event at the cutoff was deleted: %v", err)
	}
	now = now.Add(2 * 24 * time.Hour)
	if n, err := s.Prune(ctx); err != nil || n != 1 {
		t.Errorf("two days later: pruned %d (%v), want 1", n, err)
	}
}

func TestPruneWithoutRetentionKeepsEverything(t *testing.T) {
	s := openTest(t, Options{Now: func() time.Time { return querytest.T0.Add(1000 * 24 * time.Hour) }})
	ctx := context.Background()
	if err := s.Write(ctx, []*usagev1.UsageEvent{querytest.Event{ID: "old"}.Proto()}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx); err != nil || n != 0 || count(t, s, "events") != 1 {
		t.Errorf("pruned %d (%v) with no retention", n, err)
	}
}

// Pruning deletes in chunks, and all of them.
func TestPruneInChunks(t *testing.T) {
	now := querytest.T0.Add(48 * time.Hour)
	s := openTest(t, Options{Retention: 24 * time.Hour, Now: func() time.Time { return now }})
	s.chunk = 3
	ctx := context.Background()
	var es []*usagev1.UsageEvent
	for i := range 3*2 + 2 {
		es = append(es, &usagev1.UsageEvent{EventId: fmt.Sprintf("e%d", i), Time: timestamppb.New(querytest.T0.Add(time.Duration(i) * time.Millisecond)), Status: "ok"})
	}
	if err := s.Write(ctx, es); err != nil {
		t.Fatal(err)
	}
	es = append(es, &usagev1.UsageEvent{EventId: "kept", Time: timestamppb.New(now), Status: "ok"})
	if err := s.Write(ctx, es[len(es)-1:]); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx); err != nil || n != int64(len(es)-1) || count(t, s, "events") != 1 {
		t.Errorf("pruned %d of %d (%v)", n, len(es)-1, err)
	}
}

// The store as the usage queue's sink: Run writes what Record hands it, in the event's wire
// form, and writes what is buffered when it stops.
func TestRecordAndRun(t *testing.T) {
	s := openTest(t, Options{MaxBatch: 3})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(ran)
	}()
	at := querytest.T0.Add(time.Hour)
	ev := func(i int) usage.Event {
		return usage.Event{
			RequestID: fmt.Sprintf("r%d", i), Time: at, Model: "acct/a", Target: "acct/a", User: "alice", Teams: []string{"t1"},
			Status: "ok", Usage: chat.Usage{PromptTokens: 3, CompletionTokens: 4}, CostUSD: 0.25, Priced: true,
			Latency: 30 * time.Millisecond, Upstream: 20 * time.Millisecond, Metadata: map[string]string{"k": "v"},
			Attempts: []usage.Attempt{{Target: "acct/a", Status: "ok", HTTPStatus: 200, Latency: 20 * time.Millisecond}},
		}
	}
	for i := range 7 {
		e := ev(i)
		s.Record(context.Background(), &e)
	}
	s.RecordBatch(context.Background(), []usage.Event{ev(7), ev(8), ev(9)})
	cancel()
	<-ran
	res, err := s.Breakdown(context.Background(), query.BreakdownQuery{Filter: query.Filter{Start: at, End: at.Add(time.Second), Teams: []string{"t1"}, Metadata: map[string]string{"k": "v"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := query.Totals{Requests: 10, PromptTokens: 30, CompletionTokens: 40, CostUSD: 2.5}
	if d := cmp.Diff(want, res.Totals); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	e, err := s.Request(context.Background(), "r7", query.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if e.GetUpstreamUs() != 20_000 || e.GetOverheadUs() != 10_000 || e.GetTarget().GetAccount() != "acct" || len(e.GetAttempts()) != 1 {
		t.Errorf("stored event: %v", e)
	}
	// After Run has returned, Record drops instead of blocking forever.
	done := make(chan struct{})
	go func() {
		for range DefaultBuffer + 1 {
			s.Record(context.Background(), &usage.Event{RequestID: "late"})
		}
		close(done)
	}()
	<-done
}

func TestFileIsTheOwners(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.Write(context.Background(), []*usagev1.UsageEvent{querytest.Event{ID: "x"}.Proto()}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(filepath.Dir(s.path), FileName)
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), m)
		}
	}
}

// TestRunLingersForABatch: the events that arrive within Linger of a batch's first one wait
// for it (a transaction per event would cost more CPU than the requests); shutdown writes them.
func TestRunLingersForABatch(t *testing.T) {
	s := openTest(t, Options{Linger: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(ran)
	}()
	at := querytest.T0.Add(time.Hour)
	for i := range 3 {
		e := usage.Event{RequestID: fmt.Sprintf("l%d", i), Time: at, Model: "acct/a", Status: "ok"}
		s.Record(context.Background(), &e)
	}
	count := func() int64 {
		res, err := s.Breakdown(context.Background(), query.BreakdownQuery{Filter: query.Filter{Start: at, End: at.Add(time.Second)}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Totals.Requests
	}
	// Without the linger the writer would have written them by now; with it, nothing for an hour.
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if n := count(); n != 0 {
			t.Fatalf("%d events written before the linger ended", n)
		}
	}
	cancel()
	<-ran
	if n := count(); n != 3 {
		t.Errorf("%d events after shutdown, want 3", n)
	}
}

// The writer pauses every yieldEvery events while the gateway serves (so that, on one
// processor, requests run between slices of a batch), and not for the batches it writes at
// shutdown, when no request is left to serve.
func TestWriterPausesOnlyWhileServing(t *testing.T) {
	s := openTest(t, Options{})
	var pauses atomic.Int64
	s.sleep = func(time.Duration) { pauses.Add(1) }
	at := querytest.T0.Add(time.Hour)
	events := func(prefix string, n int) []*usagev1.UsageEvent {
		var es []*usagev1.UsageEvent
		for i := range n {
			es = append(es, &usagev1.UsageEvent{EventId: fmt.Sprintf("%s%d", prefix, i), Time: timestamppb.New(at.Add(time.Duration(i) * time.Millisecond)), Status: "ok"})
		}
		return es
	}
	if err := s.Write(context.Background(), events("serving", 10*yieldEvery)); err != nil {
		t.Fatal(err)
	}
	if got := pauses.Load(); got != 10 {
		t.Errorf("%d pauses writing %d events while serving, want 10", got, 10*yieldEvery)
	}

	// At shutdown: what Record buffered is written by Run after its context is done.
	pauses.Store(0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 10 * yieldEvery {
		s.in <- events(fmt.Sprintf("shutdown%d-", i), 1)[0]
	}
	s.Run(ctx)
	if got := pauses.Load(); got != 0 {
		t.Errorf("%d pauses writing the last batch at shutdown, want 0", got)
	}
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil || n != 20*yieldEvery {
		t.Errorf("%d events stored (%v), want %d", n, err, 20*yieldEvery)
	}
}
