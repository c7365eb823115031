package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/llmgw/llmgw/client/auth"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
)

// A real OpenID Provider for end-to-end tests: zitadel/oidc's op package (an OpenID certified
// OP library) does all the protocol (discovery, JWKS, device authorization, token endpoint with
// the device code and refresh grants, ID and JWT access tokens); its example OP server
// (exampleop) serves the login and device pages, on its in-memory storage (storage). The test
// adapts that storage, none of it protocol: the CLI's client is the example's public native
// client, also allowed the groups scope and, where a test says so, the device grant; its tokens
// carry the user's email and groups (as Dex, Keycloak or Entra put them in). Two gaps of the
// example's device flow are filled: the device page names the user by username, which the storage then looks up as a user id ("user not found"
// at the token endpoint), so the subject is made the user's id; and a device login's refresh
// token is filed under its client (the storage knows the client of code and refresh requests
// only, so a refresh after a device login would fail as a client mismatch).

// zopClientID is the OP's client for `llmgw login`.
const zopClientID = "llmgw-cli"

// zopUsers is the OP's user directory (storage.UserStore).
type zopUsers map[string]*storage.User

func (u zopUsers) GetUserByID(id string) *storage.User { return u[id] }

func (u zopUsers) GetUserByUsername(name string) *storage.User {
	for _, user := range u {
		if user.Username == name {
			return user
		}
	}
	return nil
}

// ExampleClientID names the example storage's JWT-profile service user, which no test uses.
func (zopUsers) ExampleClientID() string { return "service" }

// zopClient is how the OP sets up the CLI's client.
type zopClient struct {
	accessTokens op.AccessTokenType // opaque (Bearer) or JWT
	device       bool               // may use the device grant
	// strict keeps the userinfo claims (email, profile) out of ID tokens issued with an access
	// token, as OpenID Connect Core section 5.4 has it (the op package's default): the ID
	// token's user is then its sub.
	strict bool
}

// zopStorage is the example OP's storage with the adaptations above.
type zopStorage struct {
	*storage.Storage
	client zopClient
	users  zopUsers
	groups map[string][]string // by user id
}

// cliClient is the CLI's client: the example's native client (public, PKCE, refresh tokens),
// allowed the groups scope, set up by zopClient.
type cliClient struct {
	op.Client
	zopClient
}

func (c cliClient) GrantTypes() []zoidc.GrantType {
	if c.device {
		return append(c.Client.GrantTypes(), zoidc.GrantTypeDeviceCode)
	}
	return c.Client.GrantTypes()
}

func (cliClient) IsScopeAllowed(scope string) bool { return scope == "groups" }

func (c cliClient) AccessTokenType() op.AccessTokenType { return c.accessTokens }

func (c cliClient) IDTokenUserinfoClaimsAssertion() bool { return !c.strict }

func (s *zopStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || id != zopClientID {
		return c, err
	}
	return cliClient{Client: c, zopClient: s.client}, nil
}

// SetUserinfoFromRequest adds the user's groups to ID tokens when the groups scope is asked for.
func (s *zopStorage) SetUserinfoFromRequest(ctx context.Context, info *zoidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	if slices.Contains(scopes, "groups") {
		info.AppendClaims("groups", s.groups[req.GetSubject()])
	}
	return nil
}

// GetPrivateClaimsFromScopes puts the user's email and (with the groups scope) groups in JWT
// access tokens.
func (s *zopStorage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	claims, err := s.Storage.GetPrivateClaimsFromScopes(ctx, userID, clientID, scopes)
	if err != nil {
		return nil, err
	}
	if claims == nil {
		claims = map[string]any{}
	}
	if u := s.users[userID]; u != nil {
		claims["email"], claims["email_verified"] = u.Email, u.EmailVerified
	}
	if slices.Contains(scopes, "groups") {
		claims["groups"] = s.groups[userID]
	}
	return claims, nil
}

