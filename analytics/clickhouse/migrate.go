package clickhouse

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationsTable is the table that records which migrations a database has.
const MigrationsTable = "schema_migrations"

// Migration is one numbered DDL file from migrations/.
type Migration struct {
	// Version is the file's number: 1 for 0001_usage_events.sql.
	Version int
	// Name is the file name without ".sql".
	Name string
	// Statements are the file's statements, in order, without comments.
	Statements []string
	// Checksum is the SHA-256 of the file, recorded when applied: an applied migration that
	// has changed since is an error, never silently skipped.
	Checksum string
}

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// Migrations returns the embedded migrations in order. Their versions run 1, 2, 3 ... with no
// gap or repeat.
func Migrations() ([]Migration, error) { return loadMigrations(migrationFiles, "migrations") }

func loadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		ms = append(ms, Migration{
			Version:    v,
			Name:       strings.TrimSuffix(e.Name(), ".sql"),
			Statements: splitStatements(string(b)),
			Checksum:   hex.EncodeToString(sum[:]),
		})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions run 1, 2, 3 ... without gaps or repeats)", m.Name, m.Version, i+1)
		}
		if len(m.Statements) == 0 {
			return nil, fmt.Errorf("migration %s has no statement", m.Name)
		}
	}
	return ms, nil
}

// splitStatements splits a SQL file into statements at semicolons outside quotes, dropping
// `--` comments and blank statements.
func splitStatements(sql string) []string {
	var out []string
	var b strings.Builder
	var quote byte
	flush := func() {
		if s := strings.TrimSpace(b.String()); s != "" {
			out = append(out, s)
		}
		b.Reset()
	}
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case quote != 0:
			b.WriteByte(c)
			if c == '\\' && i+1 < len(sql) {
				i++
				b.WriteByte(sql[i])
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
			b.WriteByte(c)
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
		case c == ';':
			flush()
		default:
			b.WriteByte(c)
		}
	}
	flush()
	return out
}

// Retention is how long rows are kept, in days; 0 keeps them forever.
type Retention struct {
	// Days applies to usage_events and the rollups.
	Days int
	// BodyDays applies to usage_bodies; bodies are large and sensitive, so keep them less.
	BodyDays int
}

// MigrateResult says what Migrate did.
type MigrateResult struct {
	// Applied lists the migrations applied by this run (none when up to date).
	Applied []string
	// Version is the database's schema version afterwards.
	Version int
	// TTLChanged lists the tables whose TTL this run changed.
	TTLChanged []string
}

// ttlTables are the tables with a retention TTL, with the time expression it counts from.
var ttlTables = []struct {
	table, expr string
	bodies      bool
}{
	{"usage_events", "toDateTime(time)", false},
	{"usage_bodies", "toDateTime(time)", true},
	{"usage_minute", "minute", false},
	{"usage_minute_team", "minute", false},
	{"usage_minute_metadata", "minute", false},
}

