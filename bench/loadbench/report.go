package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Goals from the issues, printed next to the measured figures; the run never
// fails on them. llmgw's CPU per request may be 1.3x the bare proxy's (the
// issue that asked for `make bench`); with the guards on, at most the proxy's
// (issue 8). Both may add at most 0.1 ms to the proxy's p50; with everything on, 0.05 ms
// (issue 11; 0.1 ms for streams).
const (
	goalCPURatio         = 1.3
	goalGovernedCPURatio = 1.0
	// goalFullCPURatio is issue 11's goal with everything on (governance, a routed virtual
	// model, usage events to Kafka): at most 0.9x the bare proxy's CPU per request.
	goalFullCPURatio = 0.9
	goalP50DeltaMax  = 100 * time.Microsecond
	// goalFullP50DeltaMax is issue 11's bound on the p50 an llmgw with everything on adds to
	// the proxy's (goalP50DeltaMax for streams). The issue states it at 1,000 requests/s; the
	// report holds every rate to it.
	goalFullP50DeltaMax = 50 * time.Microsecond
	// goalFullP99DeltaMax is issue 11's bound on the p99 an llmgw with everything on adds to
	// the proxy's, at 1,000 requests/s; the report holds every rate to it.
	goalFullP99DeltaMax = 500 * time.Microsecond
	// goalFullRSS is issue 11's bound on the resident memory of an llmgw with everything on,
	// at 1,000 requests/s (goalRSSRate): the report shows it for requests at that rate only.
	goalFullRSS = 25 << 20
	goalRSSRate = 1000
	// goalStreamCPURatio is issue 11's goal for a streamed request of 20
	// chunks, for either llmgw target: at most 1.1x the bare proxy's CPU.
	goalStreamCPURatio = 1.1
	// maxNon2xxPercent is the share of non-2xx answers (including
	// transport errors, which vegeta records as status 0) above which a
	// target is considered broken and the run fails.
	maxNon2xxPercent = 1
	// minStreamShare is the least share of the fake upstream's stream
	// (with its usage chunk) a target's answers must average when streamed:
	// fewer bytes mean truncated streams or answers that were not streamed,
	// and the figures would measure less work than the proxy does.
	minStreamShare = 0.9
)

// vegetaMetrics is the part of `vegeta report -type=json` loadbench reads.
// Durations are integer nanoseconds, as vegeta encodes time.Duration.
type vegetaMetrics struct {
	Latencies struct {
		P50  time.Duration `json:"50th"`
		P99  time.Duration `json:"99th"`
		Mean time.Duration `json:"mean"`
		Max  time.Duration `json:"max"`
	} `json:"latencies"`
	BytesIn struct {
		Mean float64 `json:"mean"`
	} `json:"bytes_in"`
	Requests    uint64         `json:"requests"`
	Rate        float64        `json:"rate"`
	StatusCodes map[string]int `json:"status_codes"`
	Errors      []string       `json:"errors"`
}

// parseVegetaMetrics decodes the output of `vegeta report -type=json`.
func parseVegetaMetrics(data []byte) (vegetaMetrics, error) {
	var m vegetaMetrics
	if err := json.Unmarshal(data, &m); err != nil {
		return vegetaMetrics{}, fmt.Errorf("vegeta report: %w", err)
	}
	if m.Requests == 0 {
		return vegetaMetrics{}, errors.New("vegeta report: no requests were made")
	}
	return m, nil
}

// count2xx is the number of requests answered with a 2xx status.
func (m vegetaMetrics) count2xx() uint64 {
	var ok uint64
	for code, n := range m.StatusCodes {
		if c, err := strconv.Atoi(code); err == nil && c >= 200 && c < 300 && n > 0 {
			ok += uint64(n)
		}
	}
	return ok
}

// share2xx is the fraction of requests answered with a 2xx status.
func (m vegetaMetrics) share2xx() float64 {
	if m.Requests == 0 {
		return 0
	}
	return float64(m.count2xx()) / float64(m.Requests)
}

// tooManyNon2xx reports whether more than maxNon2xxPercent of the requests
// did not get a 2xx answer. It counts in integers so that exactly 1% passes.
func (m vegetaMetrics) tooManyNon2xx() bool {
	ok := m.count2xx()
	if ok >= m.Requests {
		return false
	}
	return (m.Requests-ok)*100 > maxNon2xxPercent*m.Requests
}