// CompleteDeviceAuthorization records the user the device page signed in (by username) under
// the user's id, the subject of the tokens.
func (s *zopStorage) CompleteDeviceAuthorization(ctx context.Context, userCode, username string) error {
	u := s.users.GetUserByUsername(username)
	if u == nil {
		return errors.New("no such user")
	}
	return s.Storage.CompleteDeviceAuthorization(ctx, userCode, u.ID)
}

// CreateAccessAndRefreshTokens files a device login's refresh token under its client, as the
// example storage does for a code flow's.
func (s *zopStorage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	if d, ok := req.(*op.DeviceAuthorizationState); ok {
		req = &storage.AuthRequest{ApplicationID: d.ClientID, UserID: d.Subject, Scopes: d.Scopes}
	}
	return s.Storage.CreateAccessAndRefreshTokens(ctx, req, current)
}

// startZitadelOP serves the OP on a loopback port and returns its issuer. Its one user is
// "dev" (id u-dev, password "dev-password", email Dev@Example.com, groups ml and eng).
func startZitadelOP(t *testing.T, client zopClient) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	users := zopUsers{"u-dev": {ID: "u-dev", Username: "dev", Password: "dev-password", FirstName: "Dev", LastName: "Eloper",
		Email: "Dev@Example.com", EmailVerified: true}}
	st := &zopStorage{
		Storage: storage.NewStorageWithClients(users, map[string]*storage.Client{zopClientID: storage.NativeClient(zopClientID, "http://127.0.0.1/callback")}),
		client:  client,
		users:   users,
		groups:  map[string][]string{"u-dev": {"ml", "eng"}},
	}
	srv := httptest.NewUnstartedServer(exampleop.SetupServer(issuer, st, nil, false))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return issuer
}

// approveDevice plays the user on the OP's pages: it opens the verification URL the CLI
// printed, signs in with the user's name and password and allows the device.
func approveDevice(verification, userCode, username, password string) error {
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	page := func(resp *http.Response, err error) (string, *url.URL, error) {
		if err != nil {
			return "", nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return "", nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return "", nil, fmt.Errorf("%s: status %d", resp.Request.URL, resp.StatusCode)
		}
		return string(b), resp.Request.URL, nil
	}
	body, at, err := page(browser.Get(verification))
	if err != nil {
		return fmt.Errorf("verification page: %w", err)
	}
	action := regexp.MustCompile(`<form method="POST" action="([^"]+)"`).FindStringSubmatch(body)
	code := regexp.MustCompile(`name="user_code" value="([^"]*)"`).FindStringSubmatch(body)
	if action == nil || code == nil {
		return fmt.Errorf("verification page has no login form: %s", body)
	}
	if code[1] != userCode {
		return fmt.Errorf("the OP's login form carries code %q; the CLI showed %q", code[1], userCode)
	}
	post, _ := at.Parse(action[1])
	body, at, err = page(browser.PostForm(post.String(), url.Values{"user_code": {code[1]}, "username": {username}, "password": {password}}))
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	allow := regexp.MustCompile(`location.href='([^']+action=allowed)'`).FindStringSubmatch(body)
	if allow == nil {
		return fmt.Errorf("sign in did not reach the confirmation page: %s", body)
	}
	confirm, _ := at.Parse(allow[1])
	if body, _, err = page(browser.Get(confirm.String())); err != nil {
		return fmt.Errorf("allow: %w", err)
	}
	if !strings.Contains(body, "Device authorization allowed") {
		return fmt.Errorf("allow: %s", body)
	}
	return nil
}

