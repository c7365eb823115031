package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"

	"github.com/llmgw/llmgw/ent/schematype"
)

// Budget holds the schema definition for a budget rule: a cap on spend or tokens per calendar
// period for the requests its condition selects.
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
		// when, unit and limit_to have database defaults only, so that the migration that
		// introduced them could run on tables holding budgets of the old shape; the store
		// always sets them.
		field.JSON("when", schematype.Condition{}).Optional(),
		field.String("unit").Default(""),
		field.Float("limit_to").Default(0),
		field.Strings("applies_per").Optional(),
		field.Enum("mode").Values("enforce", "audit").Default("enforce"),
		// fail_closed: a replica refuses beyond its lease while the control plane is
		// unreachable, instead of admitting by local accounting.
		field.Bool("fail_closed").Default(false),
		field.Ints("thresholds").Optional(),
		// notification_targets hold their secrets sealed with the master key (AES-256-GCM).
		field.JSON("notification_targets", []schematype.NotificationTarget{}).Optional().Sensitive(),
	}
}
