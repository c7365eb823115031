package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// replicaSet is one control plane and its gateway replicas, each a serve in process on its own
// loopback port.
type replicaSet struct {
	control  *gateway
	dbPath   string
	listen   string
	env      map[string]string
	token    string
	gateways []*gateway
	dirs     []string
}

const testMasterKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of 32 bytes

// fastLink is the control-plane link's timing in these tests: heartbeats every 100 ms (a
// silent stream is cut after 300 ms) and reconnections from 20 ms.
var fastLink = hooks{heartbeat: 100 * time.Millisecond, backoff: 20 * time.Millisecond}

func startReplicaSet(t *testing.T, gateways int) *replicaSet {
	t.Helper()
	return startReplicaSetWith(t, gateways, fastLink, nil)
}

// startReplicaSetWith starts a replica set whose control plane runs with h's hooks, and with
// controlEnv added to its environment and controlArgs to its flags.
func startReplicaSetWith(t *testing.T, gateways int, h hooks, controlEnv map[string]string, controlArgs ...string) *replicaSet {
	t.Helper()
	rs := &replicaSet{
		dbPath: filepath.Join(t.TempDir(), "control.db"),
		listen: fmt.Sprintf("127.0.0.1:%d", e2ePort(t)),
		env:    map[string]string{"LLMGW_MASTER_KEY": testMasterKey},
	}
	env := map[string]string{}
	for k, v := range rs.env {
		env[k] = v
	}
	for k, v := range controlEnv {
		env[k] = v
	}
	rs.control = startGatewayHooks(t, h, env, append([]string{"--role", "control", "--listen", rs.listen, "--db", "sqlite:" + rs.dbPath}, controlArgs...)...)
	resp, body := rs.control.do(t, "POST", "/api/v1/gateway-tokens", rs.control.Token, `{"name":"edge"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v1/gateway-tokens: %d %s", resp.StatusCode, body)
	}
	var created struct {
		GatewayToken struct{ ID, Name, Prefix string } `json:"gatewayToken"`
		Secret       string                            `json:"secret"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || !strings.HasPrefix(created.Secret, "llmgw-gw-") {
		t.Fatalf("gateway token answer %s: %v", body, err)
	}
	rs.token = created.Secret
	ctx := context.Background()
	admin := rs.control.adminClient()
	if _, err := admin.CreateTeam(ctx, &adminv1.CreateTeamRequest{Team: &adminv1.Team{Name: "testers"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateAuthzRule(ctx, &adminv1.CreateAuthzRuleRequest{AuthzRule: &adminv1.AuthzRule{Name: "testers-mock", Models: []string{"mock/*"}, Teams: []string{"testers"}}}); err != nil {
		t.Fatal(err)
	}
	for range gateways {
		rs.dirs = append(rs.dirs, t.TempDir())
		rs.gateways = append(rs.gateways, nil)
		rs.startGateway(t, len(rs.gateways)-1)
	}
	return rs
}

func (rs *replicaSet) startControl(t *testing.T) {
	t.Helper()
	env := map[string]string{}
	for k, v := range rs.env {
		env[k] = v
	}
	rs.control = startGatewayHooks(t, fastLink, env, "--role", "control", "--listen", rs.listen, "--db", "sqlite:"+rs.dbPath)
}

// startGateway starts replica i on its data directory and waits until it has a config.
func (rs *replicaSet) startGateway(t *testing.T, i int) {
	t.Helper()
	env := map[string]string{"LLMGW_GATEWAY_TOKEN": rs.token}
	for k, v := range rs.env {
		env[k] = v
	}
	g := startGatewayHooks(t, fastLink, env, "--role", "gateway", "--control-plane", "http://"+rs.listen, "--data-dir", rs.dirs[i], "--gateway-id", fmt.Sprintf("gw-%d", i))
	waitUntil(t, func() bool { return readyz(t, g)["snapshot"] == "loaded" })
	rs.gateways[i] = g
}

// readyz returns a process's readiness answer.
func readyz(t *testing.T, g *gateway) map[string]any {
	t.Helper()
	resp, err := http.Get(g.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return st
}

// chatStatus sends one chat completion with key and returns the status.
func chatStatus(g *gateway, key string) int { return chatModelStatus(g, key, "mock/echo") }

// chatModelStatus sends one chat completion for model with key and returns the status.
func chatModelStatus(g *gateway, key, model string) int {
	req, _ := http.NewRequest("POST", g.URL+"/v1/chat/completions", strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// propagation returns how long after write returns every gateway answers want to key.
func (rs *replicaSet) propagation(t *testing.T, key string, want int, write func()) time.Duration {
	t.Helper()
	start := time.Now()
	write()
	var wg sync.WaitGroup
	took := make([]time.Duration, len(rs.gateways))
	for i, g := range rs.gateways {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 10*time.Second {
				if chatStatus(g, key) == want {
					took[i] = time.Since(start)
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
			took[i] = time.Hour
		}()
	}
	wg.Wait()
	return slices.Max(took)
}

// TestControlPlanePropagation: a control plane and three gateway replicas. Keys created and
// revoked on the control plane take effect on every replica within a second (measured: the
// p99 over 20 of each is logged, and asserted under 1 s); the control plane itself serves no
// inference; replicas never open a database.
func TestControlPlanePropagation(t *testing.T) {
	rs := startReplicaSet(t, 3)
	if resp, body := rs.control.do(t, "POST", "/v1/chat/completions", rs.control.Token, `{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "control plane") {
		t.Errorf("inference on the control plane: %d %s; want a 404 pointing to the gateways", resp.StatusCode, body)
	}
	for i, g := range rs.gateways {
		st := readyz(t, g)
		if st["control_plane"] != "connected" || st["database"] != "ok" && st["database"] != nil {
			t.Errorf("gateway %d readiness %v", i, st)
		}
		if resp, _ := g.do(t, "GET", "/api/v1/users", g.Token, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("gateway %d serves the Admin API: %d", i, resp.StatusCode)
		}
	}
	admin := rs.control.adminClient()
	ctx := context.Background()
	if _, err := admin.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "ana", Teams: []string{"testers"}}}); err != nil {
		t.Fatal(err)
	}
	var created, revoked []time.Duration
	for i := range 20 {
		var secret, id string
		d := rs.propagationOf(t, func() (string, int) {
			k, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: fmt.Sprint("k", i), Owner: &adminv1.ApiKey_User{User: "ana"}}})
			if err != nil {
				t.Fatal(err)
			}
			secret, id = k.GetSecret(), k.GetApiKey().GetId()
			return secret, http.StatusOK
		})
		created = append(created, d)
		revoked = append(revoked, rs.propagation(t, secret, http.StatusUnauthorized, func() {
			if _, err := admin.RevokeApiKey(ctx, &adminv1.RevokeApiKeyRequest{Id: id}); err != nil {
				t.Fatal(err)
			}
		}))
	}
	slices.Sort(created)
	slices.Sort(revoked)
	t.Logf("key created -> accepted by all 3 gateways: p50 %v, p99 (max of 20) %v", created[10], created[19])
	t.Logf("key revoked -> refused by all 3 gateways: p50 %v, p99 (max of 20) %v", revoked[10], revoked[19])
	if created[19] >= time.Second || revoked[19] >= time.Second {
		t.Errorf("propagation p99: created %v, revoked %v; want under 1 s", created[19], revoked[19])
	}
}

// propagationOf is propagation for a key that write creates: the key is known only after it.
func (rs *replicaSet) propagationOf(t *testing.T, write func() (key string, want int)) time.Duration {
	t.Helper()
	start := time.Now()
	key, want := write()
	var wg sync.WaitGroup
	took := make([]time.Duration, len(rs.gateways))
	for i, g := range rs.gateways {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 10*time.Second {
				if chatStatus(g, key) == want {
					took[i] = time.Since(start)
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
			took[i] = time.Hour
		}()
	}
	wg.Wait()
	return slices.Max(took)
}

// TestControlPlaneOutage: with the control plane killed, every replica keeps serving (100 %
// success for existing keys) and says so in /readyz; a replica restarted during the outage
// starts from its saved, sealed config; when the control plane returns, replicas reconnect and
// take new writes.
func TestControlPlaneOutage(t *testing.T) {
	rs := startReplicaSet(t, 3)
	key := rs.control.userKey(t, "bo", "testers")
	waitUntil(t, func() bool {
		for _, g := range rs.gateways {
			if chatStatus(g, key) != http.StatusOK {
				return false
			}
		}
		return true
	})
	rs.control.stop()
	for _, g := range rs.gateways {
		waitUntil(t, func() bool { return readyz(t, g)["control_plane"] == "unreachable" })
	}
	ok := 0
	for i := range 60 {
		if chatStatus(rs.gateways[i%3], key) == http.StatusOK {
			ok++
		}
	}
	if ok != 60 {
		t.Errorf("during the control-plane outage %d of 60 requests succeeded, want all", ok)
	}
	// The saved config is sealed: neither the key's hash nor the mock account is readable.
	saved, err := os.ReadFile(filepath.Join(rs.dirs[0], "replica-config.sealed"))
	if err != nil {
		t.Fatal(err)
	}
	if json.Valid(saved) || strings.Contains(string(saved), "mock/") || strings.Contains(string(saved), "Accounts") {
		t.Error("the saved config is not sealed")
	}
	rs.gateways[0].stop()
	rs.startGateway(t, 0) // waits for "snapshot": "loaded": from the saved file
	st := readyz(t, rs.gateways[0])
	if st["config_source"] != "saved" || st["control_plane"] != "unreachable" {
		t.Errorf("restarted gateway during the outage: %v", st)
	}
	if got := chatStatus(rs.gateways[0], key); got != http.StatusOK {
		t.Errorf("restarted gateway answered %d to an existing key, want 200", got)
	}
	rs.startControl(t)
	for _, g := range rs.gateways {
		waitUntil(t, func() bool { return readyz(t, g)["control_plane"] == "connected" })
	}
	fresh := rs.control.userKey(t, "cy", "testers")
	d := rs.propagationOf(t, func() (string, int) { return fresh, http.StatusOK })
	t.Logf("after the control plane's return, a new key reached all replicas in %v", d)
	if d > 5*time.Second {
		t.Errorf("a new key took %v after the control plane's return", d)
	}
}

// TestControlPlaneStalledStream: a watch stream that stalls (bytes held, connection open) is
// detected by its missing heartbeats and replaced; writes made meanwhile arrive once it is.
// A revoked gateway token ends the replicas' streams; they keep serving their last config.
func TestControlPlaneStalledStream(t *testing.T) {
	rs := &replicaSet{}
	base := startReplicaSet(t, 0)
	*rs = *base
	stall := newStallProxy(t, rs.listen)
	rs.dirs = append(rs.dirs, t.TempDir())
	rs.gateways = append(rs.gateways, nil)
	// The replica reaches the control plane through the proxy.
	env := map[string]string{"LLMGW_GATEWAY_TOKEN": rs.token, "LLMGW_MASTER_KEY": testMasterKey}
	g := startGatewayHooks(t, fastLink, env, "--role", "gateway", "--control-plane", "http://"+stall.addr(), "--data-dir", rs.dirs[0])
	waitUntil(t, func() bool { return readyz(t, g)["snapshot"] == "loaded" })
	rs.gateways[0] = g
	stall.pause(true)
	waitUntil(t, func() bool { return readyz(t, g)["control_plane"] == "unreachable" })
	key := rs.control.userKey(t, "di", "testers")
	time.Sleep(100 * time.Millisecond)
	if got := chatStatus(g, key); got != http.StatusUnauthorized {
		t.Fatalf("a key created while the stream stalls answered %d: the stall was not real", got)
	}
	stall.pause(false)
	d := rs.propagationOf(t, func() (string, int) { return key, http.StatusOK })
	t.Logf("after the stall, the key arrived in %v", d)

	// Revoking the gateway token ends the stream; the replica keeps serving.
	resp, body := rs.control.do(t, "GET", "/api/v1/gateway-tokens", rs.control.Token, "")
	var list struct {
		GatewayTokens []struct{ ID string } `json:"gatewayTokens"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || resp.StatusCode != 200 || len(list.GatewayTokens) != 1 || strings.Contains(body, rs.token) {
		t.Fatalf("list gateway tokens: %d %s", resp.StatusCode, body)
	}
	if resp, body := rs.control.do(t, "POST", "/api/v1/gateway-tokens/"+list.GatewayTokens[0].ID+":revoke", rs.control.Token, "{}"); resp.StatusCode != 200 {
		t.Fatalf("revoke gateway token: %d %s", resp.StatusCode, body)
	}
	waitUntil(t, func() bool {
		st := readyz(t, g)
		return st["control_plane"] == "unreachable" && strings.Contains(fmt.Sprint(st["control_plane_error"]), "unauthenticated")
	})
	if got := chatStatus(g, key); got != http.StatusOK {
		t.Errorf("a replica cut off by token revocation answered %d, want it to keep serving", got)
	}
}

// stallProxy forwards TCP connections; paused, it holds every byte (connections stay open).
type stallProxy struct {
	ln     net.Listener
	paused atomic.Bool
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln}
	var conns sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer conns.Done()
		defer dst.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			for p.paused.Load() {
				time.Sleep(5 * time.Millisecond)
			}
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			conns.Add(2)
			go pipe(u, c)
			go pipe(c, u)
		}
	}()
	t.Cleanup(func() { p.paused.Store(false); ln.Close() })
	return p
}

func (p *stallProxy) addr() string  { return p.ln.Addr().String() }
func (p *stallProxy) pause(on bool) { p.paused.Store(on) }

// TestLimitsAcrossReplicas: a 60 requests/minute rule on a control plane, traffic far above it
// spread 80/15/5 over three replicas: together they admit within 5 % of 60 (the leases bound
// the overshoot), where three independent replicas would admit up to 180.
func TestLimitsAcrossReplicas(t *testing.T) {
	rs := startReplicaSet(t, 3)
	ctx := context.Background()
	if _, err := rs.control.adminClient().CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: &adminv1.RateLimit{Name: "rpm",
		When:   &adminv1.Condition{Models: []string{"mock/echo"}},
		Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 60}}}}); err != nil {
		t.Fatal(err)
	}
	key := rs.control.userKey(t, "eve", "testers")
	// Every replica knows the key once it refuses it for a model the rule does not cover
	// (403, not 401), which admits nothing.
	for _, g := range rs.gateways {
		waitUntil(t, func() bool { return chatModelStatus(g, key, "mock/unknown") != http.StatusUnauthorized })
	}
	// 400 requests over about 2 s from 4 clients: each sync round (200 ms) sees demand.
	var admitted, refused, other atomic.Int64
	var wg sync.WaitGroup
	var n atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := n.Add(1)
				if i > 400 {
					return
				}
				g := rs.gateways[0]
				switch i % 20 {
				case 0, 1, 2:
					g = rs.gateways[1]
				case 3:
					g = rs.gateways[2]
				}
				switch chatStatus(g, key) {
				case http.StatusOK:
					admitted.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					other.Add(1)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	t.Logf("60 requests/minute across 3 replicas (80/15/5): %d admitted, %d refused", admitted.Load(), refused.Load())
	if other.Load() != 0 {
		t.Errorf("%d answers were neither 200 nor 429", other.Load())
	}
	if a := admitted.Load(); a < 57 || a > 63 {
		t.Errorf("admitted %d, want within 5 %% of 60", a)
	}
	for i, g := range rs.gateways {
		if st := readyz(t, g); st["limits"] != "leased" {
			t.Errorf("gateway %d limits: %v", i, st["limits"])
		}
	}
}
