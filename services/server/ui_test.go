package server

import (
	"net/http"
	"testing"
)

// TestUI: Options.UI is served under /ui/ and GET / redirects there; without it both are
// 404, and the handler never sees a path outside /ui/.
func TestUI(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ui " + r.URL.Path))
	})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(t *testing.T, url string) (int, string, string) {
		t.Helper()
		resp, err := noRedirect.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b [64]byte
		n, _ := resp.Body.Read(b[:])
		return resp.StatusCode, resp.Header.Get("Location"), string(b[:n])
	}

	with := pprofServer(t, Options{UI: ui})
	tests := []struct {
		path, body, location string
		code                 int
	}{
		{"/ui/", "ui /ui/", "", 200},
		{"/ui/keys", "ui /ui/keys", "", 200},
		{"/", "", "/ui/", http.StatusFound},
		{"/other", "", "", 404},
	}
	for _, tt := range tests {
		code, loc, body := get(t, with.URL+tt.path)
		if code != tt.code || loc != tt.location || (tt.body != "" && body != tt.body) {
			t.Errorf("with UI, GET %s: %d %q %q, want %d %q %q", tt.path, code, loc, body, tt.code, tt.location, tt.body)
		}
	}
	// /ui without the slash is the mux's redirect to /ui/.
	if code, loc, _ := get(t, with.URL+"/ui"); code/100 != 3 || loc != "/ui/" {
		t.Errorf("GET /ui: %d %q, want a redirect to /ui/", code, loc)
	}

	without := pprofServer(t, Options{})
	for _, p := range []string{"/", "/ui/"} {
		if code, _, _ := get(t, without.URL+p); code != http.StatusNotFound {
			t.Errorf("without UI, GET %s: %d, want 404", p, code)
		}
	}
}
