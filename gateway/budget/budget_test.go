package budget

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock is a fake clock that tests move by hand.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func reserve(t *testing.T, l *Ledger, checks ...Check) *Decision {
	t.Helper()
	d := new(Decision)
	if err := l.Reserve(d, checks); err != nil {
		t.Fatal(err)
	}
	return d
}

// alerts collects the alerts a Ledger emits.
type alerts struct {
	mu  sync.Mutex
	got []Alert
}

func (a *alerts) add(x Alert) { a.mu.Lock(); a.got = append(a.got, x); a.mu.Unlock() }
func (a *alerts) take() []Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	got := a.got
	a.got = nil
	return got
}

// concurrently reserves with n goroutines at once and returns the admitted decisions.
func concurrently(t *testing.T, l *Ledger, n int, c Check) []*Decision {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var admitted []*Decision
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			d := new(Decision)
			if err := l.Reserve(d, []Check{c}); err != nil {
				t.Error(err)
			}
			if d.Allowed {
				mu.Lock()
				admitted = append(admitted, d)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return admitted
}

func TestTwoHundredConcurrentAgainstABudgetOfTen(t *testing.T) {
	l := New(WithClock(newClock(t0).now))
	limit := NanoUSD(5)
	c := Check{Rule: "team", Unit: CostPerMonth, Bucket: "team:ml", Limit: limit, Amount: limit / 10}
	admitted := concurrently(t, l, 200, c)
	if len(admitted) != 10 {
		t.Fatalf("%d of 200 admitted against a budget that fits 10", len(admitted))
	}
	if more := concurrently(t, l, 200, c); len(more) != 0 {
		t.Fatalf("%d admitted while ten reservations fill the budget", len(more))
	}
	// Settled at a fifth of their maximum, the ten free 80 % of the budget: 8 more fit.
	for _, d := range admitted {
		d.Reservation.Settle(limit/50, 0)
	}
	again := concurrently(t, l, 200, c)
	if len(again) != 8 {
		t.Fatalf("%d admitted after settling lower, want 8", len(again))
	}
	for _, d := range again {
		d.Reservation.Settle(limit/10, 0)
	}
	st := l.Status(nil)
	if len(st) != 1 || st[0].Spend != limit || st[0].Reserved != 0 || st[0].Remaining != 0 {
		t.Fatalf("status %+v, want the whole budget spent and nothing reserved", st)
	}
}

// TestSpendNeverExceedsTheLimit reserves and settles concurrently with real amounts at or under
// the maximum and checks the stated bound: spend never passes the limit.
func TestSpendNeverExceedsTheLimit(t *testing.T) {
	l := New(WithClock(newClock(t0).now))
	c := Check{Rule: "r", Unit: TokensPerDay, Limit: 10_000, Amount: 700}
	var wg sync.WaitGroup
	var admitted atomic.Int64
	for g := range 300 {
		wg.Go(func() {
			var d Decision
			if err := l.Reserve(&d, []Check{c}); err != nil {
				t.Error(err)
			}
			if d.Allowed {
				admitted.Add(1)
				d.Reservation.Settle(0, int64(g%8)*100)
			}
		})
	}
	wg.Wait()
	st := l.Status(nil)[0]
	if st.Spend > c.Limit || st.Reserved != 0 {
		t.Fatalf("spend %d reserved %d over limit %d", st.Spend, st.Reserved, c.Limit)
	}
	if admitted.Load() <= 10_000/700 {
		t.Fatalf("admitted %d: settling lower should have let more in", admitted.Load())
	}
}

func TestOvershootIsTheEstimateError(t *testing.T) {
	l := New(WithClock(newClock(t0).now))
	c := Check{Rule: "r", Unit: CostPerDay, Limit: 1000, Amount: 400}
	a, b := reserve(t, l, c), reserve(t, l, c)
	if !a.Allowed || !b.Allowed || reserve(t, l, c).Allowed {
		t.Fatal("want two of three admitted")
	}
	a.Reservation.Settle(450, 0) // 50 over its maximum
	b.Reservation.Settle(430, 0) // 30 over
	if st := l.Status(nil)[0]; st.Spend != 880 {
		t.Fatalf("spend %d, want 880", st.Spend)
	}
	d := reserve(t, l, Check{Rule: "r", Unit: CostPerDay, Limit: 1000, Amount: 120})
	if !d.Allowed {
		t.Fatal("120 fits in the remaining 120")
	}
	d.Reservation.Settle(200, 0) // 80 over
	// Spend 450+430+200 = 1080: 80 over the limit, within the 50+30+80 the maxima were short.
	if st := l.Status(nil)[0]; st.Spend != 1080 || st.Spend-c.Limit > 50+30+80 {
		t.Fatalf("spend %d: overshoot %d beyond the estimates' error", st.Spend, st.Spend-c.Limit)
	}
}

func TestSettleIsIdempotent(t *testing.T) {
	l := New(WithClock(newClock(t0).now))
	d := reserve(t, l, Check{Rule: "r", Unit: CostPerDay, Limit: 1000, Amount: 400})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { d.Reservation.Settle(100, 0) })
		wg.Go(d.Reservation.Cancel)
	}
	wg.Wait()
	// Whichever call came first wins: Settle charges 100, Cancel charges nothing.
	switch st := l.Status(nil); {
	case len(st) == 0:
	case len(st) == 1 && st[0].Spend == 100 && st[0].Reserved == 0:
	default:
		t.Fatalf("status %+v after racing settles", st)
	}
}

