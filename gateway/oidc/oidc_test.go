package oidc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/oidc"
	"github.com/llmgw/llmgw/gateway/oidc/oidctest"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var start = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	idp   *oidctest.Provider
	clock *clock
	v     *oidc.Verifier
	h     *snapshot.Holder
	users *fakeUsers
}

type fakeUsers struct {
	mu    sync.Mutex
	names []string
	added chan string
}

func (f *fakeUsers) EnsureUser(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names = append(f.names, name)
	f.added <- name
	return nil
}

// newEnv starts a provider and a verifier over a snapshot with its config changed by edit.
func newEnv(t *testing.T, edit func(*snapshot.Config, *oidctest.Provider)) *env {
	t.Helper()
	c := &clock{t: start}
	idp := oidctest.New(oidctest.WithClock(c.now))
	t.Cleanup(idp.Close)
	users := &fakeUsers{added: make(chan string, 10)}
	v := oidc.New(slog.New(slog.NewTextHandler(io.Discard, nil)), oidc.WithClock(c.now), oidc.WithUserStore(users))
	cfg := &snapshot.Config{
		Accounts: []snapshot.Account{{Name: "mock", Provider: "mock"}},
		Models:   []snapshot.Model{{Account: "mock", Name: "m"}},
		Users: []snapshot.User{
			{Name: "alice@example.com", Teams: []string{"ml"}},
			{Name: "root@example.com", Admin: true},
			{Name: "gone@example.com", Disabled: true},
		},
		Rules: []snapshot.Rule{{Name: "ml", Models: []string{"mock/m"}, Teams: []string{"ml"}}},
		IdentityProviders: []snapshot.IdentityProvider{{
			Name: "corp", Issuer: idp.Issuer, Audiences: []string{"llmgw"}, GroupsClaim: "groups", CreateUsers: true, ClientID: "llmgw-cli",
		}},
	}
	if edit != nil {
		edit(cfg, idp)
	}
	h := &snapshot.Holder{Tokens: v}
	h.Store(snapshot.Compile(cfg, registry.New(http.DefaultClient), nil, slog.New(slog.NewTextHandler(io.Discard, nil))))
	v.Sync(context.Background(), cfg.IdentityProviders)
	return &env{t: t, idp: idp, clock: c, v: v, h: h, users: users}
}

func (e *env) auth(token string) (*snapshot.Principal, error) {
	return e.h.Load().Authenticate(token, e.clock.now())
}

// refused asserts that token is refused with 401 and a message containing want.
func (e *env) refused(token, want string) {
	e.t.Helper()
	p, err := e.auth(token)
	if err == nil {
		e.t.Fatalf("token accepted as %+v, want refused", p)
	}
	ae := apierr.From(err)
	if ae.Kind != apierr.KindUnauthenticated || !strings.Contains(ae.Message, want) {
		e.t.Fatalf("error %v (kind %v), want unauthenticated containing %q", ae.Message, ae.Kind, want)
	}
}

func (e *env) accepted(token string) *snapshot.Principal {
	e.t.Helper()
	p, err := e.auth(token)
	if err != nil {
		e.t.Fatalf("token refused: %v", err)
	}
	return p
}

func claims(idp *oidctest.Provider, at time.Time, aud string) jwt.Claims {
	return jwt.Claims{Issuer: idp.Issuer, Subject: "u1", Audience: jwt.Audience{aud}, IssuedAt: jwt.NewNumericDate(at),
		NotBefore: jwt.NewNumericDate(at), Expiry: jwt.NewNumericDate(at.Add(time.Hour))}
}

func alice(idp *oidctest.Provider, c jwt.Claims) oidctest.Token {
	return oidctest.Token{Claims: c, Extra: map[string]any{"email": "alice@example.com", "email_verified": true, "groups": []string{"eng"}}}
}

