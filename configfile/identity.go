package configfile

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/llmgw/llmgw/gateway/oidc"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// typeOIDC is an OpenID Connect identity provider whose JWTs authenticate as users.
const typeOIDC = "identity-provider/oidc"

// identityProvider parses an identity-provider/oidc document: name, issuer and audiences are
// required; issuer and jwks_url must be https URLs (http only for localhost and 127.0.0.1,
// for tests and development); user_claim and groups_claim name claims.
func (p *parser) identityProvider(n *yaml.Node, doc string) error {
	f, err := fields(n, doc, "", "name", "type", "issuer", "audiences", "user_claim", "groups_claim", "create_users", "client_id", "allowed_domains", "jwks_url")
	if err != nil {
		return err
	}
	ip := &adminv1.IdentityProvider{}
	if ip.Name, err = str(f, doc, "", "name", true); err != nil {
		return err
	}
	for _, q := range p.file.IdentityProviders {
		if q.Name == ip.Name {
			return &Error{Doc: doc, Field: "name", Msg: "duplicate identity provider name"}
		}
	}
	if ip.Issuer, err = str(f, doc, "", "issuer", true); err != nil {
		return err
	}
	if err := oidc.CheckURL(ip.Issuer); err != nil {
		return &Error{Doc: doc, Field: "issuer", Msg: err.Error()}
	}
	if ip.Audiences, err = strs(f, doc, "", "audiences"); err != nil {
		return err
	}
	if len(ip.Audiences) == 0 {
		return &Error{Doc: doc, Field: "audiences", Msg: "required: the aud values this gateway accepts (a token must name one)"}
	}
	if ip.UserClaim, err = str(f, doc, "", "user_claim", false); err != nil {
		return err
	}
	if ip.GroupsClaim, err = str(f, doc, "", "groups_claim", false); err != nil {
		return err
	}
	if ip.CreateUsers, err = boolean(f, doc, "", "create_users"); err != nil {
		return err
	}
	if ip.ClientId, err = str(f, doc, "", "client_id", false); err != nil {
		return err
	}
	if ip.AllowedDomains, err = strs(f, doc, "", "allowed_domains"); err != nil {
		return err
	}
	for i, d := range ip.AllowedDomains {
		ip.AllowedDomains[i] = strings.ToLower(strings.TrimPrefix(d, "@"))
	}
	if ip.JwksUrl, err = str(f, doc, "", "jwks_url", false); err != nil {
		return err
	}
	if ip.JwksUrl != "" {
		if err := oidc.CheckURL(ip.JwksUrl); err != nil {
			return &Error{Doc: doc, Field: "jwks_url", Msg: err.Error()}
		}
	}
	p.file.IdentityProviders = append(p.file.IdentityProviders, ip)
	return nil
}
