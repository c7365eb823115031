package app

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/usage"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
)

// syncBuffer is a log sink the server writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// events collects usage events.
type events struct {
	mu  sync.Mutex
	all []usage.Event
}

func (e *events) Record(_ context.Context, ev *usage.Event) {
	e.mu.Lock()
	e.all = append(e.all, *ev)
	e.mu.Unlock()
}

// byRequest returns the events of one request id.
func (e *events) byRequest(id string) []usage.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []usage.Event
	for _, ev := range e.all {
		if ev.RequestID == id || ev.ClientRequestID == id { // the server's id, or the one the client sent
			out = append(out, ev)
		}
	}
	return out
}

// waitFor polls until exactly one event of request id exists and returns it. It waits up to
// 15 seconds: an event with estimated usage may wait for its tokenizer to be built, which
// takes seconds under -race.
func (e *events) waitFor(t *testing.T, id string) usage.Event {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if evs := e.byRequest(id); len(evs) > 0 {
			time.Sleep(50 * time.Millisecond) // a second (duplicate) event would show up here
			evs = e.byRequest(id)
			if len(evs) != 1 {
				t.Fatalf("request %s recorded %d usage events, want exactly 1: %+v", id, len(evs), evs)
			}
			return evs[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("request %s recorded no usage event", id)
	return usage.Event{}
}

// gateway is a running llmgw process, in process.
type gateway struct {
	URL    string
	Token  string
	Logs   *syncBuffer
	Events *events
	stop   func()
}

// startGateway runs `llmgw serve` with args on a free port and waits until it serves.
func startGateway(t *testing.T, env map[string]string, args ...string) *gateway {
	t.Helper()
	return startGatewayWith(t, nil, env, args...)
}

// startGatewayWith runs startGateway's server with guards added to its pipeline.
func startGatewayWith(t *testing.T, guards []pipeline.Guard, env map[string]string, args ...string) *gateway {
	t.Helper()
	return startGatewayHooks(t, hooks{guards: guards}, env, args...)
}

// startGatewayHooks runs startGateway's server with h's hooks; the harness sets ready and
// recorder.
func startGatewayHooks(t *testing.T, h hooks, env map[string]string, args ...string) *gateway {
	t.Helper()
	evs := &events{}
	h.recorder = evs
	g := serveIn(t, t.TempDir(), h, env, args...)
	g.Events = evs
	return g
}

// serveIn runs `llmgw serve` with args on a free port with its database in dir (so a test
// can restart it on the same data) and h's hooks (the harness sets ready), and waits until
// it serves. Its request log is the real one unless h replaces it.
func serveIn(t *testing.T, dir string, h hooks, env map[string]string, args ...string) *gateway {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["LLMGW_ADMIN_TOKEN"]; !ok {
		env["LLMGW_ADMIN_TOKEN"] = "test-admin-token"
	}
	getenv := func(k string) string { return env[k] }
	all := append([]string{"--listen", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(dir, "llmgw.db"), "--log-format", "json", "--reload-interval", "100ms"}, args...)
	cfg, err := parseFlags("serve", all, getenv, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{Token: env["LLMGW_ADMIN_TOKEN"], Logs: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		h.ready = func(a string) { addr <- a }
		done <- serve(ctx, cfg, getenv, g.Logs, &h)
	}()
	select {
	case a := <-addr:
		g.URL = "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("serve exited: %v\nlogs:\n%s", err, g.Logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start in 30s")
	}
	var once sync.Once
	g.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve returned %v", err)
				}
			case <-time.After(40 * time.Second):
				t.Error("serve did not shut down")
			}
		})
	}
	t.Cleanup(g.stop)
	return g
}

// do sends a raw HTTP request with the admin token unless auth is given.
func (g *gateway) do(t *testing.T, method, path, auth, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp, b.String()
}

// writeConfig writes a config file for a test and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// adminClient is a Connect client of the gateway's Admin API with the admin token.
func (g *gateway) adminClient() adminv1connect.AdminServiceClient {
	return adminv1connect.NewAdminServiceClient(http.DefaultClient, g.URL, connect.WithInterceptors(bearer(g.Token)))
}

// userKey creates the user name (in teams) and an API key for them, and returns its secret.
func (g *gateway) userKey(t *testing.T, name string, teams ...string) string {
	t.Helper()
	ctx := context.Background()
	admin := g.adminClient()
	if _, err := admin.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: name, Teams: teams}}); err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	k, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: name + "-key", Owner: &adminv1.ApiKey_User{User: name}}})
	if err != nil {
		t.Fatalf("create key for %s: %v", name, err)
	}
	return k.GetSecret()
}
