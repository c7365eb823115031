package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/masterkey"
)

// Dialect names returned by Store.Dialect.
const (
	DialectSQLite   = dialect.SQLite
	DialectPostgres = dialect.Postgres
)

// Options are the optional settings of Open.
type Options struct {
	// MasterKey is the 32-byte key that seals provider secrets. When nil, Open reads master.key
	// from DataDir, creating it (mode 0600) with a random key when it does not exist.
	MasterKey []byte
	// DataDir holds master.key when MasterKey is nil.
	DataDir string
	// OnChange is called synchronously after every successful configuration write, outside any
	// transaction; it is not called for TouchAPIKeys. It must not block for long.
	OnChange func()
	// ValidateProvider checks a provider account's provider kind; nil accepts any non-empty kind.
	ValidateProvider func(kind string) error
	// ValidateModel checks, without network, that a model's adapter can be built from its
	// provider config (snapshot.ProviderConfig: the account's settings and secret with the
	// model's overrides), such as registry.Registry.Check. It runs inside every model write and
	// account update, for the models concerned; an error refuses the write as an invalid
	// argument that quotes it. Nil skips the check.
	ValidateModel func(cfg provider.Config) error
	// Logger receives the store's few log lines; nil discards them. Secrets are never logged.
	Logger *slog.Logger
	// FileVirtualModels and FileRoutingRules are the virtual models (by fqn) and routing rules
	// (by id) that the config file defines. They are not stored, and the file's definition is
	// the one that serves, so the Admin API refuses to create or update one of the same name;
	// a routing target or rule may name the file's virtual models.
	FileVirtualModels []string
	FileRoutingRules  []string
	// AuditRetention is how many audit events are kept (default DefaultAuditRetention): the
	// write that records one more deletes the oldest beyond it, in its own transaction.
	AuditRetention int
}

// sqliteSynchronous is the config database's synchronous setting on SQLite (its default, made
// explicit): every configuration write is on disk when it returns. State saves relax it for
// their own statement (execUnsynced).
const sqliteSynchronous = "FULL"

// Store is the admin configuration store. It is safe for concurrent use; Close releases it.
type Store struct {
	db      *sql.DB
	client  *ent.Client
	dialect string
	sealer  *masterkey.Sealer
	derive  []byte // the master key, for DeriveKey only
	opts    Options
	logger  *slog.Logger
}

// Open connects to the database dsn names: "sqlite:<path>" (the parent directory is created)
// or "postgres://..." / "postgresql://...". It does not change the schema: call Migrate (always
// for SQLite; as its own deployment step for Postgres) or CheckSchema.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	key := opts.MasterKey
	if key == nil {
		var err error
		if key, err = loadOrCreateMasterKey(opts.DataDir); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	sealer, err := masterkey.NewSealer(key)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	var (
		db          *sql.DB
		dialectName string
	)
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
		if path == "" {
			return nil, errors.New("open store: sqlite DSN has no path")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open store: create database directory: %w", err)
		}
		if err := privateFiles(path, logger); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		db, err = sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous("+sqliteSynchronous+")")
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		// One connection serializes writers: SQLite allows one anyway, and a deferred
		// transaction that upgrades to a write lock fails with SQLITE_BUSY at once instead of
		// waiting. The admin API is low-traffic; the data plane never reads the store.
		db.SetMaxOpenConns(1)
		dialectName = dialect.SQLite
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		db.SetMaxOpenConns(10)
		db.SetConnMaxIdleTime(5 * time.Minute)
		dialectName = dialect.Postgres
	default:
		return nil, errors.New(`open store: DSN must start with "sqlite:", "postgres://" or "postgresql://"`)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: connect to %s: %w", dialectName, err)
	}
	return &Store{
		db:      db,
		client:  ent.NewClient(ent.Driver(outageDriver{entsql.OpenDB(dialectName, db)})),
		dialect: dialectName,
		sealer:  sealer,
		derive:  append([]byte(nil), key...),
		opts:    opts,
		logger:  logger,
	}, nil
}

// privateFiles makes the SQLite database at path readable by its owner only, like master.key:
// it holds sealed secrets and key hashes. It creates the file 0600 when it does not exist
// (SQLite gives its -wal and -shm files the database file's mode) and narrows the files of a
// database created with a wider mode.
func privateFiles(path string, logger *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(p, perm&^0o077); err != nil {
				return fmt.Errorf("make %s private: %w", p, err)
			}
			logger.Info("store: made the database file private", "path", p, "mode", fmt.Sprintf("%04o", perm&^0o077))
		}
	}
	return nil
}

