package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// VirtualAccount holds the schema definition for an application or service identity.
type VirtualAccount struct {
	ent.Schema
}

// Mixin of the VirtualAccount.
func (VirtualAccount) Mixin() []ent.Mixin {
	return []ent.Mixin{timeMixin, NameMixin{}}
}

// Fields of the VirtualAccount.
func (VirtualAccount) Fields() []ent.Field {
	return []ent.Field{
		field.String("description").Default(""),
		field.Bool("disabled").Default(false),
		field.Int("team_id").Optional().Nillable(),
	}
}

// Edges of the VirtualAccount.
func (VirtualAccount) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("team", Team.Type).Ref("virtual_accounts").Field("team_id").Unique(),
		edge.To("api_keys", ApiKey.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}