// measurement is what one attack on one target produced.
type measurement struct {
	target string
	// rate is the open loop's rate in requests per second; 0 for the closed loop.
	rate    int
	metrics vegetaMetrics
	// cpu is the user+system CPU time the target process used during the
	// measured attack (warm-up excluded).
	cpu time.Duration
	// mem is the target process's resident memory right after the measured
	// attack, and its peak since it started (warm-up included).
	mem memory
	// samples are its resident memory every memEvery during the attack (-mem-every).
	samples  []memory
	memEvery time.Duration
}

// memoryOverTime is how a soak's resident memory moved: at the attack's start, its end, the
// lowest and highest sample, and the growth from the first sample after the first tenth of
// the attack (once connections and caches are warm) to the last.
type memoryOverTime struct {
	first, last, low, high, settled uint64
	n                               int
}

func overTime(samples []memory) (memoryOverTime, bool) {
	if len(samples) < 2 {
		return memoryOverTime{}, false
	}
	o := memoryOverTime{first: samples[0].rss, last: samples[len(samples)-1].rss, low: samples[0].rss, high: samples[0].rss, n: len(samples)}
	o.settled = samples[max(len(samples)/10, 1)].rss
	for _, s := range samples {
		o.low, o.high = min(o.low, s.rss), max(o.high, s.rss)
	}
	return o, true
}

// growthMB is the last sample minus the settled one, in MB (negative when it shrank).
func (o memoryOverTime) growthMB() float64 {
	return (float64(o.last) - float64(o.settled)) / (1 << 20)
}

// cpuPerRequest is the target's CPU time divided by the requests sent.
func (m measurement) cpuPerRequest() time.Duration {
	if m.metrics.Requests == 0 {
		return 0
	}
	return m.cpu / time.Duration(m.metrics.Requests)
}

// row is one line of the printed table.
type row struct {
	target         string
	rate           float64
	successPct     float64
	p50, mean, p99 time.Duration
	// addedP50, addedMean and addedP99 are the figure minus the direct
	// target's; hasAdded is false when there is no direct measurement or
	// for direct.
	addedP50, addedMean, addedP99 time.Duration
	hasAdded                      bool
	cpuPerRequest                 time.Duration
	// rss and peak are the process's resident memory after the attack and
	// its peak, in bytes.
	rss, peak uint64
	// file is the part of rss that is file pages (memory.file), 0 when unknown.
	file uint64
}

// comparison holds the two figures the issues name for one llmgw target,
// present only when both the proxy and that target were measured.
type comparison struct {
	target string
	// cpuRatio is the target's CPU per request over the proxy's; 0 when the
	// proxy's is below the clock's resolution.
	cpuRatio float64
	// cpuGoal is the most cpuRatio the issues allow.
	cpuGoal float64
	// p50Delta is the target's added p50 minus the proxy's, which equals its
	// p50 minus the proxy's since both subtract the same direct p50.
	p50Delta time.Duration
	// p50Goal is the most p50Delta the issues allow.
	p50Goal time.Duration
	// p99Delta is the target's p99 minus the proxy's; p99Goal the most the issues allow, 0
	// when they state none.
	p99Delta, p99Goal time.Duration
	// rss is the target's resident memory after the attack; rssGoal the most the issues
	// allow at this load, 0 when they state none.
	rss, rssGoal uint64
}

// guardCost is what the guards add: llmgw-governed's figures minus llmgw's,
// present only when both were measured.
type guardCost struct {
	cpuPerRequest time.Duration
	p50, p99      time.Duration
}

// report is the whole outcome of a run.
type report struct {
	rows []row
	// comparisons are llmgw's and llmgw-governed's, in that order.
	comparisons []comparison
	guards      *guardCost
	// failures names each target that answered too many non-2xx.
	failures []string
}

