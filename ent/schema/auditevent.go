package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AuditEvent holds the schema definition for one successful Admin API write: who made it, when,
// to what, and the resource before and after as the Admin API shows it (so without secrets).
// Rows are written in the write's own transaction and pruned to a bounded count.
type AuditEvent struct {
	ent.Schema
}

// Fields of the AuditEvent.
func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Time("time").Default(time.Now).Immutable(),
		// principal is "admin-token" or "user:<name>".
		field.String("principal").Immutable(),
		field.String("key_id").Default("").Immutable(),
		field.String("rpc").Default("").Immutable(),
		field.String("action").Immutable(),
		field.String("resource_kind").Immutable(),
		field.String("resource_name").Default("").Immutable(),
		// before and after are the resource's protojson; empty for none.
		field.Text("before").Default("").Immutable(),
		field.Text("after").Default("").Immutable(),
		field.Strings("changed_fields").Optional().Immutable(),
	}
}

// Indexes of the AuditEvent.
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("time"),
		index.Fields("resource_kind"),
		index.Fields("principal"),
	}
}
