package app

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// TestPprofFlag: --pprof serves the runtime profiles to the admin token; without it the path
// does not exist.
func TestPprofFlag(t *testing.T) {
	off := startGateway(t, nil)
	if resp, _ := off.do(t, http.MethodGet, "/debug/pprof/cmdline", "test-admin-token", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("without --pprof: %d, want 404", resp.StatusCode)
	}
	on := startGateway(t, nil, "--pprof")
	if resp, _ := on.do(t, http.MethodGet, "/debug/pprof/cmdline", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("--pprof without a key: %d, want 401", resp.StatusCode)
	}
	resp, body := on.do(t, http.MethodGet, "/debug/pprof/goroutine?debug=1", "test-admin-token", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("--pprof with the admin token: %d %q", resp.StatusCode, body)
	}
}

// TestHeapProfiling: allocations are sampled for the heap profile only when --pprof serves it.
func TestHeapProfiling(t *testing.T) {
	if heapProfileRate == 0 {
		t.Fatal("the process started with heap profiling off (GODEBUG=memprofilerate=0?): nothing to check")
	}
	startGateway(t, nil)
	if runtime.MemProfileRate != 0 {
		t.Errorf("without --pprof: MemProfileRate %d, want 0", runtime.MemProfileRate)
	}
	on := startGateway(t, nil, "--pprof")
	if runtime.MemProfileRate != heapProfileRate {
		t.Errorf("with --pprof: MemProfileRate %d, want the start's %d", runtime.MemProfileRate, heapProfileRate)
	}
	// What the heap profile shows is what was sampled since: the gateway's own allocations.
	resp, body := on.do(t, http.MethodGet, "/debug/pprof/heap?debug=1", "test-admin-token", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "heap profile:") {
		t.Errorf("--pprof heap profile: %d %.200q", resp.StatusCode, body)
	}
}
