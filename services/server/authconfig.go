package server

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// AuthConfigPath is the public, unauthenticated endpoint that tells `llmgw login` which
// identity provider and client to log in with.
const AuthConfigPath = "/api/v1/auth/config"

// AuthConfig is the answer of AuthConfigPath.
type AuthConfig struct {
	// Provider is the identity provider's name in the gateway's config.
	Provider  string   `json:"provider"`
	Issuer    string   `json:"issuer"`
	ClientID  string   `json:"client_id"`
	Audiences []string `json:"audiences"`
}

// authConfig answers AuthConfigPath with the first identity provider, in the config's order,
// that has a client_id: the one the CLI logs in with. Without one it answers 404.
func (s *Server) authConfig(w http.ResponseWriter, _ *http.Request) {
	snap := s.snaps.Load()
	if snap == nil {
		apierr.WriteOpenAI(w, apierr.New(apierr.KindUnavailable, "the gateway is starting; retry shortly"))
		return
	}
	if p, ok := loginProvider(snap); ok {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(AuthConfig{Provider: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, Audiences: p.Audiences})
		return
	}
	apierr.WriteOpenAI(w, apierr.New(apierr.KindNotFound, "this gateway has no identity provider with a client_id for logins; use an API key"))
}

// loginProvider is the identity provider logins use: the first, in the config's order, with a
// client_id.
func loginProvider(snap *snapshot.Snapshot) (snapshot.IdentityProvider, bool) {
	for _, p := range snap.Config().IdentityProviders {
		if p.ClientID != "" {
			return p, true
		}
	}
	return snapshot.IdentityProvider{}, false
}

// LoginOrigins returns the origin ("scheme://host[:port]") of the login identity provider's
// issuer, which the web app's single sign-on calls (discovery and the token endpoint), for the
// web app's Content-Security-Policy; none without a snapshot or a login provider.
func LoginOrigins(snaps *snapshot.Holder) []string {
	snap := snaps.Load()
	if snap == nil {
		return nil
	}
	p, ok := loginProvider(snap)
	if !ok {
		return nil
	}
	u, err := url.Parse(p.Issuer)
	if err != nil || u.Host == "" {
		return nil
	}
	return []string{u.Scheme + "://" + u.Host}
}
