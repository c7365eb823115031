// Package oidc authenticates the JWT bearer tokens of OpenID Connect identity providers
// (snapshot.Config.IdentityProviders) as users, on the request path and without I/O there:
// each issuer's signing keys (its JWKS, found by discovery or at a configured URL) are fetched
// in the background, refreshed every RefreshInterval and soon after a token names an unknown
// key id (at most once per MinRefreshGap), and kept while the identity provider is
// unreachable. Signatures (RS256, ES256, EdDSA), iss, aud, exp and nbf are checked by go-jose.
//
// It is not an OAuth client (the CLI's login is client/auth) and keeps no users: the snapshot
// has them, and a UserStore persists the users it creates.
package oidc

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// The Verifier's bounds.
const (
	// RefreshInterval is how often every issuer's keys are read again.
	RefreshInterval = 15 * time.Minute
	// MinRefreshGap is the least time between two reads of one issuer's keys after a
	// failed read or a token with an unknown key id: a flood of forged kids costs the
	// identity provider one request per gap.
	MinRefreshGap = 30 * time.Second
	// Leeway is the clock skew allowed on exp, nbf and iat.
	Leeway = 30 * time.Second
	// fetchTimeout bounds one read of a discovery document or JWKS.
	fetchTimeout = 10 * time.Second
	// createQueue bounds the users waiting to be stored; more are stored on a later token.
	createQueue = 256
)

// algorithms are the signature algorithms accepted; "none" and HMAC never are.
var algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// UserStore persists the users a provider with CreateUsers creates on first use. It is called
// off the request path.
type UserStore interface {
	// EnsureUser creates user name unless it exists.
	EnsureUser(ctx context.Context, name string) error
}

// Verifier verifies identity providers' tokens against cached keys. Authenticate is safe for
// concurrent use; Run keeps the keys current. It implements snapshot.Tokens.
type Verifier struct {
	client  *http.Client
	now     func() time.Time
	logger  *slog.Logger
	refresh time.Duration
	gap     time.Duration
	leeway  time.Duration
	users   UserStore

	mu   sync.RWMutex
	sets map[source]*keySet

	wake    chan struct{} // a request wants keys read (buffered, one)
	syncMu  sync.Mutex    // one Sync at a time
	create  chan string   // users to store (bounded)
	queued  sync.Map      // user names queued or stored by this process
	fetches atomic.Int64
}

var _ snapshot.Tokens = (*Verifier)(nil)

// Option configures a Verifier.
type Option func(*Verifier)

// WithClock sets the clock that decides refreshes (time.Now by default). Token times are
// checked at the time Authenticate is given.
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// WithUserStore persists the users created on first use (processes with a database). Without
// one, created users live only in the principals of their requests.
func WithUserStore(u UserStore) Option { return func(v *Verifier) { v.users = u } }

// New returns a Verifier. Call Run to load keys: until it has, every token is refused.
func New(logger *slog.Logger, opts ...Option) *Verifier {
	v := &Verifier{client: &http.Client{Timeout: fetchTimeout}, now: time.Now, logger: logger,
		refresh: RefreshInterval, gap: MinRefreshGap, leeway: Leeway,
		sets: map[source]*keySet{}, wake: make(chan struct{}, 1), create: make(chan string, createQueue)}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Fetches counts the key reads attempted.
func (v *Verifier) Fetches() int64 { return v.fetches.Load() }

// Run keeps the keys of h's identity providers current until ctx is done: it checks every
// tick (and at once when a request wants keys) which are due, and stores created users.
func (v *Verifier) Run(ctx context.Context, h *snapshot.Holder, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if s := h.Load(); s != nil {
			v.Sync(ctx, s.Config().IdentityProviders)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-v.wake:
		case name := <-v.create:
			v.store(ctx, name)
		}
	}
}

func (v *Verifier) store(ctx context.Context, name string) {
	if v.users == nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	if err := v.users.EnsureUser(cctx, name); err != nil {
		v.queued.Delete(name) // the next token tries again
		v.logger.Warn("could not store a user created by an OIDC login", "user", name, "error", err)
	}
}

