// Package oidctest is an OpenID Connect provider for tests: it serves the discovery document
// (OpenID Connect Discovery 1.0), the JWKS (RFC 7517) with key rotation, the device
// authorization endpoint (RFC 8628), the authorization endpoint of the code flow with PKCE
// (RFC 7636; SetUser logs a user in, and the ID token carries the request's nonce) and the
// token endpoint with the authorization_code, device_code and refresh_token grants (RFC 6749,
// RFC 8628), readable by browser apps (CORS), and signs tokens with RS256, ES256 or EdDSA keys
// through go-jose. The test plays the user: Approve grants a pending device code.
//
// It is for tests only: it keeps everything in memory and trusts its one public client.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Grant types of the token endpoint.
const (
	GrantDeviceCode   = "urn:ietf:params:oauth:grant-type:device_code"
	GrantRefreshToken = "refresh_token"
)

// Provider is a running test provider. It is safe for concurrent use.
type Provider struct {
	// Issuer is the provider's issuer URL, the base of its endpoints.
	Issuer string
	// ClientID is the public client that may use the device and token endpoints.
	ClientID string
	// Audience is the aud of the access tokens it issues (ID tokens name ClientID).
	Audience string

	srv *httptest.Server

	mu           sync.Mutex
	now          func() time.Time
	ttl          time.Duration
	keys         []key // keys[0] signs; all are published
	down         bool
	noDevice     bool
	refuseDevice bool               // answer unauthorized_client at the device endpoint
	devices      map[string]*device // by device code
	refresh      map[string]Claims  // by refresh token
	codes        map[string]*grant  // authorization codes
	user         *Claims            // who logs in at the authorization endpoint (SetUser)
	fetches      int                // JWKS requests served
	n            int
}

type key struct {
	id   string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
	cert *x509.Certificate // published as x5c when set
}

// grant is an authorization code's: who, and the request's PKCE challenge, redirect and
// nonce (OpenID Connect Core 1.0 section 3.1.2.1), which the ID token then carries.
type grant struct {
	claims    Claims
	challenge string
	redirect  string
	nonce     string
}

type device struct {
	userCode string
	claims   *Claims // set by Approve
	denied   bool
}

// Claims are the user claims put in the tokens the provider issues.
type Claims struct {
	Subject string   `json:"sub"`
	Email   string   `json:"email,omitempty"`
	Groups  []string `json:"groups,omitempty"`
}

// Option configures a Provider.
type Option func(*Provider)

// WithClock sets the clock that stamps iat, nbf and exp (time.Now by default).
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// WithTTL sets the lifetime of the tokens it issues (default one hour).
func WithTTL(d time.Duration) Option { return func(p *Provider) { p.ttl = d } }

// New starts a provider with one RS256 key, client "llmgw-cli" and audience "llmgw". Close it.
func New(opts ...Option) *Provider {
	p := &Provider{ClientID: "llmgw-cli", Audience: "llmgw", now: time.Now, ttl: time.Hour,
		devices: map[string]*device{}, refresh: map[string]Claims{}, codes: map[string]*grant{}}
	for _, o := range opts {
		o(p)
	}
	p.Rotate(jose.RS256)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /keys", p.jwks)
	mux.HandleFunc("POST /device/code", p.deviceCode)
	mux.HandleFunc("GET /auth", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	p.Issuer = p.srv.URL
	return p
}

// Close stops the provider.
func (p *Provider) Close() { p.srv.Close() }

// Rotate makes a new key of alg (RS256, ES256 or EdDSA) the signing key; the older keys stay
// published until Retire.
func (p *Provider) Rotate(alg jose.SignatureAlgorithm) string {
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic("oidctest: unsupported algorithm " + string(alg))
	}
	if err != nil {
		panic(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	k := key{id: "key-" + strconv.Itoa(p.n), alg: alg, priv: priv}
	p.keys = append([]key{k}, p.keys...)
	return k.id
}

// RotateWithCertificate is Rotate with the new key published with a self-signed certificate
// (x5c) valid until notAfter.
func (p *Provider) RotateWithCertificate(alg jose.SignatureAlgorithm, notAfter time.Time) string {
	id := p.Rotate(alg)
	p.mu.Lock()
	defer p.mu.Unlock()
	k := &p.keys[0]
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(p.n)), Subject: pkix.Name{CommonName: k.id},
		NotBefore: notAfter.Add(-24 * time.Hour * 365), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.priv.Public(), k.priv)
	if err != nil {
		panic(err)
	}
	if k.cert, err = x509.ParseCertificate(der); err != nil {
		panic(err)
	}
	return id
}

