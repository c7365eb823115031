package store_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/masterkey"
	"github.com/llmgw/llmgw/store"
	"github.com/llmgw/llmgw/store/pgtest"
	"github.com/llmgw/llmgw/store/storetest"
)

func openSQLite(t *testing.T, opts store.Options) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "sub", "llmgw.db"), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st
}

func openPostgres(t *testing.T, opts store.Options) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.DSN(t), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, openSQLite)
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, openPostgres)
}

// TestPostgresMigrations checks the versioned migrations: CheckSchema refuses a database that
// has not been migrated, Migrate is idempotent, and the migrated schema is exactly the ent
// schema (auto-migration would change nothing).
func TestPostgresMigrations(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.DSN(t), store.Options{MasterKey: storetest.MasterKey})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer st.Close()
	if st.Dialect() != store.DialectPostgres {
		t.Fatalf("dialect = %q", st.Dialect())
	}
	err = st.CheckSchema(ctx)
	if err == nil || !strings.Contains(err.Error(), "database schema is at version none, want ") || !strings.Contains(err.Error(), "run `llmgw migrate`") {
		t.Fatalf("CheckSchema before Migrate = %v, want a version mismatch naming llmgw migrate", err)
	}
	// The drift check sees an empty database as all pending, so an empty diff below means
	// something.
	if pending, err := store.PendingSchemaChanges(ctx, st); err != nil || !strings.Contains(pending, "CREATE TABLE") {
		t.Fatalf("pending changes on an empty database = %q, %v; want CREATE TABLE statements", pending, err)
	}
	for range 2 {
		if err := st.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	if err := st.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}
	pending, err := store.PendingSchemaChanges(ctx, st)
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	if strings.Contains(strings.ToUpper(pending), "CREATE") || strings.Contains(strings.ToUpper(pending), "ALTER") || strings.Contains(strings.ToUpper(pending), "DROP") {
		t.Errorf("the migrated schema differs from the ent schema; run `go run ./ent/migrate/gen`. Pending:\n%s", pending)
	}
	// ent never drops a table, so the diff above cannot see one left behind: the tables of
	// removed resources are dropped by hand-written migration lines.
	for _, table := range []string{"routing_configs"} {
		var exists bool
		if err := st.DB().QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil || exists {
			t.Errorf("table %s after Migrate: exists %v, %v; want it dropped", table, exists, err)
		}
	}
}

func TestSQLiteMigrateIdempotent(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t, store.Options{MasterKey: storetest.MasterKey})
	// A database from before RoutingConfig was removed has its table; Migrate drops it.
	if _, err := st.DB().ExecContext(ctx, `CREATE TABLE "routing_configs" ("id" integer PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var n int
	if err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'routing_configs'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("routing_configs after Migrate: %d tables, %v; want it dropped", n, err)
	}
	if err := st.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema: %v", err)
	}
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if st.Dialect() != store.DialectSQLite {
		t.Fatalf("dialect = %q", st.Dialect())
	}
	pending, err := store.PendingSchemaChanges(ctx, st)
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	if strings.Contains(strings.ToUpper(pending), "CREATE") || strings.Contains(strings.ToUpper(pending), "ALTER") {
		t.Errorf("pending changes after migrate:\n%s", pending)
	}
}

func TestMasterKeyFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "llmgw.db")
	st, err := store.Open(ctx, dsn, store.Options{DataDir: dir})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	info, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatalf("master.key: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("master.key mode = %v, want 0600", perm)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "master.key"))
	key, err := masterkey.Parse(string(b))
	if err != nil {
		t.Fatalf("parse master.key: %v", err)
	}
	st.Close()

	// Reopening with the same file, or the same key given directly, reads the sealed secrets;
	// another key does not.
	for _, tt := range []struct {
		name    string
		opts    store.Options
		wantErr bool
	}{
		{"same file", store.Options{DataDir: dir}, false},
		{"same key", store.Options{MasterKey: key}, false},
		{"other key", store.Options{MasterKey: bytes.Repeat([]byte{1}, 32)}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.Open(ctx, dsn, tt.opts)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer st.Close()
			if tt.name == "same file" {
				if _, err := st.CreateProviderAccount(ctx, adminAccount()); err != nil {
					t.Fatalf("create: %v", err)
				}
			}
			_, err = st.SnapshotConfig(ctx)
			if (err != nil) != tt.wantErr {
				t.Fatalf("snapshot error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestOpenBadDSN(t *testing.T) {
	if _, err := store.Open(context.Background(), "mysql://x", store.Options{MasterKey: storetest.MasterKey}); err == nil {
		t.Fatal("Open accepted a mysql DSN")
	}
}

func adminAccount() *adminv1.ProviderAccount {
	return &adminv1.ProviderAccount{Name: "acme", Provider: "openai", ApiKey: "sk-acme"}
}

// TestSQLiteFilesArePrivate: the database file and its -wal and -shm files are created 0600,
// like master.key, whatever the umask; a database created earlier with a wider mode is
// narrowed when opened.
func TestSQLiteFilesArePrivate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "llmgw.db")
	check := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			info, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if perm := info.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s: %s mode = %v, want 0600", when, filepath.Base(p), perm)
			}
		}
	}
	open := func() *store.Store {
		t.Helper()
		st, err := store.Open(ctx, "sqlite:"+path, store.Options{MasterKey: storetest.MasterKey})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: fmt.Sprintf("a%d", time.Now().UnixNano()), Provider: "openai"}); err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	check("new database")
	st.Close()

	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	st = open()
	defer st.Close()
	check("database created 0644 by an earlier version")
}

// State saves on SQLite commit without syncing the disk, and leave the store's connection as
// it was for the configuration writes that follow (FULL, SQLite's default).
func TestSaveStateKeepsConfigurationWritesSynced(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t, store.Options{MasterKey: storetest.MasterKey})
	before, err := store.Synchronous(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if before != 2 {
		t.Fatalf("synchronous before = %d, want 2 (FULL)", before)
	}
	for range 3 {
		if err := st.SaveState(ctx, "governance.limiter", []byte(`{"v":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	if after, err := store.Synchronous(ctx, st); err != nil || after != before {
		t.Fatalf("synchronous after SaveState = %d (%v), want %d", after, err, before)
	}
	got, err := st.LoadState(ctx, "governance.limiter")
	if err != nil || string(got) != `{"v":1}` {
		t.Fatalf("LoadState = %q, %v", got, err)
	}
}
