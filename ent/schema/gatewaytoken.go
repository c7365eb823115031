package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// GatewayToken holds the schema definition for a token that a gateway replica presents to the
// control plane to receive its configuration. Only the hash of the secret is stored.
type GatewayToken struct {
	ent.Schema
}

// Fields of the GatewayToken.
func (GatewayToken) Fields() []ent.Field {
	return []ent.Field{
		// id is "gwt_<random>".
		field.String("id").NotEmpty().Immutable(),
		field.String("name").NotEmpty().Unique(),
		field.String("prefix").Default(""),
		// hash is snapshot.KeyHash of the secret.
		field.String("hash").NotEmpty().Unique(),
		field.Time("create_time").Default(time.Now).Immutable(),
		field.Time("revoke_time").Optional().Nillable(),
	}
}

// Indexes of the GatewayToken.
func (GatewayToken) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("create_time"),
	}
}
