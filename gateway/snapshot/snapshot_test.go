package snapshot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/provider"
)

// fakeAdapter is a do-nothing adapter; Compile only needs something to hold.
type fakeAdapter struct{ cfg provider.Config }

func (fakeAdapter) Chat(context.Context, *provider.ChatCall) (*provider.ChatResult, error) {
	return nil, nil
}

func (fakeAdapter) ChatStream(context.Context, *provider.ChatCall) (provider.ChatStream, error) {
	return nil, nil
}

type builder struct{}

func (builder) Build(cfg provider.Config) (provider.Adapter, error) {
	if cfg.Kind == "broken" {
		return nil, errors.New("broken on purpose")
	}
	return fakeAdapter{cfg: cfg}, nil
}

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func testConfig() *Config {
	return &Config{
		Accounts: []Account{
			{Name: "openai", Provider: "openai", APIKey: "sk-account"},
			{Name: "local", Provider: "self-hosted-model", BaseURL: "http://vllm:8000/v1", Settings: map[string]string{"region": "eu", "tier": "a"}},
			{Name: "bad", Provider: "broken"},
		},
		Models: []Model{
			{Account: "openai", Name: "gpt-4o"},
			{Account: "openai", Name: "emb", UpstreamModel: "text-embedding-3-small", Types: []string{TypeEmbedding}},
			{Account: "local", Name: "llama", UpstreamModel: "meta/llama", BaseURL: "http://other:9000/v1", APIKey: "model-key", Settings: map[string]string{"tier": "b"}},
			{Account: "bad", Name: "m"},
			{Account: "ghost", Name: "orphan"},
		},
		Users: []User{
			{Name: "alice", Teams: []string{"ml"}},
			{Name: "bob"},
			{Name: "carol", Disabled: true},
			{Name: "root", Admin: true},
		},
		VirtualAccounts: []VirtualAccount{{Name: "billing", Team: "finance"}, {Name: "off", Disabled: true}},
		Keys: []Key{
			{ID: "k-alice", Hash: KeyHash("alice-key"), User: "alice"},
			{ID: "k-bob", Hash: KeyHash("bob-key"), User: "bob"},
			{ID: "k-carol", Hash: KeyHash("carol-key"), User: "carol"},
			{ID: "k-root", Hash: KeyHash("root-key"), User: "root"},
			{ID: "k-billing", Hash: KeyHash("billing-key"), VirtualAccount: "billing"},
			{ID: "k-off", Hash: KeyHash("off-key"), VirtualAccount: "off"},
			{ID: "k-revoked", Hash: KeyHash("revoked-key"), User: "alice", Revoked: true},
			{ID: "k-expired", Hash: KeyHash("expired-key"), User: "alice", ExpireTime: now.Add(-time.Minute)},
			{ID: "k-later", Hash: KeyHash("later-key"), User: "bob", ExpireTime: now.Add(time.Hour)},
		},
		Rules: []Rule{
			{Name: "ml-openai", Models: []string{"openai/*"}, Teams: []string{"ml"}},
			{Name: "bob-llama", Models: []string{"local/llama"}, Users: []string{"bob"}},
			{Name: "billing-all", Models: []string{"*"}, VirtualAccounts: []string{"billing"}},
		},
		AdminTokenHash: KeyHash("admin-token"),
	}
}

