package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// User holds the schema definition for a person who calls the gateway.
type User struct {
	ent.Schema
}

// Mixin of the User.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{timeMixin, NameMixin{}}
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").Default(""),
		field.Bool("disabled").Default(false),
		// admin is true when roles holds "admin": it is what users stored before roles existed
		// said, and the store reads it as that role, so rows written then keep their role.
		field.Bool("admin").Default(false),
		// roles are the user's Admin API roles ("admin", "viewer", "team-admin"), sorted.
		field.Strings("roles").Optional(),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("teams", Team.Type),
		edge.To("api_keys", ApiKey.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}
