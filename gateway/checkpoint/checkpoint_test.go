package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/limiter"
)

// memStore is an in-memory Store whose reads and writes can be made to fail.
type memStore struct {
	mu      sync.Mutex
	data    map[string][]byte
	writes  map[string]int
	failing atomic.Bool
}

var _ Store = (*memStore)(nil)

var errDown = errors.New("database unreachable")

func newMemStore() *memStore {
	return &memStore{data: map[string][]byte{}, writes: map[string]int{}}
}

func (m *memStore) LoadState(_ context.Context, key string) ([]byte, error) {
	if m.failing.Load() {
		return nil, errDown
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.data[key]), nil
}

func (m *memStore) SaveState(_ context.Context, key string, data []byte) error {
	if m.failing.Load() {
		return errDown
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = bytes.Clone(data)
	m.writes[key]++
	return nil
}

func (m *memStore) put(key, v string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = []byte(v)
}

func (m *memStore) get(key string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data[key]
}

func (m *memStore) writesOf(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes[key]
}

// logs is a concurrency-safe log buffer.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.Write(p) }
func (l *logs) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }
func (l *logs) logger() *slog.Logger        { return slog.New(slog.NewTextHandler(l, nil)) }

// count returns how many log lines contain s.
func (l *logs) count(s string) int { return strings.Count(l.String(), s) }

var t0 = time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

// engines returns a limiter and a ledger on a fixed clock at now.
func engines(now time.Time) (*limiter.Limiter, *budget.Ledger) {
	return limiter.New(limiter.WithClock(fixed(now))), budget.New(budget.WithClock(fixed(now)))
}

// admit counts n requests and tokens against two limiter rules.
func admit(t *testing.T, l *limiter.Limiter, bucket string, tokens int64) {
	t.Helper()
	var d limiter.Decision
	checks := []limiter.Check{
		{Rule: "rpm", Unit: limiter.RequestsPerMinute, Bucket: bucket, Limit: 1000},
		{Rule: "tpd", Unit: limiter.TokensPerDay, Bucket: bucket, Limit: 1 << 40, Amount: tokens},
	}
	if err := l.Admit(&d, checks); err != nil || !d.Allowed {
		t.Fatalf("admit: %v, allowed %v", err, d.Allowed)
	}
	d.Reservation.Settle(tokens)
}

// spend reserves amount against a monthly cost budget and settles it at cost, or leaves it
// reserved when cost is negative.
func spend(t *testing.T, b *budget.Ledger, bucket string, amount, cost int64) {
	t.Helper()
	d := new(budget.Decision)
	if err := b.Reserve(d, []budget.Check{{Rule: "monthly", Unit: budget.CostPerMonth, Bucket: bucket, Limit: 1 << 50, Amount: amount}}); err != nil || !d.Allowed {
		t.Fatalf("reserve: %v, allowed %v", err, d.Allowed)
	}
	if cost >= 0 {
		d.Reservation.Settle(cost, 0)
	}
}

func TestRestartKeepsCountsAndSpend(t *testing.T) {
	ctx := t.Context()
	st := newMemStore()
	l, b := engines(t0)
	admit(t, l, "user:alice", 100)
	admit(t, l, "user:alice", 50)
	admit(t, l, "user:bob", 7)
	spend(t, b, "team:ml", 5e9, 3e9)
	spend(t, b, "team:ml", 1e9, 2e8)
	spend(t, b, "team:web", 4e9, -1) // in flight at the "crash"
	if err := New(st, l, b, nil).Save(ctx); err != nil {
		t.Fatal(err)
	}

	l2, b2 := engines(t0.Add(10 * time.Second))
	if err := New(st, l2, b2, nil).Load(ctx); err != nil {
		t.Fatal(err)
	}
	// Limits travel with each request's checks, not in the state.
	noLimit := func(s []limiter.Status) []limiter.Status {
		for i := range s {
			s[i].Limit, s[i].Remaining = 0, 0
		}
		return s
	}
	if d := cmp.Diff(noLimit(l.Status(nil)), noLimit(l2.Status(nil))); d != "" {
		t.Errorf("limiter status after restart (-before +after):\n%s", d)
	}
	want := []budget.Status{
		{Rule: "monthly", Unit: budget.CostPerMonth, Bucket: "team:ml", Spend: 3.2e9},
		// The reservation in flight is loaded as spend at its maximum.
		{Rule: "monthly", Unit: budget.CostPerMonth, Bucket: "team:web", Spend: 4e9},
	}
	got := b2.Status(nil)
	for i := range got {
		got[i].Limit, got[i].Remaining, got[i].PeriodStart, got[i].PeriodEnd = 0, 0, time.Time{}, time.Time{}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("budget status after restart (-want +got):\n%s", d)
	}
}

