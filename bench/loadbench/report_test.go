package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// vegetaJSON is a trimmed real `vegeta report -type=json` output.
const vegetaJSON = `{"latencies":{"total":2290000000,"mean":229000,"50th":229123,"90th":300000,` +
	`"95th":400000,"99th":18466000,"max":61597000,"min":170374},"bytes_in":{"total":6340000,"mean":634},` +
	`"bytes_out":{"total":650000,"mean":65},"earliest":"2026-11-22T05:25:51.146Z",` +
	`"latest":"2026-11-22T05:26:01.146Z","end":"2026-11-22T05:26:01.147Z","duration":9999000000,` +
	`"wait":621916,"requests":10000,"rate":1000.1,"throughput":1000.0,"success":1,` +
	`"status_codes":{"200":10000},"errors":[]}`

func TestParseVegetaMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    string
		want    vegetaMetrics
		wantErr bool
	}{
		{
			name: "real report",
			data: vegetaJSON,
			want: func() vegetaMetrics {
				var m vegetaMetrics
				m.Latencies.P50 = 229123 * time.Nanosecond
				m.Latencies.P99 = 18466 * time.Microsecond
				m.Latencies.Mean = 229 * time.Microsecond
				m.Latencies.Max = 61597 * time.Microsecond
				m.BytesIn.Mean = 634
				m.Requests = 10000
				m.Rate = 1000.1
				m.StatusCodes = map[string]int{"200": 10000}
				m.Errors = []string{}
				return m
			}(),
		},
		{name: "no requests", data: `{"requests":0,"status_codes":{}}`, wantErr: true},
		{name: "not json", data: `Requests [total] 10`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseVegetaMetrics([]byte(tt.data))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseVegetaMetrics() error = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseVegetaMetrics() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShare2xx(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		codes map[string]int
		reqs  uint64
		want  float64
	}{
		{name: "all ok", codes: map[string]int{"200": 100}, reqs: 100, want: 1},
		{name: "2xx variety", codes: map[string]int{"200": 50, "201": 25, "204": 25}, reqs: 100, want: 1},
		{name: "redirects are not ok", codes: map[string]int{"200": 90, "302": 10}, reqs: 100, want: 0.9},
		{name: "transport errors count as failures", codes: map[string]int{"200": 99, "0": 1}, reqs: 100, want: 0.99},
		{name: "garbage code ignored", codes: map[string]int{"abc": 5, "200": 5}, reqs: 10, want: 0.5},
		{name: "no requests", codes: map[string]int{}, reqs: 0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := vegetaMetrics{Requests: tt.reqs, StatusCodes: tt.codes}
			if got := m.share2xx(); got != tt.want {
				t.Errorf("share2xx() = %v, want %v", got, tt.want)
			}
		})
	}
}

// meas builds a measurement of n requests with the given percentiles,
// status codes and CPU time.
func meas(target string, p50, p99 time.Duration, n uint64, codes map[string]int, cpu time.Duration) measurement {
	var m vegetaMetrics
	m.Latencies.P50, m.Latencies.P99 = p50, p99
	m.Requests, m.Rate, m.StatusCodes = n, 1000, codes
	return measurement{target: target, metrics: m, cpu: cpu}
}

func ok(n int) map[string]int { return map[string]int{"200": n} }

