package pipeline

import (
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
)

func TestSeenSet(t *testing.T) {
	s := seenSet{max: 3}
	for i := range 3 {
		if !s.add(strconv.Itoa(i)) {
			t.Fatalf("%d is new", i)
		}
	}
	if s.add("0") || s.add("2") {
		t.Error("a remembered id was new again")
	}
	if !s.add("3") { // evicts the oldest, "0"
		t.Error("3 is new")
	}
	if !s.add("0") {
		t.Error("the oldest id was not forgotten")
	}
	if s.add("3") || len(s.ids) != 3 {
		t.Errorf("set holds %d ids", len(s.ids))
	}
	s.remove("3")
	if !s.add("3") {
		t.Error("a removed id was not new")
	}
	for _, id := range []string{"a", "b"} { // evict "1" and "2" (and the removed "3"'s old slot)
		s.add(id)
	}
	if s.add("3") {
		t.Error("evicting a removed id's old slot forgot it again")
	}
}

func TestRecordBatch(t *testing.T) {
	p, rec, _ := setup(t, &scripted{err: io.EOF})
	c, err := p.Admit("secret", "req-poll")
	if err != nil {
		t.Fatal(err)
	}
	ended := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	u := &chat.Usage{PromptTokens: 1_000_000, CompletionTokens: 100_000, TotalTokens: 1_100_000}
	calls := 0
	b := &EndedBatch{Model: "acct/m", Account: "acct", UpstreamID: "batch_1", Status: "completed", Ended: ended,
		Usage: func() (*chat.Usage, error) {
			calls++
			if calls == 1 {
				return nil, errors.New("output file unreadable")
			}
			return u, nil
		}}
	if err := p.RecordBatch(context.Background(), c, b); err == nil || len(rec.evs) != 0 {
		t.Fatalf("a failed usage read: err %v, %d events; want the error and no event", err, len(rec.evs))
	}
	for range 3 { // retried once, then remembered
		if err := p.RecordBatch(context.Background(), c, b); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 || len(rec.evs) != 1 {
		t.Fatalf("usage read %d times, %d events; want 2 and exactly 1", calls, len(rec.evs))
	}
	e := rec.evs[0]
	// acct/m costs $2 in and $10 out per million; the scripted adapter is no Batcher, so full price.
	if e.RequestID != "batch:acct:batch_1" || !e.Time.Equal(ended) || e.Status != "ok" || e.Operation != "batch" || e.User != "u" ||
		e.Usage != *u || !e.Priced || math.Abs(e.CostUSD-3) > 1e-9 || e.UsageMissing {
		t.Errorf("event %+v", e)
	}

	// A cancelled batch without usage is recorded as usage missing, never as free.
	err = p.RecordBatch(context.Background(), c, &EndedBatch{Model: "acct/unpriced", Account: "acct", UpstreamID: "batch_2", Status: "cancelled",
		Usage: func() (*chat.Usage, error) { return nil, nil }})
	if err != nil || len(rec.evs) != 2 {
		t.Fatalf("err %v, %d events", err, len(rec.evs))
	}
	if e := rec.evs[1]; e.Status != "cancelled" || !e.UsageMissing || e.Priced || e.Time.IsZero() {
		t.Errorf("cancelled batch event %+v", e)
	}
}
