package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/analytics/query"
	"github.com/llmgw/llmgw/gateway/usage"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// synthetic returns the i-th of n synthetic events spread evenly over span before end: 1,000
// users in 50 teams, 20 virtual accounts, 20 models (each user calls two of them), two
// metadata keys, 3 % failures.
func synthetic(r *rand.Rand, i, n int, span time.Duration, end time.Time) *usagev1.UsageEvent {
	at := end.Add(-span + time.Duration(int64(span)/int64(n)*int64(i)))
	u := r.IntN(1000)
	model := u % 20
	if r.IntN(2) == 0 {
		model = (u * 7) % 20
	}
	e := &usagev1.UsageEvent{
		EventId: fmt.Sprintf("%016x-%08d", at.UnixNano(), i), Time: timestamppb.New(at), Status: "ok",
		Model: "acct/model-" + strconv.Itoa(model), Teams: []string{"team-" + strconv.Itoa(u%50)},
		Tokens:  &usagev1.Tokens{Prompt: int64(r.IntN(4000)), Completion: int64(r.IntN(1000)), CacheRead: int64(r.IntN(100))},
		Priced:  true,
		Surface: "openai", Operation: "chat", HttpStatus: 200,
		LatencyUs: int64(50_000 + r.IntN(2_000_000)), Metadata: map[string]string{"app": "app-" + strconv.Itoa(r.IntN(10)), "env": []string{"prod", "dev"}[r.IntN(2)]},
	}
	e.Target = &usagev1.Target{Model: e.Model, Account: "acct", Provider: "openai"}
	e.Attempts = []*usagev1.Attempt{{Target: e.Model, Status: "ok", HttpStatus: 200, LatencyUs: e.LatencyUs - 300}}
	e.CostUsd = float64(e.Tokens.Prompt)*1e-7 + float64(e.Tokens.Completion)*4e-7
	if u%10 == 0 {
		e.VirtualAccount = "va-" + strconv.Itoa(u%20)
	} else {
		e.User = "user-" + strconv.Itoa(u)
		e.Principal = "user:" + e.User
	}
	if r.IntN(100) < 3 {
		e.Status, e.HttpStatus, e.ErrorClass = "upstream_error", 502, "upstream_5xx"
	}
	if r.IntN(2) == 0 {
		e.Stream, e.TtftUs = true, int64(20_000+r.IntN(500_000))
	}
	return e
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWrite measures the writer: one transaction per batch of 1,000 events.
func BenchmarkWrite(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), FileName), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	end := time.Now()
	batch := make([]*usagev1.UsageEvent, 0, DefaultMaxBatch)
	b.ResetTimer()
	cpu := cpuTime()
	for i := range b.N {
		batch = append(batch, synthetic(r, i, b.N, 30*24*time.Hour, end))
		if len(batch) == cap(batch) || i == b.N-1 {
			if err := s.Write(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(time.Duration(b.N)*time.Second)/float64(cpuTime()-cpu), "events/cpu-s")
}

// BenchmarkRecord measures the sink as the usage queue drives it: Record one event at a time,
// Run batching what waits.
func BenchmarkRecord(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), FileName), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(ran)
	}()
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		s.Record(context.Background(), &usage.Event{RequestID: strconv.Itoa(i), Time: now.Add(time.Duration(i) * time.Microsecond), Model: "acct/m", Target: "acct/m",
			User: "user-" + strconv.Itoa(i%1000), Teams: []string{"team"}, Status: "ok", CostUSD: 0.001, Priced: true, Latency: time.Second,
			Metadata: map[string]string{"app": "x"}, Attempts: []usage.Attempt{{Target: "acct/m", Status: "ok", HTTPStatus: 200, Latency: time.Second}}})
	}
	cancel()
	<-ran // every event written
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkQueries loads LLMGW_USAGE_BENCH_ROWS synthetic events (default 1,000,000) over
// LLMGW_USAGE_BENCH_DAYS days (default 30) into a temporary store and times the Usage API's
// main queries on it:
//
//	LLMGW_USAGE_BENCH_ROWS=2000000 go test -run '^$' -bench Queries -benchtime 5x ./analytics/embedded
func BenchmarkQueries(b *testing.B) {
	n, days := 1_000_000, 30
	if v := os.Getenv("LLMGW_USAGE_BENCH_ROWS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("LLMGW_USAGE_BENCH_DAYS"); v != "" {
		days, _ = strconv.Atoi(v)
	}
	dir := b.TempDir()
	loaded, err := Open(context.Background(), filepath.Join(dir, FileName), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer loaded.Close()
	loadEnd := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	batch := make([]*usagev1.UsageEvent, 0, DefaultMaxBatch)
	for i := range n {
		batch = append(batch, synthetic(r, i, n, time.Duration(days)*24*time.Hour, loadEnd))
		if len(batch) == cap(batch) || i == n-1 {
			if err := loaded.Write(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	fi, _ := os.Stat(filepath.Join(dir, FileName))
	fmt.Printf("loaded %d events over %d days in %s (%.0f events/s); file %d MB\n", n, days, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds(), fi.Size()>>20)
	ctx := context.Background()
	day := 24 * time.Hour
	last := func(d time.Duration) query.Filter { return query.Filter{Start: loadEnd.Add(-d), End: loadEnd} }
	user := func(d time.Duration) query.Filter { f := last(d); f.Users = []string{"user-7"}; return f }
	team := func(d time.Duration) query.Filter { f := last(d); f.Teams = []string{"team-7"}; return f }
	meta := func(d time.Duration) query.Filter {
		f := last(d)
		f.Metadata = map[string]string{"app": "app-3"}
		return f
	}
	var oneID string
	if p, err := loaded.Requests(ctx, query.RequestsQuery{Filter: last(day), PageSize: 1}); err == nil && len(p.Events) == 1 {
		oneID = p.Events[0].GetEventId()
	}
	cases := []struct {
		name string
		run  func() error
	}{
		{"series/all/24h/hour", func() error {
			_, err := loaded.TimeSeries(ctx, query.SeriesQuery{Filter: last(day), Bucket: time.Hour})
			return err
		}},
		{"series/all/7d/day/by-model", func() error {
			_, err := loaded.TimeSeries(ctx, query.SeriesQuery{Filter: last(7 * day), Bucket: day, GroupBy: query.GroupBy{Dim: query.DimModel}})
			return err
		}},
		{"series/all/30d/day", func() error {
			_, err := loaded.TimeSeries(ctx, query.SeriesQuery{Filter: last(30 * day), Bucket: day})
			return err
		}},
		{"series/user/30d/hour", func() error {
			_, err := loaded.TimeSeries(ctx, query.SeriesQuery{Filter: user(30 * day), Bucket: time.Hour})
			return err
		}},
		{"series/team/7d/hour", func() error {
			_, err := loaded.TimeSeries(ctx, query.SeriesQuery{Filter: team(7 * day), Bucket: time.Hour})
			return err
		}},
		{"series/metadata/24h/minute", func() error {
			_, err := loaded.TimeSeries(ctx, query.SeriesQuery{Filter: meta(day), Bucket: time.Minute})
			return err
		}},
		{"breakdown/all/30d/by-user", func() error {
			_, err := loaded.Breakdown(ctx, query.BreakdownQuery{Filter: last(30 * day), GroupBy: query.GroupBy{Dim: query.DimUser}})
			return err
		}},
		{"breakdown/all/7d/by-team", func() error {
			_, err := loaded.Breakdown(ctx, query.BreakdownQuery{Filter: last(7 * day), GroupBy: query.GroupBy{Dim: query.DimTeam}})
			return err
		}},
		{"breakdown/all/7d/by-metadata", func() error {
			_, err := loaded.Breakdown(ctx, query.BreakdownQuery{Filter: last(7 * day), GroupBy: query.GroupBy{Dim: query.DimMetadata, MetadataKey: "env"}})
			return err
		}},
		{"latency/all/24h", func() error {
			_, err := loaded.Latency(ctx, last(day))
			return err
		}},
		{"latency/all/7d", func() error {
			_, err := loaded.Latency(ctx, last(7*day))
			return err
		}},
		{"requests/all/30d/page50", func() error {
			_, err := loaded.Requests(ctx, query.RequestsQuery{Filter: last(30 * day), PageSize: 50})
			return err
		}},
		{"requests/user/30d/page50", func() error {
			_, err := loaded.Requests(ctx, query.RequestsQuery{Filter: user(30 * day), PageSize: 50})
			return err
		}},
		{"requests/failures/30d/page50", func() error {
			_, err := loaded.Requests(ctx, query.RequestsQuery{Filter: last(30 * day), FailuresOnly: true, PageSize: 50})
			return err
		}},
		{"request/by-id", func() error {
			_, err := loaded.Request(ctx, oneID, query.Filter{})
			return err
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cpu := cpuTime()
			for range b.N {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
			// The process's CPU time per query, which a busy machine does not inflate as it
			// does the wall time.
			b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkWriteBusy measures the writer as a busy gateway drives it: events a millisecond
// apart, each of one of a few users with no teams or metadata (the shape of loadbench's
// governed target), written in batches of a second's worth at 1,000 requests/s.
func BenchmarkWriteBusy(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), FileName), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	batch := make([]*usagev1.UsageEvent, 0, DefaultMaxBatch)
	b.ResetTimer()
	cpu := cpuTime()
	for i := range b.N {
		at := start.Add(time.Duration(i) * time.Millisecond)
		e := &usagev1.UsageEvent{
			EventId: fmt.Sprintf("%016x", at.UnixNano()), Time: timestamppb.New(at), Status: "ok", Model: "bench-priced/echo",
			User: "user-" + strconv.Itoa(i%4), Principal: "user:bench-user", Tokens: &usagev1.Tokens{Prompt: 9, Completion: 12},
			Priced: true, CostUsd: 0.00001, Surface: "openai", Operation: "chat", HttpStatus: 200, LatencyUs: 300,
			Target:   &usagev1.Target{Model: "bench-priced/echo", Account: "bench-priced", Provider: "openai"},
			Attempts: []*usagev1.Attempt{{Target: "bench-priced/echo", Status: "ok", HttpStatus: 200, LatencyUs: 280}},
			Counted:  []string{"rl-user", "rl-tokens", "rl-day", "budget-cost", "budget-tokens"},
		}
		batch = append(batch, e)
		if len(batch) == cap(batch) || i == b.N-1 {
			if err := s.Write(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e3, "cpu-µs/event")
}
