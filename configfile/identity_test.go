package configfile

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/llmgw/llmgw/gateway/snapshot"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

const identityDoc = `
- name: corp-sso
  type: identity-provider/oidc
  issuer: https://login.example.com      # discovery at <issuer>/.well-known/openid-configuration
  audiences: [llmgw]
  user_claim: email                      # default email, then sub
  groups_claim: groups                   # each group is a team of the same name
  create_users: true                     # create unknown users on first use
  client_id: llmgw-cli                   # public client the CLI uses for login
- name: partner
  type: identity-provider/oidc
  issuer: http://127.0.0.1:5556/dex
  audiences: [llmgw, other]
  allowed_domains: ["@Partner.com"]
  jwks_url: https://keys.partner.com/jwks.json
`

func TestIdentityProvidersFromFile(t *testing.T) {
	f, err := Parse([]byte(identityDoc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []*adminv1.IdentityProvider{
		{Name: "corp-sso", Issuer: "https://login.example.com", Audiences: []string{"llmgw"}, UserClaim: "email", GroupsClaim: "groups", CreateUsers: true, ClientId: "llmgw-cli"},
		{Name: "partner", Issuer: "http://127.0.0.1:5556/dex", Audiences: []string{"llmgw", "other"}, AllowedDomains: []string{"partner.com"}, JwksUrl: "https://keys.partner.com/jwks.json"},
	}
	if diff := cmp.Diff(want, f.IdentityProviders, protocmp.Transform()); diff != "" {
		t.Errorf("providers (-want +got):\n%s", diff)
	}
}

func TestIdentityProviderErrorsNameField(t *testing.T) {
	head := "name: sso\ntype: identity-provider/oidc\n"
	for _, tc := range []struct{ name, body, want string }{
		{"issuer required", "audiences: [a]\n", "issuer:"},
		{"audiences required", "issuer: https://x.example.com\n", "audiences: required"},
		{"plain http issuer", "issuer: http://x.example.com\naudiences: [a]\n", "issuer: expected an https URL"},
		{"relative jwks_url", "issuer: https://x.example.com\naudiences: [a]\njwks_url: /keys\n", "jwks_url: expected an absolute URL"},
		{"unknown field", "issuer: https://x.example.com\naudiences: [a]\nscopes: [x]\n", "scopes: unknown field"},
		{"create_users not bool", "issuer: https://x.example.com\naudiences: [a]\ncreate_users: maybe\n", "create_users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(head+tc.body), env(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "document 1 (sso): ") {
				t.Errorf("Parse: %v; want an error naming the field, containing %q", err, tc.want)
			}
		})
	}
	_, err := Parse([]byte(head+"issuer: https://x.example.com\naudiences: [a]\n---\n"+head+"issuer: https://y.example.com\naudiences: [a]\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "duplicate identity provider name") {
		t.Errorf("duplicate name: %v", err)
	}
}

func identityConfig(in *adminv1.IdentityProvider) snapshot.IdentityProvider {
	return snapshot.IdentityProvider{Name: in.Name, Issuer: in.Issuer, Audiences: in.Audiences, UserClaim: in.UserClaim, GroupsClaim: in.GroupsClaim,
		CreateUsers: in.CreateUsers, ClientID: in.ClientId, AllowedDomains: in.AllowedDomains, JWKSURL: in.JwksUrl}
}

func (s *fakeStore) CreateIdentityProvider(_ context.Context, in *adminv1.IdentityProvider) (*adminv1.IdentityProvider, error) {
	s.writes++
	s.cfg.IdentityProviders = append(s.cfg.IdentityProviders, identityConfig(in))
	return in, nil
}

func (s *fakeStore) UpdateIdentityProvider(_ context.Context, in *adminv1.IdentityProvider) (*adminv1.IdentityProvider, error) {
	s.writes++
	for i, p := range s.cfg.IdentityProviders {
		if p.Name == in.Name {
			s.cfg.IdentityProviders[i] = identityConfig(in)
		}
	}
	return in, nil
}

func TestApplyIdentityProviders(t *testing.T) {
	st := &fakeStore{}
	f, err := Parse([]byte(identityDoc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := Apply(t.Context(), st, f); err != nil || n != 2 {
		t.Fatalf("first apply: %d, %v; want 2 writes", n, err)
	}
	if n, err := Apply(t.Context(), st, f); err != nil || n != 0 {
		t.Fatalf("second apply: %d, %v; want none", n, err)
	}
	changed, err := Parse([]byte(strings.Replace(identityDoc, "create_users: true", "create_users: false", 1)), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := Apply(t.Context(), st, changed); err != nil || n != 1 || st.cfg.IdentityProviders[0].CreateUsers {
		t.Fatalf("changed apply: %d, %v, %+v; want one update", n, err, st.cfg.IdentityProviders[0])
	}
}

// TestReadmeIdentityProviderExample: the README's identity provider example parses as shown.
func TestReadmeIdentityProviderExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, part := range strings.Split(string(b), "```yaml\n")[1:] {
		if text, _, _ := strings.Cut(part, "```"); strings.Contains(text, "type: identity-provider/oidc") {
			block = text
		}
	}
	f, err := Parse([]byte(block), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []*adminv1.IdentityProvider{{Name: "corp-sso", Issuer: "https://login.example.com", Audiences: []string{"llmgw"}, UserClaim: "email",
		GroupsClaim: "groups", CreateUsers: true, ClientId: "llmgw-cli", AllowedDomains: []string{"example.com"}}}
	if diff := cmp.Diff(want, f.IdentityProviders, protocmp.Transform()); diff != "" {
		t.Errorf("README example (-want +got):\n%s", diff)
	}
}