func TestBuildReport(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	direct := meas(targetDirect, 200*us, 900*us, 10000, ok(10000), 1*time.Second)
	proxy := meas(targetProxy, 500*us, 2000*us, 10000, ok(10000), 2500*time.Millisecond)
	gateway := meas(targetLLMGW, 580*us, 2600*us, 10000, ok(10000), 3*time.Second)

	directRow := row{target: targetDirect, rate: 1000, successPct: 100, p50: 200 * us, p99: 900 * us, cpuPerRequest: 100 * us}
	proxyRow := row{target: targetProxy, rate: 1000, successPct: 100, p50: 500 * us, p99: 2000 * us,
		addedP50: 300 * us, addedP99: 1100 * us, hasAdded: true, cpuPerRequest: 250 * us}
	gatewayRow := row{target: targetLLMGW, rate: 1000, successPct: 100, p50: 580 * us, p99: 2600 * us,
		addedP50: 380 * us, addedP99: 1700 * us, hasAdded: true, cpuPerRequest: 300 * us}
	governed := meas(targetGoverned, 600*us, 2700*us, 10000, ok(10000), 3200*time.Millisecond)
	governedRow := row{target: targetGoverned, rate: 1000, successPct: 100, p50: 600 * us, p99: 2700 * us,
		addedP50: 400 * us, addedP99: 1800 * us, hasAdded: true, cpuPerRequest: 320 * us}

	tests := []struct {
		name string
		in   []measurement
		want report
	}{
		{
			name: "all three",
			in:   []measurement{direct, proxy, gateway},
			want: report{
				rows:        []row{directRow, proxyRow, gatewayRow},
				comparisons: []comparison{{target: targetLLMGW, cpuGoal: goalCPURatio, cpuRatio: 1.2, p50Delta: 80 * us, p50Goal: goalP50DeltaMax, p99Delta: 600 * us}},
			},
		},
		{
			name: "all four: both compared, guards' cost",
			in:   []measurement{direct, proxy, gateway, governed},
			want: report{
				rows: []row{directRow, proxyRow, gatewayRow, governedRow},
				comparisons: []comparison{
					{target: targetLLMGW, cpuGoal: goalCPURatio, cpuRatio: 1.2, p50Delta: 80 * us, p50Goal: goalP50DeltaMax, p99Delta: 600 * us},
					{target: targetGoverned, cpuGoal: goalGovernedCPURatio, cpuRatio: 1.28, p50Delta: 100 * us, p50Goal: goalP50DeltaMax, p99Delta: 700 * us},
				},
				guards: &guardCost{cpuPerRequest: 20 * us, p50: 20 * us, p99: 100 * us},
			},
		},
		{
			name: "governed without llmgw: compared, no guards' cost",
			in:   []measurement{proxy, governed},
			want: report{
				rows: []row{
					{target: targetProxy, rate: 1000, successPct: 100, p50: 500 * us, p99: 2000 * us, cpuPerRequest: 250 * us},
					{target: targetGoverned, rate: 1000, successPct: 100, p50: 600 * us, p99: 2700 * us, cpuPerRequest: 320 * us},
				},
				comparisons: []comparison{{target: targetGoverned, cpuGoal: goalGovernedCPURatio, cpuRatio: 1.28, p50Delta: 100 * us, p50Goal: goalP50DeltaMax, p99Delta: 700 * us}},
			},
		},
		{
			name: "direct and proxy only",
			in:   []measurement{direct, proxy},
			want: report{rows: []row{directRow, proxyRow}},
		},
		{
			name: "no direct: no added latency, comparison still made",
			in:   []measurement{proxy, gateway},
			want: report{
				rows: []row{
					{target: targetProxy, rate: 1000, successPct: 100, p50: 500 * us, p99: 2000 * us, cpuPerRequest: 250 * us},
					{target: targetLLMGW, rate: 1000, successPct: 100, p50: 580 * us, p99: 2600 * us, cpuPerRequest: 300 * us},
				},
				comparisons: []comparison{{target: targetLLMGW, cpuGoal: goalCPURatio, cpuRatio: 1.2, p50Delta: 80 * us, p50Goal: goalP50DeltaMax, p99Delta: 600 * us}},
			},
		},
		{
			name: "llmgw faster than the proxy gives a negative delta",
			in: []measurement{
				meas(targetProxy, 500*us, 2000*us, 1000, ok(1000), 100*time.Millisecond),
				meas(targetLLMGW, 450*us, 2000*us, 1000, ok(1000), 50*time.Millisecond),
			},
			want: report{
				rows: []row{
					{target: targetProxy, rate: 1000, successPct: 100, p50: 500 * us, p99: 2000 * us, cpuPerRequest: 100 * us},
					{target: targetLLMGW, rate: 1000, successPct: 100, p50: 450 * us, p99: 2000 * us, cpuPerRequest: 50 * us},
				},
				comparisons: []comparison{{target: targetLLMGW, cpuGoal: goalCPURatio, cpuRatio: 0.5, p50Delta: -50 * us, p50Goal: goalP50DeltaMax}},
			},
		},
		{
			name: "proxy CPU below resolution leaves the ratio unset",
			in: []measurement{
				meas(targetProxy, 500*us, 2000*us, 1000, ok(1000), 0),
				meas(targetLLMGW, 500*us, 2000*us, 1000, ok(1000), 10*time.Millisecond),
			},
			want: report{
				rows: []row{
					{target: targetProxy, rate: 1000, successPct: 100, p50: 500 * us, p99: 2000 * us},
					{target: targetLLMGW, rate: 1000, successPct: 100, p50: 500 * us, p99: 2000 * us, cpuPerRequest: 10 * us},
				},
				comparisons: []comparison{{target: targetLLMGW, cpuGoal: goalCPURatio, p50Delta: 0, p50Goal: goalP50DeltaMax}},
			},
		},
		{
			name: "exactly 1% non-2xx passes",
			in:   []measurement{meas(targetDirect, 200*us, 900*us, 1000, map[string]int{"200": 990, "502": 10}, 0)},
			want: report{rows: []row{{target: targetDirect, rate: 1000, successPct: 99, p50: 200 * us, p99: 900 * us}}},
		},
		{
			name: "more than 1% non-2xx fails that target",
			in: []measurement{
				direct,
				meas(targetLLMGW, 300*us, 900*us, 1000, map[string]int{"200": 980, "401": 15, "0": 5}, 0),
			},
			want: report{
				rows: []row{
					directRow,
					{target: targetLLMGW, rate: 1000, successPct: 98, p50: 300 * us, p99: 900 * us,
						addedP50: 100 * us, addedP99: 0, hasAdded: true},
				},
				failures: []string{"llmgw: 2.00% non-2xx (status codes 0:5 200:980 401:15)"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := buildReport(tt.in, false)
			opts := []cmp.Option{
				cmp.AllowUnexported(report{}, row{}, comparison{}, guardCost{}),
				cmp.Comparer(func(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 }),
			}
			if diff := cmp.Diff(tt.want, got, opts...); diff != "" {
				t.Errorf("buildReport() mismatch (-want +got):\n%s", diff)
			}
			if gotErr := got.err() != nil; gotErr != (len(tt.want.failures) > 0) {
				t.Errorf("report.err() = %v, want an error: %v", got.err(), len(tt.want.failures) > 0)
			}
		})
	}
}

func TestReportWrite(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	tests := []struct {
		name string
		in   []measurement
		want []string // lines, each trimmed of padding-only differences
	}{
		{
			name: "goals met",
			in: []measurement{
				meas(targetDirect, 200*us, 900*us, 10000, ok(10000), time.Second),
				meas(targetProxy, 500*us, 2000*us, 10000, ok(10000), 2500*time.Millisecond),
				meas(targetLLMGW, 580*us, 2600*us, 10000, ok(10000), 3*time.Second),
			},
			want: []string{
				"target rate/s success % p50 ms mean ms p99 ms added p50 ms added mean ms added p99 ms CPU µs/req RSS MB file MB peak MB",
				"direct 1000 100.00 0.200 0.000 0.900 - - - 100.0 0.0 - 0.0",
				"proxy 1000 100.00 0.500 0.000 2.000 0.300 0.000 1.100 250.0 0.0 - 0.0",
				"llmgw 1000 100.00 0.580 0.000 2.600 0.380 0.000 1.700 300.0 0.0 - 0.0",
				"",
				"llmgw vs bare proxy:",
				"CPU per request: 1.20x (goal <= 1.3x: met)",
				"added p50: +0.080 ms (goal <= 0.100 ms: met)",
			},
		},
		{
			name: "governed: its own goal and the guards' cost",
			in: []measurement{
				meas(targetDirect, 200*us, 900*us, 10000, ok(10000), time.Second),
				meas(targetProxy, 500*us, 2000*us, 10000, ok(10000), 2500*time.Millisecond),
				meas(targetLLMGW, 580*us, 2600*us, 10000, ok(10000), 2500*time.Millisecond),
				meas(targetGoverned, 570*us, 2500*us, 10000, ok(10000), 2600*time.Millisecond),
			},
			want: []string{
				"target rate/s success % p50 ms mean ms p99 ms added p50 ms added mean ms added p99 ms CPU µs/req RSS MB file MB peak MB",
				"direct 1000 100.00 0.200 0.000 0.900 - - - 100.0 0.0 - 0.0",
				"proxy 1000 100.00 0.500 0.000 2.000 0.300 0.000 1.100 250.0 0.0 - 0.0",
				"llmgw 1000 100.00 0.580 0.000 2.600 0.380 0.000 1.700 250.0 0.0 - 0.0",
				"llmgw-governed 1000 100.00 0.570 0.000 2.500 0.370 0.000 1.600 260.0 0.0 - 0.0",
				"",
				"llmgw vs bare proxy:",
				"CPU per request: 1.00x (goal <= 1.3x: met)",
				"added p50: +0.080 ms (goal <= 0.100 ms: met)",
				"",
				"llmgw-governed vs bare proxy:",
				"CPU per request: 1.04x (goal <= 1.0x: not met)",
				"added p50: +0.070 ms (goal <= 0.100 ms: met)",
				"",
				"guards (llmgw-governed minus llmgw):",
				"CPU per request: +10.0 µs",
				"p50: -0.010 ms",
				"p99: -0.100 ms",
			},
		},
		{
			name: "goals not met",
			in: []measurement{
				meas(targetProxy, 500*us, 2000*us, 10000, ok(10000), 2*time.Second),
				meas(targetLLMGW, 750*us, 2600*us, 10000, ok(10000), 4*time.Second),
			},
			want: []string{
				"target rate/s success % p50 ms mean ms p99 ms added p50 ms added mean ms added p99 ms CPU µs/req RSS MB file MB peak MB",
				"proxy 1000 100.00 0.500 0.000 2.000 - - - 200.0 0.0 - 0.0",
				"llmgw 1000 100.00 0.750 0.000 2.600 - - - 400.0 0.0 - 0.0",
				"",
				"llmgw vs bare proxy:",
				"CPU per request: 2.00x (goal <= 1.3x: not met)",
				"added p50: +0.250 ms (goal <= 0.100 ms: not met)",
			},
		},
		{
			name: "proxy CPU unmeasurable",
			in: []measurement{
				meas(targetProxy, 500*us, 2000*us, 100, ok(100), 0),
				meas(targetLLMGW, 400*us, 2600*us, 100, ok(100), 0),
			},
			want: []string{
				"target rate/s success % p50 ms mean ms p99 ms added p50 ms added mean ms added p99 ms CPU µs/req RSS MB file MB peak MB",
				"proxy 1000 100.00 0.500 0.000 2.000 - - - 0.0 0.0 - 0.0",
				"llmgw 1000 100.00 0.400 0.000 2.600 - - - 0.0 0.0 - 0.0",
				"",
				"llmgw vs bare proxy:",
				"CPU per request: n/a (proxy CPU below clock resolution)",
				"added p50: -0.100 ms (goal <= 0.100 ms: met)",
			},
		},
		{
			name: "no comparison",
			in:   []measurement{meas(targetDirect, 200*us, 900*us, 10000, ok(10000), time.Second)},
			want: []string{
				"target rate/s success % p50 ms mean ms p99 ms added p50 ms added mean ms added p99 ms CPU µs/req RSS MB file MB peak MB",
				"direct 1000 100.00 0.200 0.000 0.900 - - - 100.0 0.0 - 0.0",
				"",
				"llmgw vs bare proxy: not compared (needs the proxy and an llmgw target)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			if err := buildReport(tt.in, false).write(&b); err != nil {
				t.Fatalf("write() error = %v", err)
			}
			var got []string
			for i, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
				got = append(got, strings.Join(strings.Fields(line), " "))
				// tabwriter's padding indents every line by two spaces;
				// target names must all start right after it.
				if i <= len(tt.in) && strings.HasPrefix(line, "   ") {
					t.Errorf("table line %q: the target name is not flush left", line)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("write() mismatch (-want +got):\n%s\nfull output:\n%s", diff, b.String())
			}
		})
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "millis", got: formatMillis(1234567 * time.Nanosecond), want: "1.235"},
		{name: "millis zero", got: formatMillis(0), want: "0.000"},
		{name: "signed positive", got: formatMillisSigned(80 * time.Microsecond), want: "+0.080"},
		{name: "signed zero", got: formatMillisSigned(0), want: "+0.000"},
		{name: "signed negative", got: formatMillisSigned(-1500 * time.Microsecond), want: "-1.500"},
		{name: "micros", got: formatMicros(36550 * time.Nanosecond), want: "36.5"},
		{name: "signed micros", got: formatMicrosSigned(2500 * time.Nanosecond), want: "+2.5"},
		{name: "signed micros negative", got: formatMicrosSigned(-2500 * time.Nanosecond), want: "-2.5"},
		{name: "status codes sorted", got: formatStatusCodes(map[string]int{"502": 3, "200": 97, "0": 1}), want: "0:1 200:97 502:3"},
		{name: "no errors", got: formatErrors(nil), want: ""},
		{name: "few errors", got: formatErrors([]string{"a", "b"}), want: "; errors: a; b"},
		{name: "many errors", got: formatErrors([]string{"a", "b", "c", "d", "e"}), want: "; errors: a; b; c; and 2 more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// TestReportMeanAndMemory: the mean and its added figure, and the memory
// columns, come from each measurement; a streamed run holds llmgw to the
// stream goal.
func TestReportMeanAndMemory(t *testing.T) {
	t.Parallel()
	us, mb := time.Microsecond, uint64(1<<20)
	withMem := func(m measurement, mean time.Duration, rss, peak uint64) measurement {
		m.metrics.Latencies.Mean, m.mem = mean, memory{rss: rss, peak: peak}
		return m
	}
	in := []measurement{
		withMem(meas(targetDirect, 200*us, 900*us, 10000, ok(10000), time.Second), 250*us, 9*mb, 10*mb),
		withMem(meas(targetProxy, 500*us, 2000*us, 10000, ok(10000), 2*time.Second), 600*us, 13*mb, 14*mb+mb/2),
		withMem(meas(targetLLMGW, 550*us, 2200*us, 10000, ok(10000), 2400*time.Millisecond), 700*us, 50*mb+mb/4, 61*mb),
	}
	r := buildReport(in, true)
	wantRows := []row{
		{target: targetDirect, rate: 1000, successPct: 100, p50: 200 * us, mean: 250 * us, p99: 900 * us,
			cpuPerRequest: 100 * us, rss: 9 * mb, peak: 10 * mb},
		{target: targetProxy, rate: 1000, successPct: 100, p50: 500 * us, mean: 600 * us, p99: 2000 * us,
			addedP50: 300 * us, addedMean: 350 * us, addedP99: 1100 * us, hasAdded: true,
			cpuPerRequest: 200 * us, rss: 13 * mb, peak: 14*mb + mb/2},
		{target: targetLLMGW, rate: 1000, successPct: 100, p50: 550 * us, mean: 700 * us, p99: 2200 * us,
			addedP50: 350 * us, addedMean: 450 * us, addedP99: 1300 * us, hasAdded: true,
			cpuPerRequest: 240 * us, rss: 50*mb + mb/4, peak: 61 * mb},
	}
	if diff := cmp.Diff(wantRows, r.rows, cmp.AllowUnexported(row{})); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}
	var b strings.Builder
	if err := r.write(&b); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		got = append(got, strings.Join(strings.Fields(line), " "))
	}
	want := []string{
		"target rate/s success % p50 ms mean ms p99 ms added p50 ms added mean ms added p99 ms CPU µs/req RSS MB file MB peak MB",
		"direct 1000 100.00 0.200 0.250 0.900 - - - 100.0 9.0 - 10.0",
		"proxy 1000 100.00 0.500 0.600 2.000 0.300 0.350 1.100 200.0 13.0 - 14.5",
		"llmgw 1000 100.00 0.550 0.700 2.200 0.350 0.450 1.300 240.0 50.2 - 61.0",
		"",
		"llmgw vs bare proxy:",
		"CPU per request: 1.20x (goal <= 1.1x: not met)",
		"added p50: +0.050 ms (goal <= 0.100 ms: met)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("write() mismatch (-want +got):\n%s\nfull output:\n%s", diff, b.String())
	}
}

