package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"

	"github.com/llmgw/llmgw/ent/schematype"
)

// RateLimit holds the schema definition for a rate limit rule: request and token caps per
// rolling window for the requests its condition selects.
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
		// when and limits are optional in the database only, so that the migration that
		// introduced them could run on tables holding rules of the old shape; the store always
		// sets them.
		field.JSON("when", schematype.Condition{}).Optional(),
		field.JSON("limits", []schematype.RateLimitEntry{}).Optional(),
		field.Strings("applies_per").Optional(),
		field.Enum("mode").Values("enforce", "audit").Default("enforce"),
		// fail_closed: a replica refuses beyond its lease while the control plane is
		// unreachable, instead of admitting by local accounting.
		field.Bool("fail_closed").Default(false),
	}
}
