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
// first time logged at info, until the context ends; a failure is logged as a warning and ends
// the releases.
func TestTrimPages(t *testing.T) {
	ok := pagetrim.Result{Mappings: 2, Resident: 5 << 20}
	run := func(fail int) (calls int, logs string, ticksTaken int) {
		var buf syncBuffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		release := func() (pagetrim.Result, error) {
			calls++
			if calls == fail {
				return pagetrim.Result{}, errors.New("no smaps")
			}
			return ok, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tick := make(chan time.Time)
		done := make(chan struct{})
		go func() {
			trimPages(ctx, tick, release, logger)
			close(done)
		}()
		for range 2 { // each tick is received once the release before it is done
			select {
			case tick <- time.Time{}:
				ticksTaken++
			case <-done:
			}
		}
		cancel()
		<-done
		return calls, buf.String(), ticksTaken
	}

	calls, logs, ticks := run(0)
	if calls != 3 || ticks != 2 {
		t.Errorf("%d releases, %d ticks taken; want 3 (at start and at each of two ticks) and 2", calls, ticks)
	}
	for _, want := range []string{
		`level=INFO msg="released the binary's resident pages" kb=5120 mappings=2`,
		`level=DEBUG msg="released the binary's resident pages" kb=5120 mappings=2`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}

	calls, logs, ticks = run(2)
	if calls != 2 || ticks != 1 {
		t.Errorf("failing at the second release: %d releases, %d ticks taken; want 2 and 1", calls, ticks)
	}
	if want := `level=WARN msg="could not release the binary's resident pages; not trying again" error="no smaps"`; !strings.Contains(logs, want) {
		t.Errorf("logs lack %q:\n%s", want, logs)
	}
}
