package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ApiKey holds the schema definition for a revocable API key. Only the hash of the secret is
// stored. Exactly one of user_id and virtual_account_id is set; a check constraint enforces it.
type ApiKey struct {
	ent.Schema
}

// Fields of the ApiKey.
func (ApiKey) Fields() []ent.Field {
	return []ent.Field{
		// id is "key_<random>", stable across rotations.
		field.String("id").NotEmpty().Immutable(),
		field.String("name").Default(""),
		field.String("prefix").Default(""),
		// hash is snapshot.KeyHash of the secret.
		field.String("hash").NotEmpty().Unique(),
		field.Int("user_id").Optional().Nillable().Immutable(),
		field.Int("virtual_account_id").Optional().Nillable().Immutable(),
		field.Time("create_time").Default(time.Now).Immutable(),
		field.Time("last_used_time").Optional().Nillable(),
		field.Time("expire_time").Optional().Nillable(),
		field.Time("revoke_time").Optional().Nillable(),
		// previous_hash is snapshot.KeyHash of the secret that the last rotation replaced; it
		// authenticates until previous_expire_time. Nil when the old secret was refused at once.
		field.String("previous_hash").Optional().Nillable(),
		// previous_prefix is the display prefix of that secret.
		field.String("previous_prefix").Default(""),
		field.Time("previous_expire_time").Optional().Nillable(),
		// scopes are the APIs the key may call ("inference", "admin"); empty means both, as
		// for keys issued before scopes existed.
		field.Strings("scopes").Optional().Immutable(),
	}
}

// Edges of the ApiKey.
func (ApiKey) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("api_keys").Field("user_id").Unique().Immutable(),
		edge.From("virtual_account", VirtualAccount.Type).Ref("api_keys").Field("virtual_account_id").Unique().Immutable(),
	}
}

// Indexes of the ApiKey.
func (ApiKey) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("create_time"),
	}
}

// Annotations of the ApiKey.
func (ApiKey) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Checks(map[string]string{
			"api_key_one_owner": "((user_id IS NULL) <> (virtual_account_id IS NULL))",
		}),
	}
}
