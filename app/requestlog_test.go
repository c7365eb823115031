package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/usage"
)

// TestRequestLogFlags: --request-log-max-rate caps the lines the request log writes per second
// (default 1,000), 0 lifts the cap, and --request-log=false writes none.
func TestRequestLogFlags(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	lines := func(args ...string) int {
		t.Helper()
		cfg, err := parseFlags("serve", args, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		sink := requestLog(cfg, slog.New(slog.NewTextHandler(&buf, nil)), clock)
		for range 1500 {
			sink.Record(context.Background(), &usage.Event{RequestID: "r"})
		}
		return strings.Count(buf.String(), "msg=request ")
	}
	if n := lines(); n != 1000 {
		t.Errorf("default: %d lines in one second, want the cap of 1000", n)
	}
	if n := lines("--request-log-max-rate", "5"); n != 5 {
		t.Errorf("--request-log-max-rate 5: %d lines", n)
	}
	if n := lines("--request-log-max-rate", "0"); n != 1500 {
		t.Errorf("--request-log-max-rate 0: %d lines, want every one", n)
	}
	if n := lines("--request-log=false"); n != 0 {
		t.Errorf("--request-log=false: %d lines", n)
	}
}