// TestReportStreamBytes: a streamed run fails a target whose answers average
// fewer bytes than 90 % of the upstream's stream, however many were 2xx.
func TestReportStreamBytes(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	full := float64(streamSize())
	withBytes := func(target string, mean float64) measurement {
		m := meas(target, 500*us, 900*us, 1000, ok(1000), 0)
		m.metrics.BytesIn.Mean = mean
		return m
	}
	tests := []struct {
		name   string
		in     measurement
		stream bool
		want   []string
	}{
		{name: "whole stream", in: withBytes(targetLLMGW, full), stream: true},
		{name: "rewritten a little", in: withBytes(targetLLMGW, 0.95*full), stream: true},
		{name: "truncated", in: withBytes(targetLLMGW, 0.5*full), stream: true,
			want: []string{fmt.Sprintf("llmgw: answers average %.0f bytes, under 90%% of the %.0f-byte stream: truncated or not streamed", 0.5*full, full)}},
		{name: "not streamed: no bytes check", in: withBytes(targetLLMGW, 600), stream: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := buildReport([]measurement{tt.in}, tt.stream)
			if diff := cmp.Diff(tt.want, r.failures); diff != "" {
				t.Errorf("failures mismatch (-want +got):\n%s", diff)
			}
			if (r.err() != nil) != (len(tt.want) > 0) {
				t.Errorf("err() = %v", r.err())
			}
		})
	}
}

