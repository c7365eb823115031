package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

type nopRecorder struct{}

func (nopRecorder) Record(context.Context, *usage.Event) {}

// pprofServer serves the composed handler with opts; "admin-tok" is the admin token and
// "user-key" a key of a user who is not an admin.
func pprofServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	cfg := &snapshot.Config{
		Users:          []snapshot.User{{Name: "alice"}},
		Keys:           []snapshot.Key{{ID: "k1", Hash: snapshot.KeyHash("user-key"), User: "alice"}},
		AdminTokenHash: snapshot.KeyHash("admin-tok"),
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var snaps snapshot.Holder
	snaps.Store(snapshot.Compile(cfg, registry.New(http.DefaultClient), nil, logger))
	s := New(&snaps, pipeline.New(&snaps, nopRecorder{}, logger), nil, nil, logger, opts)
	h, cleanup, err := s.Handler(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func getWith(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPprofOffByDefault(t *testing.T) {
	srv := pprofServer(t, Options{})
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
		if code, _ := getWith(t, srv.URL+path, "admin-tok"); code != http.StatusNotFound {
			t.Errorf("%s with the admin token: %d, want 404 when pprof is off", path, code)
		}
	}
}

func TestPprofNeedsTheAdminToken(t *testing.T) {
	srv := pprofServer(t, Options{Pprof: true})
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"wrong", http.StatusUnauthorized},
		{"user-key", http.StatusForbidden},
		{"admin-tok", http.StatusOK},
	} {
		code, body := getWith(t, srv.URL+"/debug/pprof/goroutine?debug=1", tc.key)
		if code != tc.want {
			t.Errorf("key %q: %d, want %d", tc.key, code, tc.want)
			continue
		}
		if got := strings.Contains(body, "goroutine profile:"); got != (code == http.StatusOK) {
			t.Errorf("key %q: profile in the answer = %v: %.200s", tc.key, got, body)
		}
	}
	if code, body := getWith(t, srv.URL+"/debug/pprof/", "admin-tok"); code != http.StatusOK || !strings.Contains(body, "heap") {
		t.Errorf("index: %d %.200s", code, body)
	}
}