func TestAllOrNothing(t *testing.T) {
	l := New(WithClock(newClock(t0).now))
	team := Check{Rule: "team", Unit: CostPerMonth, Limit: 1000, Amount: 100}
	user := Check{Rule: "user", Unit: CostPerDay, Bucket: "user:a", Limit: 150, Amount: 100}
	if d := reserve(t, l, team, user); !d.Allowed {
		t.Fatal("first refused")
	}
	d := reserve(t, l, team, user)
	if d.Allowed || d.Refused != 1 || d.Exceeds || !d.Reset.Equal(time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("decision %+v, want refused by the user budget until midnight", d)
	}
	for _, s := range l.Status(nil) {
		if s.Reserved != 100 {
			t.Fatalf("%s reserved %d: the refused request leaked a reservation", s.Rule, s.Reserved)
		}
	}
	d = reserve(t, l, team, Check{Rule: "tiny", Unit: CostPerDay, Limit: 10, Amount: 11})
	if d.Allowed || !d.Exceeds || d.Refused != 1 {
		t.Fatalf("decision %+v, want Exceeds", d)
	}
}

// TestAllOrNothingUnderConcurrency reserves against overlapping budgets from many goroutines
// and checks that, once all settle, each bucket's spend is exactly what was settled against it
// and nothing stays reserved.
func TestAllOrNothingUnderConcurrency(t *testing.T) {
	l := New(WithClock(newClock(t0).now))
	var mu sync.Mutex
	want := map[string]int64{}
	var wg sync.WaitGroup
	for g := range 300 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			checks := []Check{
				{Rule: "org", Unit: CostPerMonth, Limit: 50_000, Amount: 400},
				{Rule: "team", Unit: CostPerDay, Bucket: []string{"a", "b"}[g%2], Limit: 20_000, Amount: 400},
				{Rule: "tok", Unit: TokensPerDay, Limit: 30_000, Amount: 300},
			}[:1+rng.IntN(3)]
			var d Decision
			if err := l.Reserve(&d, checks); err != nil {
				t.Error(err)
				return
			}
			if !d.Allowed {
				return
			}
			cost, tokens := rng.Int64N(400), rng.Int64N(300)
			mu.Lock()
			for _, c := range checks {
				if c.Unit.Cost() {
					want[c.Rule+"/"+c.Bucket] += cost
				} else {
					want[c.Rule+"/"+c.Bucket] += tokens
				}
			}
			mu.Unlock()
			d.Reservation.Settle(cost, tokens)
		})
	}
	wg.Wait()
	got := map[string]int64{}
	for _, s := range l.Status(nil) {
		got[s.Rule+"/"+s.Bucket] = s.Spend
		if s.Reserved != 0 || s.Spend > s.Limit {
			t.Errorf("%+v: a reservation leaked or the limit was passed", s)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("spend differs from the settled sums (-want +got):\n%s", diff)
	}
}

