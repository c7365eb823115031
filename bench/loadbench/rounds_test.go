package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSpreadOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []float64
		want spread
	}{
		{nil, spread{}},
		{[]float64{3}, spread{median: 3, low: 3, high: 3, n: 1}},
		{[]float64{5, 1, 3}, spread{median: 3, low: 1, high: 5, n: 3}},
		{[]float64{4, 1, 3, 10}, spread{median: 3.5, low: 1, high: 10, n: 4}},
	}
	for _, tt := range tests {
		if got := spreadOf(tt.in); got != tt.want {
			t.Errorf("spreadOf(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// Rounds measure the targets rotated; their reports list them in the configured order, and the
// summary takes each ratio within its round, so one slow round's proxy does not skew the others.
func TestSummarizeRounds(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	round := func(proxyCPU, gwCPU time.Duration, gwP50 time.Duration) report {
		ms := inOrder([]measurement{
			meas(targetLLMGW, gwP50, 3000*us, 10000, ok(10000), gwCPU*10000),
			meas(targetProxy, 500*us, 2000*us, 10000, ok(10000), proxyCPU*10000),
		}, []string{targetProxy, targetLLMGW})
		return buildReport(ms, false)
	}
	// Round 2's machine was slow for both: 1.5x the CPU of the others, same ratio.
	s := summarize([]report{round(200*us, 180*us, 520*us), round(300*us, 270*us, 600*us), round(210*us, 231*us, 540*us)})
	if got := []string{s.rows[0].target, s.rows[1].target}; !cmp.Equal(got, []string{targetProxy, targetLLMGW}) {
		t.Fatalf("rows in order %v", got)
	}
	if got, want := s.rows[0].cpu, (spread{median: 210, low: 200, high: 300, n: 3}); got != want {
		t.Errorf("proxy CPU %+v, want %+v", got, want)
	}
	if len(s.comparisons) != 1 {
		t.Fatalf("comparisons %+v", s.comparisons)
	}
	c := s.comparisons[0]
	if c.target != targetLLMGW || c.cpuRatio.n != 3 || c.cpuRatio.median != 0.9 || c.cpuRatio.low != 0.9 || c.cpuRatio.high != 1.1 {
		t.Errorf("ratio %+v: want median 0.9 (each round's own), range 0.9-1.1", c)
	}
	if c.p50Delta.median < 0.0399 || c.p50Delta.median > 0.0401 {
		t.Errorf("p50 delta median %v ms, want 0.040", c.p50Delta.median)
	}
	var out strings.Builder
	if err := s.write(&out); err != nil {
		t.Fatal(err)
	}
	wantAll(t, out.String(), "median 0.90x (range 0.90-1.10x over 3 rounds; goal <= 1.3x: met on the median)", "210.0", "(200.0-300.0)")
}

// TestSummarizeFullGoals: over rounds, a replica's added p99 and resident memory are
// summarized by their medians against issue 11's goals.
func TestSummarizeFullGoals(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	round := func(p99 time.Duration, rss uint64) report {
		replica := meas(targetReplica, 540*us, p99, 10000, ok(10000), 2*time.Second)
		replica.mem.rss = rss
		return buildReport([]measurement{meas(targetProxy, 500*us, 2000*us, 10000, ok(10000), 2*time.Second), replica}, false)
	}
	s := summarize([]report{round(2300*us, 24<<20), round(2700*us, 26<<20), round(2400*us, 25<<20)})
	var out strings.Builder
	if err := s.write(&out); err != nil {
		t.Fatal(err)
	}
	wantAll(t, out.String(),
		"added p99:       median +0.400 ms (range +0.300 to +0.700; goal <= 0.500 ms: met on the median)",
		"resident:        median 25.0 MB (range 24.0-26.0; goal <= 25.0 MB at 1000 requests/s: met on the median)",
	)
}
