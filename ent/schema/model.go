package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"entgo.io/ent/schema/index"
	"github.com/llmgw/llmgw/ent/schematype"
)

// Model holds the schema definition for a model served through a provider account.
type Model struct {
	ent.Schema
}

// Mixin of the Model.
func (Model) Mixin() []ent.Mixin {
	return []ent.Mixin{timeMixin}
}

// Fields of the Model.
func (Model) Fields() []ent.Field {
	return []ent.Field{
		field.Int("account_id").Immutable(),
		field.String("name").NotEmpty().Immutable(),
		field.String("upstream_model").Default(""),
		field.Strings("types").Optional(),
		field.String("base_url").Default(""),
		// settings are the provider's non-secret options (see the Admin API).
		field.JSON("settings", map[string]string{}).Optional(),
		// pricing overrides the catalog's list price; nil uses the catalog.
		field.JSON("pricing", &schematype.Pricing{}).Optional(),
		// api_key_sealed is the model's own API key sealed with the master key; never plaintext.
		field.Bytes("api_key_sealed").Optional().Nillable().Sensitive(),
	}
}

// Edges of the Model.
func (Model) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("account", ProviderAccount.Type).
			Ref("models").
			Field("account_id").
			Unique().
			Required().
			Immutable(),
	}
}

// Indexes of the Model.
func (Model) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "name").Unique(),
	}
}