func TestReservationChargesItsOwnPeriod(t *testing.T) {
	c := newClock(time.Date(2026, 3, 10, 23, 59, 59, 500_000_000, time.UTC))
	l := New(WithClock(c.now))
	check := Check{Rule: "r", Unit: CostPerDay, Limit: 1000, Amount: 900}
	d := reserve(t, l, check)
	c.add(time.Second) // now 2026-03-11 00:00:00.5
	if nd := reserve(t, l, check); !nd.Allowed {
		t.Fatal("the new day must not see yesterday's reservation")
	} else {
		nd.Reservation.Cancel()
	}
	d.Reservation.Settle(800, 0)
	if st := l.Status(nil); len(st) != 0 {
		t.Fatalf("status of the new day %+v, want empty: the spend belongs to the day it was reserved", st)
	}
	snap := l.Snapshot()
	want := []Spend{{Rule: "r", Unit: CostPerDay, PeriodStart: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), Spend: 800, Alerted: 75}}
	if diff := cmp.Diff(want, snap); diff != "" {
		t.Fatalf("snapshot (-want +got):\n%s", diff)
	}
}

func TestPeriods(t *testing.T) {
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name       string
		unit       Unit
		at         time.Time
		start, end time.Time
	}{
		{"day", CostPerDay, utc(2026, 3, 10, 13, 5), utc(2026, 3, 10, 0, 0), utc(2026, 3, 11, 0, 0)},
		{"day at its first instant", TokensPerDay, utc(2026, 3, 10, 0, 0), utc(2026, 3, 10, 0, 0), utc(2026, 3, 11, 0, 0)},
		{"day at its last instant", CostPerDay, utc(2026, 3, 11, 0, 0).Add(-1), utc(2026, 3, 10, 0, 0), utc(2026, 3, 11, 0, 0)},
		{"leap day", CostPerDay, utc(2024, 2, 29, 23, 59), utc(2024, 2, 29, 0, 0), utc(2024, 3, 1, 0, 0)},
		{"year end day", CostPerDay, utc(2025, 12, 31, 23, 59), utc(2025, 12, 31, 0, 0), utc(2026, 1, 1, 0, 0)},
		{"day in another zone", CostPerDay, time.Date(2026, 3, 10, 23, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)), utc(2026, 3, 11, 0, 0), utc(2026, 3, 12, 0, 0)},
		{"week from a Wednesday", CostPerWeek, utc(2026, 3, 11, 8, 0), utc(2026, 3, 9, 0, 0), utc(2026, 3, 16, 0, 0)},
		{"week on its Monday", CostPerWeek, utc(2026, 3, 9, 0, 0), utc(2026, 3, 9, 0, 0), utc(2026, 3, 16, 0, 0)},
		{"week on a Sunday night", CostPerWeek, utc(2026, 3, 15, 23, 59), utc(2026, 3, 9, 0, 0), utc(2026, 3, 16, 0, 0)},
		{"week across the year end", CostPerWeek, utc(2026, 1, 1, 12, 0), utc(2025, 12, 29, 0, 0), utc(2026, 1, 5, 0, 0)},
		{"week of the epoch", CostPerWeek, utc(1970, 1, 1, 0, 0), utc(1969, 12, 29, 0, 0), utc(1970, 1, 5, 0, 0)},
		{"week across a leap day", CostPerWeek, utc(2024, 3, 1, 0, 0), utc(2024, 2, 26, 0, 0), utc(2024, 3, 4, 0, 0)},
		{"month", CostPerMonth, utc(2026, 3, 10, 0, 0), utc(2026, 3, 1, 0, 0), utc(2026, 4, 1, 0, 0)},
		{"leap February", TokensPerMonth, utc(2024, 2, 29, 12, 0), utc(2024, 2, 1, 0, 0), utc(2024, 3, 1, 0, 0)},
		{"February", CostPerMonth, utc(2026, 2, 28, 23, 59), utc(2026, 2, 1, 0, 0), utc(2026, 3, 1, 0, 0)},
		{"December", CostPerMonth, utc(2025, 12, 31, 23, 59), utc(2025, 12, 1, 0, 0), utc(2026, 1, 1, 0, 0)},
		{"January", TokensPerMonth, utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 0, 0), utc(2026, 2, 1, 0, 0)},
		{"first quarter", CostPerQuarter, utc(2026, 3, 31, 23, 59), utc(2026, 1, 1, 0, 0), utc(2026, 4, 1, 0, 0)},
		{"second quarter", CostPerQuarter, utc(2026, 4, 1, 0, 0), utc(2026, 4, 1, 0, 0), utc(2026, 7, 1, 0, 0)},
		{"third quarter", CostPerQuarter, utc(2024, 8, 15, 0, 0), utc(2024, 7, 1, 0, 0), utc(2024, 10, 1, 0, 0)},
		{"fourth quarter across the year end", CostPerQuarter, utc(2025, 12, 31, 23, 59), utc(2025, 10, 1, 0, 0), utc(2026, 1, 1, 0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end := tc.unit.Period(tc.at)
			if !start.Equal(tc.start) || !end.Equal(tc.end) {
				t.Fatalf("%s period of %v = [%v, %v), want [%v, %v)", tc.unit, tc.at, start, end, tc.start, tc.end)
			}
			if start.Weekday() != time.Monday && tc.unit == CostPerWeek {
				t.Fatalf("week starts on %v", start.Weekday())
			}
			// Spend resets exactly at the period's end.
			c := newClock(end.Add(-1))
			l := New(WithClock(c.now))
			check := Check{Rule: "r", Unit: tc.unit, Limit: 10, Amount: 10}
			reserve(t, l, check).Reservation.Settle(10, 10)
			if reserve(t, l, check).Allowed {
				t.Fatal("admitted in a spent period")
			}
			c.set(end)
			if !reserve(t, l, check).Allowed {
				t.Fatal("spend did not reset at the period's end")
			}
		})
	}
}

