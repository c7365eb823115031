// Package migrations embeds the versioned Postgres migrations (atlas format, with atlas.sum)
// written by ent/migrate/gen. Package store applies them; nothing else reads them.
package migrations

import "embed"

// FS holds the migration files (*.sql) and atlas.sum at its root.
//
//go:embed *.sql atlas.sum
var FS embed.FS