// signIn plays the user in the authorization code flow: it opens the authorization URL the
// CLI printed, signs in on the OP's login page and follows the redirects back to the CLI's
// loopback listener.
func signIn(authURL, username, password string) error {
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := browser.Get(authURL)
	if err != nil {
		return fmt.Errorf("authorization URL: %w", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action := regexp.MustCompile(`<form method="POST" action="([^"]+)"`).FindStringSubmatch(string(b))
	id := regexp.MustCompile(`name="id" value="([^"]*)"`).FindStringSubmatch(string(b))
	if resp.StatusCode != http.StatusOK || action == nil || id == nil {
		return fmt.Errorf("authorization URL: %d, no login form: %s", resp.StatusCode, b)
	}
	post, _ := resp.Request.URL.Parse(action[1])
	resp, err = browser.PostForm(post.String(), url.Values{"id": {id[1]}, "username": {username}, "password": {password}})
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "Logged in to llmgw") {
		return fmt.Errorf("sign in ended at %s: %d %s", resp.Request.URL, resp.StatusCode, b)
	}
	return nil
}

// TestOIDCLoginRealOP runs `llmgw login` (device flow, the test signing in on the OP's pages as
// the user) and `llmgw token` against a real OpenID Provider built from zitadel/oidc, then
// calls the gateway with the official OpenAI SDK: the token is verified against the OP's keys
// and the call is the user's (usage carries the user and the teams of its groups); a tampered
// token is refused with 401; a refresh at the OP gives a new token that works too. Both kinds
// of bearer the CLI may send are covered: the ID token (the OP's access tokens are opaque) and
// a JWT access token. A client without the device grant (the OP advertises its device endpoint
// all the same, and refuses it there) logs in by the authorization code flow with PKCE and the
// loopback redirect, the test signing in on the OP's login page. An OP that keeps the email
// out of its ID tokens (strict) has its users named by sub.
func TestOIDCLoginRealOP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		client   zopClient
		wantUser string
	}{
		{"device flow, id token", zopClient{accessTokens: op.AccessTokenTypeBearer, device: true}, "dev@example.com"},
		{"device flow, jwt access token", zopClient{accessTokens: op.AccessTokenTypeJWT, device: true}, "dev@example.com"},
		{"code flow, id token", zopClient{accessTokens: op.AccessTokenTypeBearer}, "dev@example.com"},
		{"code flow, strict id token", zopClient{accessTokens: op.AccessTokenTypeBearer, strict: true}, "u-dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issuer := startZitadelOP(t, tc.client)
			// Only users with an email can pass allowed_domains.
			domains := "[example.com]"
			if tc.client.strict {
				domains = "[]"
			}
			up := providertest.NewOpenAI(t)
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
  audiences: [%s]                       # the OP's tokens are for the CLI's client
  groups_claim: groups
  create_users: true
  client_id: %[3]s
  allowed_domains: %s
`, up.BaseURL(), issuer, zopClientID, domains))
			g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", cfg)
			ctx := t.Context()

			dir := t.TempDir()
			getenv := func(k string) string { return map[string]string{"LLMGW_CLIENT_DIR": dir}[k] }
			var out, errOut syncBuffer
			lctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			// The user reads the URL (and code) in the terminal and signs in at the OP.
			approved := make(chan error, 1)
			go func() {
				devicePrompt := regexp.MustCompile(`To log in, open (\S+)\nand check that it shows the code (\S+)\n`)
				codePrompt := regexp.MustCompile(`To log in, open (\S+code_challenge=\S+)\n`)
				for lctx.Err() == nil {
					if m := devicePrompt.FindStringSubmatch(errOut.String()); m != nil {
						approved <- approveDevice(m[1], m[2], "dev", "dev-password")
						return
					}
					if m := codePrompt.FindStringSubmatch(errOut.String()); m != nil {
						approved <- signIn(m[1], "dev", "dev-password")
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				approved <- errors.New("the CLI printed no verification URL")
			}()
			err := Run(lctx, []string{"login", "--gateway", g.URL, "--scopes", "openid email profile offline_access groups"}, getenv, &out, &errOut)
			cancel() // the user stops waiting for a prompt once the CLI is done
			if aerr := <-approved; err != nil || aerr != nil {
				t.Fatalf("login: %v; the user's sign-in at the OP: %v\n%s", err, aerr, errOut.String())
			}
			if tc.client.device && !strings.Contains(errOut.String(), "To log in, open "+issuer+"/device?user_code=") {
				t.Errorf("login printed %q; want the OP's verification URI", errOut.String())
			}
			if !tc.client.device && (!strings.Contains(errOut.String(), "does not offer this client the device flow") || !strings.Contains(errOut.String(), "code_challenge_method=S256")) {
				t.Errorf("login printed %q; want the browser login with PKCE after the device grant's refusal", errOut.String())
			}
			var tokOut syncBuffer
			if err := Run(ctx, []string{"token"}, getenv, &tokOut, &errOut); err != nil {
				t.Fatalf("token: %v", err)
			}
			token := strings.TrimSpace(tokOut.String())
			claims := unverifiedClaims(t, token)
			if claims["iss"] != issuer || claims["sub"] != "u-dev" || fmt.Sprint(claims["aud"]) != "["+zopClientID+"]" {
				t.Fatalf("the token's claims %v; want iss %s, sub u-dev, aud %s", claims, issuer, zopClientID)
			}
			if tc.client.accessTokens == op.AccessTokenTypeJWT && claims["client_id"] != zopClientID {
				t.Errorf("the CLI sends %v; want the OP's JWT access token", claims)
			}
			if tc.client.accessTokens == op.AccessTokenTypeBearer && claims["at_hash"] == nil {
				t.Errorf("the CLI sends %v; want the OP's ID token", claims)
			}

			// The official SDK with that token.
			chat := func(tok, requestID string) error {
				client := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(tok), option.WithMaxRetries(0))
				c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
					Model:    "fake/gpt",
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
				}, option.WithHeader("X-Request-Id", requestID))
				if err == nil && len(c.Choices) != 1 {
					return fmt.Errorf("chat answered %+v", c)
				}
				return err
			}
			if err := chat(token, "req-zop"); err != nil {
				t.Fatalf("chat with the OP's token: %v", err)
			}
			ev := g.Events.waitFor(t, "req-zop")
			if ev.User != tc.wantUser || !slices.Equal(ev.Teams, []string{"ml", "eng"}) || ev.KeyID != "" {
				t.Errorf("usage event user %q teams %v key %q; want %s in ml and eng, no key", ev.User, ev.Teams, ev.KeyID, tc.wantUser)
			}

			// A tampered token (its signature changed) is refused with 401.
			var apiErr *openai.Error
			if err := chat(token[:len(token)-4]+"AAAA", "req-zop-tampered"); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
				t.Errorf("tampered token: %v; want 401", err)
			}
			// So is one whose claims were changed under the OP's signature (another user).
			parts := strings.Split(token, ".")
			forged := parts[0] + "." + reencodeClaims(t, parts[1], "sub", "u-root") + "." + parts[2]
			if err := chat(forged, "req-zop-forged"); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
				t.Errorf("token with changed claims: %v; want 401", err)
			}

			// A refresh at the OP (as `llmgw token` does near expiry; the source's clock says it
			// is near) gives a new token, and a rotated refresh token, that work as well.
			before := storedRefreshToken(t, dir)
			soon := func() time.Time { return time.Now().Add(2 * time.Hour) }
			src, err := auth.NewSource(&auth.Store{Dir: dir}, g.URL, auth.WithClock(soon))
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := src.Token(ctx)
			if err != nil {
				t.Fatalf("refresh at the OP: %v", err)
			}
			if fresh == token || storedRefreshToken(t, dir) == before {
				t.Errorf("refresh kept the token or the refresh token")
			}
			if err := chat(fresh, "req-zop-refreshed"); err != nil {
				t.Fatalf("chat with the refreshed token: %v", err)
			}
			if ev := g.Events.waitFor(t, "req-zop-refreshed"); ev.User != tc.wantUser {
				t.Errorf("refreshed token's usage is %q's", ev.User)
			}
		})
	}
}

// unverifiedClaims reads a JWT's claims without checking them (the gateway does).
func unverifiedClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("the CLI's token is not an RS256 JWT: %v", err)
	}
	var c map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// reencodeClaims returns the base64url JWT payload with claim set to value.
func reencodeClaims(t *testing.T, payload, claim string, value any) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	c[claim] = value
	if b, err = json.Marshal(c); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// storedRefreshToken is the refresh token the CLI keeps in dir.
func storedRefreshToken(t *testing.T, dir string) string {
	t.Helper()
	c, err := (&auth.Store{Dir: dir}).Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.RefreshToken == "" {
		t.Fatal("the login kept no refresh token")
	}
	return c.RefreshToken
}
