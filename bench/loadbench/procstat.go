package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// defaultClockTick is USER_HZ on every Linux architecture Go supports; it is
// used only when the kernel does not report AT_CLKTCK in the auxiliary vector.
const defaultClockTick = 100

// atClockTick is the auxiliary vector key AT_CLKTCK (elf.h): the frequency
// of times(2) and of the utime/stime fields of /proc/<pid>/stat.
const atClockTick = 17

// parseProcStat returns utime+stime, in clock ticks, from the content of
// /proc/<pid>/stat. The counters cover every thread of the process, including
// threads that have exited. The command name (field 2) may contain spaces and
// parentheses, so fields are counted from the last ')'.
func parseProcStat(data []byte) (uint64, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, errors.New("proc stat: no command name")
	}
	// After the name come field 3 (state) onward; utime and stime are
	// fields 14 and 15, so indexes 11 and 12 here.
	fields := bytes.Fields(data[end+1:])
	const utimeIdx, stimeIdx = 14 - 3, 15 - 3
	if len(fields) <= stimeIdx {
		return 0, fmt.Errorf("proc stat: %d fields after the name, want more than %d", len(fields), stimeIdx)
	}
	utime, err := strconv.ParseUint(string(fields[utimeIdx]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proc stat: utime: %w", err)
	}
	stime, err := strconv.ParseUint(string(fields[stimeIdx]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proc stat: stime: %w", err)
	}
	return utime + stime, nil
}

// parseAuxvClockTick returns AT_CLKTCK from the content of /proc/self/auxv
// (pairs of native-endian 64-bit words), and false if it is absent.
func parseAuxvClockTick(data []byte) (uint64, bool) {
	const word = 8
	for len(data) >= 2*word {
		key := binary.NativeEndian.Uint64(data)
		val := binary.NativeEndian.Uint64(data[word:])
		data = data[2*word:]
		switch key {
		case 0: // AT_NULL ends the vector.
			return 0, false
		case atClockTick:
			return val, val > 0
		}
	}
	return 0, false
}

// cpuClock reads the CPU time of processes from /proc. The zero value is not
// usable; build one with newCPUClock.
type cpuClock struct {
	ticksPerSecond uint64
}

// newCPUClock returns a cpuClock using the kernel's clock tick rate (the
// value `getconf CLK_TCK` prints), read from this process's auxiliary vector.
func newCPUClock() cpuClock {
	if data, err := os.ReadFile("/proc/self/auxv"); err == nil {
		if hz, ok := parseAuxvClockTick(data); ok {
			return cpuClock{ticksPerSecond: hz}
		}
	}
	return cpuClock{ticksPerSecond: defaultClockTick}
}

// resolution is the smallest CPU time the clock can tell apart.
func (c cpuClock) resolution() time.Duration {
	return time.Second / time.Duration(c.ticksPerSecond)
}

// cpuTime returns the user plus system CPU time pid has used so far.
func (c cpuClock) cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu time: %w", err)
	}
	ticks, err := parseProcStat(data)
	if err != nil {
		return 0, fmt.Errorf("cpu time of pid %d: %w", pid, err)
	}
	return c.ticksToDuration(ticks), nil
}

// ticksToDuration converts clock ticks to a duration without overflowing
// for any uptime a machine reaches.
func (c cpuClock) ticksToDuration(ticks uint64) time.Duration {
	secs := ticks / c.ticksPerSecond
	rem := ticks % c.ticksPerSecond
	return time.Duration(secs)*time.Second + time.Duration(rem)*time.Second/time.Duration(c.ticksPerSecond)
}

// parseLoadAvg returns the 1, 5 and 15 minute load averages from the content
// of /proc/loadavg, as the kernel prints them.
func parseLoadAvg(data []byte) (string, error) {
	fields := bytes.Fields(data)
	if len(fields) < 3 {
		return "", fmt.Errorf("loadavg: %d fields, want at least 3", len(fields))
	}
	for _, f := range fields[:3] {
		if _, err := strconv.ParseFloat(string(f), 64); err != nil {
			return "", fmt.Errorf("loadavg: %w", err)
		}
	}
	return string(bytes.Join(fields[:3], []byte(" "))), nil
}

// loadAvg returns the machine's load averages, or "unknown". Other work on a
// shared machine shows up here, and in the latency percentiles.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	s, err := parseLoadAvg(data)
	if err != nil {
		return "unknown"
	}
	return s
}

// memory is a process's resident memory, in bytes, as /proc/<pid>/status
// reports it.
type memory struct {
	// rss is VmRSS: resident now (anonymous, file-backed and shared memory).
	rss uint64
	// peak is VmHWM: the most the process has had resident since it started.
	peak uint64
	// file is RssFile: the part of rss that is file pages mapped in, mostly the binary's
	// code and read-only data (clean pages, shared with every process mapping the same
	// file); 0 where the kernel does not report it.
	file uint64
}

// parseProcStatus returns VmRSS, VmHWM and RssFile from the content of
// /proc/<pid>/status, whose memory lines read "VmRSS:\t   12345 kB". The first
// two must be present: a kernel thread or a zombie has neither, and then there
// is nothing to report. RssFile (Linux 4.5 and later) may be missing.
func parseProcStatus(data []byte) (memory, error) {
	var m memory
	var haveRSS, havePeak bool
	for line := range bytes.Lines(data) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *uint64
		switch string(name) {
		case "VmRSS":
			dst, haveRSS = &m.rss, true
		case "VmHWM":
			dst, havePeak = &m.peak, true
		case "RssFile":
			dst = &m.file
		default:
			continue
		}
		fields := bytes.Fields(value)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return memory{}, fmt.Errorf("proc status: %s: want \"<n> kB\", got %q", name, bytes.TrimSpace(value))
		}
		kb, err := strconv.ParseUint(string(fields[0]), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("proc status: %s: %w", name, err)
		}
		*dst = kb * 1024
	}
	if !haveRSS || !havePeak {
		return memory{}, errors.New("proc status: no VmRSS or VmHWM line")
	}
	return m, nil
}

// readMemory returns pid's resident memory now and at its peak.
func readMemory(pid int) (memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("memory: %w", err)
	}
	m, err := parseProcStatus(data)
	if err != nil {
		return memory{}, fmt.Errorf("memory of pid %d: %w", pid, err)
	}
	return m, nil
}
