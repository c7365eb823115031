package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/llmgw/pagetrim"
)

// TestTrimPages: the binary's pages are released as the server starts and at every tick, the
// first time logged at info, a failure as a warning, until the context ends.
func TestTrimPages(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	calls := 0
	release := func() (pagetrim.Result, error) {
		calls++
		if calls == 2 {
			return pagetrim.Result{}, errors.New("no smaps")
		}
		return pagetrim.Result{Mappings: 2, Resident: 5 << 20}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	tick := make(chan time.Time)
	done := make(chan struct{})
	go func() {
		trimPages(ctx, tick, release, logger)
		close(done)
	}()
	tick <- time.Time{} // received once the first release is done
	tick <- time.Time{}
	cancel()
	<-done
	if calls != 3 {
		t.Errorf("%d releases, want 3 (at start and at each of two ticks)", calls)
	}
	logs := buf.String()
	for _, want := range []string{
		`level=INFO msg="released the binary's resident pages" kb=5120 mappings=2`,
		`level=WARN msg="could not release the binary's resident pages" error="no smaps"`,
		`level=DEBUG msg="released the binary's resident pages" kb=5120 mappings=2`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

// TestServeTrimsPages: a serving gateway releases its binary's start-up pages.
func TestServeTrimsPages(t *testing.T) {
	g := startGateway(t, nil)
	waitUntil(t, func() bool { return strings.Contains(g.Logs.String(), `"msg":"released the binary's resident pages"`) })
}