// TestMemoryOverTime: a soak's report names its start, settled point, end, growth, lowest and
// highest samples; a run without samples prints nothing.
func TestMemoryOverTime(t *testing.T) {
	mb := func(n float64) memory { return memory{rss: uint64(n * (1 << 20))} }
	samples := []memory{mb(80), mb(88), mb(91), mb(95), mb(90), mb(92), mb(93), mb(91), mb(92), mb(94), mb(93)}
	var b strings.Builder
	ms := []measurement{
		{target: "proxy"},
		{target: "llmgw-full", samples: samples, memEvery: 30 * time.Second},
	}
	if err := writeMemory(&b, ms); err != nil {
		t.Fatal(err)
	}
	want := "llmgw-full resident memory during the attack, sampled every 30s (11 samples): 80.0 MB at the start, 88.0 MB after the first tenth, 93.0 MB at the end: growth +5.0 MB; lowest 80.0, highest 95.0\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
	if _, ok := overTime(samples[:1]); ok {
		t.Error("one sample makes no growth")
	}
}

// TestSampleMemory: sampling this process gives a first sample at once and stops when asked;
// a zero interval samples nothing.
func TestSampleMemory(t *testing.T) {
	if got := sampleMemory(os.Getpid(), 0)(); got != nil {
		t.Errorf("interval 0: %d samples", len(got))
	}
	got := sampleMemory(os.Getpid(), time.Hour)() // the first sample comes before any tick
	if len(got) != 1 || got[0].rss == 0 {
		t.Errorf("samples %+v, want one of this process's memory", got)
	}
}

