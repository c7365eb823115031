// Command allocguard compares the allocations per operation of Go benchmarks with a stored
// baseline and fails on a regression. Allocation counts, unlike times, are stable on a noisy
// machine, so CI can hold them to a threshold:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./pkg/... > new.txt
//	allocguard -baseline bench/allocs.txt -max-increase 0.10 new.txt
//
// Each benchmark's median allocs/op is compared; it fails when a median exceeds the baseline's
// by more than -max-increase (a fraction) and -slack allocations both. A benchmark of the
// baseline that did not run is a failure too (it was renamed or removed: update the baseline).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"text/tabwriter"

	"golang.org/x/perf/benchfmt"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "allocguard:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("allocguard", flag.ContinueOnError)
	baseline := fs.String("baseline", "bench/allocs.txt", "stored benchmark output (go test -bench -benchmem)")
	maxIncrease := fs.Float64("max-increase", 0.10, "largest allowed increase of a median allocs/op, as a fraction of the baseline's")
	slack := fs.Float64("slack", 1, "an increase of at most this many allocations per op is always allowed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: allocguard [-baseline FILE] [-max-increase F] [-slack N] NEW")
	}
	old, err := medians(*baseline)
	if err != nil {
		return err
	}
	cur, err := medians(fs.Arg(0))
	if err != nil {
		return err
	}
	return compare(stdout, old, cur, *maxIncrease, *slack)
}

// compare prints every baseline benchmark's old and new median and fails on a regression.
func compare(w io.Writer, old, cur map[string]float64, maxIncrease, slack float64) error {
	names := make([]string, 0, len(old))
	for n := range old {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tbaseline allocs/op\tnow\tchange\t")
	var bad []string
	for _, n := range names {
		o := old[n]
		c, ok := cur[n]
		if !ok {
			fmt.Fprintf(tw, "%s\t%.0f\tmissing\t\t\n", n, o)
			bad = append(bad, n+" did not run")
			continue
		}
		change := "~"
		if o > 0 {
			change = fmt.Sprintf("%+.1f%%", 100*(c-o)/o)
		}
		verdict := ""
		if c > o+slack && c > o*(1+maxIncrease) {
			verdict = "REGRESSION"
			bad = append(bad, fmt.Sprintf("%s: %.0f allocs/op, baseline %.0f", n, c, o))
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%s\t%s\n", n, o, c, change, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d allocation regressions beyond %.0f%% (and %.0f allocs): %v; if intended, run make bench-baseline", len(bad), 100*maxIncrease, slack, bad)
	}
	return nil
}

var procs = regexp.MustCompile(`-\d+$`)

// medians reads go test benchmark output and returns each benchmark's median allocs/op, keyed
// by package and name.
func medians(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	samples := map[string][]float64{}
	r := benchfmt.NewReader(f, path)
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		v, ok := res.Value("allocs/op")
		if !ok {
			continue
		}
		// Without the GOMAXPROCS suffix (-2): the baseline holds on a machine of any size.
		key := res.GetConfig("pkg") + "." + procs.ReplaceAllString(string(res.Name.Full()), "")
		samples[key] = append(samples[key], v)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("%s: no benchmark with allocs/op (run with -benchmem)", path)
	}
	out := make(map[string]float64, len(samples))
	for k, vs := range samples {
		slices.Sort(vs)
		out[k] = vs[len(vs)/2]
	}
	return out, nil
}
