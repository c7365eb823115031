package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"

	"github.com/llmgw/llmgw/ent/schematype"
)

// RateLimit holds the schema definition for a per-minute request and token cap.
type RateLimit struct {
	ent.Schema
}

// Mixin of the RateLimit.
func (RateLimit) Mixin() []ent.Mixin {
	return []ent.Mixin{timeMixin, NameMixin{}}
}

// Fields of the RateLimit.
func (RateLimit) Fields() []ent.Field {
	return []ent.Field{
		field.JSON("subjects", schematype.Subjects{}),
		field.Int64("requests_per_minute").Default(0).NonNegative(),
		field.Int64("tokens_per_minute").Default(0).NonNegative(),
	}
}
