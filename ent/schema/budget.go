package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"

	"github.com/llmgw/llmgw/ent/schematype"
)

// Budget holds the schema definition for a spend cap per period.
type Budget struct {
	ent.Schema
}

// Mixin of the Budget.
func (Budget) Mixin() []ent.Mixin {
	return []ent.Mixin{timeMixin, NameMixin{}}
}

// Fields of the Budget.
func (Budget) Fields() []ent.Field {
	return []ent.Field{
		field.JSON("subjects", schematype.Subjects{}),
		field.Float("limit_usd"),
		field.Enum("period").Values("day", "week", "month"),
		field.Floats("alert_thresholds").Optional(),
	}
}
