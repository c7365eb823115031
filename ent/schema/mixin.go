package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// NameMixin adds the unique, immutable name that identifies most admin resources.
type NameMixin struct {
	mixin.Schema
}

// Fields of the NameMixin.
func (NameMixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().Unique().Immutable(),
	}
}

// timeMixin adds create_time and update_time.
var timeMixin = mixin.Time{}
