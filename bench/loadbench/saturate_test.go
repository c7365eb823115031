package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRateSearch drives the search with a target that holds every rate up to
// capacity, and checks the rates it tries and where it stops.
func TestRateSearch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		start    int
		capacity int
		want     []int
		wantBest int
	}{
		{name: "doubles then bisects", start: 1000, capacity: 5000,
			want:     []int{1000, 2000, 4000, 8000, 6000, 5000, 5500, 5250},
			wantBest: 5000},
		{name: "start fails: bisects down", start: 1000, capacity: 300,
			want:     []int{1000, 500, 250, 375, 312, 281, 296, 304},
			wantBest: 296}, // within 5 % of the 304 that failed
		{name: "nothing holds", start: 4, capacity: 0,
			want:     []int{4, 2, 1},
			wantBest: 0},
		{name: "capped", start: saturateMaxRate / 2, capacity: 10 * saturateMaxRate,
			want:     []int{saturateMaxRate / 2, saturateMaxRate},
			wantBest: saturateMaxRate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s rateSearch
			var tried []int
			for rate := tt.start; rate > 0; rate = s.next(rate, rate <= tt.capacity) {
				tried = append(tried, rate)
				if len(tried) > 50 {
					t.Fatalf("search does not end: %v", tried)
				}
			}
			if diff := cmp.Diff(tt.want, tried); diff != "" {
				t.Errorf("rates tried (-want +got):\n%s", diff)
			}
			if s.held != tt.wantBest {
				t.Errorf("held = %d, want %d", s.held, tt.wantBest)
			}
		})
	}
}

func TestHolds(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	sent := func(m measurement, rate float64) measurement { m.metrics.Rate = rate; return m }
	tests := []struct {
		name    string
		m       measurement
		rate    int
		want    bool
		wantWhy string
	}{
		{name: "holds", m: meas(targetLLMGW, ms, 50*ms, 1000, ok(1000), 0), rate: 1000, want: true},
		{name: "p99 over", m: meas(targetLLMGW, ms, 51*ms, 1000, ok(1000), 0), rate: 1000, wantWhy: "p99 51.000 ms"},
		{name: "one non-2xx", m: meas(targetLLMGW, ms, 2*ms, 1000, map[string]int{"200": 999, "0": 1}, 0), rate: 1000, wantWhy: "99.90% 2xx"},
		{name: "generator fell behind", m: sent(meas(targetLLMGW, ms, 2*ms, 1000, ok(1000), 0), 940), rate: 1000, wantWhy: "sent 940 req/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, why := holds(tt.m, tt.rate)
			if got != tt.want || why != tt.wantWhy {
				t.Errorf("holds() = %v, %q, want %v, %q", got, why, tt.want, tt.wantWhy)
			}
		})
	}
}

func TestWriteSaturation(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	best := meas(targetProxy, 300*us, 4000*us, 40000, ok(40000), 4*time.Second)
	best.rate, best.metrics.Latencies.Mean, best.mem = 4000, 500*us, memory{rss: 20 << 20, peak: 24 << 20}
	var b strings.Builder
	err := writeSaturation(&b, []saturation{
		{target: targetProxy, best: &best, failedRate: 4200, failedWhy: "p99 63.000 ms"},
		{target: targetLLMGW, failedRate: 1, failedWhy: "0.00% 2xx"},
		{target: targetGoverned, err: errStopped{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		got = append(got, strings.Join(strings.Fields(line), " "))
	}
	want := []string{
		"target held req/s p50 ms mean ms p99 ms CPU µs/req RSS MB peak MB failed at req/s",
		"proxy 4000 0.300 0.500 4.000 100.0 20.0 24.0 4200 (p99 63.000 ms)",
		"llmgw - - - - - - - 1 (0.00% 2xx)",
		"llmgw-governed - - - - - - - error",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("writeSaturation() mismatch (-want +got):\n%s\nfull output:\n%s", diff, b.String())
	}
}

// errStopped is an error for a search that stopped.
type errStopped struct{}

func (errStopped) Error() string { return "stopped" }
