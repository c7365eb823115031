package server

import (
	"encoding/json"
	"net/http"

	"github.com/llmgw/llmgw/gateway/apierr"
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
	for _, p := range snap.Config().IdentityProviders {
		if p.ClientID == "" {
			continue
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(AuthConfig{Provider: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, Audiences: p.Audiences})
		return
	}
	apierr.WriteOpenAI(w, apierr.New(apierr.KindNotFound, "this gateway has no identity provider with a client_id for logins; use an API key"))
}