func TestAlertsOncePerThresholdPerPeriod(t *testing.T) {
	c := newClock(t0)
	var got alerts
	l := New(WithClock(c.now), WithAlerts(got.add))
	check := Check{Rule: "team", Unit: CostPerMonth, Bucket: "team:ml", Limit: 1000, Amount: 10}
	for _, month := range []time.Time{t0, t0.AddDate(0, 1, 0)} {
		c.set(month)
		var wg sync.WaitGroup
		for range 150 { // 100 fit and settle; the rest are refused
			wg.Go(func() {
				var d Decision
				if err := l.Reserve(&d, []Check{check}); err != nil {
					t.Error(err)
				}
				d.Reservation.Settle(10, 0)
			})
		}
		wg.Wait()
		a := got.take()
		slices.SortFunc(a, func(x, y Alert) int { return x.Threshold - y.Threshold })
		start, end := CostPerMonth.Period(month)
		var want []Alert
		for _, th := range []int{75, 90, 100} {
			want = append(want, Alert{Rule: "team", Unit: CostPerMonth, Bucket: "team:ml", Threshold: th, Limit: 1000, PeriodStart: start, PeriodEnd: end})
		}
		if diff := cmp.Diff(want, a, cmp.Comparer(func(x, y Alert) bool {
			x.Spend, y.Spend = 0, 0
			return x == y
		})); diff != "" {
			t.Fatalf("alerts in %v (-want +got):\n%s", month.Month(), diff)
		}
		for _, x := range a {
			if !reached(x.Spend, x.Limit, x.Threshold) {
				t.Fatalf("alert %+v before its threshold", x)
			}
		}
	}
}

