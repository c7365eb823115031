// Package pgtest gives tests a fresh, empty Postgres database.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// DefaultDSN is used when LLMGW_TEST_POSTGRES is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN creates a database llmgw_t_<random> on the server that LLMGW_TEST_POSTGRES names
// (default DefaultDSN; with the default, the user root is tried when postgres fails) and
// returns its DSN. The database is dropped when the test ends. When no server answers, the
// test fails: these tests are part of the suite and are never skipped.
func DSN(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv("LLMGW_TEST_POSTGRES")}
	if candidates[0] == "" {
		candidates = []string{DefaultDSN, "postgres://root@127.0.0.1:5432/test?sslmode=disable"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		admin *sql.DB
		base  *url.URL
		errs  []string
	)
	for _, dsn := range candidates {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("pgtest: parse LLMGW_TEST_POSTGRES: %v", err)
		}
		db, err := sql.Open("pgx", dsn)
		if err == nil {
			err = db.PingContext(ctx)
		}
		if err != nil {
			if db != nil {
				db.Close()
			}
			errs = append(errs, u.Redacted()+": "+err.Error())
			continue
		}
		admin, base = db, u
		break
	}
	if admin == nil {
		t.Fatalf("pgtest: no Postgres server answers (%v).\n"+
			"Start one, e.g. on Debian: apt-get install postgresql && pg_ctlcluster 15 main start,\n"+
			"or as a non-root user: /usr/lib/postgresql/15/bin/initdb -D /tmp/pg -A trust -U postgres && "+
			"/usr/lib/postgresql/15/bin/pg_ctl -D /tmp/pg -o '-p 5432 -k /tmp' start;\n"+
			"or point LLMGW_TEST_POSTGRES at a server (postgres://user@host:port/db?sslmode=disable).", errs)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "llmgw_t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		t.Fatalf("pgtest: create database %s on %s: %v", name, base.Redacted(), err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u := *base
	u.Path = "/" + name
	return u.String()
}
