package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Source hands out valid tokens for one gateway from a Store's credentials, refreshing them
// with the refresh token. It is safe for concurrent use.
type Source struct {
	store   *Store
	gateway string
	client  *http.Client
	now     func() time.Time

	mu         sync.Mutex
	cred       *Credentials
	refreshing bool
}

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithClock sets the clock expiry is judged by (time.Now by default).
func WithClock(now func() time.Time) SourceOption { return func(s *Source) { s.now = now } }

// WithHTTPClient sets the client that calls the identity provider's token endpoint.
func WithHTTPClient(c *http.Client) SourceOption { return func(s *Source) { s.client = c } }

// NewSource returns a source of tokens for gateway ("" for the gateway logged in last) from
// st's credentials.
func NewSource(st *Store, gateway string, opts ...SourceOption) (*Source, error) {
	cred, err := st.Load(gateway)
	if err != nil {
		return nil, err
	}
	s := &Source{store: st, gateway: cred.Gateway, client: http.DefaultClient, now: time.Now, cred: cred}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Gateway is the URL of the source's gateway.
func (s *Source) Gateway() string { return s.gateway }

// Token returns a token valid for at least MinValidity, refreshing (and storing) it first
// when needed.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cred.Expiry.Sub(s.now()) > MinValidity {
		return s.cred.Token, nil
	}
	if err := s.refresh(ctx); err != nil {
		return "", err
	}
	return s.cred.Token, nil
}

// tokenAhead returns a token for a request: the current one while it is valid (starting a
// refresh in the background when it is within MinValidity of its expiry), else a refreshed
// one.
func (s *Source) tokenAhead(ctx context.Context) (string, error) {
	s.mu.Lock()
	left := s.cred.Expiry.Sub(s.now())
	switch {
	case left > MinValidity:
		defer s.mu.Unlock()
		return s.cred.Token, nil
	case left > 0:
		tok := s.cred.Token
		if !s.refreshing {
			s.refreshing = true
			cred := s.cred
			go func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				// The call is made without the lock: requests keep the current token meanwhile.
				next, err := s.renew(rctx, cred)
				s.mu.Lock()
				defer s.mu.Unlock()
				if next != nil {
					s.cred = next
				}
				_ = err // a failure is retried by the next request, or surfaces once the token has expired
				s.refreshing = false
			}()
		}
		s.mu.Unlock()
		return tok, nil
	}
	defer s.mu.Unlock()
	if err := s.refresh(ctx); err != nil {
		return "", err
	}
	return s.cred.Token, nil
}

// refresh replaces s.cred with renewed credentials. Called with s.mu held.
func (s *Source) refresh(ctx context.Context) error {
	next, err := s.renew(ctx, s.cred)
	if next != nil {
		s.cred = next
	}
	return err
}

// renew gets a new token with cred's refresh token and stores it, unless another process
// stored a fresh one meanwhile (refresh tokens may be single use). It returns the new
// credentials when it has them, with the error of storing them, if any.
func (s *Source) renew(ctx context.Context, cred *Credentials) (*Credentials, error) {
	if stored, err := s.store.Load(s.gateway); err == nil && stored.Expiry.Sub(s.now()) > MinValidity {
		return stored, nil
	}
	if cred.RefreshToken == "" {
		return nil, errors.New("the token expired and there is no refresh token: run 'llmgw login' again")
	}
	conf := oauthConfig(cred, nil, nil)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.client)
	tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: cred.RefreshToken}).Token()
	if err != nil {
		return nil, fmt.Errorf("refresh the token (run 'llmgw login' again if this persists): %w", err)
	}
	next := *cred
	if tok.RefreshToken != "" {
		next.RefreshToken = tok.RefreshToken
	}
	if next.Token, next.Expiry, err = bearer(tok); err != nil {
		return nil, err
	}
	// Kept in memory even when it cannot be stored: the old refresh token may be spent.
	return &next, s.store.Save(&next)
}

// Middleware sets Authorization: Bearer with a fresh token on r, as Transport does, and passes
// it to next. Its signature is that of the official SDKs' middlewares, so it plugs in without
// this package importing them: openai.NewClient(option.WithMiddleware(src.Middleware)) (and
// the same in anthropic-sdk-go).
func (s *Source) Middleware(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	tok, err := s.tokenAhead(r.Context())
	if err != nil {
		return nil, err
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Del("X-Api-Key")
	return next(r)
}

// Transport is an http.RoundTripper that sends a fresh token from Source on every request, as
// Authorization: Bearer, and refreshes it in the background before it expires. Use it in the
// http.Client of any SDK (openai-go: option.WithHTTPClient).
type Transport struct {
	Source *Source
	// Base sends the requests; http.DefaultTransport when nil.
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := t.Source.tokenAhead(r.Context())
	if err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, err
	}
	r2 := r.Clone(r.Context())
	r2.Header.Set("Authorization", "Bearer "+tok)
	r2.Header.Del("X-Api-Key")
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r2)
}