// buildReport turns measurements into the table rows, the llmgw-vs-proxy
// comparison, and the list of targets that failed the success threshold.
// stream says the requests were streamed, which has its own CPU goal.
func buildReport(ms []measurement, stream bool) report {
	var r report
	byTarget := make(map[string]measurement, len(ms))
	for _, m := range ms {
		byTarget[m.target] = m
	}
	direct, hasDirect := byTarget[targetDirect]
	for _, m := range ms {
		ok := m.metrics.share2xx()
		rw := row{
			target:        m.target,
			rate:          m.metrics.Rate,
			successPct:    100 * ok,
			p50:           m.metrics.Latencies.P50,
			mean:          m.metrics.Latencies.Mean,
			p99:           m.metrics.Latencies.P99,
			cpuPerRequest: m.cpuPerRequest(),
			rss:           m.mem.rss,
			file:          m.mem.file,
			peak:          m.mem.peak,
		}
		if hasDirect && m.target != targetDirect {
			rw.hasAdded = true
			rw.addedP50 = rw.p50 - direct.metrics.Latencies.P50
			rw.addedMean = rw.mean - direct.metrics.Latencies.Mean
			rw.addedP99 = rw.p99 - direct.metrics.Latencies.P99
		}
		r.rows = append(r.rows, rw)
		if m.metrics.tooManyNon2xx() {
			r.failures = append(r.failures, fmt.Sprintf("%s: %.2f%% non-2xx (status codes %s%s)",
				m.target, 100*(1-ok), formatStatusCodes(m.metrics.StatusCodes), formatErrors(m.metrics.Errors)))
		} else if want := float64(streamSize()); stream && m.metrics.BytesIn.Mean < minStreamShare*want {
			r.failures = append(r.failures, fmt.Sprintf("%s: answers average %.0f bytes, under %.0f%% of the %.0f-byte stream: truncated or not streamed",
				m.target, m.metrics.BytesIn.Mean, 100*minStreamShare, want))
		}
	}
	proxy, hasProxy := byTarget[targetProxy]
	for _, g := range []struct {
		target           string
		goal             float64
		p50Goal, p99Goal time.Duration
		rssGoal          uint64
	}{
		{targetLLMGW, goalCPURatio, goalP50DeltaMax, 0, 0},
		{targetGoverned, goalGovernedCPURatio, goalP50DeltaMax, 0, 0},
		{targetFull, goalFullCPURatio, goalFullP50DeltaMax, goalFullP99DeltaMax, goalFullRSS},
		{targetReplica, goalFullCPURatio, goalFullP50DeltaMax, goalFullP99DeltaMax, goalFullRSS},
	} {
		if stream {
			g.goal, g.p50Goal, g.rssGoal = goalStreamCPURatio, goalP50DeltaMax, 0
		}
		gw, ok := byTarget[g.target]
		if !hasProxy || !ok {
			continue
		}
		if math.Abs(gw.metrics.Rate-goalRSSRate) > 0.05*goalRSSRate {
			g.rssGoal = 0
		}
		c := comparison{target: g.target, cpuGoal: g.goal, p50Delta: gw.metrics.Latencies.P50 - proxy.metrics.Latencies.P50, p50Goal: g.p50Goal,
			p99Delta: gw.metrics.Latencies.P99 - proxy.metrics.Latencies.P99, p99Goal: g.p99Goal, rss: gw.mem.rss, rssGoal: g.rssGoal}
		if p := proxy.cpuPerRequest(); p > 0 {
			c.cpuRatio = float64(gw.cpuPerRequest()) / float64(p)
		}
		r.comparisons = append(r.comparisons, c)
	}
	plain, hasPlain := byTarget[targetLLMGW]
	governed, hasGoverned := byTarget[targetGoverned]
	if hasPlain && hasGoverned {
		r.guards = &guardCost{
			cpuPerRequest: governed.cpuPerRequest() - plain.cpuPerRequest(),
			p50:           governed.metrics.Latencies.P50 - plain.metrics.Latencies.P50,
			p99:           governed.metrics.Latencies.P99 - plain.metrics.Latencies.P99,
		}
	}
	return r
}

// err reports the targets that failed the success threshold or, streamed,
// did not relay whole streams, or nil.
func (r report) err() error {
	if len(r.failures) == 0 {
		return nil
	}
	return fmt.Errorf("targets whose figures measure an error path: %s", strings.Join(r.failures, "; "))
}

// writeMemory prints, for each measurement sampled during its attack, how its resident memory
// moved.
func writeMemory(w io.Writer, ms []measurement) error {
	for _, m := range ms {
		o, ok := overTime(m.samples)
		if !ok {
			continue
		}
		if _, err := fmt.Fprintf(w, "%s resident memory during the attack, sampled every %s (%d samples): %s MB at the start, %s MB after the first tenth, %s MB at the end: growth %+.1f MB; lowest %s, highest %s\n",
			m.target, m.memEvery, o.n, formatMB(o.first), formatMB(o.settled), formatMB(o.last), o.growthMB(), formatMB(o.low), formatMB(o.high)); err != nil {
			return err
		}
	}
	return nil
}

