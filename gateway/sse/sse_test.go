package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReader(t *testing.T) {
	in := ": comment\n\nevent: message_start\ndata: {\"a\":1}\n\ndata: line1\ndata: line2\n\nevent: ping\n\nid: 7\ndata:nospace\n\ndata: [DONE]\n\n"
	r := NewReader(strings.NewReader(in))
	want := []Event{{"message_start", []byte(`{"a":1}`)}, {"", []byte("line1\nline2")}, {"", []byte("nospace")}, {"", []byte("[DONE]")}}
	for i, w := range want {
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.Name != w.Name || string(ev.Data) != string(w.Data) {
			t.Errorf("event %d = %q %q, want %q %q", i, ev.Name, ev.Data, w.Name, w.Data)
		}
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last event: %v, want io.EOF", err)
	}
}

func TestReaderTruncated(t *testing.T) {
	// The last event lacks its blank line: delivered, and the caller judges completeness.
	r := NewReader(strings.NewReader("data: {\"x\":1}\n"))
	if ev, err := r.Next(); err != nil || string(ev.Data) != `{"x":1}` {
		t.Fatalf("got %q, %v", ev.Data, err)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("got %v, want io.EOF", err)
	}
	// An event line without data at the very end is a truncated stream.
	r = NewReader(strings.NewReader("event: message_delta\n"))
	if _, err := r.Next(); !errors.Is(err, ErrTruncated) {
		t.Errorf("got %v, want ErrTruncated", err)
	}
}

func TestReaderLimit(t *testing.T) {
	r := NewReader(strings.NewReader("data: " + strings.Repeat("x", MaxEventSize+10) + "\n\n"))
	if _, err := r.Next(); err == nil {
		t.Error("an event over MaxEventSize was accepted")
	}
}

func TestAppendEvent(t *testing.T) {
	if got := string(AppendEvent(nil, "", []byte(`{}`))); got != "data: {}\n\n" {
		t.Errorf("got %q", got)
	}
	if got := string(AppendEvent([]byte("x"), "ping", []byte(`{}`))); got != "xevent: ping\ndata: {}\n\n" {
		t.Errorf("got %q", got)
	}
}

// reads is a reader that returns one element per Read, as a network connection returns what
// has arrived.
type reads []string

func (r *reads) Read(p []byte) (int, error) {
	if len(*r) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*r)[0])
	if n == len((*r)[0]) {
		*r = (*r)[1:]
	} else {
		(*r)[0] = (*r)[0][n:]
	}
	return n, nil
}

func TestReaderReady(t *testing.T) {
	// The first read brings two whole events and the start of a third; then a comment, then
	// the third's end.
	in := reads{"data: 1\n\ndata: 2\r\n\r\ndata: 3\n", ": keep-alive\n\n", "\n"}
	r := NewReader(&in)
	if r.Ready() {
		t.Fatal("Ready before anything was read")
	}
	steps := []struct {
		data  string
		ready bool // after the event: the next is whole in memory
	}{
		{"1", true},  // event 2 came in the same read
		{"2", false}, // event 3 lacks its blank line
		{"3", false}, // nothing buffered
	}
	for _, s := range steps {
		ev, err := r.Next()
		if err != nil || string(ev.Data) != s.data {
			t.Fatalf("Next = %q, %v; want %q", ev.Data, err, s.data)
		}
		if got := r.Ready(); got != s.ready {
			t.Errorf("after event %s: Ready = %v, want %v", s.data, got, s.ready)
		}
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("got %v, want io.EOF", err)
	}
}

func TestReaderReadyIgnoresEventsWithoutData(t *testing.T) {
	// A whole comment or an event without data is skipped by Next, which would then wait.
	for _, buffered := range []string{": ping\n\n", "event: ping\n\n", "data: x\n"} {
		in := reads{"data: 0\n\n" + buffered}
		r := NewReader(&in)
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		if r.Ready() {
			t.Errorf("Ready with %q buffered", buffered)
		}
	}
}

func TestReaderLongLine(t *testing.T) {
	// Lines longer than the read buffer are put together.
	long := strings.Repeat("x", 3*readSize+7)
	in := reads{"data: " + long[:readSize], long[readSize:] + "\r\n\r\ndata: y\n\n"}
	r := NewReader(&in)
	for _, want := range []string{long, "y"} {
		ev, err := r.Next()
		if err != nil || string(ev.Data) != want {
			t.Fatalf("got %d bytes, %v; want %d", len(ev.Data), err, len(want))
		}
	}
}