func TestAlertsCrossingSeveralAtOnce(t *testing.T) {
	var got alerts
	l := New(WithClock(newClock(t0).now), WithAlerts(got.add))
	check := Check{Rule: "r", Unit: TokensPerDay, Limit: 1000, Amount: 1000, Thresholds: []int{90, 50, 120}}
	reserve(t, l, check).Reservation.Settle(0, 950)
	reserve(t, l, Check{Rule: "r", Unit: TokensPerDay, Limit: 1000, Amount: 0, Thresholds: []int{90, 50, 120}}).Reservation.Settle(0, 300)
	var ths []int
	for _, a := range got.take() {
		ths = append(ths, a.Threshold)
	}
	if diff := cmp.Diff([]int{50, 90, 120}, ths); diff != "" {
		t.Fatalf("thresholds (-want +got):\n%s", diff)
	}
}

func TestAuditNeverRefuses(t *testing.T) {
	var got alerts
	l := New(WithClock(newClock(t0).now), WithAlerts(got.add))
	check := Check{Rule: "r", Unit: CostPerDay, Limit: 100, Amount: 60, Audit: true}
	for i := range 4 {
		d := reserve(t, l, check)
		if !d.Allowed {
			t.Fatalf("audit budget refused request %d", i)
		}
		if want := i >= 1; d.WouldHaveBlocked(0) != want {
			t.Fatalf("request %d: would have blocked %v, want %v", i, d.WouldHaveBlocked(0), want)
		}
		d.Reservation.Settle(60, 0)
	}
	if st := l.Status(nil)[0]; st.Spend != 240 {
		t.Fatalf("audit spend %d, want 240", st.Spend)
	}
	if a := got.take(); len(a) != 3 || !a[0].Audit {
		t.Fatalf("alerts %+v, want three audit alerts", a)
	}
}

func TestConfigChangeKeepsSpend(t *testing.T) {
	l := New(WithClock(newClock(t0).now))
	reserve(t, l, Check{Rule: "r", Unit: CostPerDay, Limit: 100, Amount: 80}, Check{Rule: "old", Unit: CostPerDay, Limit: 100, Amount: 80}).Reservation.Settle(80, 0)
	if reserve(t, l, Check{Rule: "r", Unit: CostPerDay, Limit: 150, Amount: 80}).Allowed {
		t.Fatal("raising the limit to 150 must keep the 80 spent")
	}
	if n := l.Prune(func(rule string, _ Unit) bool { return rule == "r" }); n != 1 {
		t.Fatalf("pruned %d, want 1", n)
	}
	st := l.Status(func(string, Unit) (int64, bool) { return 200, true })
	if len(st) != 1 || st[0].Rule != "r" || st[0].Spend != 80 || st[0].Remaining != 120 {
		t.Fatalf("status %+v", st)
	}
}