func TestAlgorithms(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			e := newEnv(t, nil)
			e.idp.Rotate(alg)
			e.clock.add(oidc.RefreshInterval)
			e.v.Sync(context.Background(), e.h.Load().Config().IdentityProviders)
			p := e.accepted(e.idp.Sign(alice(e.idp, claims(e.idp, e.clock.now(), "llmgw"))))
			if diff := cmp.Diff(&snapshot.Principal{User: "alice@example.com", Teams: []string{"ml", "eng"}}, p, cmpopts.IgnoreUnexported(snapshot.Principal{})); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	e := newEnv(t, nil)
	now := e.clock.now()
	good := e.idp.Sign(alice(e.idp, claims(e.idp, now, "llmgw")))
	e.accepted(good)
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + b64([]byte(strings.Replace(string(payload), "alice", "mallo", 1))) + "." + parts[2]
	none := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	forger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	expired := claims(e.idp, now.Add(-2*time.Hour), "llmgw")
	inLeeway := claims(e.idp, now.Add(-time.Hour-oidc.Leeway/2), "llmgw")
	beyondLeeway := claims(e.idp, now.Add(-time.Hour-oidc.Leeway-time.Second), "llmgw")
	future := claims(e.idp, now.Add(time.Hour), "llmgw")
	nbfInLeeway := claims(e.idp, now.Add(oidc.Leeway/2), "llmgw")
	noExp := claims(e.idp, now, "llmgw")
	noExp.Expiry = nil
	wrongIss := claims(e.idp, now, "llmgw")
	wrongIss.Issuer = "https://elsewhere.example.com"

	e.accepted(e.idp.Sign(alice(e.idp, inLeeway)))
	e.accepted(e.idp.Sign(alice(e.idp, nbfInLeeway)))
	for _, tc := range []struct {
		name, token, want string
	}{
		{"expired", e.idp.Sign(alice(e.idp, expired)), "token expired"},
		{"expired just beyond the leeway", e.idp.Sign(alice(e.idp, beyondLeeway)), "token expired"},
		{"not yet valid", e.idp.Sign(alice(e.idp, future)), "not valid yet"},
		{"no expiry", e.idp.Sign(alice(e.idp, noExp)), "no expiry"},
		{"wrong audience", e.idp.Sign(alice(e.idp, claims(e.idp, now, "other"))), "audience"},
		{"wrong issuer", e.idp.Sign(alice(e.idp, wrongIss)), "issuer is not an identity provider"},
		{"alg none", none, "not a JWT signed with"},
		{"tampered", tampered, "bad signature"},
		{"forged with the kid of a published key", oidctest.SignWith(forger, jose.ES256, "key-1", alice(e.idp, claims(e.idp, now, "llmgw"))), "invalid token"},
		{"garbage", "eyJhbGciOi.x.y", "not a JWT"},
	} {
		t.Run(tc.name, func(t *testing.T) { e.t = t; e.refused(tc.token, tc.want) })
	}
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, nil)
	before := e.idp.JWKSFetches()
	e.idp.Rotate(jose.ES256)
	e.idp.Retire()
	token := e.idp.Sign(alice(e.idp, claims(e.idp, e.clock.now(), "llmgw")))
	e.refused(token, "does not publish")
	// The unknown kid asked for a read; it waits for the gap since the last one.
	e.v.Sync(context.Background(), e.h.Load().Config().IdentityProviders)
	if got := e.idp.JWKSFetches(); got != before {
		t.Fatalf("JWKS read %d times within the gap, want none", got-before)
	}
	e.clock.add(oidc.MinRefreshGap)
	e.v.Sync(context.Background(), e.h.Load().Config().IdentityProviders)
	if got := e.idp.JWKSFetches(); got != before+1 {
		t.Fatalf("JWKS read %d times after the gap, want 1", got-before)
	}
	e.accepted(token)
	// Many forged kids cost at most one read per gap.
	for range 10 {
		e.refused(oidctest.SignWith(mustKey(t), jose.ES256, "forged", alice(e.idp, claims(e.idp, e.clock.now(), "llmgw"))), "does not publish")
		e.v.Sync(context.Background(), e.h.Load().Config().IdentityProviders)
	}
	if got := e.idp.JWKSFetches(); got != before+1 {
		t.Fatalf("JWKS read %d times for forged kids within one gap, want 1 in all", got-before)
	}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestProviderDownKeepsKeys(t *testing.T) {
	e := newEnv(t, nil)
	e.idp.SetDown(true)
	e.clock.add(oidc.RefreshInterval + time.Minute)
	fetches := e.v.Fetches()
	e.v.Sync(context.Background(), e.h.Load().Config().IdentityProviders)
	if e.v.Fetches() != fetches+1 {
		t.Fatal("no refresh attempted after the refresh interval")
	}
	e.accepted(e.idp.Sign(alice(e.idp, claims(e.idp, e.clock.now(), "llmgw"))))
	if st := e.v.Status(e.h.Load().Config().IdentityProviders)["corp"]; !st.Loaded || !st.Failing || !st.Fetched.Equal(start) {
		t.Errorf("status %+v; want loaded at the start, failing", st)
	}
	want := `
# HELP llmgw_oidc_key_read_failures_total Failed reads of an identity provider's discovery document or JWKS since its keys were first wanted, by provider; the cached keys stay in use.
# TYPE llmgw_oidc_key_read_failures_total counter
llmgw_oidc_key_read_failures_total{provider="corp"} 1
# HELP llmgw_oidc_keys_age_seconds Seconds since an identity provider's signing keys were last read successfully, by provider (absent before the first read).
# TYPE llmgw_oidc_keys_age_seconds gauge
llmgw_oidc_keys_age_seconds{provider="corp"} 960
# HELP llmgw_oidc_keys_loaded 1 when an identity provider's signing keys have been read (its tokens can be verified), else 0, by provider.
# TYPE llmgw_oidc_keys_loaded gauge
llmgw_oidc_keys_loaded{provider="corp"} 1
`
	if err := testutil.CollectAndCompare(e.v.Collector(e.h), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	// A failed read is retried after the gap, not on every sync.
	e.v.Sync(context.Background(), e.h.Load().Config().IdentityProviders)
	if e.v.Fetches() != fetches+1 {
		t.Fatal("a failed read was retried within the gap")
	}
	e.clock.add(oidc.MinRefreshGap)
	e.v.Sync(context.Background(), e.h.Load().Config().IdentityProviders)
	if e.v.Fetches() != fetches+2 {
		t.Fatal("a failed read was not retried after the gap")
	}
}

func TestNoKeysYet(t *testing.T) {
	c := &clock{t: start}
	idp := oidctest.New(oidctest.WithClock(c.now))
	defer idp.Close()
	v := oidc.New(slog.New(slog.NewTextHandler(io.Discard, nil)), oidc.WithClock(c.now))
	h := &snapshot.Holder{Tokens: v}
	h.Store(snapshot.Compile(&snapshot.Config{IdentityProviders: []snapshot.IdentityProvider{{Issuer: idp.Issuer, Audiences: []string{"llmgw"}, CreateUsers: true}}}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil))))
	token := idp.Issue(oidctest.Claims{Subject: "s", Email: "x@example.com"}, "llmgw")
	if _, err := h.Load().Authenticate(token, c.now()); err == nil || !strings.Contains(err.Error(), "not loaded yet") {
		t.Fatalf("before any read: %v, want refused as not loaded", err)
	}
	// Run reads the keys at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go v.Run(ctx, h, time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := h.Load().Authenticate(token, c.now())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys never loaded: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUsers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*snapshot.IdentityProvider)
		claims oidctest.Claims
		extra  map[string]any
		want   *snapshot.Principal // nil: refused
		models int                 // models the principal may use
	}{
		{name: "known user gets its teams and the groups", claims: oidctest.Claims{Subject: "s1", Email: "alice@example.com", Groups: []string{"eng", "ml"}},
			want: &snapshot.Principal{User: "alice@example.com", Teams: []string{"ml", "eng"}}, models: 1},
		{name: "admin stays admin", claims: oidctest.Claims{Subject: "s2", Email: "root@example.com"},
			want: &snapshot.Principal{User: "root@example.com", Admin: true}, models: 1},
		{name: "disabled user refused", claims: oidctest.Claims{Subject: "s3", Email: "gone@example.com"}},
		{name: "unknown user created with teams from groups, authz by team", claims: oidctest.Claims{Subject: "s4", Email: "new@example.com", Groups: []string{"ml"}},
			want: &snapshot.Principal{User: "new@example.com", Teams: []string{"ml"}}, models: 1},
		{name: "created user outside the team", claims: oidctest.Claims{Subject: "s5", Email: "other@example.com", Groups: []string{"sales"}},
			want: &snapshot.Principal{User: "other@example.com", Teams: []string{"sales"}}, models: 0},
		{name: "unknown user refused without create_users", edit: func(p *snapshot.IdentityProvider) { p.CreateUsers = false },
			claims: oidctest.Claims{Subject: "s6", Email: "new@example.com"}},
		{name: "without groups_claim, groups are ignored", edit: func(p *snapshot.IdentityProvider) { p.GroupsClaim = "" },
			claims: oidctest.Claims{Subject: "s7", Email: "new@example.com", Groups: []string{"ml"}},
			want:   &snapshot.Principal{User: "new@example.com"}, models: 0},
		{name: "no email: sub names the user", claims: oidctest.Claims{Subject: "svc-7"},
			want: &snapshot.Principal{User: "svc-7"}},
		{name: "user_claim picks the claim", edit: func(p *snapshot.IdentityProvider) { p.UserClaim = "preferred_username" },
			claims: oidctest.Claims{Subject: "s8", Email: "x@example.com"}, extra: map[string]any{"preferred_username": "xavier"},
			want: &snapshot.Principal{User: "xavier"}},
		{name: "user_claim missing refused", edit: func(p *snapshot.IdentityProvider) { p.UserClaim = "preferred_username" },
			claims: oidctest.Claims{Subject: "s9", Email: "x@example.com"}},
		{name: "allowed domain admitted", edit: func(p *snapshot.IdentityProvider) { p.AllowedDomains = []string{"corp.com", "EXAMPLE.com"} },
			claims: oidctest.Claims{Subject: "s10", Email: "new@example.com"}, want: &snapshot.Principal{User: "new@example.com"}},
		{name: "other domain refused", edit: func(p *snapshot.IdentityProvider) { p.AllowedDomains = []string{"corp.com"} },
			claims: oidctest.Claims{Subject: "s11", Email: "new@example.com"}},
		{name: "no email refused with allowed domains", edit: func(p *snapshot.IdentityProvider) { p.AllowedDomains = []string{"corp.com"} },
			claims: oidctest.Claims{Subject: "s12"}},
		{name: "unverified email refused", claims: oidctest.Claims{Subject: "s13"}, extra: map[string]any{"email": "alice@example.com", "email_verified": false}},
		{name: "unverified email in capitals refused", claims: oidctest.Claims{Subject: "s14"}, extra: map[string]any{"email": "Alice@Example.com", "email_verified": false}},
		{name: "unverified email not naming the user ignored", edit: func(p *snapshot.IdentityProvider) { p.UserClaim = "sub" },
			claims: oidctest.Claims{Subject: "s15"}, extra: map[string]any{"email": "alice@example.com", "email_verified": false}, want: &snapshot.Principal{User: "s15"}},
		{name: "email in capitals names the lowercase user", claims: oidctest.Claims{Subject: "s16", Email: "ALICE@example.com"},
			want: &snapshot.Principal{User: "alice@example.com", Teams: []string{"ml"}}, models: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *snapshot.Config, _ *oidctest.Provider) {
				if tc.edit != nil {
					tc.edit(&c.IdentityProviders[0])
				}
			})
			now := e.clock.now()
			extra := map[string]any{"groups": tc.claims.Groups}
			if tc.claims.Email != "" {
				extra["email"] = tc.claims.Email
			}
			for k, v := range tc.extra {
				extra[k] = v
			}
			c := claims(e.idp, now, "llmgw")
			c.Subject = tc.claims.Subject
			token := e.idp.Sign(oidctest.Token{Claims: c, Extra: extra})
			if tc.want == nil {
				e.refused(token, "")
				return
			}
			p := e.accepted(token)
			if diff := cmp.Diff(tc.want, p, cmpopts.IgnoreUnexported(snapshot.Principal{})); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
			if got := len(e.h.Load().Models(p)); got != tc.models {
				t.Errorf("may use %d models, want %d", got, tc.models)
			}
		})
	}
}