// Sync reads the keys of every provider in ps, the configured ones, that are due: never read,
// read longer than the refresh interval ago, or wanted by a request with an unknown key id; a
// failed read, or a wanted one, is tried again after the gap at the earliest. The keys of a
// failed read stay; those of providers not in ps are dropped. It returns when every read it
// started has ended (each within 10 seconds).
func (v *Verifier) Sync(ctx context.Context, ps []snapshot.IdentityProvider) {
	v.syncMu.Lock()
	defer v.syncMu.Unlock()
	// Keys of providers no longer configured are dropped.
	v.mu.Lock()
	for src := range v.sets {
		if !slices.ContainsFunc(ps, func(p snapshot.IdentityProvider) bool { return p.Issuer == src.issuer && p.JWKSURL == src.jwksURL }) {
			delete(v.sets, src)
		}
	}
	v.mu.Unlock()
	// Reads run concurrently: a slow identity provider delays no other's keys.
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, p := range ps {
		src := source{issuer: p.Issuer, jwksURL: p.JWKSURL}
		v.mu.Lock()
		ks, ok := v.sets[src]
		if !ok {
			ks = &keySet{}
			v.sets[src] = ks
		}
		now := v.now()
		due := ks.tried.IsZero() ||
			(ks.keys == nil || ks.failed || ks.want) && now.Sub(ks.tried) >= v.gap ||
			now.Sub(ks.fetched) >= v.refresh && now.Sub(ks.tried) >= v.gap
		if due {
			ks.tried, ks.want = now, false
		}
		v.mu.Unlock()
		if !due {
			continue
		}
		v.fetches.Add(1)
		wg.Go(func() {
			fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
			set, err := fetch(fctx, v.client, src)
			cancel()
			v.mu.Lock()
			defer v.mu.Unlock()
			if err != nil {
				ks.failed = true
				ks.failures++
				v.logger.Warn("could not read an identity provider's signing keys; the cached keys stay in use", "provider", p.Name, "issuer", p.Issuer, "cached", ks.keys != nil, "error", err)
			} else {
				ks.keys, ks.fetched, ks.failed = set, v.now(), false
			}
		})
	}
}

// KeyStatus is the state of one identity provider's keys, for readiness.
type KeyStatus struct {
	// Loaded: keys were read, at Fetched; tokens are verified against them.
	Loaded  bool
	Fetched time.Time
	// Failing: the last read failed (the keys read before, if any, stay in use).
	Failing bool
}

// Status returns the state of the keys of every provider in ps, by provider name.
func (v *Verifier) Status(ps []snapshot.IdentityProvider) map[string]KeyStatus {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make(map[string]KeyStatus, len(ps))
	for _, p := range ps {
		var st KeyStatus
		if ks, ok := v.sets[source{issuer: p.Issuer, jwksURL: p.JWKSURL}]; ok {
			st = KeyStatus{Loaded: ks.keys != nil, Fetched: ks.fetched, Failing: ks.failed}
		}
		out[p.Name] = st
	}
	return out
}

