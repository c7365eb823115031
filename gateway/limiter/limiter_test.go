package limiter

import (
	"errors"
	"math/rand/v2"
	"sort"
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

func (c *clock) now() time.Time                   { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)                  { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration)              { c.ns.Add(int64(d)) }
func (c *clock) since(t0 time.Time) time.Duration { return time.Duration(c.ns.Load() - t0.UnixNano()) }

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func admit(t *testing.T, l *Limiter, checks ...Check) *Decision {
	t.Helper()
	d := new(Decision)
	if err := l.Admit(d, checks); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFiveRequestsPerMinuteAdmitsFiveOfTwenty(t *testing.T) {
	c := newClock(t0)
	l := New(WithClock(c.now))
	rule := Check{Rule: "r", Unit: RequestsPerMinute, Limit: 5}
	admitted := 0
	for range 20 {
		if admit(t, l, rule).Allowed {
			admitted++
		}
		c.add(2 * time.Second)
	}
	if admitted != 5 {
		t.Fatalf("admitted %d of 20 in a minute, want 5", admitted)
	}
}

func TestRetryAfterAndReset(t *testing.T) {
	c := newClock(t0.Add(500 * time.Millisecond))
	l := New(WithClock(c.now))
	rule := Check{Rule: "r", Unit: RequestsPerMinute, Limit: 5}
	for i := range 5 {
		d := admit(t, l, rule)
		if !d.Allowed {
			t.Fatalf("request %d refused", i)
		}
		if want := int64(4 - i); d.Requests.Remaining != want || d.Requests.Limit != 5 || !d.Requests.Covered {
			t.Fatalf("request %d: quota %+v, want remaining %d", i, d.Requests, want)
		}
		if d.Requests.Reset != 60500*time.Millisecond {
			t.Fatalf("reset %v, want 60.5s: the window is empty once the sub-window [0s,1s) has left it", d.Requests.Reset)
		}
	}
	c.set(t0.Add(10200 * time.Millisecond))
	d := admit(t, l, rule)
	if d.Allowed || d.Refused != 0 || d.Exceeds {
		t.Fatalf("sixth request: %+v, want refused by check 0", d)
	}
	if d.RetryAfter != 50800*time.Millisecond || d.RetryAfterSeconds() != 51 {
		t.Fatalf("retry after %v (%ds), want 50.8s (51s)", d.RetryAfter, d.RetryAfterSeconds())
	}
	c.set(t0.Add(60999 * time.Millisecond))
	if admit(t, l, rule).Allowed {
		t.Fatal("admitted at 60.999s: the sub-window of the first five still overlaps the window")
	}
	c.set(t0.Add(61 * time.Second))
	if !admit(t, l, rule).Allowed {
		t.Fatal("refused at 61s, when RetryAfter said it would fit")
	}
}

// TestRollingWindowBound admits random arrivals over many windows with a fake clock and checks
// the stated bounds against the admitted timestamps: no closed window of the unit's length
// holds more than the limit, and every refusal is one an exact sliding log over one more
// sub-window would also make.
func TestRollingWindowBound(t *testing.T) {
	for _, tc := range []struct {
		unit  Unit
		limit int64
		span  time.Duration // how long to run
		gap   time.Duration // mean gap between arrivals
	}{
		{RequestsPerMinute, 5, 10 * time.Minute, 3 * time.Second},
		{RequestsPerMinute, 50, 10 * time.Minute, 300 * time.Millisecond},
		{RequestsPerHour, 20, 10 * time.Hour, 90 * time.Second},
		{RequestsPerDay, 30, 10 * 24 * time.Hour, 20 * time.Minute},
		{TokensPerMinute, 1000, 10 * time.Minute, 1 * time.Second},
	} {
		t.Run(tc.unit.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.limit)))
			start := t0.Add(time.Duration(rng.Int64N(int64(time.Hour))))
			c := newClock(start)
			l := New(WithClock(c.now))
			type event struct {
				at time.Duration
				n  int64
			}
			var admitted []event
			w, sub := tc.unit.Window(), tc.unit.SubWindow()
			sumIn := func(from, to time.Duration) (n int64) { // closed [from, to]
				for _, e := range admitted {
					if e.at >= from && e.at <= to {
						n += e.n
					}
				}
				return n
			}
			refusals := 0
			for c.since(start) < tc.span {
				c.add(time.Duration(rng.ExpFloat64() * float64(tc.gap)))
				now := c.since(start)
				amount := int64(1)
				if tc.unit.Tokens() {
					amount = 1 + rng.Int64N(200)
				}
				d := admit(t, l, Check{Rule: "r", Unit: tc.unit, Limit: tc.limit, Amount: amount})
				if d.Allowed {
					admitted = append(admitted, event{now, amount})
					continue
				}
				refusals++
				// Conservative by at most one sub-window: the refusal is justified by what was
				// admitted in the last W+S.
				if sumIn(now-w-sub+1, now)+amount <= tc.limit {
					t.Fatalf("refused %d at %v although only %d were admitted in the last W+S", amount, now, sumIn(now-w-sub+1, now))
				}
			}
			for _, e := range admitted {
				if n := sumIn(e.at, e.at+w); n > tc.limit {
					t.Fatalf("%d admitted in the window [%v, %v], limit %d", n, e.at, e.at+w, tc.limit)
				}
			}
			if sumIn(0, tc.span) < tc.limit || refusals == 0 {
				t.Fatalf("admitted %d, refused %d: the test did not exercise the limit", len(admitted), refusals)
			}
		})
	}
}

