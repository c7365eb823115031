package configfile

import (
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/llmgw/llmgw/gateway/snapshot"
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
	var ip snapshot.IdentityProvider
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
	if err := checkURL(ip.Issuer); err != nil {
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
	if ip.ClientID, err = str(f, doc, "", "client_id", false); err != nil {
		return err
	}
	if ip.AllowedDomains, err = strs(f, doc, "", "allowed_domains"); err != nil {
		return err
	}
	for i, d := range ip.AllowedDomains {
		ip.AllowedDomains[i] = strings.ToLower(strings.TrimPrefix(d, "@"))
	}
	if ip.JWKSURL, err = str(f, doc, "", "jwks_url", false); err != nil {
		return err
	}
	if ip.JWKSURL != "" {
		if err := checkURL(ip.JWKSURL); err != nil {
			return &Error{Doc: doc, Field: "jwks_url", Msg: err.Error()}
		}
	}
	p.file.IdentityProviders = append(p.file.IdentityProviders, ip)
	return nil
}

// checkURL accepts an absolute https URL, or http to a loopback host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errf("expected an absolute URL")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"):
		return nil
	}
	return errf("expected an https URL (http only to localhost)")
}

type errf string

func (e errf) Error() string { return string(e) }