// wantKeys marks src's keys as wanted by a request and wakes Run, without waiting.
func (v *Verifier) wantKeys(src source) {
	v.mu.Lock()
	if ks, ok := v.sets[src]; ok {
		ks.want = true
	} else {
		v.sets[src] = &keySet{want: true}
	}
	v.mu.Unlock()
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

func unauthenticated(msg string) error { return apierr.New(apierr.KindUnauthenticated, "%s", msg) }

// Authenticate verifies token, a JWT of one of s's identity providers, at now and returns the
// principal of the user it names. It does no I/O.
func (v *Verifier) Authenticate(s *snapshot.Snapshot, token string, now time.Time) (*snapshot.Principal, error) {
	tok, err := jwt.ParseSigned(token, algorithms)
	if err != nil || len(tok.Headers) != 1 {
		return nil, unauthenticated("invalid token: not a JWT signed with RS256, ES256 or EdDSA")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, unauthenticated("invalid token: unreadable claims")
	}
	var first error
	for i := range s.Config().IdentityProviders {
		p := &s.Config().IdentityProviders[i]
		if p.Issuer != unverified.Issuer {
			continue
		}
		pr, err := v.verify(s, p, tok, now)
		if err == nil {
			return pr, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return nil, unauthenticated("invalid token: its issuer is not an identity provider of this gateway")
	}
	return nil, first
}

// verify checks tok against p's keys and claims.
func (v *Verifier) verify(s *snapshot.Snapshot, p *snapshot.IdentityProvider, tok *jwt.JSONWebToken, now time.Time) (*snapshot.Principal, error) {
	src := source{issuer: p.Issuer, jwksURL: p.JWKSURL}
	v.mu.RLock()
	var set *jose.JSONWebKeySet
	if ks, ok := v.sets[src]; ok {
		set = ks.keys
	}
	v.mu.RUnlock()
	if set == nil {
		v.wantKeys(src)
		return nil, unauthenticated("the identity provider's signing keys are not loaded yet; retry shortly")
	}
	h := tok.Headers[0]
	var candidates []jose.JSONWebKey
	if h.KeyID != "" {
		candidates = set.Key(h.KeyID)
	} else {
		candidates = set.Keys
	}
	var claims jwt.Claims
	var all map[string]any
	verified, known, expired := false, false, false
	for _, k := range candidates {
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		known = true
		if len(k.Certificates) > 0 && now.After(k.Certificates[0].NotAfter) {
			expired = true // a key published with a certificate (x5c) ends with it
			continue
		}
		if tok.Claims(k.Key, &claims, &all) == nil {
			verified = true
			break
		}
	}
	switch {
	case !known:
		v.wantKeys(src) // rotated keys: read them again, off this request
		return nil, unauthenticated("invalid token: signed with a key the identity provider does not publish (yet)")
	case !verified && expired:
		return nil, unauthenticated("invalid token: signed with a key whose certificate has expired")
	case !verified:
		return nil, unauthenticated("invalid token: bad signature")
	case claims.Expiry == nil:
		return nil, unauthenticated("invalid token: it has no expiry (exp)")
	case len(p.Audiences) == 0:
		return nil, unauthenticated("invalid token: its identity provider accepts no audience")
	}
	err := claims.ValidateWithLeeway(jwt.Expected{Issuer: p.Issuer, AnyAudience: jwt.Audience(p.Audiences), Time: now}, v.leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return nil, unauthenticated("token expired: get a new one (llmgw token)")
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, unauthenticated("token is not valid yet")
	case errors.Is(err, jwt.ErrInvalidAudience):
		return nil, unauthenticated("invalid token: its audience is not this gateway")
	case err != nil:
		return nil, unauthenticated("invalid token: its claims do not match the identity provider")
	}
	return v.principal(s, p, all)
}

// principal maps verified claims to the user they name.
func (v *Verifier) principal(s *snapshot.Snapshot, p *snapshot.IdentityProvider, claims map[string]any) (*snapshot.Principal, error) {
	email, _ := claims["email"].(string)
	verifiedEmail := true
	if ev, ok := claims["email_verified"].(bool); ok {
		verifiedEmail = ev
	}
	var name string
	switch {
	case p.UserClaim != "":
		name, _ = claims[p.UserClaim].(string)
	case email != "":
		name = email
	default:
		name, _ = claims["sub"].(string)
	}
	if name == "" {
		return nil, unauthenticated("invalid token: it names no user")
	}
	byEmail := name == email
	name = strings.ToLower(name) // user names are lowercase (the store's rule)
	if (byEmail || len(p.AllowedDomains) > 0) && email != "" && !verifiedEmail {
		return nil, unauthenticated("invalid token: its email is not verified")
	}
	if len(p.AllowedDomains) > 0 {
		at := strings.LastIndexByte(email, '@')
		if at < 0 || !slices.ContainsFunc(p.AllowedDomains, func(d string) bool { return strings.EqualFold(d, email[at+1:]) }) {
			return nil, unauthenticated("this identity provider admits only users of its allowed domains")
		}
	}
	groups := stringList(claims[p.GroupsClaim])
	if p.GroupsClaim == "" {
		groups = nil
	}
	if u := s.User(name); u != nil {
		if u.Disabled {
			return nil, unauthenticated("user is disabled")
		}
		teams := slices.Clone(u.Teams)
		for _, g := range groups {
			if !slices.Contains(teams, g) {
				teams = append(teams, g)
			}
		}
		// Exactly the user's permissions: the roles a personal key of theirs would carry
		// (a token has no key scope: it reaches both APIs as the user may).
		return &snapshot.Principal{User: u.Name, Teams: teams, Roles: slices.Clone(u.Roles), Admin: u.Admin || slices.Contains(u.Roles, snapshot.RoleAdmin)}, nil
	}
	if !p.CreateUsers {
		return nil, unauthenticated("the token's user is not a user of this gateway, and its identity provider does not create users")
	}
	v.created(name)
	return &snapshot.Principal{User: name, Teams: groups}, nil
}

// created queues name to be stored, once per process, without waiting.
func (v *Verifier) created(name string) {
	if v.users == nil {
		return
	}
	if _, loaded := v.queued.LoadOrStore(name, true); loaded {
		return
	}
	select {
	case v.create <- name:
	default:
		v.queued.Delete(name) // full: a later token queues it again
	}
}

// stringList reads a claim that is a list of strings or one string.
func stringList(c any) []string {
	switch c := c.(type) {
	case string:
		if c == "" {
			return nil
		}
		return []string{c}
	case []any:
		out := make([]string, 0, len(c))
		for _, e := range c {
			if s, ok := e.(string); ok && s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
