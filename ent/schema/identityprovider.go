package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// IdentityProvider holds the schema definition for an OIDC identity provider whose JWTs
// authenticate as users (snapshot.IdentityProvider).
type IdentityProvider struct {
	ent.Schema
}

// Mixin of the IdentityProvider.
func (IdentityProvider) Mixin() []ent.Mixin {
	return []ent.Mixin{timeMixin, NameMixin{}}
}

// Fields of the IdentityProvider.
func (IdentityProvider) Fields() []ent.Field {
	return []ent.Field{
		field.String("issuer").NotEmpty(),
		field.Strings("audiences").Optional(),
		field.String("user_claim").Default(""),
		field.String("groups_claim").Default(""),
		field.Bool("create_users").Default(false),
		field.String("client_id").Default(""),
		field.Strings("allowed_domains").Optional(),
		field.String("jwks_url").Default(""),
	}
}
