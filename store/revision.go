package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/setting"
)

// settingRevision is the Setting row that counts configuration writes.
const settingRevision = "config_revision"

// bumpRevision adds one to the configuration revision in the write's transaction. The update
// is one atomic statement, so concurrent writers (several control-plane replicas on one
// Postgres) each get their own revision: none can read a revision that a later commit reuses.
func bumpRevision(ctx context.Context, tx *ent.Tx, dialect string) error {
	now := time.Now()
	query, args := entsql.Dialect(dialect).
		Insert(setting.Table).
		Columns(setting.FieldCreateTime, setting.FieldUpdateTime, setting.FieldKey, setting.FieldValue).
		Values(now, now, settingRevision, "1").
		OnConflict(
			entsql.ConflictColumns(setting.FieldKey),
			entsql.ResolveWith(func(u *entsql.UpdateSet) {
				u.SetExcluded(setting.FieldUpdateTime)
				u.Set(setting.FieldValue, entsql.Expr(`CAST(CAST("`+setting.Table+`"."`+setting.FieldValue+`" AS BIGINT) + 1 AS TEXT)`))
			}),
		).
		Query()
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("bump config revision: %w", err)
	}
	return nil
}

// Revision returns the configuration revision: the number of configuration writes so far (0
// before the first). It is one indexed row, cheap enough to poll: a process reloads its
// snapshot only when the revision moved.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	return readRevision(ctx, s.client.Setting)
}

func readRevision(ctx context.Context, c *ent.SettingClient) (int64, error) {
	v, err := c.Query().Where(setting.Key(settingRevision)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read config revision: %w", unreachableErr(err))
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read config revision: %q is not a number", v.Value)
	}
	return n, nil
}
