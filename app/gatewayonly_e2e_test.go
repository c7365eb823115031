package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildGatewayOnly builds cmd/llmgw with the gateway-only build's tags (the Makefile's
// GATEWAY_TAGS) into a temporary directory.
func buildGatewayOnly(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "llmgw-gateway")
	out, err := exec.Command("go", "build", "-tags", "llmgw_gateway_only,grpcnotrace", "-o", bin, "../cmd/llmgw").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -tags llmgw_gateway_only,grpcnotrace: %v\n%s", err, out)
	}
	return bin
}

// TestGatewayOnlyBuild runs the gateway-only build as a replica of a control plane (the full
// build, in process): it serves a user's key from the pushed configuration, its usage event
// reaches Kafka keyed by the request's id, and it stops cleanly on SIGTERM. What it does not
// link, it refuses at start, naming what was asked, instead of serving without it.
func TestGatewayOnlyBuild(t *testing.T) {
	bin := buildGatewayOnly(t)
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.Contains(string(out), "(gateway-only build)") {
		t.Fatalf("llmgw version: %q %v, want it to name the gateway-only build", out, err)
	}
	checkLinked(t, bin)
	rs := startReplicaSet(t, 0)
	broker := e2eBroker(t, e2ePort(t))
	key := rs.control.userKey(t, "edge-user", "testers")

	addr := fmt.Sprintf("127.0.0.1:%d", e2ePort(t))
	var logs syncBuffer
	cmd := exec.Command(bin, "serve", "--role", "gateway", "--control-plane", "http://"+rs.listen, "--listen", addr,
		"--data-dir", t.TempDir(), "--kafka-brokers", broker, "--kafka-topic", e2eTopic, "--log-buffer", "0")
	cmd.Env = append(os.Environ(), "LLMGW_MASTER_KEY="+testMasterKey, "LLMGW_GATEWAY_TOKEN="+rs.token)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	g := &gateway{URL: "http://" + addr}
	waitUntil(t, func() bool {
		resp, err := http.Get(g.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if st := readyz(t, g); st["config_source"] != "control plane" || st["control_plane"] != "connected" {
		t.Fatalf("readyz = %v, want a configuration from the connected control plane", st)
	}
	if !strings.Contains(logs.String(), "build=gateway-only") {
		t.Fatalf("the serving log line does not name the build:\n%s", logs.String())
	}

	resp, body := g.do(t, "POST", "/v1/chat/completions", key, `{"model":"mock/echo","messages":[{"role":"user","content":"hello edge"}]}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "hello edge") {
		t.Fatalf("chat through the gateway-only replica: %d %s", resp.StatusCode, body)
	}
	id := resp.Header.Get("X-Request-Id")
	events := readUsage(t, broker, 1)
	ev, ok := events[id]
	if !ok {
		t.Fatalf("usage events %v, want one keyed by the request's id %s", keys(events), id)
	}
	if ev.GetUser() != "edge-user" || ev.GetModel() != "mock/echo" {
		t.Fatalf("usage event user %q model %q, want edge-user and mock/echo", ev.GetUser(), ev.GetModel())
	}
	if resp, _ := g.do(t, "POST", "/v1/chat/completions", "llmgw-not-a-key", `{"model":"mock/echo","messages":[{"role":"user","content":"x"}]}`); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an unknown key: %d, want 401", resp.StatusCode)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20 s after SIGTERM\n%s", logs.String())
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"role all", []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, "--role all: this llmgw is a gateway-only build"},
		{"role control", []string{"serve", "--role", "control", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, "--role control: this llmgw is a gateway-only build"},
		{"no Kafka", []string{"serve", "--role", "gateway", "--control-plane", "http://" + rs.listen, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, "the embedded usage store: this llmgw is a gateway-only build"},
		{"ClickHouse", []string{"serve", "--role", "gateway", "--control-plane", "http://" + rs.listen, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--kafka-brokers", broker, "--clickhouse", "clickhouse://127.0.0.1:9000/llmgw"}, "--clickhouse: the Usage API's ClickHouse: this llmgw is a gateway-only build"},
		{"migrate", []string{"migrate", "--db", "sqlite:" + filepath.Join(t.TempDir(), "x.db")}, "llmgw migrate: this llmgw is a gateway-only build"},
		{"consume", []string{"consume"}, "llmgw consume: this llmgw is a gateway-only build"},
		{"apply", []string{"apply", "-f", "gateway.yaml"}, "llmgw apply: this llmgw is a gateway-only build"},
		{"get", []string{"get", "all"}, "llmgw get: this llmgw is a gateway-only build"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := exec.CommandContext(ctx, bin, tt.args...)
			c.Env = append(os.Environ(), "LLMGW_MASTER_KEY="+testMasterKey, "LLMGW_GATEWAY_TOKEN="+rs.token, "LLMGW_ADMIN_TOKEN=admin-token-of-at-least-16")
			var out bytes.Buffer
			c.Stdout, c.Stderr = io.Discard, &out
			err := c.Run()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("%v: err %v (context %v), want a refusal at start\n%s", tt.args, err, ctx.Err(), out.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Fatalf("%v said %q, want it to say %q", tt.args, out.String(), tt.want)
			}
		})
	}
}

// checkLinked reads the gateway-only binary's symbols (go tool nm): it links the control
// plane's client, which a replica calls, and none of the Admin API's handlers, REST routes or
// client, which only the full build serves or calls (services/server/admin.go, app/gitops.go).
func checkLinked(t *testing.T, bin string) {
	t.Helper()
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	linked := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) >= 3 {
			linked[strings.Join(f[2:], " ")] = true
		}
	}
	const gen = "github.com/llmgw/llmgw/gen/go/llmgw/"
	if want := gen + "controlplane/v1/controlplanev1connect.NewControlPlaneServiceClient"; !linked[want] {
		t.Fatalf("the gateway-only binary does not link %s: the symbols read are not the binary's", want)
	}
	for _, name := range []string{
		gen + "admin/v1/adminv1connect.NewAdminServiceHandler",
		gen + "admin/v1/adminv1connect.NewAdminServiceClient",
		gen + "admin/v1.RegisterAdminServiceHandlerClient",
	} {
		if linked[name] {
			t.Errorf("the gateway-only binary links %s", name)
		}
	}
}