func TestSavesOnlyWhatChanged(t *testing.T) {
	ctx := t.Context()
	st := newMemStore()
	l, b := engines(t0)
	c := New(st, l, b, nil)
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	writes := func() [2]int { return [2]int{st.writesOf(LimiterKey), st.writesOf(BudgetKey)} }
	steps := []struct {
		name string
		do   func()
		want [2]int
	}{
		{"first save of empty engines", func() {}, [2]int{1, 1}},
		{"nothing changed", func() {}, [2]int{1, 1}},
		{"a request counted", func() { admit(t, l, "u", 1) }, [2]int{2, 1}},
		{"nothing changed again", func() {}, [2]int{2, 1}},
		{"spend", func() { spend(t, b, "t", 10, 5) }, [2]int{2, 2}},
		{"both", func() { admit(t, l, "u", 1); spend(t, b, "t", 10, 5) }, [2]int{3, 3}},
	}
	for _, s := range steps {
		s.do()
		if err := c.Save(ctx); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := writes(); got != s.want {
			t.Errorf("%s: writes (limiter, budget) = %v, want %v", s.name, got, s.want)
		}
	}

	// A restart that loads the state does not write it back unchanged.
	l2, b2 := engines(t0)
	c2 := New(st, l2, b2, nil)
	if err := c2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c2.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if got := writes(); got != [2]int{3, 3} {
		t.Errorf("writes after a load and a save of the same state = %v, want [3 3]", got)
	}
}

func TestUnreadableValueStartsEmpty(t *testing.T) {
	tests := []struct {
		name, limiter, budget string
		warn                  string
	}{
		{"not json", `{"v":1,"r":[`, `garbage`, "ignoring stored"},
		{"empty (a power loss after a save that did not wait for the disk)", ``, ``, "ignoring stored"},
		{"unknown version", `{"v":2,"r":"new shape"}`, `{"v":99}`, "unknown version 2"},
		{"no version", `{"r":[]}`, `{}`, "unknown version 0"},
		{"wrong shape", `{"v":1,"r":{"r":1}}`, `{"v":1,"r":[{"r":"x","p":"soon"}]}`, "decode version 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			st := newMemStore()
			st.put(LimiterKey, tt.limiter)
			st.put(BudgetKey, tt.budget)
			var out logs
			l, b := engines(t0)
			c := New(st, l, b, out.logger())
			if err := c.Load(ctx); err != nil {
				t.Fatalf("Load = %v; an unreadable value must not fail the start", err)
			}
			if n := out.count("level=WARN"); n != 2 {
				t.Errorf("%d warnings, want one per key:\n%s", n, out.String())
			}
			if !strings.Contains(out.String(), tt.warn) {
				t.Errorf("logs do not mention %q:\n%s", tt.warn, out.String())
			}
			if len(l.Snapshot()) != 0 || len(b.Snapshot()) != 0 {
				t.Error("engines are not empty")
			}
			// The next save replaces the unreadable values.
			admit(t, l, "u", 1)
			if err := c.Save(ctx); err != nil {
				t.Fatal(err)
			}
			if got := string(st.get(LimiterKey)); !strings.HasPrefix(got, `{"v":1,"t":`) {
				t.Errorf("limiter value after save = %s", got)
			}
			if got := string(st.get(BudgetKey)); got != `{"v":1,"r":[]}` {
				t.Errorf("budget value after save = %s", got)
			}
		})
	}
}

func TestUnknownUnitsAreSkipped(t *testing.T) {
	st := newMemStore()
	st.put(LimiterKey, fmt.Sprintf(`{"v":1,"t":%d,"r":[{"r":"a","u":"requests_per_fortnight","b":[{"n":[1]}]},{"r":"b","u":"requests_per_minute","b":[{"k":"x","t":1,"n":[2,0,3]}]}]}`, t0.Unix()-3))
	st.put(BudgetKey, `{"v":1,"r":[{"r":"a","u":"cost_per_decade","p":0,"b":[{"s":5}]}]}`)
	var out logs
	l, b := engines(t0)
	if err := New(st, l, b, out.logger()).Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := l.Status(nil); len(got) != 1 || got[0].Rule != "b" || got[0].Used != 5 {
		t.Errorf("limiter status = %+v, want rule b using 5", got)
	}
	if len(b.Snapshot()) != 0 {
		t.Error("ledger restored an entry of an unknown unit")
	}
	if n := out.count("of unknown units"); n != 2 {
		t.Errorf("%d warnings about unknown units, want 2:\n%s", n, out.String())
	}
}

func TestLoadFailsWhenTheStoreCannotBeRead(t *testing.T) {
	st := newMemStore()
	st.failing.Store(true)
	l, b := engines(t0)
	if err := New(st, l, b, nil).Load(t.Context()); !errors.Is(err, errDown) {
		t.Fatalf("Load = %v, want the read error: starting empty would overwrite the stored spend", err)
	}
}

