package usage

import (
	"context"
	"strings"
	"testing"
)

type listSink struct{ got []string }

func (s *listSink) Record(_ context.Context, e *Event) { s.got = append(s.got, e.RequestID) }

type batchListSink struct {
	listSink
	batches int
}

func (s *batchListSink) RecordBatch(_ context.Context, es []Event) {
	s.batches++
	for i := range es {
		s.got = append(s.got, es[i].RequestID)
	}
}

func TestTeeHandsEverySinkEveryEvent(t *testing.T) {
	one, batch := &listSink{}, &batchListSink{}
	tee := Tee{one, batch}
	tee.Record(context.Background(), &Event{RequestID: "a"})
	tee.RecordBatch(context.Background(), []Event{{RequestID: "b"}, {RequestID: "c"}})
	if got := strings.Join(one.got, ","); got != "a,b,c" {
		t.Errorf("a plain sink got %s", got)
	}
	if got := strings.Join(batch.got, ","); got != "a,b,c" || batch.batches != 1 {
		t.Errorf("a batch sink got %s in %d batches, want a,b,c with b and c in one", got, batch.batches)
	}
}
