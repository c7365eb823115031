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
