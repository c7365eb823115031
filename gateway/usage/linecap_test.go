package usage

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLineCap: at most PerSecond request lines a second; the next second's first line is the
// count of those left out, then lines flow again.
func TestLineCap(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1_800_000_000, 0)
	r := LogRecorder{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Cap: &LineCap{PerSecond: 3, Now: func() time.Time { return now }}}
	ctx := context.Background()
	for range 10 {
		r.Record(ctx, &Event{RequestID: "a"})
	}
	if n := strings.Count(buf.String(), "msg=request "); n != 3 {
		t.Fatalf("%d lines in one second with a cap of 3:\n%s", n, buf.String())
	}
	buf.Reset()
	now = now.Add(time.Second)
	r.Record(ctx, &Event{RequestID: "b"})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "left_out=7") || !strings.Contains(lines[1], "request_id=b") {
		t.Errorf("next second: %q, want the count of the 7 left out, then the line", lines)
	}
	buf.Reset()
	r.Record(ctx, &Event{RequestID: "c"})
	if strings.Contains(buf.String(), "left_out") || !strings.Contains(buf.String(), "request_id=c") {
		t.Errorf("the count is logged once: %q", buf.String())
	}
}