// Retire stops publishing every key but the signing one.
func (p *Provider) Retire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = p.keys[:1]
}

// SetDown makes every endpoint answer 503 (true) or serve again (false).
func (p *Provider) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// DisableDevice leaves the device authorization endpoint out of the discovery document.
func (p *Provider) DisableDevice() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.noDevice = true
}

// RefuseDevice keeps the device authorization endpoint in the discovery document but refuses
// the client there with unauthorized_client, as providers do for a client that is not allowed
// the device grant.
func (p *Provider) RefuseDevice() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuseDevice = true
}

// JWKSFetches is how many JWKS requests it served.
func (p *Provider) JWKSFetches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fetches
}

// Token is a token to sign: the registered claims and any others.
type Token struct {
	jwt.Claims
	Extra map[string]any
}

// Sign signs t with the current signing key.
func (p *Provider) Sign(t Token) string {
	p.mu.Lock()
	k := p.keys[0]
	p.mu.Unlock()
	return SignWith(k.priv, k.alg, k.id, t)
}

// SignWith signs t with priv under alg and kid: a key the provider does not publish, for tests
// of forged tokens.
func SignWith(priv crypto.Signer, alg jose.SignatureAlgorithm, kid string, t Token) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(alg)}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		panic(err)
	}
	b := jwt.Signed(sig).Claims(t.Claims)
	if t.Extra != nil {
		b = b.Claims(t.Extra)
	}
	s, err := b.Serialize()
	if err != nil {
		panic(err)
	}
	return s
}

// Issue signs a token for c with the provider's issuer, audience aud, now and its TTL.
func (p *Provider) Issue(c Claims, aud string) string { return p.issue(c, aud, "") }

// issue is Issue with a nonce claim when nonce is not empty.
func (p *Provider) issue(c Claims, aud, nonce string) string {
	p.mu.Lock()
	now, ttl := p.now(), p.ttl
	p.mu.Unlock()
	extra := map[string]any{}
	if c.Email != "" {
		extra["email"] = c.Email
		extra["email_verified"] = true
	}
	if c.Groups != nil {
		extra["groups"] = c.Groups
	}
	if nonce != "" {
		extra["nonce"] = nonce
	}
	return p.Sign(Token{Claims: jwt.Claims{Issuer: p.Issuer, Subject: c.Subject, Audience: jwt.Audience{aud},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(ttl))}, Extra: extra})
}

// Approve grants the device authorization whose user code is userCode to the user c, as the
// user would at the verification URI. It reports whether such a pending code exists.
func (p *Provider) Approve(userCode string, c Claims) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.devices {
		if d.userCode == userCode && d.claims == nil && !d.denied {
			d.claims = &c
			return true
		}
	}
	return false
}

// Deny refuses the pending device authorization whose user code is userCode, as the user
// would; the client's next poll gets access_denied. It reports whether such a code exists.
func (p *Provider) Deny(userCode string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.devices {
		if d.userCode == userCode && d.claims == nil && !d.denied {
			d.denied = true
			return true
		}
	}
	return false
}

// Pending returns the user codes of the device authorizations waiting for the user.
func (p *Provider) Pending() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, d := range p.devices {
		if d.claims == nil && !d.denied {
			out = append(out, d.userCode)
		}
	}
	return out
}

// SetUser makes c the user who is logged in at the authorization endpoint: it redirects
// every authorization request back with a code for c. Without one it answers access_denied.
func (p *Provider) SetUser(c Claims) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = &c
}

