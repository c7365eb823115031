package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mt "github.com/llmgw/llmgw/gateway/metrics/metricstest"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	"github.com/llmgw/llmgw/masterkey"
	"github.com/llmgw/llmgw/secretref/secretreftest"
	"github.com/llmgw/llmgw/store"
)

// secretTicks is a manual ticker for the secret-manager refresh: the test sends the ticks.
// It records the interval the process asked for.
type secretTicks struct {
	ch    chan time.Time
	asked chan time.Duration
}

func newSecretTicks() *secretTicks {
	return &secretTicks{ch: make(chan time.Time), asked: make(chan time.Duration, 1)}
}

func (s *secretTicks) ticker(d time.Duration) (<-chan time.Time, func()) {
	s.asked <- d
	return s.ch, func() {}
}

// refresh runs one refresh to its end: the second tick is taken only once the refresh of the
// first, and the snapshot rebuild it caused, are done.
func (s *secretTicks) refresh(t *testing.T) {
	t.Helper()
	for range 2 {
		select {
		case s.ch <- time.Now():
		case <-time.After(30 * time.Second):
			t.Fatal("the secret refresh loop did not take a tick in 30 s")
		}
	}
}

const vaultToken = "s.e2e-vault-token"

// vaultedConfig is a provider account whose key is in Vault.
func vaultedConfig(upstream string) string {
	return fmt.Sprintf(`
- name: vaulted
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: "vault://secret/llmgw/openai#api_key"}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini}
`, upstream)
}