// write prints the table and the comparison to w.
func (r report) write(w io.Writer) error {
	tw, nameWidth := newTable(w, r.rows, func(rw row) string { return rw.target })
	fmt.Fprintf(tw, "%-*s\trate/s\tsuccess %%\tp50 ms\tmean ms\tp99 ms\tadded p50 ms\tadded mean ms\tadded p99 ms\tCPU µs/req\tRSS MB\tfile MB\tpeak MB\t\n", nameWidth, "target")
	for _, rw := range r.rows {
		added50, addedMean, added99 := "-", "-", "-"
		if rw.hasAdded {
			added50, addedMean, added99 = formatMillis(rw.addedP50), formatMillis(rw.addedMean), formatMillis(rw.addedP99)
		}
		file := "-"
		if rw.file > 0 {
			file = formatMB(rw.file)
		}
		fmt.Fprintf(tw, "%-*s\t%.0f\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			nameWidth, rw.target, rw.rate, rw.successPct, formatMillis(rw.p50), formatMillis(rw.mean), formatMillis(rw.p99),
			added50, addedMean, added99, formatMicros(rw.cpuPerRequest), formatMB(rw.rss), file, formatMB(rw.peak))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.comparisons) == 0 {
		_, err := fmt.Fprintln(w, "\nllmgw vs bare proxy: not compared (needs the proxy and an llmgw target)")
		return err
	}
	for _, c := range r.comparisons {
		ratio := "n/a (proxy CPU below clock resolution)"
		if c.cpuRatio > 0 {
			ratio = fmt.Sprintf("%.2fx (goal <= %.1fx: %s)", c.cpuRatio, c.cpuGoal, metOrNot(c.cpuRatio <= c.cpuGoal))
		}
		if _, err := fmt.Fprintf(w, "\n%s vs bare proxy:\n  CPU per request: %s\n  added p50:       %s ms (goal <= %s ms: %s)\n",
			c.target, ratio, formatMillisSigned(c.p50Delta), formatMillis(c.p50Goal), metOrNot(c.p50Delta <= c.p50Goal)); err != nil {
			return err
		}
		if c.p99Goal > 0 {
			if _, err := fmt.Fprintf(w, "  added p99:       %s ms (goal <= %s ms: %s)\n", formatMillisSigned(c.p99Delta), formatMillis(c.p99Goal), metOrNot(c.p99Delta <= c.p99Goal)); err != nil {
				return err
			}
		}
		if c.rssGoal > 0 {
			if _, err := fmt.Fprintf(w, "  resident:        %s MB (goal <= %s MB at %d requests/s: %s)\n", formatMB(c.rss), formatMB(c.rssGoal), goalRSSRate, metOrNot(c.rss <= c.rssGoal)); err != nil {
				return err
			}
		}
	}
	if g := r.guards; g != nil {
		_, err := fmt.Fprintf(w, "\nguards (%s minus %s):\n  CPU per request: %s µs\n  p50:             %s ms\n  p99:             %s ms\n",
			targetGoverned, targetLLMGW, formatMicrosSigned(g.cpuPerRequest), formatMillisSigned(g.p50), formatMillisSigned(g.p99))
		return err
	}
	return nil
}

// newTable returns a writer of a table whose rows are targets, and the width of their column:
// right alignment suits the numbers, and padding the names to the longest keeps them flush
// left.
func newTable[R any](w io.Writer, rows []R, target func(R) string) (*tabwriter.Writer, int) {
	width := len("target")
	for _, r := range rows {
		width = max(width, len(target(r)))
	}
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight), width
}

func metOrNot(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// formatMillis prints d in milliseconds with microsecond precision.
func formatMillis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

// formatMillisSigned is formatMillis with an explicit sign, for differences.
func formatMillisSigned(d time.Duration) string {
	if d >= 0 {
		return "+" + formatMillis(d)
	}
	return formatMillis(d)
}

// formatMB prints a byte count in mebibytes with one decimal (the unit `ps`
// and /proc call kB and MB are binary).
func formatMB(n uint64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64)
}

// formatMicros prints d in microseconds with one decimal.
func formatMicros(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 1, 64)
}

// formatMicrosSigned is formatMicros with an explicit sign, for differences.
func formatMicrosSigned(d time.Duration) string {
	if d >= 0 {
		return "+" + formatMicros(d)
	}
	return formatMicros(d)
}

// formatStatusCodes prints a status histogram in a stable order, e.g. "200:990 502:10".
func formatStatusCodes(codes map[string]int) string {
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+":"+strconv.Itoa(codes[k]))
	}
	return strings.Join(parts, " ")
}

// formatErrors prints the first few distinct transport errors vegeta saw.
func formatErrors(errs []string) string {
	const maxShown = 3
	if len(errs) == 0 {
		return ""
	}
	if len(errs) > maxShown {
		return fmt.Sprintf("; errors: %s; and %d more", strings.Join(errs[:maxShown], "; "), len(errs)-maxShown)
	}
	return "; errors: " + strings.Join(errs, "; ")
}
