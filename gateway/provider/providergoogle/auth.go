package providergoogle

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/provider"
)

const (
	// Scope is the OAuth2 scope the Vertex adapter asks for.
	Scope = "https://www.googleapis.com/auth/cloud-platform"
	// DefaultTokenURI is the token endpoint used when the service account names none.
	DefaultTokenURI = "https://oauth2.googleapis.com/token"

	// jwtBearerGrant is the grant type of the JWT bearer token exchange (RFC 7523).
	jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// assertionLifetime is how long the signed assertion is valid; Google allows at most an hour.
	assertionLifetime = time.Hour
	// refreshMargin is how long before its expiry a token is replaced, so that a request never
	// goes out with a token that expires on the way.
	refreshMargin = 5 * time.Minute
	// tokenTimeout bounds one token exchange, which runs detached from any one request.
	tokenTimeout = 30 * time.Second
	// maxTokenBody bounds the token endpoint's answer.
	maxTokenBody = 64 << 10
)

// credential authorizes an upstream request.
type credential interface {
	authorize(ctx context.Context, req *http.Request) error
}

// apiKey is the Gemini API's credential: the key in the x-goog-api-key header.
type apiKey string

func (k apiKey) authorize(_ context.Context, req *http.Request) error {
	req.Header.Set("x-goog-api-key", string(k))
	return nil
}

// tokenSource is Vertex AI's credential: an OAuth2 access token obtained by exchanging a JWT
// signed with a service account's key, cached until shortly before it expires. Concurrent
// callers share one exchange. It is safe for concurrent use.
type tokenSource struct {
	email    string
	keyID    string
	key      *rsa.PrivateKey
	tokenURI string
	client   *http.Client
	now      func() time.Time

	mu       sync.Mutex
	token    string
	expiry   time.Time
	inflight *exchange // the exchange under way, or nil
}

// exchange is one token exchange that callers wait on.
type exchange struct {
	done   chan struct{} // closed when token, expiry and err are set
	token  string
	expiry time.Time
	err    error
}

// newTokenSource parses a service-account key file.
func newTokenSource(keyJSON string, client *http.Client) (*tokenSource, *serviceAccount, error) {
	var sa serviceAccount
	if err := json.Unmarshal([]byte(keyJSON), &sa); err != nil {
		// The error may quote the key file; say only what is wrong with it.
		return nil, nil, errors.New("api key must be a service-account key file (JSON)")
	}
	if sa.Type != "" && sa.Type != "service_account" {
		return nil, nil, fmt.Errorf("api key is a %q credential, want service_account", sa.Type)
	}
	if sa.ClientEmail == "" || sa.PrivateKey == "" {
		return nil, nil, errors.New("service-account key file has no client_email or private_key")
	}
	if sa.TokenURI == "" {
		sa.TokenURI = DefaultTokenURI
	}
	if u, err := url.Parse(sa.TokenURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, nil, fmt.Errorf("service-account token_uri %q must be an absolute http or https url", sa.TokenURI)
	}
	key, err := parseRSAKey(sa.PrivateKey)
	if err != nil {
		return nil, nil, err
	}
	ts := &tokenSource{
		email:    sa.ClientEmail,
		keyID:    sa.PrivateKeyID,
		key:      key,
		tokenURI: sa.TokenURI,
		client:   client,
		now:      time.Now,
	}
	return ts, &sa, nil
}

// parseRSAKey reads a PEM RSA private key, PKCS #8 (as Google issues them) or PKCS #1.
func parseRSAKey(s string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("service-account private_key is not PEM")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("service-account private_key is not an RSA key")
		}
		return rk, nil
	}
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("service-account private_key is neither a PKCS #8 nor a PKCS #1 RSA key")
	}
	return k, nil
}

func (ts *tokenSource) authorize(ctx context.Context, req *http.Request) error {
	tok, err := ts.get(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// get returns a valid access token: the cached one, or a fresh one from an exchange that it
// starts or joins. The exchange is detached from ctx so that one canceled request does not fail
// the others waiting on it; ctx bounds only this caller's wait.
func (ts *tokenSource) get(ctx context.Context) (string, error) {
	ts.mu.Lock()
	if ts.token != "" && ts.now().Before(ts.expiry.Add(-refreshMargin)) {
		tok := ts.token
		ts.mu.Unlock()
		return tok, nil
	}
	ex := ts.inflight
	if ex == nil {
		ex = &exchange{done: make(chan struct{})}
		ts.inflight = ex
		go ts.run(context.WithoutCancel(ctx), ex)
	}
	ts.mu.Unlock()
	select {
	case <-ex.done:
		return ex.token, ex.err
	case <-ctx.Done():
		return "", provider.TransportError(ctx, ctx.Err())
	}
}

// run performs one exchange and publishes its result. A failure is not cached: the next
// request starts a new exchange.
func (ts *tokenSource) run(ctx context.Context, ex *exchange) {
	ctx, cancel := context.WithTimeout(ctx, tokenTimeout)
	defer cancel()
	ex.token, ex.expiry, ex.err = ts.fetch(ctx)
	ts.mu.Lock()
	if ex.err == nil {
		ts.token, ts.expiry = ex.token, ex.expiry
	}
	ts.inflight = nil
	ts.mu.Unlock()
	close(ex.done)
}

// fetch exchanges a freshly signed assertion for an access token.
func (ts *tokenSource) fetch(ctx context.Context) (string, time.Time, error) {
	now := ts.now()
	assertion, err := ts.assertion(now)
	if err != nil {
		return "", time.Time{}, err
	}
	form := url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion}}
	// The token exchange is not the target's request: it gets no header override.
	req, err := http.NewRequestWithContext(provider.WithoutHeaderOverride(ctx), http.MethodPost, ts.tokenURI, strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("vertex: build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := ts.client.Do(req)
	if err != nil {
		return "", time.Time{}, provider.TransportError(ctx, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	if err != nil {
		return "", time.Time{}, provider.TransportError(ctx, err)
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// invalid_grant and friends: the service account is wrong, not the client's request.
		return "", time.Time{}, &apierr.Error{
			Kind:    apierr.KindUpstreamBadResponse,
			Message: "the provider refused the gateway's credentials; ask the gateway admin to check the provider account",
			Code:    "upstream_auth_failed",
			Cause:   fmt.Errorf("token exchange: %w", tokenError(resp.StatusCode, b)),
		}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return "", time.Time{}, provider.StatusError(resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	var tr tokenResponse
	if err := json.Unmarshal(b, &tr); err != nil {
		return "", time.Time{}, provider.BadResponse(fmt.Errorf("decode token response: %w", err))
	}
	if tr.AccessToken == "" || tr.ExpiresIn <= 0 {
		return "", time.Time{}, provider.BadResponse(errors.New("token response has no access_token or expires_in"))
	}
	return tr.AccessToken, now.Add(time.Duration(tr.ExpiresIn) * time.Second), nil
}

// assertion signs the JWT that the token endpoint exchanges for an access token.
func (ts *tokenSource) assertion(now time.Time) (string, error) {
	header := map[string]string{"alg": "RS256", "typ": "JWT"}
	if ts.keyID != "" {
		header["kid"] = ts.keyID
	}
	claims := map[string]any{
		"iss":   ts.email,
		"scope": Scope,
		"aud":   ts.tokenURI,
		"iat":   now.Unix(),
		"exp":   now.Add(assertionLifetime).Unix(),
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("vertex: sign assertion: %w", err)
	}
	return signed + "." + enc.EncodeToString(sig), nil
}
