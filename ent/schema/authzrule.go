package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// AuthzRule holds the schema definition for a rule that allows principals to use models.
type AuthzRule struct {
	ent.Schema
}

// Mixin of the AuthzRule.
func (AuthzRule) Mixin() []ent.Mixin {
	return []ent.Mixin{timeMixin, NameMixin{}}
}

// Fields of the AuthzRule.
func (AuthzRule) Fields() []ent.Field {
	return []ent.Field{
		field.Strings("models").Optional(),
		field.Strings("users").Optional(),
		field.Strings("teams").Optional(),
		field.Strings("virtual_accounts").Optional(),
	}
}