// TestComparisonGoals: each llmgw target is held to its issue's goals: with everything on,
// 0.9x the proxy's CPU and +0.05 ms of p50 for requests, 1.1x and +0.1 ms for streams.
func TestComparisonGoals(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	in := []measurement{
		meas(targetProxy, 500*us, 2000*us, 10000, ok(10000), 2500*time.Millisecond),
		meas(targetLLMGW, 580*us, 2600*us, 10000, ok(10000), 3*time.Second),
		meas(targetFull, 580*us, 2600*us, 10000, ok(10000), 3*time.Second),
		meas(targetReplica, 580*us, 2600*us, 10000, ok(10000), 3*time.Second),
	}
	for _, stream := range []bool{false, true} {
		goals := map[string]string{}
		for _, c := range buildReport(in, stream).comparisons {
			goals[c.target] = fmt.Sprintf("%.1fx %s %s %d", c.cpuGoal, c.p50Goal, c.p99Goal, c.rssGoal>>20)
		}
		want := map[string]string{targetLLMGW: "1.3x 100µs 0s 0", targetFull: "0.9x 50µs 500µs 25", targetReplica: "0.9x 50µs 500µs 25"}
		if stream {
			want = map[string]string{targetLLMGW: "1.1x 100µs 0s 0", targetFull: "1.1x 100µs 500µs 0", targetReplica: "1.1x 100µs 500µs 0"}
		}
		if diff := cmp.Diff(want, goals); diff != "" {
			t.Errorf("stream=%v: goals (-want +got):\n%s", stream, diff)
		}
	}
	// The resident-memory goal is stated at 1,000 requests/s: at 2,000 there is none.
	fast := slices.Clone(in)
	for i := range fast {
		fast[i].metrics.Rate = 2000
	}
	for _, c := range buildReport(fast, false).comparisons {
		if c.rssGoal != 0 {
			t.Errorf("%s at 2,000 requests/s: resident goal %d, want none", c.target, c.rssGoal)
		}
	}
}

