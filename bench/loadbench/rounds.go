package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// inOrder returns ms ordered as their targets are in targets (a round measures them rotated).
func inOrder(ms []measurement, targets []string) []measurement {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b measurement) int {
		return slices.Index(targets, a.target) - slices.Index(targets, b.target)
	})
	return out
}

// spread is the median and the range of one figure over rounds.
type spread struct {
	median, low, high float64
	n                 int
}

// spreadOf returns xs's spread; the median of an even count is the mean of the middle two.
func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Sorted(slices.Values(xs))
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{median: m, low: s[0], high: s[len(s)-1], n: len(s)}
}

// summary is a rate's figures over its rounds: per target, CPU per request, p50 and p99; per
// llmgw target, its ratio to the proxy's CPU and its p50 minus the proxy's, each taken within
// a round (the proxy measured minutes apart on a shared machine is another machine).
type summary struct {
	rows        []summaryRow
	comparisons []summaryComparison
}

type summaryRow struct {
	target        string
	cpu, p50, p99 spread // µs, ms, ms
}

type summaryComparison struct {
	target   string
	cpuRatio spread
	cpuGoal  float64
	p50Delta spread // ms
	p50Goal  time.Duration
	p99Delta spread // ms
	p99Goal  time.Duration
	rss      spread // MB
	rssGoal  uint64
}

// summarize returns the summary of rounds, the reports of one rate's rounds.
func summarize(rounds []report) summary {
	var s summary
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	var targets []string
	for _, r := range rounds {
		for _, rw := range r.rows {
			if !slices.Contains(targets, rw.target) {
				targets = append(targets, rw.target)
			}
		}
	}
	for _, t := range targets {
		var cpu, p50, p99 []float64
		for _, r := range rounds {
			for _, rw := range r.rows {
				if rw.target == t {
					cpu = append(cpu, float64(rw.cpuPerRequest)/float64(time.Microsecond))
					p50 = append(p50, ms(rw.p50))
					p99 = append(p99, ms(rw.p99))
				}
			}
		}
		s.rows = append(s.rows, summaryRow{target: t, cpu: spreadOf(cpu), p50: spreadOf(p50), p99: spreadOf(p99)})
	}
	for _, t := range targets {
		c := summaryComparison{target: t}
		var ratios, deltas, deltas99, rss []float64
		for _, r := range rounds {
			for _, rc := range r.comparisons {
				if rc.target != t {
					continue
				}
				c.cpuGoal, c.p50Goal, c.p99Goal, c.rssGoal = rc.cpuGoal, rc.p50Goal, rc.p99Goal, rc.rssGoal
				if rc.cpuRatio > 0 {
					ratios = append(ratios, rc.cpuRatio)
				}
				deltas = append(deltas, ms(rc.p50Delta))
				deltas99 = append(deltas99, ms(rc.p99Delta))
				rss = append(rss, float64(rc.rss)/(1<<20))
			}
		}
		if len(deltas) == 0 {
			continue
		}
		c.cpuRatio, c.p50Delta, c.p99Delta, c.rss = spreadOf(ratios), spreadOf(deltas), spreadOf(deltas99), spreadOf(rss)
		s.comparisons = append(s.comparisons, c)
	}
	return s
}

// write prints the summary: medians, each with its range over the rounds.
func (s summary) write(w io.Writer) error {
	tw, nameWidth := newTable(w, s.rows, func(rw summaryRow) string { return rw.target })
	fmt.Fprintf(tw, "%-*s\trounds\tCPU µs/req median\t(range)\tp50 ms median\t(range)\tp99 ms median\t(range)\t\n", nameWidth, "target")
	for _, rw := range s.rows {
		fmt.Fprintf(tw, "%-*s\t%d\t%.1f\t(%.1f-%.1f)\t%.3f\t(%.3f-%.3f)\t%.3f\t(%.3f-%.3f)\t\n", nameWidth, rw.target, rw.cpu.n,
			rw.cpu.median, rw.cpu.low, rw.cpu.high, rw.p50.median, rw.p50.low, rw.p50.high, rw.p99.median, rw.p99.low, rw.p99.high)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range s.comparisons {
		ratio := "n/a (proxy CPU below clock resolution)"
		if c.cpuRatio.n > 0 {
			ratio = fmt.Sprintf("median %.2fx (range %.2f-%.2fx over %d rounds; goal <= %.1fx: %s on the median)",
				c.cpuRatio.median, c.cpuRatio.low, c.cpuRatio.high, c.cpuRatio.n, c.cpuGoal, metOrNot(c.cpuRatio.median <= c.cpuGoal))
		}
		goal := float64(c.p50Goal) / float64(time.Millisecond)
		if _, err := fmt.Fprintf(w, "\n%s vs bare proxy, within each round:\n  CPU per request: %s\n  added p50:       median %+.3f ms (range %+.3f to %+.3f; goal <= %.3f ms: %s on the median)\n",
			c.target, ratio, c.p50Delta.median, c.p50Delta.low, c.p50Delta.high, goal, metOrNot(c.p50Delta.median <= goal)); err != nil {
			return err
		}
		if c.p99Goal > 0 {
			goal := float64(c.p99Goal) / float64(time.Millisecond)
			if _, err := fmt.Fprintf(w, "  added p99:       median %+.3f ms (range %+.3f to %+.3f; goal <= %.3f ms: %s on the median)\n",
				c.p99Delta.median, c.p99Delta.low, c.p99Delta.high, goal, metOrNot(c.p99Delta.median <= goal)); err != nil {
				return err
			}
		}
		if c.rssGoal > 0 {
			goal := float64(c.rssGoal) / (1 << 20)
			if _, err := fmt.Fprintf(w, "  resident:        median %.1f MB (range %.1f-%.1f; goal <= %.1f MB at %d requests/s: %s on the median)\n",
				c.rss.median, c.rss.low, c.rss.high, goal, goalRSSRate, metOrNot(c.rss.median <= goal)); err != nil {
				return err
			}
		}
	}
	return nil
}
