package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/identityprovider"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/oidc"
	"github.com/llmgw/llmgw/gateway/snapshot"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

const kindIdentityProvider = "identity provider"

// validateIdentityProvider checks in and normalizes its allowed domains (lowercase, no '@').
func validateIdentityProvider(in *adminv1.IdentityProvider) error {
	if in == nil {
		return apierr.Invalid("identity_provider", "identity_provider is required")
	}
	if err := validateName("identity_provider.name", in.GetName()); err != nil {
		return err
	}
	if in.GetIssuer() == "" {
		return apierr.Invalid("identity_provider.issuer", "identity_provider.issuer is required")
	}
	if err := oidc.CheckURL(in.GetIssuer()); err != nil {
		return apierr.Invalid("identity_provider.issuer", "identity_provider.issuer: %v", err)
	}
	if in.GetJwksUrl() != "" {
		if err := oidc.CheckURL(in.GetJwksUrl()); err != nil {
			return apierr.Invalid("identity_provider.jwks_url", "identity_provider.jwks_url: %v", err)
		}
	}
	if len(in.GetAudiences()) == 0 {
		return apierr.Invalid("identity_provider.audiences", "identity_provider.audiences is required: the aud values this gateway accepts")
	}
	if err := validateList("identity_provider.audiences", in.GetAudiences()); err != nil {
		return err
	}
	if err := validateList("identity_provider.allowed_domains", in.GetAllowedDomains()); err != nil {
		return err
	}
	for i, d := range in.AllowedDomains {
		in.AllowedDomains[i] = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
	}
	return nil
}

// CreateIdentityProvider adds an OIDC identity provider.
func (s *Store) CreateIdentityProvider(ctx context.Context, in *adminv1.IdentityProvider) (*adminv1.IdentityProvider, error) {
	if err := validateIdentityProvider(in); err != nil {
		return nil, fmt.Errorf("create identity provider: %w", err)
	}
	var out *ent.IdentityProvider
	err := s.write(ctx, func(tx *ent.Tx) error {
		var err error
		out, err = tx.IdentityProvider.Create().SetName(in.GetName()).SetIssuer(in.GetIssuer()).SetAudiences(in.GetAudiences()).
			SetUserClaim(in.GetUserClaim()).SetGroupsClaim(in.GetGroupsClaim()).SetCreateUsers(in.GetCreateUsers()).
			SetClientID(in.GetClientId()).SetAllowedDomains(in.GetAllowedDomains()).SetJwksURL(in.GetJwksUrl()).Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create identity provider %s: %w", in.GetName(), classify(err, kindIdentityProvider, in.GetName()))
	}
	return identityProviderProto(out), nil
}

// GetIdentityProvider returns the identity provider with the name.
func (s *Store) GetIdentityProvider(ctx context.Context, name string) (*adminv1.IdentityProvider, error) {
	p, err := s.client.IdentityProvider.Query().Where(identityprovider.Name(name)).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get identity provider %s: %w", name, classify(err, kindIdentityProvider, name))
	}
	return identityProviderProto(p), nil
}

// ListIdentityProviders returns every identity provider, sorted by name.
func (s *Store) ListIdentityProviders(ctx context.Context) ([]*adminv1.IdentityProvider, error) {
	ps, err := s.client.IdentityProvider.Query().Order(ent.Asc(identityprovider.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list identity providers: %w", err)
	}
	out := make([]*adminv1.IdentityProvider, len(ps))
	for i, p := range ps {
		out[i] = identityProviderProto(p)
	}
	return out, nil
}

// UpdateIdentityProvider replaces every setting of the identity provider named in.name.
func (s *Store) UpdateIdentityProvider(ctx context.Context, in *adminv1.IdentityProvider) (*adminv1.IdentityProvider, error) {
	if err := validateIdentityProvider(in); err != nil {
		return nil, fmt.Errorf("update identity provider: %w", err)
	}
	var out *ent.IdentityProvider
	err := s.write(ctx, func(tx *ent.Tx) error {
		id, err := tx.IdentityProvider.Query().Where(identityprovider.Name(in.GetName())).OnlyID(ctx)
		if err != nil {
			return err
		}
		out, err = tx.IdentityProvider.UpdateOneID(id).SetIssuer(in.GetIssuer()).SetAudiences(in.GetAudiences()).
			SetUserClaim(in.GetUserClaim()).SetGroupsClaim(in.GetGroupsClaim()).SetCreateUsers(in.GetCreateUsers()).
			SetClientID(in.GetClientId()).SetAllowedDomains(in.GetAllowedDomains()).SetJwksURL(in.GetJwksUrl()).Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update identity provider %s: %w", in.GetName(), classify(err, kindIdentityProvider, in.GetName()))
	}
	return identityProviderProto(out), nil
}

// DeleteIdentityProvider deletes the identity provider with the name; its tokens are refused
// from the next snapshot on. Users it created stay.
func (s *Store) DeleteIdentityProvider(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *ent.Tx) error {
		n, err := tx.IdentityProvider.Delete().Where(identityprovider.Name(name)).Exec(ctx)
		if err == nil && n == 0 {
			return notFound(kindIdentityProvider, name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete identity provider %s: %w", name, classify(err, kindIdentityProvider, name))
	}
	return nil
}

func identityProviderProto(p *ent.IdentityProvider) *adminv1.IdentityProvider {
	return &adminv1.IdentityProvider{
		Name: p.Name, Issuer: p.Issuer, Audiences: p.Audiences, UserClaim: p.UserClaim, GroupsClaim: p.GroupsClaim,
		CreateUsers: p.CreateUsers, ClientId: p.ClientID, AllowedDomains: p.AllowedDomains, JwksUrl: p.JwksURL,
		CreateTime: ts(p.CreateTime), UpdateTime: ts(p.UpdateTime),
	}
}

// identityProviderConfig is p as the data plane sees it.
func identityProviderConfig(p *ent.IdentityProvider) snapshot.IdentityProvider {
	return snapshot.IdentityProvider{
		Name: p.Name, Issuer: p.Issuer, Audiences: p.Audiences, UserClaim: p.UserClaim, GroupsClaim: p.GroupsClaim,
		CreateUsers: p.CreateUsers, ClientID: p.ClientID, AllowedDomains: p.AllowedDomains, JWKSURL: p.JwksURL,
	}
}
