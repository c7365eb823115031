package store

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/setting"
)

// statePrefix keeps process state apart from the store's own settings in the Setting table, so
// that no SaveState key can overwrite the admin token hash.
const statePrefix = "state/"

// errStateKey is returned for an empty state key.
var errStateKey = errors.New("state key is empty")

// SaveState stores data under key, replacing what was stored there (an upsert: concurrent
// savers never fail on each other, the last write wins). It is for process state that
// outlives a restart, such as rate-limit counters and budget spend, not for configuration: it
// does not call OnChange. data must be valid UTF-8 without NUL bytes (the value column is
// Postgres text, which refuses both); keep it small enough to write often (Postgres and
// SQLite take up to 1 GB per value). SaveState is safe for concurrent use.
func (s *Store) SaveState(ctx context.Context, key string, data []byte) error {
	if key == "" {
		return errStateKey
	}
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return fmt.Errorf("save state %s: value is not UTF-8 text without NUL bytes", key)
	}
	now := time.Now()
	query, args := entsql.Dialect(s.dialect).
		Insert(setting.Table).
		Columns(setting.FieldCreateTime, setting.FieldUpdateTime, setting.FieldKey, setting.FieldValue).
		Values(now, now, statePrefix+key, string(data)).
		OnConflict(
			entsql.ConflictColumns(setting.FieldKey),
			entsql.ResolveWith(func(u *entsql.UpdateSet) {
				u.SetExcluded(setting.FieldUpdateTime)
				u.SetExcluded(setting.FieldValue)
			}),
		).
		Query()
	exec := s.client.ExecContext
	if s.dialect == DialectSQLite {
		exec = s.execUnsynced
	}
	if _, err := exec(ctx, query, args...); err != nil {
		return fmt.Errorf("save state %s: %w", key, unreachableErr(err))
	}
	return nil
}

// execUnsynced runs one SQLite statement that commits without waiting for the disk
// (synchronous=NORMAL, as the usage store writes): SQLite's default, FULL, syncs the
// write-ahead log on every commit, and on a gateway with one processor a sync holds it (a
// blocking system call keeps it until the runtime's monitor takes it back, up to 10 ms), so a
// save every second stalled its requests. The state survives a crash of the process as
// before; a power loss may lose the saves since SQLite last synced its log (at the next
// configuration write or checkpoint). Configuration writes keep sqliteSynchronous: the
// store's one connection is set back before it is released (or dropped, and its replacement
// opens with the DSN's setting).
func (s *Store) execUnsynced(ctx context.Context, query string, args ...any) (sql.Result, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return nil, err
	}
	res, err := conn.ExecContext(ctx, query, args...)
	if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous = "+sqliteSynchronous); rerr != nil {
		// A connection left unsynced must not serve the configuration writes: drop it.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return nil, errors.Join(err, rerr)
	}
	return res, err
}

// LoadState returns what SaveState last stored under key, or nil and no error when nothing
// was. It is safe for concurrent use.
func (s *Store) LoadState(ctx context.Context, key string) ([]byte, error) {
	if key == "" {
		return nil, errStateKey
	}
	v, err := s.client.Setting.Query().Where(setting.Key(statePrefix + key)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("load state %s: %w", key, err)
	}
	return []byte(v.Value), nil
}