// authorize is the authorization endpoint (RFC 6749 section 4.1.1) of a public client, which
// must use PKCE with S256 (RFC 7636).
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	if p.unavailable(w) {
		return
	}
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("client_id") != p.ClientID || err != nil || redirect.Scheme != "http" || redirect.Hostname() != "127.0.0.1" {
		http.Error(w, "invalid client or redirect", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	p.mu.Lock()
	switch {
	case q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back.Set("error", "invalid_request")
	case p.user == nil:
		back.Set("error", "access_denied")
	default:
		code := random()
		p.codes[code] = &grant{claims: *p.user, challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), nonce: q.Get("nonce")}
		back.Set("code", code)
	}
	p.mu.Unlock()
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (p *Provider) unavailable(w http.ResponseWriter) bool {
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}
	return down
}

// writeJSON answers with v. Any origin may read the answer (CORS), as real providers let a
// browser app read their discovery document, keys and token responses.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	if p.unavailable(w) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	doc := map[string]any{
		"issuer":                                p.Issuer,
		"authorization_endpoint":                p.Issuer + "/auth",
		"token_endpoint":                        p.Issuer + "/token",
		"jwks_uri":                              p.Issuer + "/keys",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA"},
		"grant_types_supported":                 []string{"authorization_code", GrantRefreshToken, GrantDeviceCode},
	}
	if !p.noDevice {
		doc["device_authorization_endpoint"] = p.Issuer + "/device/code"
	}
	writeJSON(w, http.StatusOK, doc)
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	if p.unavailable(w) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fetches++
	var set jose.JSONWebKeySet
	for _, k := range p.keys {
		jwk := jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.id, Algorithm: string(k.alg), Use: "sig"}
		if k.cert != nil {
			jwk.Certificates = []*x509.Certificate{k.cert}
		}
		set.Keys = append(set.Keys, jwk)
	}
	writeJSON(w, http.StatusOK, set)
}

// oauthError writes an RFC 6749 section 5.2 error.
func oauthError(w http.ResponseWriter, code int, e string) {
	writeJSON(w, code, map[string]string{"error": e})
}

func random() string {
	return rand.Text()
}

func (p *Provider) deviceCode(w http.ResponseWriter, r *http.Request) {
	if p.unavailable(w) {
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("client_id") != p.ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refuseDevice {
		oauthError(w, http.StatusBadRequest, "unauthorized_client")
		return
	}
	code, user := random(), fmt.Sprintf("%04d-%04d", len(p.devices)+1000, len(p.devices)+2000)
	p.devices[code] = &device{userCode: user}
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":               code,
		"user_code":                 user,
		"verification_uri":          p.Issuer + "/device",
		"verification_uri_complete": p.Issuer + "/device?user_code=" + user,
		"expires_in":                600,
		"interval":                  1,
	})
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if p.unavailable(w) {
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if r.PostForm.Get("client_id") != p.ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	var c Claims
	var nonce string
	switch r.PostForm.Get("grant_type") {
	case GrantDeviceCode:
		p.mu.Lock()
		d, ok := p.devices[r.PostForm.Get("device_code")]
		switch {
		case !ok:
			p.mu.Unlock()
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		case d.denied:
			delete(p.devices, r.PostForm.Get("device_code"))
			p.mu.Unlock()
			oauthError(w, http.StatusBadRequest, "access_denied")
			return
		case d.claims == nil:
			p.mu.Unlock()
			oauthError(w, http.StatusBadRequest, "authorization_pending")
			return
		}
		c = *d.claims
		delete(p.devices, r.PostForm.Get("device_code"))
		p.mu.Unlock()
	case "authorization_code":
		p.mu.Lock()
		g, ok := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code"))
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || g.redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		c, nonce = g.claims, g.nonce
	case GrantRefreshToken:
		p.mu.Lock()
		var ok bool
		c, ok = p.refresh[r.PostForm.Get("refresh_token")]
		delete(p.refresh, r.PostForm.Get("refresh_token")) // rotated: each refresh token works once
		p.mu.Unlock()
		if !ok {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	rt := random()
	p.mu.Lock()
	p.refresh[rt] = c
	ttl := p.ttl
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  p.Issue(c, p.Audience),
		"id_token":      p.issue(c, p.ClientID, nonce),
		"token_type":    "Bearer",
		"expires_in":    int(ttl / time.Second),
		"refresh_token": rt,
	})
}
