package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// ProviderAccount holds the schema definition for a set of credentials at one provider.
type ProviderAccount struct {
	ent.Schema
}

// Mixin of the ProviderAccount.
func (ProviderAccount) Mixin() []ent.Mixin {
	return []ent.Mixin{timeMixin, NameMixin{}}
}

// Fields of the ProviderAccount.
func (ProviderAccount) Fields() []ent.Field {
	return []ent.Field{
		field.String("provider").NotEmpty(),
		field.String("base_url").Default(""),
		// settings are the provider's non-secret options (see the Admin API).
		field.JSON("settings", map[string]string{}).Optional(),
		// api_key_sealed is the API key sealed with the master key (AES-256-GCM); never plaintext.
		field.Bytes("api_key_sealed").Optional().Nillable().Sensitive(),
	}
}

// Edges of the ProviderAccount.
func (ProviderAccount) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("models", Model.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}
