package logbuffer

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock runs scheduled functions when the test says the time has come.
type fakeClock struct {
	mu      sync.Mutex
	pending []func()
	delays  []time.Duration
}

func (c *fakeClock) after(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, f)
	c.delays = append(c.delays, d)
	return func() bool { return false }
}

func (c *fakeClock) fire() {
	c.mu.Lock()
	fs := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// countingWriter records each write the buffer makes to it.
type countingWriter struct {
	bytes.Buffer
	writes int
	err    error
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.err != nil {
		return 0, w.err
	}
	return w.Buffer.Write(p)
}

// TestLinesWaitForTheDelay: lines stay buffered until the delay passes, then leave in one write;
// one flush is scheduled per batch, with the configured delay.
func TestLinesWaitForTheDelay(t *testing.T) {
	var out countingWriter
	clk := &fakeClock{}
	w := New(&out, 100*time.Millisecond, clk.after)
	for i := range 50 {
		if _, err := w.Write([]byte("line " + string(rune('a'+i%26)) + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	if out.writes != 0 {
		t.Fatalf("%d writes before the delay passed, want 0", out.writes)
	}
	if len(clk.delays) != 1 || clk.delays[0] != 100*time.Millisecond {
		t.Fatalf("scheduled flushes %v, want one after 100ms", clk.delays)
	}
	clk.fire()
	if out.writes != 1 || strings.Count(out.String(), "\n") != 50 {
		t.Fatalf("after the delay: %d writes of %d lines, want 1 of 50", out.writes, strings.Count(out.String(), "\n"))
	}
	_, _ = w.Write([]byte("next\n"))
	if len(clk.delays) != 2 {
		t.Errorf("a line after a flush scheduled %d flushes in all, want 2", len(clk.delays))
	}
	if err := w.Close(); err != nil || !strings.HasSuffix(out.String(), "next\n") {
		t.Errorf("Close: %v; output ends %q", err, out.String()[out.Len()-10:])
	}
}

// TestFullBufferGoesAtOnce: a line that would overflow the buffer sends what it holds first, and
// a line larger than the buffer goes straight through, in order.
func TestFullBufferGoesAtOnce(t *testing.T) {
	var out countingWriter
	clk := &fakeClock{}
	w := New(&out, time.Hour, clk.after)
	line := bytes.Repeat([]byte("x"), 1000)
	line[999] = '\n'
	for range Size / 1000 {
		_, _ = w.Write(line)
	}
	if out.writes != 0 {
		t.Fatalf("%d writes before the buffer filled", out.writes)
	}
	_, _ = w.Write(line)
	if out.writes != 1 || out.Len() != (Size/1000)*1000 {
		t.Fatalf("overflow: %d writes, %d bytes out", out.writes, out.Len())
	}
	big := append(bytes.Repeat([]byte("y"), Size+1), '\n')
	_, _ = w.Write(big)
	if out.writes != 3 || !bytes.HasSuffix(out.Bytes(), big) {
		t.Fatalf("a line larger than the buffer: %d writes, want the buffered line then it (3)", out.writes)
	}
}

// TestWarningsFlush: through Handler, an info line waits and a warning takes it out with it.
func TestWarningsFlush(t *testing.T) {
	var out countingWriter
	clk := &fakeClock{}
	w := New(&out, time.Hour, clk.after)
	log := slog.New(Handler(slog.NewTextHandler(w, nil), w)).With("component", "test")
	log.Info("request", "n", 1)
	if out.writes != 0 {
		t.Fatalf("an info line was written at once")
	}
	log.WithGroup("g").Warn("upstream failing", "n", 2)
	if out.writes != 1 || !strings.Contains(out.String(), "msg=request") || !strings.Contains(out.String(), "upstream failing") {
		t.Fatalf("after a warning: %d writes, output %q", out.writes, out.String())
	}
}

// TestWriteErrorsAreReported: the underlying writer's failure comes back from the next Write.
func TestWriteErrorsAreReported(t *testing.T) {
	out := &countingWriter{err: errors.New("disk full")}
	clk := &fakeClock{}
	w := New(out, time.Second, clk.after)
	_, _ = w.Write([]byte("a\n"))
	clk.fire()
	if _, err := w.Write([]byte("b\n")); err == nil || err.Error() != "disk full" {
		t.Errorf("Write after a failed flush: %v, want disk full", err)
	}
}

// TestConcurrentWriters: lines written from many goroutines all arrive whole (run with -race).
func TestConcurrentWriters(t *testing.T) {
	var out countingWriter
	w := New(&out, time.Millisecond, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				_, _ = w.Write([]byte("goroutine " + string(rune('0'+g)) + " line\n"))
			}
		}()
	}
	wg.Wait()
	_ = w.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4000 {
		t.Fatalf("%d lines, want 4000", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "goroutine ") || !strings.HasSuffix(l, " line") {
			t.Fatalf("torn line %q", l)
		}
	}
}
