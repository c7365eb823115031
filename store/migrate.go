package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect/sql/schema"

	"github.com/llmgw/llmgw/ent/migrate/migrations"
)

// revisionsTable records the versioned migrations applied to a Postgres database.
const revisionsTable = "llmgw_schema_revisions"

// droppedTables are the tables of removed resources: routing_configs held the Admin API's
// RoutingConfig, replaced by virtual_models and routing_rules (issue 9).
var droppedTables = []string{"routing_configs"}

// migrationLockID is the Postgres advisory lock that serializes concurrent migrators.
const migrationLockID = 0x6c6c6d6777 // "llmgw"

// Migrate brings the schema up to date. On SQLite it runs ent's auto-migration (additive) and
// drops the tables of removed resources. On
// Postgres it applies the embedded versioned migrations (ent/migrate/migrations) that are not
// yet recorded in the llmgw_schema_revisions table, each in its own transaction, after checking
// the files against atlas.sum; concurrent migrators wait for each other. Migrate is idempotent.
func (s *Store) Migrate(ctx context.Context) error {
	if s.dialect == DialectSQLite {
		if err := s.client.Schema.Create(ctx, schema.WithForeignKeys(true)); err != nil {
			return fmt.Errorf("migrate sqlite: %w", err)
		}
		// Auto-migration never drops a table: those of removed resources go here, as the
		// Postgres migrations drop them.
		for _, table := range droppedTables {
			if _, err := s.db.ExecContext(ctx, `DROP TABLE IF EXISTS "`+table+`"`); err != nil {
				return fmt.Errorf("migrate sqlite: drop %s: %w", table, err)
			}
		}
		return nil
	}
	files, err := migrationFiles()
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx is done.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockID); err != nil {
			s.logger.LogAttrs(ctx, slog.LevelWarn, "store: release migration lock", slog.String("error", err.Error()))
		}
	}()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+revisionsTable+` (
		version text PRIMARY KEY,
		description text NOT NULL,
		hash text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("migrate: create %s: %w", revisionsTable, err)
	}
	applied, err := appliedRevisions(ctx, conn)
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(files))
	for _, f := range files {
		known[f.version] = true
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("migrate: database has migration %s, which this build does not know: it is newer than this build", v)
		}
	}
	for _, f := range files {
		if h, ok := applied[f.version]; ok {
			if h != f.hash {
				return fmt.Errorf("migrate: migration %s was changed after it was applied", f.name)
			}
			continue
		}
		if err := applyMigration(ctx, conn, f); err != nil {
			return err
		}
		s.logger.LogAttrs(ctx, slog.LevelInfo, "store: applied migration", slog.String("version", f.version), slog.String("name", f.name))
	}
	return nil
}

// CheckSchema reports whether the database schema is the one this build expects. On Postgres
// it fails with "database schema is at version X, want Y: run `llmgw migrate`" when migrations
// are pending (a deployed server never migrates Postgres on its own). On SQLite, where Migrate
// runs at startup, it checks only that the database answers.
func (s *Store) CheckSchema(ctx context.Context) error {
	if s.dialect == DialectSQLite {
		return s.Ping(ctx)
	}
	files, err := migrationFiles()
	if err != nil {
		return err
	}
	want := "none"
	if len(files) > 0 {
		want = files[len(files)-1].version
	}
	var exists bool
	if err := s.db.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", revisionsTable).Scan(&exists); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	have := "none"
	pending := len(files)
	if exists {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("check schema: %w", err)
		}
		defer conn.Close()
		applied, err := appliedRevisions(ctx, conn)
		if err != nil {
			return err
		}
		pending = 0
		for _, f := range files {
			if _, ok := applied[f.version]; !ok {
				pending++
			}
		}
		var latest sql.NullString
		if err := conn.QueryRowContext(ctx, "SELECT max(version) FROM "+revisionsTable).Scan(&latest); err != nil {
			return fmt.Errorf("check schema: %w", err)
		}
		if latest.Valid {
			have = latest.String
		}
	}
	if pending > 0 || have != want {
		return fmt.Errorf("database schema is at version %s, want %s: run `llmgw migrate`", have, want)
	}
	return nil
}

// migration is one embedded migration file.
type migration struct {
	name, version, description, hash string
	stmts                            []string
}

// migrationFiles reads the embedded migrations in version order after checking them against
// atlas.sum.
func migrationFiles() ([]migration, error) {
	dir := &atlasmigrate.MemDir{}
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(migrations.FS, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read embedded migrations: %w", err)
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, fmt.Errorf("read embedded migrations: %w", err)
		}
	}
	if err := atlasmigrate.Validate(dir); err != nil {
		return nil, fmt.Errorf("embedded migrations do not match atlas.sum: %w", err)
	}
	sum, err := dir.Checksum()
	if err != nil {
		return nil, fmt.Errorf("checksum migrations: %w", err)
	}
	files, err := dir.Files()
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	out := make([]migration, 0, len(files))
	for _, f := range files {
		stmts, err := f.Stmts()
		if err != nil {
			return nil, fmt.Errorf("parse migration %s: %w", f.Name(), err)
		}
		h, err := sum.SumByName(f.Name())
		if err != nil {
			return nil, fmt.Errorf("checksum migration %s: %w", f.Name(), err)
		}
		out = append(out, migration{name: f.Name(), version: f.Version(), description: f.Desc(), hash: h, stmts: stmts})
	}
	return out, nil
}

// appliedRevisions returns the applied versions and their file hashes.
func appliedRevisions(ctx context.Context, conn *sql.Conn) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT version, hash FROM "+revisionsTable)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", revisionsTable, err)
	}
	defer rows.Close()
	applied := map[string]string{}
	for rows.Next() {
		var v, h string
		if err := rows.Scan(&v, &h); err != nil {
			return nil, fmt.Errorf("read %s: %w", revisionsTable, err)
		}
		applied[v] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", revisionsTable, err)
	}
	return applied, nil
}

// applyMigration runs one migration and records it, in one transaction.
func applyMigration(ctx context.Context, conn *sql.Conn, f migration) (err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply migration %s: %w", f.name, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	for i, stmt := range f.stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("apply migration %s, statement %d: %w", f.name, i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+revisionsTable+" (version, description, hash) VALUES ($1, $2, $3)", f.version, f.description, f.hash); err != nil {
		return fmt.Errorf("record migration %s: %w", f.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply migration %s: commit: %w", f.name, err)
	}
	return nil
}