// Dialect is DialectSQLite or DialectPostgres.
func (s *Store) Dialect() string { return s.dialect }

// DB is the underlying database handle, for diagnostics and tests. Writing through it bypasses
// validation and OnChange.
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.dialect, err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	return s.client.Close()
}

// write runs fn in a transaction that also bumps the configuration revision and, after a
// successful commit, calls OnChange.
//
// When ctx carries an Audit (WithAudit), the write's audit event is recorded in the same
// transaction, with the resource as it reads before fn and after it.
func (s *Store) write(ctx context.Context, fn func(tx *ent.Tx) error) error {
	a := auditFrom(ctx)
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		var before proto.Message
		if a != nil {
			var err error
			if before, err = s.auditBefore(ctx, tx, a); err != nil {
				return err
			}
		}
		if err := fn(tx); err != nil {
			return err
		}
		if a != nil {
			if err := s.auditRecord(ctx, tx, a, before); err != nil {
				return err
			}
		}
		return bumpRevision(ctx, tx, s.dialect)
	})
	if err != nil {
		return err
	}
	if s.opts.OnChange != nil {
		s.opts.OnChange()
	}
	return nil
}

// inTx runs fn in a transaction.
func (s *Store) inTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			s.logger.LogAttrs(ctx, slog.LevelWarn, "store: rollback failed", slog.String("error", rerr.Error()))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// classify turns ent's not-found and constraint errors into client errors about the resource
// kind (e.g. "provider account") identified by id; other errors pass unchanged.
func classify(err error, kind, id string) error {
	var ae *apierr.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		return err
	case ent.IsNotFound(err):
		return &apierr.Error{Kind: apierr.KindNotFound, Message: fmt.Sprintf("%s %q not found", kind, id), Cause: err}
	case ent.IsConstraintError(err):
		return &apierr.Error{Kind: apierr.KindAlreadyExists, Message: fmt.Sprintf("%s %q already exists", kind, id), Cause: err}
	}
	return err
}

// notFound is the error for a missing resource.
func notFound(kind, id string) error {
	return apierr.New(apierr.KindNotFound, "%s %q not found", kind, id)
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// userNameRE is nameRE widened for users, whom OIDC logins name by email (gateway/oidc
// lowercases the name it takes from a token).
var userNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@+-]{0,253}$`)

// validateName checks a resource name: lowercase letters, digits, '.', '_' and '-', starting
// with a letter or digit, at most 63 characters.
func validateName(param, name string) error {
	if name == "" {
		return apierr.Invalid(param, "%s is required", param)
	}
	if !nameRE.MatchString(name) {
		return apierr.Invalid(param, "%s %q must be 1 to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", param, name)
	}
	return nil
}

// validateModelName checks a model name: 1 to 128 characters, no '/', no '*' (authorization
// rules use it as the wildcard) and no whitespace.
func validateModelName(param, name string) error {
	if name == "" {
		return apierr.Invalid(param, "%s is required", param)
	}
	if len(name) > 128 || strings.ContainsAny(name, "/* \t\r\n\v\f") || strings.ContainsFunc(name, isSpaceOrControl) {
		return apierr.Invalid(param, "%s %q must be at most 128 characters with no '/', no '*' and no whitespace", param, name)
	}
	return nil
}

func isSpaceOrControl(r rune) bool {
	return r < 0x20 || r == 0x7f || r == 0x85 || r == 0xa0 || r == 0x2028 || r == 0x2029 || r == 0x3000
}

// validateList checks that a list has no empty entries.
func validateList(param string, list []string) error {
	for i, v := range list {
		if strings.TrimSpace(v) == "" {
			return apierr.Invalid(param, "%s[%d] is empty", param, i)
		}
	}
	return nil
}

// ts converts a time to a proto timestamp; the zero time becomes nil.
func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// tsp converts an optional time to a proto timestamp.
func tsp(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// nonNil returns an empty slice for nil, so stored JSON lists are [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// DeriveKey returns a 32-byte key for purpose, derived from the master key
// (masterkey.Derive).
func (s *Store) DeriveKey(purpose string) []byte { return masterkey.Derive(s.derive, purpose) }
