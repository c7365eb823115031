// Package logbuffer holds log lines for a short, bounded time and writes them together: a
// gateway logs a line per request, and one write system call per line is a measurable part of
// what a request costs. Lines reach the underlying writer at most Delay after they were
// written, at once when the buffer fills, after every record at warning level or above
// (Handler), and at Close.
package logbuffer

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Size is the buffer's capacity: lines written while it holds this much go out at once.
const Size = 64 << 10

// Writer buffers writes to W for at most Delay. Its zero value is not usable: use New.
type Writer struct {
	w     io.Writer
	delay time.Duration
	after func(time.Duration, func()) (stop func() bool)

	mu    sync.Mutex
	buf   []byte
	armed bool  // a flush is scheduled
	err   error // the underlying writer's last error, returned by the next Write
}

// New returns a Writer that writes to w at most delay after each line. after schedules a
// function (time.AfterFunc when nil; tests pass a fake clock's).
func New(w io.Writer, delay time.Duration, after func(time.Duration, func()) (stop func() bool)) *Writer {
	if after == nil {
		after = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	return &Writer{w: w, delay: delay, after: after, buf: make([]byte, 0, Size)}
}

// Write buffers p (one log line, as slog's handlers write them). It never blocks on the
// underlying writer unless the buffer is full or p is larger than it.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.err
	b.err = nil
	if len(b.buf)+len(p) > cap(b.buf) {
		b.flushLocked()
		if len(p) > cap(b.buf) {
			if _, werr := b.w.Write(p); werr != nil && err == nil {
				err = werr
			}
			return len(p), err
		}
	}
	b.buf = append(b.buf, p...)
	if !b.armed {
		b.armed = true
		b.after(b.delay, b.Flush)
	}
	return len(p), err
}

// Flush writes what is buffered now.
func (b *Writer) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *Writer) flushLocked() {
	b.armed = false // a timer that fires after this flush finds nothing, or a later line
	if len(b.buf) == 0 {
		return
	}
	if _, err := b.w.Write(b.buf); err != nil {
		b.err = err
	}
	b.buf = b.buf[:0]
}

// Close writes what is buffered. Lines written after Close are still written, at the next
// flush; Close is for the end of the process.
func (b *Writer) Close() error {
	b.Flush()
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.err
	b.err = nil
	return err
}

// Handler wraps h, which writes to w, so that a record at warning level or above is written
// through at once, with every line before it: warnings and errors are never held back.
func Handler(h slog.Handler, w *Writer) slog.Handler { return &handler{h: h, w: w} }

type handler struct {
	h slog.Handler
	w *Writer
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	err := h.h.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		h.w.Flush()
	}
	return err
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{h: h.h.WithAttrs(as), w: h.w}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{h: h.h.WithGroup(name), w: h.w}
}
