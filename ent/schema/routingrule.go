package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"

	"github.com/llmgw/llmgw/ent/schematype"
)

// RoutingRule holds the schema definition for a load-balancing rule of the global routing
// config (TrueFoundry's gateway-load-balancing-config); its name is the rule's id.
type RoutingRule struct {
	ent.Schema
}

// Mixin of the RoutingRule.
func (RoutingRule) Mixin() []ent.Mixin {
	return []ent.Mixin{timeMixin, NameMixin{}}
}

// Fields of the RoutingRule.
func (RoutingRule) Fields() []ent.Field {
	return []ent.Field{
		field.Int("position").Default(0),
		field.JSON("when", schematype.Condition{}),
		field.String("strategy").NotEmpty(),
		field.JSON("targets", []schematype.RoutingTarget{}),
	}
}
