package server

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/llmgw/llmgw/gateway/snapshot"
)

// TestLoginOrigins: the web app's CSP allows the origin of the login identity provider (the
// first with a client_id), and nothing without one.
func TestLoginOrigins(t *testing.T) {
	tests := []struct {
		name string
		idps []snapshot.IdentityProvider
		want []string
	}{
		{"none", nil, nil},
		{"no client id", []snapshot.IdentityProvider{{Name: "partner", Issuer: "https://partner.example.com"}}, nil},
		{"first with a client id", []snapshot.IdentityProvider{
			{Name: "partner", Issuer: "https://partner.example.com"},
			{Name: "corp", Issuer: "https://login.example.com:8443/realms/corp", ClientID: "llmgw"},
			{Name: "other", Issuer: "https://other.example.com", ClientID: "llmgw"},
		}, []string{"https://login.example.com:8443"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h snapshot.Holder
			if got := LoginOrigins(&h); got != nil {
				t.Fatalf("without a snapshot: %v", got)
			}
			h.Store(snapshot.Compile(&snapshot.Config{IdentityProviders: tt.idps}, nil, nil, slog.New(slog.DiscardHandler)))
			if got := LoginOrigins(&h); !slices.Equal(got, tt.want) {
				t.Errorf("LoginOrigins = %v, want %v", got, tt.want)
			}
		})
	}
}
