package app

import (
	"net/http"
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