// TestFullGoalsWritten: the report prints the added p99 and the resident memory of the
// targets with everything on against issue 11's goals, met or not.
func TestFullGoalsWritten(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	full := meas(targetFull, 540*us, 2400*us, 10000, ok(10000), 3*time.Second)
	full.mem.rss = 24 << 20
	replica := meas(targetReplica, 540*us, 2600*us, 10000, ok(10000), 3*time.Second)
	replica.mem.rss = 26 << 20
	r := buildReport([]measurement{meas(targetProxy, 500*us, 2000*us, 10000, ok(10000), 2500*time.Millisecond), full, replica}, false)
	var out strings.Builder
	if err := r.write(&out); err != nil {
		t.Fatal(err)
	}
	wantAll(t, out.String(),
		"llmgw-full vs bare proxy:\n  CPU per request: 1.20x (goal <= 0.9x: not met)\n  added p50:       +0.040 ms (goal <= 0.050 ms: met)\n  added p99:       +0.400 ms (goal <= 0.500 ms: met)\n  resident:        24.0 MB (goal <= 25.0 MB at 1000 requests/s: met)\n",
		"llmgw-replica vs bare proxy:\n  CPU per request: 1.20x (goal <= 0.9x: not met)\n  added p50:       +0.040 ms (goal <= 0.050 ms: met)\n  added p99:       +0.600 ms (goal <= 0.500 ms: not met)\n  resident:        26.0 MB (goal <= 25.0 MB at 1000 requests/s: not met)\n",
	)
}

// wantAll fails t for each of wants that got lacks.
func wantAll(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(got, want) {
			t.Errorf("the output lacks\n%s\ngot:\n%s", want, got)
		}
	}
}