// TestSecretManagerRotation: a provider key that the config file keeps in Vault (the official
// Vault client against a fake speaking KV v2) reaches the upstream; the key is rotated in
// Vault and, after the refresh (--secret-refresh sets its interval), the upstream sees the new
// key without a restart, while requests never read Vault; Vault going down keeps the last key
// serving and counts the failure in llmgw_secret_refresh_failures_total; the key is never
// logged and never stored in the database.
func TestSecretManagerRotation(t *testing.T) {
	vault := secretreftest.NewVault(vaultToken)
	vault.Put("secret/llmgw/openai", map[string]string{"api_key": "sk-vault-first"})
	vsrv := httptest.NewServer(vault)
	defer vsrv.Close()
	up := providertest.NewOpenAI(t)
	ticks := newSecretTicks()
	dbPath := filepath.Join(t.TempDir(), "llmgw.db")
	env := map[string]string{"VAULT_ADDR": vsrv.URL, "VAULT_TOKEN": vaultToken, "LLMGW_MASTER_KEY": testMasterKey}
	g := startGatewayHooks(t, hooks{secretTicker: ticks.ticker}, env,
		"--config", writeConfig(t, vaultedConfig(up.BaseURL())), "--secret-refresh", "2m", "--db", "sqlite:"+dbPath)
	if d := <-ticks.asked; d != 2*time.Minute {
		t.Errorf("the refresh ticks every %v, want --secret-refresh 2m", d)
	}
	chat := func(wantKey string) {
		t.Helper()
		resp, body := g.do(t, "POST", "/v1/chat/completions", g.Token, `{"model":"vaulted/gpt","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("chat: %d %s", resp.StatusCode, body)
		}
		if got := up.LastRequest().Authorization; got != "Bearer "+wantKey {
			t.Errorf("upstream saw %q, want the key %s", got, wantKey)
		}
	}

	chat("sk-vault-first")
	vault.Put("secret/llmgw/openai", map[string]string{"api_key": "sk-vault-rotated"})
	reads := vault.Reads()
	chat("sk-vault-first") // cached until the refresh
	if vault.Reads() != reads {
		t.Errorf("a request read Vault (%d reads, want %d): secrets are read off the request path", vault.Reads(), reads)
	}
	ticks.refresh(t)
	chat("sk-vault-rotated")

	vault.SetDown(true)
	ticks.refresh(t)
	chat("sk-vault-rotated")
	f := mt.Get(t, g.URL+"/metrics", http.Header{"Authorization": {"Bearer " + g.Token}})
	if v, ok := f.Value("llmgw_secret_refresh_failures_total", mt.Labels{"scheme": "vault"}); !ok || v < 1 {
		t.Errorf("llmgw_secret_refresh_failures_total{scheme=vault} = %v (present %v), want at least 1", v, ok)
	}
	logs := g.Logs.String()
	if !strings.Contains(logs, "could not refresh a secret") || !strings.Contains(logs, "vault://secret/llmgw/openai#api_key") {
		t.Errorf("the failed refresh was not logged with its reference:\n%s", logs)
	}

	g.stop()
	for _, v := range []string{"sk-vault-first", "sk-vault-rotated"} {
		if strings.Contains(logs, v) || strings.Contains(g.Logs.String(), v) {
			t.Errorf("the logs hold the key %s", v)
		}
	}
	key, err := masterkey.Parse(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), "sqlite:"+dbPath, store.Options{MasterKey: key, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, err := st.SnapshotConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cfg.Accounts {
		if a.Name == "vaulted" && a.APIKey != "" {
			t.Errorf("the database holds a key for the vaulted account (%d bytes)", len(a.APIKey))
		}
	}
}

// TestSecretManagerUnreachableAtStart: a key whose secret manager cannot be read at start
// leaves its models answering 503 (the rest serves), and the first refresh that reads it
// brings them up.
func TestSecretManagerUnreachableAtStart(t *testing.T) {
	vault := secretreftest.NewVault(vaultToken)
	vault.Put("secret/llmgw/openai", map[string]string{"api_key": "sk-vault-late"})
	vault.SetDown(true)
	vsrv := httptest.NewServer(vault)
	defer vsrv.Close()
	up := providertest.NewOpenAI(t)
	ticks := newSecretTicks()
	g := startGatewayHooks(t, hooks{secretTicker: ticks.ticker}, map[string]string{"VAULT_ADDR": vsrv.URL, "VAULT_TOKEN": vaultToken},
		"--config", writeConfig(t, vaultedConfig(up.BaseURL())))
	if d := <-ticks.asked; d != 5*time.Minute {
		t.Errorf("the default refresh interval is %v, want 5m", d)
	}
	body := `{"model":"vaulted/gpt","messages":[{"role":"user","content":"hi"}]}`
	resp, answer := g.do(t, "POST", "/v1/chat/completions", g.Token, body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(answer, "vault://secret/llmgw/openai#api_key") {
		t.Errorf("before the key was read: %d %s, want 503 naming the reference", resp.StatusCode, answer)
	}
	if strings.Contains(answer, vsrv.URL) || strings.Contains(answer, "sealed") {
		t.Errorf("the 503 quotes the secret manager's error: %s", answer)
	}
	if !strings.Contains(g.Logs.String(), "Vault is sealed") {
		t.Errorf("the start log lacks the secret manager's error:\n%s", g.Logs.String())
	}
	if resp, answer := g.do(t, "POST", "/v1/chat/completions", g.Token, `{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != http.StatusOK {
		t.Errorf("another account: %d %s, want 200", resp.StatusCode, answer)
	}
	vault.SetDown(false)
	ticks.refresh(t)
	if resp, answer := g.do(t, "POST", "/v1/chat/completions", g.Token, body); resp.StatusCode != http.StatusOK || up.LastRequest().Authorization != "Bearer sk-vault-late" {
		t.Errorf("after the refresh: %d %s, upstream saw %q", resp.StatusCode, answer, up.LastRequest().Authorization)
	}
}

// TestSecretManagerRotationReachesReplicas: the control plane reads the Vault key and gateway
// replicas, which never read a secret manager, get it in the config it pushes; a rotation
// reaches the replica's upstream calls after the control plane's refresh, without a restart.
func TestSecretManagerRotationReachesReplicas(t *testing.T) {
	vault := secretreftest.NewVault(vaultToken)
	vault.Put("secret/llmgw/openai", map[string]string{"api_key": "sk-vault-first"})
	vsrv := httptest.NewServer(vault)
	defer vsrv.Close()
	up := providertest.NewOpenAI(t)
	ticks := newSecretTicks()
	h := fastLink
	h.secretTicker = ticks.ticker
	cfg := vaultedConfig(up.BaseURL()) + "- authz_rules:\n    - {models: [vaulted/gpt], teams: [testers]}\n"
	rs := startReplicaSetWith(t, 1, h, map[string]string{"VAULT_ADDR": vsrv.URL, "VAULT_TOKEN": vaultToken}, "--config", writeConfig(t, cfg))
	<-ticks.asked
	key := rs.control.userKey(t, "carol", "testers")
	gw := rs.gateways[0]
	waitUntil(t, func() bool { return chatModelStatus(gw, key, "vaulted/gpt") == http.StatusOK })
	if got := up.LastRequest().Authorization; got != "Bearer sk-vault-first" {
		t.Fatalf("upstream saw %q through the replica, want the Vault key", got)
	}
	vault.Put("secret/llmgw/openai", map[string]string{"api_key": "sk-vault-rotated"})
	ticks.refresh(t)
	waitUntil(t, func() bool {
		return chatModelStatus(gw, key, "vaulted/gpt") == http.StatusOK && up.LastRequest().Authorization == "Bearer sk-vault-rotated"
	})
	if strings.Contains(gw.Logs.String(), "sk-vault-") {
		t.Error("the replica logged the key")
	}
}