func TestTokenReservationsCannotOvershoot(t *testing.T) {
	c := newClock(t0)
	l := New(WithClock(c.now))
	rule := Check{Rule: "tok", Unit: TokensPerMinute, Limit: 1000, Amount: 100}
	var wg sync.WaitGroup
	var admitted atomic.Int64
	decisions := make([]Decision, 200)
	for i := range decisions {
		wg.Go(func() {
			if err := l.Admit(&decisions[i], []Check{rule}); err != nil {
				t.Error(err)
			}
			if decisions[i].Allowed {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	if admitted.Load() != 10 {
		t.Fatalf("admitted %d reservations of 100 under a limit of 1000, want 10", admitted.Load())
	}
	used := func() int64 { return l.Status(nil)[0].Used }
	// Settling lower frees capacity: ten reservations of 100 settled at 40 leave 600.
	for i := range decisions {
		decisions[i].Reservation.Settle(40)
		decisions[i].Reservation.Settle(1000) // a second settle is a no-op
	}
	if got := used(); got != 400 {
		t.Fatalf("used %d after settling ten at 40, want 400", got)
	}
	var more []*Decision
	for range 10 {
		if d := admit(t, l, rule); d.Allowed {
			more = append(more, d)
		}
	}
	for _, d := range more {
		d.Reservation.Settle(150) // settling higher counts the real use
	}
	if len(more) != 6 {
		t.Fatalf("admitted %d more, want 6", len(more))
	}
	if got := used(); got != 400+6*150 {
		t.Fatalf("used %d, want %d: settle raises to the real count", got, 400+6*150)
	}
}

func TestSettleAppliesToTheSubWindowOfTheReservation(t *testing.T) {
	c := newClock(t0)
	l := New(WithClock(c.now))
	rule := Check{Rule: "tok", Unit: TokensPerMinute, Limit: 1000, Amount: 500}
	d := admit(t, l, rule)
	c.add(30 * time.Second)
	d2 := admit(t, l, rule)
	c.add(31 * time.Second) // the first reservation's sub-window has left the window
	d.Reservation.Settle(0)
	if got := l.Status(nil)[0].Used; got != 500 {
		t.Fatalf("used %d, want 500: a settle must not touch the current sub-window", got)
	}
	d2.Reservation.Cancel()
	if st := l.Status(nil); len(st) != 0 {
		t.Fatalf("status %+v after cancelling, want empty", st)
	}
	d3 := admit(t, l, rule)
	d3.Reservation.Settle(-5)
	if st := l.Status(nil); len(st) != 0 {
		t.Fatalf("status %+v: a negative settle must count zero", st)
	}
}

func TestAllOrNothing(t *testing.T) {
	c := newClock(t0)
	l := New(WithClock(c.now))
	a := Check{Rule: "a", Unit: RequestsPerMinute, Limit: 10}
	b := Check{Rule: "b", Unit: RequestsPerMinute, Limit: 2}
	for range 2 {
		if d := admit(t, l, b); !d.Allowed {
			t.Fatal("refused under b's limit")
		}
	}
	d := admit(t, l, a, b)
	if d.Allowed || d.Refused != 1 {
		t.Fatalf("decision %+v, want refused by check 1", d)
	}
	if st := l.Status(nil); len(st) != 1 || st[0].Rule != "b" {
		t.Fatalf("status %+v: the refused request must not count against a", st)
	}
	d.Reservation.Settle(5) // nothing to settle
	d.Reservation.Cancel()
}

// TestAllOrNothingUnderConcurrency runs many requests against overlapping rules with random
// settles and checks that no limit was exceeded and that, once everything is settled, every
// counter holds exactly the sum of what was settled against it.
func TestAllOrNothingUnderConcurrency(t *testing.T) {
	c := newClock(t0)
	l := New(WithClock(c.now))
	rules := []Check{
		{Rule: "global", Unit: RequestsPerMinute, Limit: 60},
		{Rule: "per-user", Unit: RequestsPerMinute, Limit: 25},
		{Rule: "tokens", Unit: TokensPerMinute, Limit: 5000},
		{Rule: "audit", Unit: RequestsPerMinute, Limit: 1, Audit: true},
	}
	var mu sync.Mutex
	want := map[string]int64{}
	var wg sync.WaitGroup
	for g := range 400 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			user := []string{"u1", "u2", "u3"}[g%3]
			checks := []Check{rules[0], rules[1], rules[2], rules[3]}
			checks[1].Bucket = "user:" + user
			checks[2].Amount = 1 + rng.Int64N(400)
			checks = checks[:1+rng.IntN(4)]
			var d Decision
			if err := l.Admit(&d, checks); err != nil {
				t.Error(err)
				return
			}
			if !d.Allowed {
				return
			}
			real := rng.Int64N(400)
			cancel := rng.IntN(10) == 0
			mu.Lock()
			for _, ch := range checks {
				k := ch.Rule + "/" + ch.Bucket
				switch {
				case cancel:
				case ch.Unit.Tokens():
					want[k] += real
				default:
					want[k]++
				}
			}
			mu.Unlock()
			if cancel {
				d.Reservation.Cancel()
			} else {
				d.Reservation.Settle(real)
			}
		})
	}
	wg.Wait()
	got := map[string]int64{}
	for _, s := range l.Status(nil) {
		got[s.Rule+"/"+s.Bucket] = s.Used
		if !s.Unit.Tokens() && s.Rule != "audit" && s.Used > s.Limit {
			t.Errorf("%s/%s counted %d, over its limit %d", s.Rule, s.Bucket, s.Used, s.Limit)
		}
	}
	for k, v := range want {
		if v == 0 {
			delete(want, k)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("counters differ from the settled sums (-want +got):\n%s", diff)
	}
}

func TestAuditNeverBlocks(t *testing.T) {
	c := newClock(t0)
	l := New(WithClock(c.now))
	rule := Check{Rule: "r", Unit: RequestsPerMinute, Limit: 2, Audit: true}
	for i := range 5 {
		d := admit(t, l, rule)
		if !d.Allowed {
			t.Fatalf("audit rule refused request %d", i)
		}
		if got, want := d.WouldHaveBlocked(0), i >= 2; got != want {
			t.Fatalf("request %d: would have blocked %v, want %v", i, got, want)
		}
		if d.Requests.Covered {
			t.Fatal("an audit rule must not set the rate-limit headers")
		}
	}
	if got := l.Status(nil)[0].Used; got != 5 {
		t.Fatalf("audit rule counted %d, want 5", got)
	}
	// When an enforced rule refuses, the audit rule still reports, and nothing is counted.
	d := admit(t, l, rule, Check{Rule: "e", Unit: RequestsPerMinute, Limit: 0})
	if d.Allowed || !d.Exceeds || d.Refused != 1 || !d.WouldHaveBlocked(0) {
		t.Fatalf("decision %+v", d)
	}
	if got := l.Status(nil)[0].Used; got != 5 {
		t.Fatalf("refused request counted: %d", got)
	}
}

func TestTightestQuota(t *testing.T) {
	c := newClock(t0)
	l := New(WithClock(c.now))
	checks := []Check{
		{Rule: "day", Unit: RequestsPerDay, Limit: 1000},
		{Rule: "min", Unit: RequestsPerMinute, Limit: 3},
		{Rule: "tok-hour", Unit: TokensPerHour, Limit: 100_000, Amount: 10},
		{Rule: "tok-min", Unit: TokensPerMinute, Limit: 50_000, Amount: 10},
	}
	d := admit(t, l, checks...)
	if d.Requests.Check != 1 || d.Requests.Remaining != 2 {
		t.Fatalf("requests quota %+v, want check 1 with 2 remaining", d.Requests)
	}
	if d.Tokens.Check != 3 || d.Tokens.Remaining != 49_990 || d.Tokens.Reset != 61*time.Second {
		t.Fatalf("tokens quota %+v, want check 3 with 49990 remaining, reset 61s", d.Tokens)
	}
}

func TestInvalidChecks(t *testing.T) {
	l := New()
	for _, c := range []Check{
		{Rule: "r", Unit: 0, Limit: 1},
		{Rule: "r", Unit: RequestsPerDay, Limit: -1},
		{Rule: "r", Unit: TokensPerDay, Limit: 1, Amount: -1},
	} {
		var d Decision
		if err := l.Admit(&d, []Check{c}); !errors.Is(err, ErrInvalidCheck) {
			t.Errorf("Admit(%+v) = %v, want ErrInvalidCheck", c, err)
		}
	}
	var d Decision
	if err := l.Admit(&d, make([]Check, MaxChecks+1)); !errors.Is(err, ErrInvalidCheck) {
		t.Errorf("Admit(%d checks) = %v, want ErrInvalidCheck", MaxChecks+1, err)
	}
}

func TestManyChecks(t *testing.T) {
	l := New()
	var checks []Check
	for i := range 20 {
		checks = append(checks, Check{Rule: string(rune('a' + i)), Unit: TokensPerMinute, Limit: 100, Amount: 60})
	}
	checks = append(checks, checks[3]) // the same bucket twice counts twice
	d := admit(t, l, checks...)
	if d.Allowed || d.Refused != 20 {
		t.Fatalf("decision %+v, want refused by the duplicate", d)
	}
	d = admit(t, l, checks[:20]...)
	if !d.Allowed {
		t.Fatal("refused")
	}
	d.Reservation.Settle(10)
	for _, s := range l.Status(nil) {
		if s.Used != 10 {
			t.Fatalf("%s used %d, want 10", s.Rule, s.Used)
		}
	}
}

func TestConfigChangeKeepsCounters(t *testing.T) {
	c := newClock(t0)
	l := New(WithClock(c.now))
	for range 3 {
		admit(t, l, Check{Rule: "r", Unit: RequestsPerMinute, Limit: 5}, Check{Rule: "old", Unit: RequestsPerHour, Limit: 5})
	}
	// The new config raises r's limit and drops "old".
	d := admit(t, l, Check{Rule: "r", Unit: RequestsPerMinute, Limit: 4})
	if !d.Allowed || d.Requests.Remaining != 0 {
		t.Fatalf("decision %+v: the new limit must apply to the kept counter", d)
	}
	if n := l.Prune(func(rule string, u Unit) bool { return rule == "r" }); n != 1 {
		t.Fatalf("pruned %d buckets, want 1", n)
	}
	st := l.Status(func(string, Unit) (int64, bool) { return 10, true })
	want := []Status{{Rule: "r", Unit: RequestsPerMinute, Used: 4, Limit: 10, Remaining: 6, Reset: t0.Add(61 * time.Second)}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Fatalf("status (-want +got):\n%s", diff)
	}
	c.add(61 * time.Second)
	if n := l.Prune(nil); n != 1 {
		t.Fatalf("pruned %d idle buckets, want 1", n)
	}
}

func TestPruneRacesAdmit(t *testing.T) {
	c := newClock(t0)
	l := New(WithClock(c.now))
	var wg sync.WaitGroup
	var admitted atomic.Int64
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				l.Prune(nil)
			}
		}
	})
	var workers sync.WaitGroup
	for range 8 {
		workers.Go(func() {
			for range 200 {
				var d Decision
				if err := l.Admit(&d, []Check{{Rule: "r", Unit: RequestsPerHour, Limit: 1000}}); err != nil {
					t.Error(err)
				}
				if d.Allowed {
					admitted.Add(1)
				}
			}
		})
	}
	workers.Wait()
	close(stop)
	wg.Wait()
	if got := l.Status(nil)[0].Used; got != admitted.Load() {
		t.Fatalf("counted %d, admitted %d: a prune lost counts", got, admitted.Load())
	}
}

