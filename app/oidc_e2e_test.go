package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/client/auth"
	"github.com/llmgw/llmgw/gateway/oidc"
	"github.com/llmgw/llmgw/gateway/oidc/oidctest"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// TestOIDCLoginEndToEnd logs in with `llmgw login` against a test identity provider (the test
// approves the device code as the user would), takes `llmgw token` and calls the gateway with
// the official OpenAI SDK: the unknown user is created on first use, reaches the model by the
// team its groups claim names, and its usage carries the user and teams.
func TestOIDCLoginEndToEnd(t *testing.T) {
	up := providertest.NewOpenAI(t)
	idp := oidctest.New()
	defer idp.Close()
	cfg := writeConfig(t, fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
- authz_rules:
    - models: [fake/gpt]
      teams: [ml]
- name: corp-sso
  type: identity-provider/oidc
  issuer: %s
  audiences: [llmgw]
  groups_claim: groups
  create_users: true
  client_id: llmgw-cli
  allowed_domains: [example.com]
- name: a-partner                        # first by name, but no client_id: not the login provider
  type: identity-provider/oidc
  issuer: http://127.0.0.1:9/unreachable
  audiences: [llmgw]
`, up.BaseURL(), idp.Issuer))
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", cfg)
	ctx := t.Context()

	// The public login config.
	resp, body := g.do(t, http.MethodGet, "/api/v1/auth/config", "-", "")
	var ac map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &ac) != nil || ac["issuer"] != idp.Issuer || ac["client_id"] != "llmgw-cli" || ac["provider"] != "corp-sso" {
		t.Fatalf("auth config: %d %s", resp.StatusCode, body)
	}

	// llmgw login, with the test approving the device code.
	dir := t.TempDir()
	getenv := func(k string) string { return map[string]string{"LLMGW_CLIENT_DIR": dir}[k] }
	go func() {
		for range 1000 {
			for _, code := range idp.Pending() {
				if idp.Approve(code, oidctest.Claims{Subject: "u-dev", Email: "Dev@Example.com", Groups: []string{"ml", "eng"}}) {
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var out, errOut syncBuffer
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := Run(lctx, []string{"login", "--gateway", g.URL}, getenv, &out, &errOut); err != nil {
		t.Fatalf("login: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "To log in, open "+idp.Issuer) {
		t.Errorf("login printed %q; want the verification URI", errOut.String())
	}
	var tokOut bytes.Buffer
	if err := Run(ctx, []string{"token"}, getenv, &tokOut, &errOut); err != nil {
		t.Fatalf("token: %v", err)
	}
	token := strings.TrimSpace(tokOut.String())
	var envOut bytes.Buffer
	if err := Run(ctx, []string{"env"}, getenv, &envOut, &errOut); err != nil {
		t.Fatalf("env: %v", err)
	}
	wantEnv := fmt.Sprintf("export OPENAI_BASE_URL='%[1]s/v1'\nexport OPENAI_API_KEY='%[2]s'\nexport ANTHROPIC_BASE_URL='%[1]s'\nexport ANTHROPIC_AUTH_TOKEN='%[2]s'\n", g.URL, token)
	if envOut.String() != wantEnv {
		t.Errorf("env printed\n%s\nwant\n%s", envOut.String(), wantEnv)
	}

	// The official SDK with that token.
	client := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(token), option.WithMaxRetries(0))
	chat, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "fake/gpt",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
	}, option.WithHeader("X-Request-Id", "req-oidc"))
	if err != nil {
		t.Fatalf("chat with the OIDC token: %v", err)
	}
	if len(chat.Choices) != 1 {
		t.Fatalf("chat: %+v", chat)
	}
	// The Anthropic surface takes it as ANTHROPIC_AUTH_TOKEN sends it.
	areq, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/messages", strings.NewReader(`{"model":"fake/gpt","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
	areq.Header.Set("Authorization", "Bearer "+token)
	areq.Header.Set("anthropic-version", "2023-06-01")
	areq.Header.Set("Content-Type", "application/json")
	aresp, err := http.DefaultClient.Do(areq)
	if err != nil {
		t.Fatal(err)
	}
	aresp.Body.Close()
	if aresp.StatusCode != http.StatusOK {
		t.Fatalf("Anthropic surface with the token: %d", aresp.StatusCode)
	}
	// A service with client/auth: the SDK's middleware puts a fresh token on every call.
	src, err := auth.NewSource(&auth.Store{Dir: dir}, g.URL)
	if err != nil {
		t.Fatal(err)
	}
	svc := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey("replaced-by-the-middleware"), option.WithMiddleware(src.Middleware), option.WithMaxRetries(0))
	if _, err := svc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "fake/gpt",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
	}); err != nil {
		t.Fatalf("chat through the client/auth middleware: %v", err)
	}
	ev := g.Events.waitFor(t, "req-oidc")
	if ev.User != "dev@example.com" || !slices.Equal(ev.Teams, []string{"ml", "eng"}) || ev.KeyID != "" {
		t.Errorf("usage event user %q teams %v key %q; want dev@example.com in ml and eng, no key", ev.User, ev.Teams, ev.KeyID)
	}
	// The created user is stored, off the request path.
	deadline := time.Now().Add(10 * time.Second)
	for {
		u, err := g.adminClient().GetUser(ctx, &adminv1.GetUserRequest{Name: "dev@example.com"})
		if err == nil && u.GetUser().GetName() == "dev@example.com" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("created user not stored: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Refused tokens answer 401 in each dialect; a user outside the team gets no model.
	now := time.Now()
	expired := idp.Sign(oidctest.Token{Claims: jwt.Claims{Issuer: idp.Issuer, Subject: "u-dev", Audience: jwt.Audience{"llmgw"},
		IssuedAt: jwt.NewNumericDate(now.Add(-2 * time.Hour)), Expiry: jwt.NewNumericDate(now.Add(-time.Hour))},
		Extra: map[string]any{"email": "dev@example.com"}})
	wrongAud := idp.Issue(oidctest.Claims{Subject: "u-dev", Email: "dev@example.com"}, "someone-else")
	otherDomain := idp.Issue(oidctest.Claims{Subject: "u-x", Email: "x@elsewhere.com", Groups: []string{"ml"}}, "llmgw")
	for name, tok := range map[string]string{"expired": expired, "wrong audience": wrongAud, "other domain": otherDomain, "tampered": token[:len(token)-4] + "AAAA"} {
		resp, body := g.do(t, http.MethodPost, "/v1/chat/completions", tok, `{"model":"fake/gpt","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "invalid_api_key") {
			t.Errorf("%s (OpenAI): %d %s; want 401", name, resp.StatusCode, body)
		}
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/messages", strings.NewReader(`{"model":"fake/gpt","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("anthropic-version", "2023-06-01")
		aresp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ab bytes.Buffer
		_, _ = ab.ReadFrom(aresp.Body)
		aresp.Body.Close()
		if aresp.StatusCode != http.StatusUnauthorized || !strings.Contains(ab.String(), "authentication_error") {
			t.Errorf("%s (Anthropic): %d %s; want 401 authentication_error", name, aresp.StatusCode, ab.String())
		}
	}
	sales := idp.Issue(oidctest.Claims{Subject: "u-s", Email: "sales@example.com", Groups: []string{"sales"}}, "llmgw")
	resp, body = g.do(t, http.MethodPost, "/v1/chat/completions", sales, `{"model":"fake/gpt","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
		t.Errorf("user outside the team: %d %s; want refused", resp.StatusCode, body)
	}

	// An admin user's token reaches the Admin API, as the user's key would; others' do not.
	if _, err := g.adminClient().CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "root@example.com", Admin: true}}); err != nil {
		t.Fatal(err)
	}
	root := idp.Issue(oidctest.Claims{Subject: "r", Email: "root@example.com"}, "llmgw")
	if resp, body := g.do(t, http.MethodGet, "/api/v1/users", root, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("admin user's token on the Admin API: %d %s", resp.StatusCode, body)
	}
	if resp, _ := g.do(t, http.MethodGet, "/api/v1/users", token, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("non-admin token on the Admin API: %d, want 403", resp.StatusCode)
	}

	// The file's provider is stored: the Admin API (REST) lists it, deleting it refuses its
	// tokens at once, and creating it again admits them again.
	resp, body = g.do(t, http.MethodGet, "/api/v1/identity-providers/corp-sso", g.Token, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"clientId":"llmgw-cli"`) {
		t.Fatalf("get identity provider: %d %s", resp.StatusCode, body)
	}
	chatWith := func(tok string) int {
		resp, _ := g.do(t, http.MethodPost, "/v1/chat/completions", tok, `{"model":"fake/gpt","messages":[{"role":"user","content":"hi"}]}`)
		return resp.StatusCode
	}
	if resp, body := g.do(t, http.MethodDelete, "/api/v1/identity-providers/corp-sso", g.Token, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("delete identity provider: %d %s", resp.StatusCode, body)
	}
	if code := chatWith(token); code != http.StatusUnauthorized {
		t.Fatalf("token of a deleted provider: %d, want 401", code)
	}
	if resp, body := g.do(t, http.MethodGet, "/api/v1/auth/config", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("auth config without providers: %d %s, want 404", resp.StatusCode, body)
	}
	create := fmt.Sprintf(`{"name":"corp-sso","issuer":%q,"audiences":["llmgw"],"groupsClaim":"groups","createUsers":true,"clientId":"llmgw-cli"}`, idp.Issuer)
	if resp, body := g.do(t, http.MethodPost, "/api/v1/identity-providers", g.Token, create); resp.StatusCode != http.StatusOK {
		t.Fatalf("create identity provider: %d %s", resp.StatusCode, body)
	}
	// Its keys may have been dropped meanwhile: they are read again within a second.
	waitUntil(t, func() bool { return chatWith(token) == http.StatusOK })
}

// TestOIDCOnReplica: an identity provider created on the control plane reaches a gateway
// replica, which verifies tokens itself (from its own cached keys, also while the identity
// provider is down) and admits a new user by the team of its groups; having no database, the
// replica has the control plane store the user.
func TestOIDCOnReplica(t *testing.T) {
	rs := startReplicaSet(t, 1)
	idp := oidctest.New()
	defer idp.Close()
	ctx := t.Context()
	if _, err := rs.control.adminClient().CreateIdentityProvider(ctx, &adminv1.CreateIdentityProviderRequest{IdentityProvider: &adminv1.IdentityProvider{
		Name: "corp", Issuer: idp.Issuer, Audiences: []string{"llmgw"}, GroupsClaim: "groups", CreateUsers: true, ClientId: "llmgw-cli"}}); err != nil {
		t.Fatal(err)
	}
	gw := rs.gateways[0]
	waitUntil(t, func() bool {
		resp, _ := gw.do(t, http.MethodGet, "/api/v1/auth/config", "", "")
		return resp.StatusCode == http.StatusOK
	})
	tester := idp.Issue(oidctest.Claims{Subject: "t1", Email: "tess@example.com", Groups: []string{"testers"}}, "llmgw")
	waitUntil(t, func() bool { return chatStatus(gw, tester) == http.StatusOK })
	if code := chatStatus(gw, idp.Issue(oidctest.Claims{Subject: "o1", Email: "otto@example.com", Groups: []string{"others"}}, "llmgw")); code != http.StatusForbidden && code != http.StatusNotFound {
		t.Errorf("user outside the team: %d, want refused", code)
	}
	if ips, _ := readyz(t, gw)["identity_providers"].(map[string]any); !strings.HasPrefix(fmt.Sprint(ips["corp"]), "keys read at ") {
		t.Errorf("readiness says %v about the provider's keys", ips)
	}
	idp.SetDown(true)
	if code := chatStatus(gw, idp.Issue(oidctest.Claims{Subject: "t1", Email: "tess@example.com", Groups: []string{"testers"}}, "llmgw")); code != http.StatusOK {
		t.Errorf("with the identity provider down: %d, want 200 from the cached keys", code)
	}
	// The replica has the control plane store the user it created.
	waitUntil(t, func() bool {
		u, err := rs.control.adminClient().GetUser(ctx, &adminv1.GetUserRequest{Name: "tess@example.com"})
		return err == nil && u.GetUser().GetName() == "tess@example.com"
	})
}

// TestClientCommandsWithoutLogin: token and env need a login, login needs a gateway.
func TestClientCommandsWithoutLogin(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string { return map[string]string{"LLMGW_CLIENT_DIR": dir}[k] }
	var out, errOut bytes.Buffer
	for _, cmd := range []string{"token", "env"} {
		if err := Run(t.Context(), []string{cmd}, getenv, &out, &errOut); err == nil || !strings.Contains(err.Error(), "not logged in") {
			t.Errorf("%s without a login: %v", cmd, err)
		}
	}
	if err := Run(t.Context(), []string{"login"}, getenv, &out, &errOut); err == nil || !strings.Contains(err.Error(), "--gateway is required") {
		t.Errorf("login without a gateway: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q", out.String())
	}
}

// TestOIDCKeyRotation: after the identity provider rotates its key, a token with the new key id
// is refused until the gateway reads the keys again, which it does in the background at most
// once per oidc.MinRefreshGap (on the gateway's clock), never on the request path.
func TestOIDCKeyRotation(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	idp := oidctest.New()
	defer idp.Close()
	cfg := writeConfig(t, fmt.Sprintf(`
- name: corp-sso
  type: identity-provider/oidc
  issuer: %s
  audiences: [llmgw]
  create_users: true
`, idp.Issuer))
	g := startGatewayHooks(t, hooks{clock: func() time.Time { return time.Unix(0, now.Load()) }}, nil, "--config", cfg)
	models := func(tok string) int {
		resp, _ := g.do(t, http.MethodGet, "/v1/models", tok, "")
		return resp.StatusCode
	}
	waitUntil(t, func() bool {
		return models(idp.Issue(oidctest.Claims{Subject: "s", Email: "dev@example.com"}, "llmgw")) == http.StatusOK
	})
	fetches := idp.JWKSFetches()

	idp.Rotate("ES256")
	idp.Retire()
	rotated := idp.Issue(oidctest.Claims{Subject: "s", Email: "dev@example.com"}, "llmgw")
	for range 5 {
		if code := models(rotated); code != http.StatusUnauthorized {
			t.Fatalf("token with an unknown key id: %d, want 401 until the keys are read again", code)
		}
		time.Sleep(300 * time.Millisecond) // the verifier's ticks pass; its clock does not
	}
	if got := idp.JWKSFetches(); got != fetches {
		t.Fatalf("keys read %d times within the gap", got-fetches)
	}
	now.Add(int64(oidc.MinRefreshGap))
	waitUntil(t, func() bool { return models(rotated) == http.StatusOK })
	if got := idp.JWKSFetches(); got != fetches+1 {
		t.Errorf("keys read %d times after the gap, want 1", got-fetches)
	}
}
