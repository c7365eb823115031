package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"

	"github.com/llmgw/llmgw/ent/schematype"
)

// VirtualModel holds the schema definition for a virtual model: a name clients call,
// "<group>/<name>" (the row's name), that routes to real models.
type VirtualModel struct {
	ent.Schema
}

// Mixin of the VirtualModel.
func (VirtualModel) Mixin() []ent.Mixin {
	return []ent.Mixin{timeMixin, NameMixin{}}
}

// Fields of the VirtualModel.
func (VirtualModel) Fields() []ent.Field {
	return []ent.Field{
		field.String("group").NotEmpty().Immutable(),
		field.Strings("model_types").Optional(),
		field.String("strategy").NotEmpty(),
		field.JSON("targets", []schematype.RoutingTarget{}),
		// sticky_routing is the routing config's sticky_routing (weight-based-routing only);
		// NULL: none.
		field.JSON("sticky_routing", &schematype.StickyRouting{}).Optional(),
	}
}
