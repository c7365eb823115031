package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/analytics/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// testDB starts a ClickHouse server and returns a Config for database name on it, migrated
// with r.
func testDB(t *testing.T, name string, r Retention) Config {
	t.Helper()
	c, err := ParseURL("clickhouse://" + chtest.Start(t) + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(context.Background(), c, r); err != nil {
		t.Fatal(err)
	}
	return c
}

func queryStrings(t *testing.T, cl *ch.Client, q string) []string {
	t.Helper()
	var col proto.ColStr
	var out []string
	if err := cl.Do(context.Background(), ch.Query{Body: q, Result: proto.Results{{Name: "s", Data: &col}},
		OnResult: func(context.Context, proto.Block) error {
			for i := range col.Rows() {
				out = append(out, col.Row(i))
			}
			return nil
		}}); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// TestMigrateIsVersionedAndIdempotent: a fresh database gets every migration, recorded by
// version; a second run applies nothing and changes nothing.
func TestMigrateIsVersionedAndIdempotent(t *testing.T) {
	ctx := context.Background()
	c, err := ParseURL("clickhouse://" + chtest.Start(t) + "/llmgw")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if len(ms) < 2 {
		t.Fatalf("migrations: %v", names)
	}
	first, err := Migrate(ctx, c, Retention{Days: 90, BodyDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(names, first.Applied); diff != "" {
		t.Errorf("first run applied (-want +got):\n%s", diff)
	}
	if first.Version != len(ms) {
		t.Errorf("version %d, want %d", first.Version, len(ms))
	}
	second, err := Migrate(ctx, c, Retention{Days: 90, BodyDays: 7})
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if len(second.Applied) != 0 || len(second.TTLChanged) != 0 || second.Version != len(ms) {
		t.Errorf("second run did something: %+v", second)
	}
	cl := dialTest(t, c)
	got := queryStrings(t, cl, "SELECT concat(toString(version), ' ', name) AS s FROM "+MigrationsTable+" ORDER BY version")
	var want []string
	for _, m := range ms {
		want = append(want, fmt.Sprintf("%d %s", m.Version, m.Name))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", MigrationsTable, diff)
	}
	tables := queryStrings(t, cl, "SELECT name AS s FROM system.tables WHERE database = 'llmgw' ORDER BY name")
	for _, tbl := range []string{"usage_events", "usage_bodies", "usage_minute", "usage_minute_mv", "usage_minute_team", "usage_minute_metadata"} {
		if !slices.Contains(tables, tbl) {
			t.Errorf("table %s missing; have %v", tbl, tables)
		}
	}

	// A database that has a migration this binary does not know is refused.
	if err := cl.Do(ctx, ch.Query{Body: fmt.Sprintf("INSERT INTO %s (version, name, checksum) VALUES (%d, 'from_the_future', '')", MigrationsTable, len(ms)+1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(ctx, c, Retention{Days: 90, BodyDays: 7}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("schema newer than the binary: err %v", err)
	}
	// An applied migration whose file changed is refused.
	for _, q := range []string{
		fmt.Sprintf("ALTER TABLE %s DELETE WHERE version = %d SETTINGS mutations_sync = 1", MigrationsTable, len(ms)+1),
		fmt.Sprintf("ALTER TABLE %s UPDATE checksum = 'edited' WHERE version = 1 SETTINGS mutations_sync = 1", MigrationsTable),
	} {
		if err := cl.Do(ctx, ch.Query{Body: q}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Migrate(ctx, c, Retention{Days: 90, BodyDays: 7}); err == nil || !strings.Contains(err.Error(), "different content") {
		t.Errorf("changed migration: err %v", err)
	}
}

// TestRetentionSetsTTL: the retention days become each table's TTL; changing them alters the
// TTL clause, 0 removes it, and an unchanged retention alters nothing.
func TestRetentionSetsTTL(t *testing.T) {
	ctx := context.Background()
	c := testDB(t, "llmgw", Retention{Days: 90, BodyDays: 7})
	cl := dialTest(t, c)
	ttl := func(table string) string {
		t.Helper()
		s, err := tableTTL(ctx, cl, table)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for table, want := range map[string]string{
		"usage_events": "toDateTime(time) + toIntervalDay(90)",
		"usage_bodies": "toDateTime(time) + toIntervalDay(7)",
		"usage_minute": "minute + toIntervalDay(90)",
	} {
		if got := ttl(table); got != want {
			t.Errorf("%s TTL %q, want %q", table, got, want)
		}
	}
	res, err := Migrate(ctx, c, Retention{Days: 30, BodyDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"usage_events", "usage_minute", "usage_minute_team", "usage_minute_metadata"}, res.TTLChanged); diff != "" {
		t.Errorf("changed (-want +got):\n%s", diff)
	}
	if got := ttl("usage_events"); got != "toDateTime(time) + toIntervalDay(30)" {
		t.Errorf("usage_events TTL after --clickhouse-retention-days 30: %q", got)
	}
	if got := ttl("usage_bodies"); got != "toDateTime(time) + toIntervalDay(7)" {
		t.Errorf("usage_bodies TTL changed with the events' retention: %q", got)
	}
	if _, err := Migrate(ctx, c, Retention{Days: 0, BodyDays: 3}); err != nil {
		t.Fatal(err)
	}
	if got := ttl("usage_events"); got != "" {
		t.Errorf("usage_events TTL with retention 0: %q, want none", got)
	}
	if got := ttl("usage_bodies"); got != "toDateTime(time) + toIntervalDay(3)" {
		t.Errorf("usage_bodies TTL: %q", got)
	}
	if _, err := Migrate(ctx, c, Retention{Days: -1}); err == nil {
		t.Error("negative retention accepted")
	}
}

func TestLoadMigrationsRefusesGapsAndBadNames(t *testing.T) {
	for name, files := range map[string]fstest.MapFS{
		"gap":      {"m/0001_a.sql": {Data: []byte("SELECT 1")}, "m/0003_c.sql": {Data: []byte("SELECT 1")}},
		"repeat":   {"m/0001_a.sql": {Data: []byte("SELECT 1")}, "m/0001_b.sql": {Data: []byte("SELECT 1")}},
		"bad name": {"m/1_a.sql": {Data: []byte("SELECT 1")}},
		"empty":    {"m/0001_a.sql": {Data: []byte("-- nothing\n;")}},
	} {
		if _, err := loadMigrations(files, "m"); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

func TestSplitStatements(t *testing.T) {
	got := splitStatements("-- head; comment\nCREATE TABLE a (s String DEFAULT 'x;y') ENGINE = Memory;\n\n-- c\nSELECT ';' -- tail\n;")
	want := []string{"CREATE TABLE a (s String DEFAULT 'x;y') ENGINE = Memory", "SELECT ';'"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseURL(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Config
	}{
		{"clickhouse://ch:9000/llmgw", Config{Address: "ch:9000", Database: "llmgw"}},
		{"clickhouse://ch", Config{Address: "ch:9000", Database: "default"}},
		{"clickhouse://bob:s3cret@10.0.0.1:9001/usage", Config{Address: "10.0.0.1:9001", Database: "usage", User: "bob", Password: "s3cret"}},
	} {
		got, err := ParseURL(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.in, diff)
		}
	}
	sec, err := ParseURL("clickhouse://ch.example.com:9440/llmgw?secure=true")
	if err != nil || sec.TLS == nil || sec.TLS.ServerName != "ch.example.com" {
		t.Errorf("secure=true: %+v %v", sec, err)
	}
	for _, bad := range []string{"http://ch:9000/llmgw", "clickhouse:///llmgw", "clickhouse://ch/llm-gw", "clickhouse://ch/llmgw?secur=true", "clickhouse://u:p@ch:x/db"} {
		_, err := ParseURL(bad)
		if err == nil {
			t.Errorf("%s parsed", bad)
		} else if strings.Contains(err.Error(), "p@") {
			t.Errorf("%s: error shows the password: %v", bad, err)
		}
	}
}
