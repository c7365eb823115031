package chtest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"

	"github.com/llmgw/llmgw/analytics/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// TestServerAnswersAndKeepsDataAcrossRestart: the server speaks the native protocol, and a
// server started on a stopped one's directory and port sees its tables.
func TestServerAnswersAndKeepsDataAcrossRestart(t *testing.T) {
	ctx := context.Background()
	s := chtest.StartServer(t, chtest.Options{})
	c, err := ch.Dial(ctx, ch.Options{Address: s.Addr})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE t (n UInt64) ENGINE = MergeTree ORDER BY n",
		"INSERT INTO t SELECT number FROM numbers(10)",
	} {
		if err := c.Do(ctx, ch.Query{Body: q}); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Dial(ctx, ch.Options{Address: s.Addr}); err == nil {
		t.Fatal("a stopped server still accepts connections")
	}

	s2 := chtest.StartServer(t, chtest.Options{Dir: s.Dir, Port: s.Port})
	c, err = ch.Dial(ctx, ch.Options{Address: s2.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var sum proto.ColUInt64
	if err := c.Do(ctx, ch.Query{Body: "SELECT sum(n) FROM t", Result: proto.Results{{Name: "sum(n)", Data: &sum}}}); err != nil {
		t.Fatal(err)
	}
	if len(sum) != 1 || sum[0] != 45 {
		t.Fatalf("sum after restart = %v, want [45]", sum)
	}
	if s.Addr != s2.Addr {
		t.Fatalf("restarted on %s, want %s", s2.Addr, s.Addr)
	}
}

// fatalTB records a fatal failure instead of ending the test.
type fatalTB struct {
	testing.TB
	msg string
}

type fatal struct{}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fatal{})
}
func (f *fatalTB) Fatal(args ...any) { f.msg = fmt.Sprint(args...); panic(fatal{}) }

// TestMissingLibraryFailsNamingMakeChdb: without libchdb.so a test fails (it is never skipped)
// and says how to get it.
func TestMissingLibraryFailsNamingMakeChdb(t *testing.T) {
	t.Setenv(chtest.LibraryEnv, filepath.Join(t.TempDir(), "libchdb.so"))
	tb := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatal); !ok {
					panic(r)
				}
			}
		}()
		chtest.Start(tb)
	}()
	if !strings.Contains(tb.msg, "make chdb") {
		t.Fatalf("failure message %q does not name `make chdb`", tb.msg)
	}
}

// TestServerSurvivesQueryErrors: a query that fails leaves the server up, and it still stops
// cleanly.
func TestServerSurvivesQueryErrors(t *testing.T) {
	ctx := context.Background()
	s := chtest.StartServer(t, chtest.Options{})
	c, err := ch.Dial(ctx, ch.Options{Address: s.Addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, ch.Query{Body: "SELECT * FROM no_such_table"}); !ch.IsErr(err, proto.ErrUnknownTable) {
		t.Fatalf("query of a missing table: %v", err)
	}
	c.Close()
	c, err = ch.Dial(ctx, ch.Options{Address: s.Addr})
	if err != nil {
		t.Fatalf("the server did not survive: %v", err)
	}
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestWithoutMainHookFailsInsteadOfRecursing: a child started to serve ClickHouse that runs
// tests instead (its TestMain does not call Main) fails at once, never starting servers itself.
func TestWithoutMainHookFailsInsteadOfRecursing(t *testing.T) {
	t.Setenv("LLMGW_CHTEST_CHILD", "/nonexistent/libchdb.so")
	tb := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatal); !ok {
					panic(r)
				}
			}
		}()
		chtest.Start(tb)
	}()
	if !strings.Contains(tb.msg, "chtest.Main") {
		t.Fatalf("failure %q does not name chtest.Main", tb.msg)
	}
}