func TestAuthenticate(t *testing.T) {
	s := Compile(testConfig(), builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tests := []struct {
		secret string
		want   string // principal name, or "" for a 401
	}{
		{"alice-key", "user:alice"},
		{"billing-key", "va:billing"},
		{"admin-token", "admin"},
		{"later-key", "user:bob"},
		{"", ""},
		{"nope", ""},
		{"carol-key", ""},   // disabled user
		{"off-key", ""},     // disabled virtual account
		{"revoked-key", ""}, // revoked
		{"expired-key", ""}, // expired
	}
	for _, tt := range tests {
		p, err := s.Authenticate(tt.secret, now)
		if tt.want == "" {
			var e *apierr.Error
			if !errors.As(err, &e) || e.Kind != apierr.KindUnauthenticated {
				t.Errorf("%q: got %v, %v; want unauthenticated", tt.secret, p, err)
			}
			continue
		}
		if err != nil || p.Name() != tt.want {
			t.Errorf("%q: got %v, %v; want %s", tt.secret, p, err, tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	s := Compile(testConfig(), builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	principal := func(secret string) *Principal {
		p, err := s.Authenticate(secret, now)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, key, model, typ string
		kind                  apierr.Kind // 0 (internal) stands for success here
	}{
		{"team rule by account wildcard", "alice-key", "openai/gpt-4o", TypeChat, 0},
		{"team rule, embedding", "alice-key", "openai/emb", TypeEmbedding, 0},
		{"wrong type", "alice-key", "openai/emb", TypeChat, apierr.KindInvalidRequest},
		{"not in the team's rule", "alice-key", "local/llama", TypeChat, apierr.KindPermissionDenied},
		{"user rule", "bob-key", "local/llama", TypeChat, 0},
		{"user without rule", "bob-key", "openai/gpt-4o", TypeChat, apierr.KindPermissionDenied},
		{"virtual account star rule", "billing-key", "local/llama", TypeChat, 0},
		{"admin user sees everything", "root-key", "openai/gpt-4o", TypeChat, 0},
		{"unknown model", "root-key", "openai/nope", TypeChat, apierr.KindNotFound},
		{"model of a missing account is not served", "root-key", "ghost/orphan", TypeChat, apierr.KindNotFound},
		{"misconfigured model answers unavailable", "admin-token", "bad/m", TypeChat, apierr.KindUpstreamUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := s.Resolve(principal(tt.key), tt.model, tt.typ)
			if tt.kind == 0 {
				if err != nil || m.FQN != tt.model || m.Adapter == nil {
					t.Fatalf("got %v, %v", m, err)
				}
				return
			}
			var e *apierr.Error
			if !errors.As(err, &e) || e.Kind != tt.kind {
				t.Fatalf("got %v; want kind %v", err, tt.kind)
			}
		})
	}
}

func TestCompileMergesModelOverrides(t *testing.T) {
	s := Compile(testConfig(), builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	p, _ := s.Authenticate("admin-token", now)
	cases := map[string]provider.Config{
		"openai/gpt-4o": {Kind: "openai", APIKey: "sk-account", Model: "gpt-4o"},
		"openai/emb":    {Kind: "openai", APIKey: "sk-account", Model: "text-embedding-3-small"},
		"local/llama":   {Kind: "self-hosted-model", BaseURL: "http://other:9000/v1", APIKey: "model-key", Model: "meta/llama", Settings: map[string]string{"region": "eu", "tier": "b"}},
	}
	typ := map[string]string{"openai/emb": TypeEmbedding}
	for fqn, want := range cases {
		ty := typ[fqn]
		if ty == "" {
			ty = TypeChat
		}
		m, err := s.Resolve(p, fqn, ty)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Adapter.(fakeAdapter).cfg; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: built with %+v, want %+v", fqn, got, want)
		}
	}
	var names []string
	for _, m := range s.Models(p) {
		names = append(names, m.FQN)
	}
	if got, want := len(names), 4; got != want || names[0] != "bad/m" {
		t.Errorf("models %v: want 4 sorted (the misconfigured one listed)", names)
	}
}

type countingSource struct {
	cfg   *Config
	err   error
	calls int
}

func (c *countingSource) SnapshotConfig(context.Context) (*Config, error) {
	c.calls++
	return c.cfg, c.err
}

func TestReloaderKeepsLastSnapshotOnFailure(t *testing.T) {
	src := &countingSource{cfg: testConfig()}
	var h Holder
	r := NewReloader(src, builder{}, nil, &h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := h.Load()
	if first == nil {
		t.Fatal("no snapshot after the first reload")
	}
	src.cfg = testConfig() // equal content: no swap
	if err := r.Reload(context.Background()); err != nil || h.Load() != first {
		t.Fatalf("an unchanged config swapped the snapshot (err %v)", err)
	}
	src.err = errors.New("database down")
	if err := r.Reload(context.Background()); err == nil || h.Load() != first {
		t.Fatalf("a failed reload changed the snapshot (err %v)", err)
	}
	src.err = nil
	src.cfg = testConfig()
	src.cfg.Keys = nil
	if err := r.Reload(context.Background()); err != nil || h.Load() == first {
		t.Fatalf("a changed config was not swapped in (err %v)", err)
	}
	if _, err := h.Load().Authenticate("alice-key", now); err == nil {
		t.Error("a removed key still authenticates")
	}
}

func TestCompileMissingSecrets(t *testing.T) {
	cfg := &Config{
		Accounts: []Account{
			{Name: "openai-main", Provider: "openai"},
			{Name: "stored", Provider: "openai", APIKey: "sk-stored"},
			{Name: "nv", Provider: "self-hosted-model", BaseURL: "http://nv/v1"},
		},
		Models: []Model{
			{Account: "openai-main", Name: "gpt-4o"},
			{Account: "openai-main", Name: "own-key", APIKey: "sk-model"},
			{Account: "stored", Name: "gpt-4o"},
			{Account: "nv", Name: "nano"},
			{Account: "nv", Name: "stored-model-key", APIKey: "nv-stored"},
			{Account: "nv", Name: "keyless"},
		},
		MissingSecrets: []MissingSecret{
			{Account: "openai-main", Problem: "secret env://OPENAI_API_KEY is not set"},
			{Account: "stored", Problem: "secret env://STORED_KEY is not set"},
			{Account: "nv", Model: "nano", Problem: "secret env://NVIDIA_API_KEY is not set"},
			{Account: "nv", Model: "stored-model-key", Problem: "secret file:///run/nv cannot be read"},
		},
	}
	s := Compile(cfg, builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	admin := &Principal{Admin: true}
	tests := []struct {
		model, unavailable string // "" when it serves
	}{
		{"openai-main/gpt-4o", "the provider account openai-main is unavailable: its secret env://OPENAI_API_KEY is not set"},
		{"openai-main/own-key", ""},
		{"stored/gpt-4o", ""}, // a stored key is used when the variable is unset
		{"nv/nano", "the model nv/nano is unavailable: its secret env://NVIDIA_API_KEY is not set"},
		{"nv/stored-model-key", ""},
		{"nv/keyless", ""},
	}
	for _, tt := range tests {
		m, err := s.Resolve(admin, tt.model, TypeChat)
		if tt.unavailable == "" {
			if err != nil || m.Adapter == nil {
				t.Errorf("%s: %v, want it to serve", tt.model, err)
			}
			continue
		}
		var e *apierr.Error
		if !errors.As(err, &e) || e.Kind != apierr.KindUpstreamUnavailable || e.Message != tt.unavailable {
			t.Errorf("%s: got %v, want unavailable %q", tt.model, err, tt.unavailable)
		}
	}
	want := map[string]string{
		"openai-main": "secret env://OPENAI_API_KEY is not set",
		"nv/nano":     "secret env://NVIDIA_API_KEY is not set",
	}
	if got := s.Unavailable(); !reflect.DeepEqual(got, want) {
		t.Errorf("Unavailable() = %v, want %v", got, want)
	}
	if got := Compile(testConfig(), builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Unavailable(); got != nil {
		t.Errorf("Unavailable() without missing secrets = %v", got)
	}
}

// TestAuthenticateRotationGrace: after a rotation with a grace period, the old secret
// authenticates as the same key until the period ends and is refused after it, while the new
// secret works throughout. The clock is the now Authenticate is given.
func TestAuthenticateRotationGrace(t *testing.T) {
	until := now.Add(time.Hour)
	cfg := testConfig()
	cfg.Keys = append(cfg.Keys,
		Key{ID: "k-rotated", Hash: KeyHash("new-key"), User: "bob", PreviousHash: KeyHash("old-key"), PreviousExpireTime: until},
		// The key's own expiry comes first: the old secret ends with the key.
		Key{ID: "k-short", Hash: KeyHash("short-new"), User: "bob", ExpireTime: now.Add(time.Minute), PreviousHash: KeyHash("short-old"), PreviousExpireTime: until},
		// A revoked key's old secret is refused like its new one.
		Key{ID: "k-gone", Hash: KeyHash("gone-new"), User: "bob", Revoked: true, PreviousHash: KeyHash("gone-old"), PreviousExpireTime: until},
	)
	s := Compile(cfg, builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tests := []struct {
		name   string
		secret string
		at     time.Time
		wantID string // "" wants a 401
	}{
		{"new secret", "new-key", now, "k-rotated"},
		{"old secret within the grace period", "old-key", now, "k-rotated"},
		{"old secret at the end of the grace period", "old-key", until, "k-rotated"},
		{"old secret after the grace period", "old-key", until.Add(time.Nanosecond), ""},
		{"new secret after the grace period", "new-key", until.Add(time.Hour), "k-rotated"},
		{"old secret past the key's own expiry", "short-old", now.Add(2 * time.Minute), ""},
		{"old secret of a revoked key", "gone-old", now, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.Authenticate(tt.secret, tt.at)
			if tt.wantID == "" {
				var e *apierr.Error
				if !errors.As(err, &e) || e.Kind != apierr.KindUnauthenticated {
					t.Fatalf("got %+v, %v; want unauthenticated", p, err)
				}
				return
			}
			if err != nil || p.KeyID != tt.wantID || p.User != "bob" {
				t.Fatalf("got %+v, %v; want bob's key %s", p, err, tt.wantID)
			}
		})
	}
}

// TestCompileGovernance: the rules in the config are compiled and reachable from the snapshot,
// and notification targets' secrets and Slack webhook URLs are masked by the redactor.
func TestCompileGovernance(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimits = []governance.RateLimitRule{{Name: "rpm", Limits: []governance.Limit{{Unit: "requests_per_minute", LimitTo: 5}}}}
	cfg.Budgets = []governance.BudgetRule{{Name: "month", Unit: "cost_per_month", LimitTo: 10, Targets: []governance.NotificationTarget{
		{Type: "webhook", URL: "https://hooks.example.com/llmgw", Secret: "hmac-secret-value"},
		{Type: "slack-webhook", URL: "https://hooks.slack.com/services/T0/B0/slacktoken"},
	}}}
	s := Compile(cfg, builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if l, b := s.Governance().Len(); l != 1 || b != 1 {
		t.Errorf("governance has %d rate limits and %d budgets, want 1 and 1", l, b)
	}
	red := s.Redactor()
	for _, secret := range []string{"hmac-secret-value", "https://hooks.slack.com/services/T0/B0/slacktoken"} {
		if got := red.Redact("post failed: " + secret); got == "post failed: "+secret {
			t.Errorf("the redactor does not mask %s", secret)
		}
	}
	if got := red.Redact("https://hooks.example.com/llmgw"); got != "https://hooks.example.com/llmgw" {
		t.Errorf("a plain webhook URL was masked: %s", got)
	}
}

func TestHolderRevisionAndLoadTime(t *testing.T) {
	at := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	h := Holder{Now: func() time.Time { return at }}
	if h.Revision() != 0 || !h.LoadedAt().IsZero() {
		t.Fatalf("empty holder: revision %d, loaded %v", h.Revision(), h.LoadedAt())
	}
	src := &countingSource{cfg: testConfig()}
	r := NewReloader(src, builder{}, nil, &h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.Revision() != 1 || !h.LoadedAt().Equal(at) {
		t.Fatalf("after the first load: revision %d, loaded %v", h.Revision(), h.LoadedAt())
	}
	at = at.Add(time.Minute)
	if err := r.Reload(context.Background()); err != nil || h.Revision() != 1 {
		t.Fatalf("an unchanged config counted a revision: %d (err %v)", h.Revision(), err)
	}
	cfg := testConfig()
	cfg.Models = cfg.Models[:1]
	src.cfg = cfg
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.Revision() != 2 || !h.LoadedAt().Equal(at) {
		t.Fatalf("after a change: revision %d, loaded %v", h.Revision(), h.LoadedAt())
	}
	if m, ok := h.Load().Model(cfg.Models[0].Account + "/" + cfg.Models[0].Name); !ok || m.Provider == "" {
		t.Fatalf("model %+v has no provider kind", m)
	}
}

// TestAuthenticateAllocatesNothing: admitting a key is a hash and a map lookup, with no
// allocation (a key up to 32 bytes long; a longer one costs its copy for hashing).
func TestAuthenticateAllocatesNothing(t *testing.T) {
	s := Compile(testConfig(), builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if n := testing.AllocsPerRun(100, func() {
		if _, err := s.Authenticate("alice-key", now); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
	// Stored hashes stay valid: the hex of SHA-256.
	if got := KeyHash("alice-key"); got != "72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20" {
		t.Errorf("KeyHash = %s", got)
	}
}

// fakeTokens authenticates every token as user "jwt" and counts its calls.
type fakeTokens struct{ calls int }

func (f *fakeTokens) Authenticate(_ *Snapshot, _ string, _ time.Time) (*Principal, error) {
	f.calls++
	return &Principal{User: "jwt"}, nil
}

func TestTokensOnlyForJWTShapedSecrets(t *testing.T) {
	toks := &fakeTokens{}
	h := &Holder{Tokens: toks}
	h.Store(Compile(testConfig(), builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil))))
	s := h.Load()
	if p, err := s.Authenticate("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", now); err != nil || p.User != "jwt" || toks.calls != 1 {
		t.Fatalf("JWT-shaped secret: %+v, %v, %d calls; want the Tokens' principal", p, err, toks.calls)
	}
	for _, secret := range []string{"llmgw-nope", "eyJonly.one", "a.b.c"} {
		if _, err := s.Authenticate(secret, now); err == nil || toks.calls != 1 {
			t.Errorf("%q: %v, %d calls; want refused without Tokens", secret, err, toks.calls)
		}
	}
	// A snapshot stored without Tokens refuses JWTs as unknown keys.
	plain := Compile(testConfig(), builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := plain.Authenticate("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", now); err == nil {
		t.Error("a JWT was accepted without Tokens")
	}
}