func TestOutageIsQuietAndRetried(t *testing.T) {
	st := newMemStore()
	var out logs
	l, b := engines(t0)
	c := New(st, l, b, out.logger())
	if err := c.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.failing.Store(true)
	admit(t, l, "u", 1)
	for range 20 {
		c.tick(t.Context())
	}
	if n := out.count("level=WARN"); n != 1 {
		t.Errorf("%d warnings for 20 failed saves, want 1 (at most one a minute):\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "failed_saves=1") {
		t.Errorf("warning does not count the failures:\n%s", out.String())
	}
	st.failing.Store(false)
	c.tick(t.Context())
	if st.get(LimiterKey) == nil || st.get(BudgetKey) == nil {
		t.Error("state not saved once the store answers again")
	}
	if !strings.Contains(out.String(), "saved rate-limit and budget state again") || !strings.Contains(out.String(), "failed_saves=20") {
		t.Errorf("no recovery line counting 20 failures:\n%s", out.String())
	}
}

func TestRunSavesEveryIntervalAndAtShutdown(t *testing.T) {
	st := newMemStore()
	l, b := engines(t0)
	c := New(st, l, b, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { c.Run(ctx, 10*time.Millisecond); close(done) }()
	admit(t, l, "u", 1)
	deadline := time.Now().Add(5 * time.Second)
	for st.get(LimiterKey) == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st.get(LimiterKey) == nil {
		t.Fatal("Run did not save within 5 s at a 10 ms interval")
	}
	spend(t, b, "t", 10, 7)
	cancel()
	<-done
	l2, b2 := engines(t0)
	if err := New(st, l2, b2, nil).Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := b2.Status(nil); len(got) != 1 || got[0].Spend != 7 {
		t.Errorf("budget after the final save = %+v, want a spend of 7", got)
	}
}

func TestFinalSaveWithALongInterval(t *testing.T) {
	st := newMemStore()
	l, b := engines(t0)
	c := New(st, l, b, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { c.Run(ctx, time.Hour); close(done) }()
	admit(t, l, "u", 1)
	cancel()
	<-done
	if st.writesOf(LimiterKey) != 1 {
		t.Errorf("limiter writes = %d, want the final save's 1", st.writesOf(LimiterKey))
	}
}

func TestFinalSaveFailureIsLogged(t *testing.T) {
	st := newMemStore()
	st.failing.Store(true)
	var out logs
	l, b := engines(t0)
	c := New(st, l, b, out.logger())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c.Run(ctx, time.Hour)
	if !strings.Contains(out.String(), "at shutdown") {
		t.Errorf("no warning for a failed final save:\n%s", out.String())
	}
}

// TestSize measures the encoded state of 1,000 buckets: the figure the README quotes.
func TestSize(t *testing.T) {
	const buckets = 1000
	now := t0
	l := limiter.New(limiter.WithClock(func() time.Time { return now }))
	b := budget.New(budget.WithClock(func() time.Time { return now }))
	name := func(i int) string { return fmt.Sprintf("user:user-%04d", i) }
	for i := range buckets {
		admit(t, l, name(i), 1234)
		spend(t, b, name(i), 5e9, 123_456_789)
	}
	oneSub, err := encodeLimiter(l.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	spent, err := encodeBudget(b.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	// Every sub-window of the minute window in use: a request a second for a minute.
	for s := 1; s <= limiter.SubWindows; s++ {
		now = t0.Add(time.Duration(s) * time.Second)
		for i := range buckets {
			var d limiter.Decision
			if err := l.Admit(&d, []limiter.Check{{Rule: "rpm", Unit: limiter.RequestsPerMinute, Bucket: name(i), Limit: 1000}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	full, err := encodeLimiter(l.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1,000 buckets: limiter, one sub-window each (2 rules) %d bytes; limiter, full minute windows %d bytes; budget %d bytes",
		len(oneSub), len(full), len(spent))
	if len(full) > 250_000 || len(spent) > 60_000 {
		t.Errorf("state larger than expected: limiter %d, budget %d bytes", len(full), len(spent))
	}
}

func BenchmarkSaveUnchanged(b *testing.B) {
	l, ledger := engines(t0)
	for i := range 1000 {
		var d limiter.Decision
		_ = l.Admit(&d, []limiter.Check{{Rule: "rpm", Unit: limiter.RequestsPerMinute, Bucket: fmt.Sprint(i), Limit: 1000}})
		dd := new(budget.Decision)
		_ = ledger.Reserve(dd, []budget.Check{{Rule: "m", Unit: budget.CostPerMonth, Bucket: fmt.Sprint(i), Limit: 1e12, Amount: 10}})
		dd.Reservation.Settle(5, 0)
	}
	c := New(newMemStore(), l, ledger, nil)
	ctx := context.Background()
	_ = c.Save(ctx)
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Save(ctx)
	}
}