// Migrate creates c's database if needed, applies the migrations it lacks, in order, and sets
// each table's TTL from r when it differs. It is idempotent: a second run changes nothing.
// A database whose schema is newer than this binary's, or whose applied migrations differ from
// the embedded ones, is an error. Two Migrate runs must not overlap.
func Migrate(ctx context.Context, c Config, r Retention) (*MigrateResult, error) {
	if r.Days < 0 || r.BodyDays < 0 {
		return nil, fmt.Errorf("retention: days must be 0 (keep forever) or more")
	}
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := createDatabase(ctx, c); err != nil {
		return nil, err
	}
	cl, err := c.dial(ctx, c.Database)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if err := exec(ctx, cl, `CREATE TABLE IF NOT EXISTS `+MigrationsTable+` (
		version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
	) ENGINE = MergeTree ORDER BY version`); err != nil {
		return nil, err
	}
	applied, err := appliedMigrations(ctx, cl, MigrationsTable)
	if err != nil {
		return nil, err
	}
	res := &MigrateResult{}
	for v := range applied {
		if v > len(ms) {
			return nil, fmt.Errorf("clickhouse schema is at version %d, newer than this llmgw knows (%d): upgrade llmgw", v, len(ms))
		}
	}
	for _, m := range ms {
		if sum, ok := applied[m.Version]; ok {
			if sum != m.Checksum {
				return nil, fmt.Errorf("migration %s was applied with different content (checksum %.12s, now %.12s): migrations must never change once released", m.Name, sum, m.Checksum)
			}
			continue
		}
		// ClickHouse DDL is not transactional; every statement is IF NOT EXISTS, so a run that
		// failed half way through a migration finishes it next time.
		for _, s := range m.Statements {
			if err := exec(ctx, cl, s); err != nil {
				return nil, fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		if err := exec(ctx, cl, fmt.Sprintf("INSERT INTO %s (version, name, checksum) VALUES (%d, '%s', '%s')",
			MigrationsTable, m.Version, m.Name, m.Checksum)); err != nil {
			return nil, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		res.Applied = append(res.Applied, m.Name)
	}
	res.Version = len(ms)
	if res.TTLChanged, err = applyRetention(ctx, cl, r); err != nil {
		return nil, err
	}
	return res, nil
}

func createDatabase(ctx context.Context, c Config) error {
	cl, err := c.dial(ctx, "default")
	if err != nil {
		return err
	}
	defer cl.Close()
	// ParseURL allows only identifiers, so the name needs no escaping beyond the backquotes.
	return exec(ctx, cl, "CREATE DATABASE IF NOT EXISTS `"+c.Database+"`")
}

// appliedMigrations reads the migrations table (named table, perhaps with its database).
func appliedMigrations(ctx context.Context, cl *ch.Client, table string) (map[int]string, error) {
	var version proto.ColUInt32
	var checksum proto.ColStr
	out := map[int]string{}
	err := cl.Do(ctx, ch.Query{
		Body:   "SELECT version, checksum FROM " + table,
		Result: proto.Results{{Name: "version", Data: &version}, {Name: "checksum", Data: &checksum}},
		OnResult: func(context.Context, proto.Block) error {
			for i := range version.Rows() {
				out[int(version.Row(i))] = checksum.Row(i)
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
	}
	return out, nil
}

var ttlClause = regexp.MustCompile(`\bTTL (.+?)(?: SETTINGS |$)`)

// TTL returns the TTL expression of table in the connected database ("" when it has none).
func tableTTL(ctx context.Context, cl *ch.Client, table string) (string, error) {
	var engine proto.ColStr
	err := cl.Do(ctx, ch.Query{
		Body:   "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = '" + table + "'",
		Result: proto.Results{{Name: "engine_full", Data: &engine}},
	})
	if err != nil {
		return "", fmt.Errorf("read %s's TTL: %w", table, err)
	}
	if engine.Rows() != 1 {
		return "", fmt.Errorf("table %s not found", table)
	}
	if m := ttlClause.FindStringSubmatch(engine.Row(0)); m != nil {
		return m[1], nil
	}
	return "", nil
}

// ttlExpr is the TTL expression for expr kept days days, as ClickHouse writes it back in
// system.tables, so an unchanged retention is recognised and left alone.
func ttlExpr(expr string, days int) string {
	return fmt.Sprintf("%s + toIntervalDay(%d)", expr, days)
}

// applyRetention sets each table's TTL to r, altering only the tables whose TTL differs (an
// ALTER ... MODIFY TTL rewrites the TTL information of every part).
func applyRetention(ctx context.Context, cl *ch.Client, r Retention) ([]string, error) {
	var changed []string
	for _, t := range ttlTables {
		days := r.Days
		if t.bodies {
			days = r.BodyDays
		}
		cur, err := tableTTL(ctx, cl, t.table)
		if err != nil {
			return nil, err
		}
		var q string
		switch want := ttlExpr(t.expr, days); {
		case days == 0 && cur == "":
			continue
		case days == 0:
			q = "ALTER TABLE " + t.table + " REMOVE TTL"
		case cur == want:
			continue
		default:
			q = "ALTER TABLE " + t.table + " MODIFY TTL " + want
		}
		if err := exec(ctx, cl, q); err != nil {
			return nil, fmt.Errorf("set %s's retention: %w", t.table, err)
		}
		changed = append(changed, t.table)
	}
	return changed, nil
}

func exec(ctx context.Context, cl *ch.Client, q string) error {
	return cl.Do(ctx, ch.Query{Body: q})
}

// CheckSchema returns an error unless c's database has every migration this binary knows:
// the consumer refuses to start on a schema `llmgw migrate --clickhouse` has not prepared.
func CheckSchema(ctx context.Context, c Config) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	// Dial the default database and look for ours, rather than be refused at the handshake.
	cl, err := c.dial(ctx, "default")
	if err != nil {
		return err
	}
	defer cl.Close()
	var n proto.ColUInt64
	if err := cl.Do(ctx, ch.Query{
		Body:   fmt.Sprintf("SELECT count() AS n FROM system.tables WHERE database = '%s' AND name = '%s'", c.Database, MigrationsTable),
		Result: proto.Results{{Name: "n", Data: &n}},
	}); err != nil {
		return fmt.Errorf("look for the schema: %w", err)
	}
	if n.Row(0) == 0 {
		return fmt.Errorf("clickhouse database %s has no llmgw schema: run llmgw migrate --clickhouse", c.Database)
	}
	applied, err := appliedMigrations(ctx, cl, "`"+c.Database+"`."+MigrationsTable)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if _, ok := applied[m.Version]; !ok {
			return fmt.Errorf("clickhouse schema lacks migration %s: run llmgw migrate --clickhouse", m.Name)
		}
	}
	return nil
}
