package main

import (
	"encoding/binary"
	"os"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    string
		want    uint64
		wantErr bool
	}{
		{
			name: "plain name",
			data: "4242 (llmgw) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 37 0 0 20 0 7 0 1000 1200000000 5000 18446744073709551615\n",
			want: 187,
		},
		{
			name: "name with spaces and parentheses",
			data: "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 1 1 1\n",
			want: 7,
		},
		{
			name: "zero counters",
			data: "1 (true) Z 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0\n",
			want: 0,
		},
		{
			name:    "no command name",
			data:    "1 true S 0 1 1 0 -1 0 0 0 0 0 1 1",
			wantErr: true,
		},
		{
			name:    "truncated",
			data:    "1 (x) S 0 1 1 0 -1 0 0 0 0 0 9",
			wantErr: true,
		},
		{
			name:    "not a number",
			data:    "1 (x) S 0 1 1 0 -1 0 0 0 0 0 9 y 0 0",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseProcStat([]byte(tt.data))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseProcStat() error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseProcStat() = %d, want %d", got, tt.want)
			}
		})
	}
}

// auxv encodes key/value pairs the way the kernel lays out /proc/self/auxv.
func auxv(pairs ...uint64) []byte {
	out := make([]byte, 0, 8*len(pairs))
	for _, v := range pairs {
		out = binary.NativeEndian.AppendUint64(out, v)
	}
	return out
}

func TestParseAuxvClockTick(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		data   []byte
		want   uint64
		wantOK bool
	}{
		{name: "present", data: auxv(33, 0xdead, 16, 0xbfebfbff, 6, 4096, 17, 100, 0, 0), want: 100, wantOK: true},
		{name: "other rate", data: auxv(17, 250, 0, 0), want: 250, wantOK: true},
		{name: "after AT_NULL is ignored", data: auxv(6, 4096, 0, 0, 17, 100), wantOK: false},
		{name: "absent", data: auxv(6, 4096, 0, 0), wantOK: false},
		{name: "zero rate", data: auxv(17, 0, 0, 0), wantOK: false},
		{name: "empty", data: nil, wantOK: false},
		{name: "truncated pair", data: auxv(17)[:8], wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseAuxvClockTick(tt.data)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("parseAuxvClockTick() = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestTicksToDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hz    uint64
		ticks uint64
		want  time.Duration
	}{
		{hz: 100, ticks: 0, want: 0},
		{hz: 100, ticks: 1, want: 10 * time.Millisecond},
		{hz: 100, ticks: 12345, want: 123*time.Second + 450*time.Millisecond},
		{hz: 250, ticks: 3, want: 12 * time.Millisecond},
		{hz: 1000, ticks: 1_000_000_001, want: 1_000_000*time.Second + time.Millisecond},
	}
	for _, tt := range tests {
		c := cpuClock{ticksPerSecond: tt.hz}
		if got := c.ticksToDuration(tt.ticks); got != tt.want {
			t.Errorf("ticksToDuration(%d) at %d Hz = %s, want %s", tt.ticks, tt.hz, got, tt.want)
		}
	}
}

// TestCPUTimeSelf reads this test process's own /proc entry, so the real
// file format and the clock rate are exercised, not only fixtures.
func TestCPUTimeSelf(t *testing.T) {
	t.Parallel()
	c := newCPUClock()
	if c.ticksPerSecond == 0 {
		t.Fatal("newCPUClock() has a zero tick rate")
	}
	before, err := c.cpuTime(os.Getpid())
	if err != nil {
		t.Fatalf("cpuTime() error = %v", err)
	}
	// Burn CPU until the counter moves by at least one tick.
	deadline := time.Now().Add(5 * time.Second)
	x := 1.0
	for time.Now().Before(deadline) {
		for i := 0; i < 1_000_000; i++ {
			x = x*1.0000001 + 1e-9
		}
		after, err := c.cpuTime(os.Getpid())
		if err != nil {
			t.Fatalf("cpuTime() error = %v", err)
		}
		if after > before {
			if after-before < c.resolution() {
				t.Errorf("cpu time moved by %s, less than the resolution %s", after-before, c.resolution())
			}
			return
		}
	}
	t.Fatalf("cpu time did not move after 5s of work (x=%g)", x)
}

func TestParseLoadAvg(t *testing.T) {
	t.Parallel()
	tests := []struct {
		data    string
		want    string
		wantErr bool
	}{
		{data: "3.82 2.95 2.68 3/412 24539\n", want: "3.82 2.95 2.68"},
		{data: "0.00 0.01 0.05", want: "0.00 0.01 0.05"},
		{data: "0.00 0.01", wantErr: true},
		{data: "high 0.01 0.05 1/1 1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			t.Parallel()
			got, err := parseLoadAvg([]byte(tt.data))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseLoadAvg() error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseLoadAvg() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseProcStatus(t *testing.T) {
	t.Parallel()
	const kb = 1024
	// A trimmed real /proc/<pid>/status of a Go server.
	real := "Name:\tllmgw\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nPid:\t4242\n" +
		"VmPeak:\t 1951232 kB\nVmSize:\t 1885696 kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\n" +
		"VmHWM:\t   52340 kB\nVmRSS:\t   48128 kB\nRssAnon:\t   30000 kB\nRssFile:\t   18128 kB\n" +
		"Threads:\t9\nvoluntary_ctxt_switches:\t1234\n"
	tests := []struct {
		name    string
		data    string
		want    memory
		wantErr bool
	}{
		{name: "real status", data: real, want: memory{rss: 48128 * kb, peak: 52340 * kb, file: 18128 * kb}},
		{name: "peak before rss, no trailing newline", data: "VmHWM:\t10 kB\nVmRSS:\t7 kB", want: memory{rss: 7 * kb, peak: 10 * kb}},
		{name: "kernel thread has neither", data: "Name:\tkthreadd\nState:\tS (sleeping)\nThreads:\t1\n", wantErr: true},
		{name: "rss without peak", data: "VmRSS:\t7 kB\n", wantErr: true},
		{name: "unexpected unit", data: "VmHWM:\t10 MB\nVmRSS:\t7 kB\n", wantErr: true},
		{name: "not a number", data: "VmHWM:\tten kB\nVmRSS:\t7 kB\n", wantErr: true},
		{name: "empty", data: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseProcStatus([]byte(tt.data))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseProcStatus() error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseProcStatus() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestReadMemoryOwnProcess reads this test process's own status: a live
// process has resident memory, and its peak is at least what it has now.
func TestReadMemoryOwnProcess(t *testing.T) {
	t.Parallel()
	m, err := readMemory(os.Getpid())
	if err != nil {
		t.Fatalf("readMemory(self) error = %v", err)
	}
	if m.rss == 0 || m.peak < m.rss {
		t.Errorf("readMemory(self) = %+v, want rss > 0 and peak >= rss", m)
	}
}
