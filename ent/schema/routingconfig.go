package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"

	"github.com/llmgw/llmgw/ent/schematype"
)

// RoutingConfig holds the schema definition for a virtual model name mapped to targets.
type RoutingConfig struct {
	ent.Schema
}

// Mixin of the RoutingConfig.
func (RoutingConfig) Mixin() []ent.Mixin {
	return []ent.Mixin{timeMixin, NameMixin{}}
}

// Fields of the RoutingConfig.
func (RoutingConfig) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("strategy").Values("weighted", "latency", "priority"),
		field.JSON("targets", []schematype.RoutingTarget{}),
		field.Int32("max_retries").Default(0),
		field.Ints("retry_on_status").Optional(),
	}
}
