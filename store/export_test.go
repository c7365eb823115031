package store

import (
	"bytes"
	"context"

	"entgo.io/ent/dialect/sql/schema"
)

// PendingSchemaChanges returns the SQL that ent's auto-migration would run against the
// database, so tests can assert the versioned migrations produce exactly the ent schema.
func PendingSchemaChanges(ctx context.Context, s *Store) (string, error) {
	var buf bytes.Buffer
	err := s.client.Schema.WriteTo(ctx, &buf, schema.WithDropColumn(true), schema.WithDropIndex(true), schema.WithForeignKeys(true))
	return buf.String(), err
}

// Synchronous is the SQLite connection's synchronous setting (2: FULL, 1: NORMAL).
func Synchronous(ctx context.Context, s *Store) (int, error) {
	var mode int
	err := s.db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&mode)
	return mode, err
}
