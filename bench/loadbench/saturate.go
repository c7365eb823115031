package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The open-loop saturation search (-saturate): per target, the highest fixed
// rate at which the target still keeps up.
const (
	// saturateMaxP99 is the most p99 latency a rate may show and still hold.
	saturateMaxP99 = 50 * time.Millisecond
	// saturateMinRateShare is the least share of the asked rate vegeta must
	// have sent: below it the generator, not the target, set the pace, and
	// the rate did not hold as asked.
	saturateMinRateShare = 0.95
	// saturateMaxRate caps the doubling: a target still holding there is
	// reported as holding it.
	saturateMaxRate = 200_000
	// saturatePrecision ends the bisection once the gap between the rate
	// that held and the one that did not is at most this share of the former.
	saturatePrecision = 0.05
)

// rateSearch finds the highest rate that holds: it doubles the rate from a
// start until one does not hold, then bisects between the highest that held
// and the lowest that did not, to within saturatePrecision.
type rateSearch struct {
	// held is the highest rate that held, 0 if none has; failed is the
	// lowest that did not, 0 if none has failed yet.
	held, failed int
}

// next records whether rate held and returns the next rate to try, or 0
// when the search is over.
func (s *rateSearch) next(rate int, held bool) int {
	if held {
		s.held = max(s.held, rate)
	} else if s.failed == 0 || rate < s.failed {
		s.failed = rate
	}
	if s.failed == 0 {
		if s.held >= saturateMaxRate {
			return 0
		}
		return min(2*s.held, saturateMaxRate)
	}
	if s.failed-s.held <= max(1, int(float64(s.held)*saturatePrecision)) {
		return 0
	}
	return (s.held + s.failed) / 2
}

// holds says whether a measurement at rate kept up: every request answered
// 2xx, p99 at most saturateMaxP99, and the rate sent as asked. When not, why
// says which failed first.
func holds(m measurement, rate int) (ok bool, why string) {
	switch {
	case m.metrics.count2xx() < m.metrics.Requests:
		return false, fmt.Sprintf("%.2f%% 2xx", 100*m.metrics.share2xx())
	case m.metrics.Latencies.P99 > saturateMaxP99:
		return false, "p99 " + formatMillis(m.metrics.Latencies.P99) + " ms"
	case m.metrics.Rate < saturateMinRateShare*float64(rate):
		return false, fmt.Sprintf("sent %.0f req/s", m.metrics.Rate)
	}
	return true, ""
}

// saturation is one target's search: the best rate's measurement, if any
// held, and the lowest rate that did not hold, with why.
type saturation struct {
	target string
	best   *measurement
	// failedRate is the lowest rate that did not hold (0: none did, up to
	// saturateMaxRate); failedWhy says why it did not.
	failedRate int
	failedWhy  string
	// err is set when the search stopped because the target could not be
	// measured at all (it did not start or died).
	err error
}

// saturateTarget starts target once and searches its highest rate that
// holds, beginning at start.
func (b *bench) saturateTarget(ctx context.Context, name string, start int, upstream *process, upURL, gateway string) saturation {
	out := saturation{target: name}
	t, err := b.startTarget(ctx, name, upstream, upURL, gateway)
	if err != nil {
		out.err = err
		return out
	}
	defer t.stop()
	var s rateSearch
	for rate := start; rate > 0; {
		m, err := b.measure(ctx, t, rate)
		if err != nil {
			out.err = fmt.Errorf("at %d req/s: %w", rate, err)
			return out
		}
		ok, why := holds(m, rate)
		b.log.Info("saturation step", "target", name, "rate", rate, "held", ok, "why", why,
			"p99_ms", formatMillis(m.metrics.Latencies.P99), "success_pct", fmt.Sprintf("%.2f", 100*m.metrics.share2xx()))
		if ok {
			out.best = &m
		} else if out.failedRate == 0 || rate < out.failedRate {
			out.failedRate, out.failedWhy = rate, why
		}
		rate = s.next(rate, ok)
	}
	return out
}

// saturateAll runs the saturation search on every target and prints its
// table.
func (b *bench) saturateAll(ctx context.Context, stdout io.Writer, upstream *process, upURL, gateway, startLoad string) error {
	var results []saturation
	var errs []error
	for _, name := range b.cfg.targets {
		r := b.saturateTarget(ctx, name, b.cfg.rates[0], upstream, upURL, gateway)
		results = append(results, r)
		if r.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, r.err))
			if errors.Is(r.err, context.Canceled) {
				break
			}
		}
	}
	fmt.Fprintf(stdout, "\n== open-loop saturation: the highest rate with p99 <= %s, every request 2xx and the rate sent as asked ==\n",
		saturateMaxP99)
	if err := writeSaturation(stdout, results); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nload average (1, 5, 15 min): %s at the start, %s at the end.\n", startLoad, loadAvg())
	return errors.Join(errs...)
}

// writeSaturation prints one line per target: the highest rate that held
// with its figures, and the lowest that did not with why.
func writeSaturation(w io.Writer, results []saturation) error {
	tw, nameWidth := newTable(w, results, func(r saturation) string { return r.target })
	fmt.Fprintf(tw, "%-*s\theld req/s\tp50 ms\tmean ms\tp99 ms\tCPU µs/req\tRSS MB\tpeak MB\tfailed at req/s\t\n", nameWidth, "target")
	for _, r := range results {
		cells := []string{"-", "-", "-", "-", "-", "-", "-"}
		if m := r.best; m != nil {
			l := m.metrics.Latencies
			cells = []string{strconv.Itoa(m.rate), formatMillis(l.P50), formatMillis(l.Mean), formatMillis(l.P99),
				formatMicros(m.cpuPerRequest()), formatMB(m.mem.rss), formatMB(m.mem.peak)}
		}
		failed := "-"
		switch {
		case r.err != nil:
			failed = "error"
		case r.failedRate > 0:
			failed = fmt.Sprintf("%d (%s)", r.failedRate, r.failedWhy)
		}
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t\n", nameWidth, r.target, strings.Join(cells, "\t"), failed)
	}
	return tw.Flush()
}