func TestCreatedUsersStoredOnce(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.v.Run(ctx, e.h, time.Hour)
	token := e.idp.Issue(oidctest.Claims{Subject: "s", Email: "new@example.com"}, "llmgw")
	for range 3 {
		e.accepted(token)
	}
	select {
	case name := <-e.users.added:
		if name != "new@example.com" {
			t.Fatalf("stored %q", name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("created user never stored")
	}
	e.accepted(e.idp.Issue(oidctest.Claims{Subject: "s", Email: "alice@example.com"}, "llmgw")) // known: not stored
	e.accepted(e.idp.Issue(oidctest.Claims{Subject: "t", Email: "two@example.com"}, "llmgw"))
	if name := <-e.users.added; name != "two@example.com" {
		t.Fatalf("stored %q, want two@example.com", name)
	}
	e.users.mu.Lock()
	defer e.users.mu.Unlock()
	if !slices.Equal(e.users.names, []string{"new@example.com", "two@example.com"}) {
		t.Fatalf("stored %v", e.users.names)
	}
}

func TestJWKSURL(t *testing.T) {
	// The issuer has no discovery document: the configured JWKS URL is read instead.
	const issuer = "https://issuer.invalid"
	e := newEnv(t, func(c *snapshot.Config, idp *oidctest.Provider) {
		c.IdentityProviders[0].Issuer = issuer
		c.IdentityProviders[0].JWKSURL = idp.Issuer + "/keys"
	})
	c := claims(e.idp, e.clock.now(), "llmgw")
	c.Issuer = issuer
	e.accepted(e.idp.Sign(alice(e.idp, c)))
	// Without it, discovery fails and nothing is accepted.
	e2 := newEnv(t, func(c *snapshot.Config, idp *oidctest.Provider) { c.IdentityProviders[0].Issuer = issuer })
	c2 := claims(e2.idp, e2.clock.now(), "llmgw")
	c2.Issuer = issuer
	e2.refused(e2.idp.Sign(alice(e2.idp, c2)), "not loaded yet")
}

func TestDiscoverChecksIssuer(t *testing.T) {
	idp := oidctest.New()
	defer idp.Close()
	d, err := oidc.Discover(context.Background(), http.DefaultClient, idp.Issuer)
	if err != nil || d.DeviceAuthEndpoint != idp.Issuer+"/device/code" {
		t.Fatalf("Discover: %+v, %v", d, err)
	}
	if _, err := oidc.Discover(context.Background(), http.DefaultClient, idp.Issuer+"/"); err == nil {
		t.Fatal("a discovery document naming another issuer was accepted")
	}
}

func TestRemovedProviderKeysDropped(t *testing.T) {
	e := newEnv(t, nil)
	token := e.idp.Sign(alice(e.idp, claims(e.idp, e.clock.now(), "llmgw")))
	e.accepted(token)
	e.v.Sync(context.Background(), nil)
	e.refused(token, "not loaded yet")
	fetches := e.v.Fetches()
	e.v.Sync(context.Background(), e.h.Load().Config().IdentityProviders)
	if e.v.Fetches() != fetches+1 {
		t.Fatal("a provider configured again was not read at once")
	}
	e.accepted(token)
}

func TestKeyCertificateExpiry(t *testing.T) {
	e := newEnv(t, nil)
	e.idp.RotateWithCertificate(jose.ES256, start.Add(time.Hour))
	e.clock.add(oidc.RefreshInterval)
	e.v.Sync(context.Background(), e.h.Load().Config().IdentityProviders)
	at := e.clock.now()
	token := e.idp.Sign(oidctest.Token{Claims: jwt.Claims{Issuer: e.idp.Issuer, Subject: "s", Audience: jwt.Audience{"llmgw"},
		IssuedAt: jwt.NewNumericDate(at), Expiry: jwt.NewNumericDate(at.Add(24 * time.Hour))}})
	e.accepted(token)
	// Past the certificate's end (the identity provider unreachable or not), its key is done.
	e.idp.SetDown(true)
	e.clock.add(2 * time.Hour)
	e.refused(token, "certificate has expired")
}

func TestSlowProviderDelaysNoOther(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "slow", http.StatusServiceUnavailable)
	}))
	defer slow.Close()
	defer close(release)
	e := newEnv(t, func(c *snapshot.Config, _ *oidctest.Provider) {
		c.IdentityProviders[0].Issuer = "http://127.0.0.1:1/not-yet" // read later, below
	})
	ps := []snapshot.IdentityProvider{
		{Name: "a-slow", Issuer: slow.URL, Audiences: []string{"llmgw"}},
		{Name: "corp", Issuer: e.idp.Issuer, Audiences: []string{"llmgw"}, CreateUsers: true},
	}
	cfg := *e.h.Load().Config()
	cfg.IdentityProviders = ps
	e.h.Store(snapshot.Compile(&cfg, registry.New(http.DefaultClient), nil, slog.New(slog.NewTextHandler(io.Discard, nil))))
	done := make(chan struct{})
	go func() {
		e.v.Sync(context.Background(), ps)
		close(done)
	}()
	token := e.idp.Issue(oidctest.Claims{Subject: "s", Email: "new@example.com"}, "llmgw")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := e.auth(token); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the keys of a provider listed after a slow one were not read while it hung")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("Sync returned while a read was still hanging")
	default:
	}
}
