package redact

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler is a slog.Handler that masks configured secrets in every record before the next
// handler formats it: in the message and in every string, error and other non-scalar attribute
// value, groups included. It is the logs' defence in depth: code should not log secrets in the
// first place.
//
// The secrets are those of the Redactor that current returns when the record is handled (the
// current snapshot's, which changes with the configuration); current must be cheap and safe
// for concurrent use, such as an atomic load, and may return nil for none. A record with no
// secret in it is passed on as it is: it costs one scan of its strings, without allocating.
// Attributes bound with WithAttrs are masked once, with the secrets current at that call.
//
// Handler is safe for concurrent use.
type Handler struct {
	next    slog.Handler
	current func() *Redactor
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler that masks the secrets of current() and passes records to next.
func NewHandler(next slog.Handler, current func() *Redactor) *Handler {
	return &Handler{next: next, current: current}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, rec slog.Record) error {
	r := h.current()
	if r.Len() == 0 {
		return h.next.Handle(ctx, rec)
	}
	dirty := r.Contains(rec.Message)
	if !dirty {
		rec.Attrs(func(a slog.Attr) bool {
			dirty = holds(r, a.Value)
			return !dirty
		})
	}
	if !dirty {
		return h.next.Handle(ctx, rec)
	}
	out := slog.NewRecord(rec.Time, rec.Level, r.Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(r, a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	r := h.current()
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = redactAttr(r, a)
	}
	return &Handler{next: h.next.WithAttrs(masked), current: h.current}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), current: h.current}
}

// holds reports whether v, resolved, carries a secret.
func holds(r *Redactor, v slog.Value) bool {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return r.Contains(v.String())
	case slog.KindGroup:
		for _, a := range v.Group() {
			if holds(r, a.Value) {
				return true
			}
		}
		return false
	case slog.KindAny:
		return r.Contains(anyText(v.Any()))
	}
	return false // numbers, booleans, times, durations
}

// redactAttr returns a with its value's secrets masked. A non-scalar value holding a secret
// (an error, a slice, a struct) becomes its masked text.
func redactAttr(r *Redactor, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, r.Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, m := range g {
			out[i] = redactAttr(r, m)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		if s := anyText(v.Any()); r.Contains(s) {
			return slog.String(a.Key, r.Redact(s))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// anyText is the text a handler would print for a non-scalar value.
func anyText(v any) string {
	switch v := v.(type) {
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	case []byte:
		return string(v)
	}
	return fmt.Sprint(v)
}
