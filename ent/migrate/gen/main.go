// Command gen writes a new versioned Postgres migration to ent/migrate/migrations when the ent
// schema has changed, and nothing when it has not.
//
// It replays the existing migrations onto a throwaway database, diffs that against the ent
// schema and writes the difference as one atlas-format file, updating atlas.sum. The throwaway
// database llmgw_dev_<random> is created on the server named by LLMGW_DEV_POSTGRES (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable) and dropped afterwards.
//
// Usage, from the repository root:
//
//	go run ./ent/migrate/gen [-dir ent/migrate/migrations] [-name change]
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/llmgw/llmgw/ent/migrate"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "ent/migrate/gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) (err error) {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	dirPath := fs.String("dir", "ent/migrate/migrations", "migration directory")
	name := fs.String("name", "change", "name of a new migration file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dsn := getenv("LLMGW_DEV_POSTGRES")
	if dsn == "" {
		dsn = defaultDSN
	}
	devDSN, drop, err := createDevDatabase(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, drop()) }()

	db, err := sql.Open("pgx", devDSN)
	if err != nil {
		return fmt.Errorf("open dev database: %w", err)
	}
	defer db.Close()

	dir, err := atlasmigrate.NewLocalDir(*dirPath)
	if err != nil {
		return fmt.Errorf("open migration directory: %w", err)
	}
	m, err := schema.NewMigrate(entsql.OpenDB(dialect.Postgres, db),
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.Postgres),
		schema.WithFormatter(atlasmigrate.DefaultFormatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
		schema.WithErrNoPlan(true),
	)
	if err != nil {
		return fmt.Errorf("new migrate: %w", err)
	}
	switch err := m.NamedDiff(ctx, *name, migrate.Tables...); {
	case errors.Is(err, atlasmigrate.ErrNoPlan):
		fmt.Println("ent/migrate/gen: schema unchanged; no migration written")
		return nil
	case err != nil:
		return fmt.Errorf("diff: %w", err)
	}
	fmt.Println("ent/migrate/gen: wrote a new migration to", *dirPath)
	return nil
}

// createDevDatabase creates an empty database beside the one dsn names and returns its DSN and
// a function that drops it.
func createDevDatabase(ctx context.Context, dsn string) (string, func() error, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, fmt.Errorf("parse LLMGW_DEV_POSTGRES: %w", err)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, fmt.Errorf("open %s: %w", u.Redacted(), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "llmgw_dev_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create dev database on %s (is Postgres running?): %w", u.Redacted(), err)
	}
	drop := func() error {
		defer admin.Close()
		// A fresh context: the caller's may be canceled, and the database must go anyway.
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop dev database %s: %w", name, err)
		}
		return nil
	}
	dev := *u
	dev.Path = "/" + name
	return dev.String(), drop, nil
}