func TestSnapshotRestore(t *testing.T) {
	c := newClock(t0)
	l := New(WithClock(c.now))
	rule := Check{Rule: "r", Unit: RequestsPerMinute, Limit: 5, Bucket: "user:alice"}
	tok := Check{Rule: "t", Unit: TokensPerDay, Limit: 1000, Amount: 300}
	for range 3 {
		admit(t, l, rule, tok)
		c.add(20 * time.Second)
	}
	snap := l.Snapshot()
	sort.Slice(snap, func(i, j int) bool {
		return snap[i].Start.Before(snap[j].Start) || snap[i].Start.Equal(snap[j].Start) && snap[i].Rule < snap[j].Rule
	})
	if len(snap) != 4 { // three one-second sub-windows of r, one 24-minute sub-window of t
		t.Fatalf("snapshot %+v", snap)
	}

	c2 := newClock(c.now())
	restored := New(WithClock(c2.now))
	restored.Restore(snap)
	limits := func(rule string, _ Unit) (int64, bool) { return map[string]int64{"r": 5, "t": 1000}[rule], true }
	if diff := cmp.Diff(l.Status(limits), restored.Status(limits)); diff != "" {
		t.Fatalf("status after restore (-before +after):\n%s", diff)
	}
	// The window continues: two more fit in the minute, the first sub-window frees at 61s.
	for i, want := range []bool{true, true, false} {
		if got := admit(t, restored, rule).Allowed; got != want {
			t.Fatalf("request %d after restore: allowed %v, want %v", i, got, want)
		}
	}
	c2.set(t0.Add(61 * time.Second))
	if !admit(t, restored, rule).Allowed {
		t.Fatal("the first sub-window should have left the window")
	}
	if admit(t, restored, tok).Allowed {
		t.Fatal("token spend forgotten across restore: 900 of 1000 used, 300 more must not fit")
	}
}