func TestSnapshotRestore(t *testing.T) {
	c := newClock(t0)
	var got alerts
	l := New(WithClock(c.now), WithAlerts(got.add))
	check := Check{Rule: "r", Unit: CostPerMonth, Bucket: "team:ml", Limit: 1000, Amount: 100}
	for range 8 {
		reserve(t, l, check).Reservation.Settle(100, 0)
	}
	reserve(t, l, check) // in flight when the process stops
	snap := l.Snapshot()
	if a := got.take(); len(a) != 1 {
		t.Fatalf("alerts %+v, want one at 75 %%", a)
	}

	c.add(time.Hour)
	r := New(WithClock(c.now), WithAlerts(got.add))
	r.Restore(snap)
	st := r.Status(nil)
	if len(st) != 1 || st[0].Spend != 800 || st[0].Reserved != 0 {
		t.Fatalf("status after restore %+v, want 800 spent and the dead reservation dropped", st)
	}
	reserve(t, r, check).Reservation.Settle(100, 0)
	if a := got.take(); len(a) != 1 || a[0].Threshold != 90 {
		t.Fatalf("alerts after restore %+v, want only 90: 75 was already sent", a)
	}
	reserve(t, r, check).Reservation.Settle(100, 0)
	if reserve(t, r, check).Allowed {
		t.Fatal("admitted past the restored budget")
	}
	// A restored period that has since ended does not count.
	c.set(t0.AddDate(0, 1, 0))
	if !reserve(t, r, check).Allowed {
		t.Fatal("refused in the next month")
	}
}

func TestInvalidChecks(t *testing.T) {
	l := New()
	for _, c := range []Check{
		{Rule: "r", Unit: 0},
		{Rule: "r", Unit: CostPerDay, Limit: -1},
		{Rule: "r", Unit: CostPerDay, Amount: -1},
		{Rule: "r", Unit: CostPerDay, Thresholds: []int{0}},
	} {
		var d Decision
		if err := l.Reserve(&d, []Check{c}); !errors.Is(err, ErrInvalidCheck) {
			t.Errorf("Reserve(%+v) = %v, want ErrInvalidCheck", c, err)
		}
	}
}

func TestManyChecks(t *testing.T) {
	l := New(WithClock(newClock(t0).now))
	var checks []Check
	for i := range 12 {
		checks = append(checks, Check{Rule: string(rune('a' + i)), Unit: CostPerDay, Limit: 100, Amount: 60})
	}
	if d := reserve(t, l, append(checks, checks[5])...); d.Allowed || d.Refused != 12 {
		t.Fatalf("decision %+v, want refused by the duplicate", d)
	}
	reserve(t, l, checks...).Reservation.Settle(10, 0)
	for _, s := range l.Status(nil) {
		if s.Spend != 10 || s.Reserved != 0 {
			t.Fatalf("%+v", s)
		}
	}
}

func TestParseUnitAndNanoUSD(t *testing.T) {
	for u := CostPerDay; u <= TokensPerMonth; u++ {
		if got, err := ParseUnit(u.String()); err != nil || got != u {
			t.Errorf("ParseUnit(%q) = %v, %v", u.String(), got, err)
		}
	}
	if _, err := ParseUnit("cost_per_year"); err == nil {
		t.Error("ParseUnit accepted an unknown unit")
	}
	for usd, want := range map[float64]int64{0.1: 100_000_000, 2.5e-7: 250, 500: 500 * NanoPerUSD, -1: 0} {
		if got := NanoUSD(usd); got != want {
			t.Errorf("NanoUSD(%v) = %d, want %d", usd, got, want)
		}
	}
	var sum int64
	for range 1000 {
		sum += NanoUSD(0.1)
	}
	if sum != 100*NanoPerUSD {
		t.Errorf("a thousand times 0.1 USD = %d nano-dollars", sum)
	}
}

func BenchmarkReserve2Budgets(b *testing.B) {
	l := New()
	checks := []Check{
		{Rule: "team", Unit: CostPerMonth, Bucket: "team:ml", Limit: 1 << 60, Amount: 5000},
		{Rule: "user", Unit: TokensPerDay, Bucket: "user:alice", Limit: 1 << 60, Amount: 1000},
	}
	var d Decision
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Reserve(&d, checks); err != nil || !d.Allowed {
			b.Fatal("refused", err)
		}
		d.Reservation.Settle(4000, 700)
	}
}