func TestClockStepsBack(t *testing.T) {
	c := newClock(t0.Add(time.Hour))
	l := New(WithClock(c.now))
	rule := Check{Rule: "r", Unit: RequestsPerMinute, Limit: 2}
	admit(t, l, rule)
	c.add(-30 * time.Minute)
	admit(t, l, rule)
	if admit(t, l, rule).Allowed {
		t.Fatal("a clock stepping back must not open a new window")
	}
}

func TestParseUnit(t *testing.T) {
	for u := RequestsPerMinute; u <= TokensPerDay; u++ {
		got, err := ParseUnit(u.String())
		if err != nil || got != u {
			t.Errorf("ParseUnit(%q) = %v, %v", u.String(), got, err)
		}
		if u.SubWindow()*SubWindows != u.Window() {
			t.Errorf("%s: sub-window %v does not divide window %v", u, u.SubWindow(), u.Window())
		}
	}
	if _, err := ParseUnit("requests_per_week"); err == nil {
		t.Error("ParseUnit accepted an unknown unit")
	}
}

func BenchmarkAdmit3Rules(b *testing.B) {
	l := New()
	checks := []Check{
		{Rule: "global", Unit: RequestsPerMinute, Limit: 1 << 40},
		{Rule: "team", Unit: TokensPerMinute, Bucket: "team:ml", Limit: 1 << 40, Amount: 1000},
		{Rule: "user", Unit: RequestsPerDay, Bucket: "user:alice|model:acct/gpt", Limit: 1 << 40},
	}
	var d Decision
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Admit(&d, checks); err != nil || !d.Allowed {
			b.Fatal("refused", err)
		}
		d.Reservation.Settle(700)
	}
}

func BenchmarkAdmit3RulesParallel(b *testing.B) {
	l := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		checks := []Check{
			{Rule: "global", Unit: RequestsPerMinute, Limit: 1 << 40},
			{Rule: "team", Unit: TokensPerMinute, Bucket: "team:ml", Limit: 1 << 40, Amount: 1000},
			{Rule: "user", Unit: RequestsPerDay, Bucket: "user:" + time.Now().String(), Limit: 1 << 40},
		}
		var d Decision
		for pb.Next() {
			if err := l.Admit(&d, checks); err != nil || !d.Allowed {
				b.Fatal("refused", err)
			}
			d.Reservation.Settle(700)
		}
	})
}
