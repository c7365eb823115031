package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"
	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/protobuf/proto"

	"github.com/llmgw/llmgw/analytics/chtest"
	"github.com/llmgw/llmgw/analytics/clickhouse"
	"github.com/llmgw/llmgw/analytics/usagetest"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

func TestMain(m *testing.M) { chtest.Main(m) }

const topic = "llmgw.usage"

// pipeline is a Kafka broker (kfake, on TCP), a ClickHouse server (chtest) with the schema
// migrated, and a producer writing events the way the gateway does (key = event id).
type pipeline struct {
	t       *testing.T
	brokers []string
	ch      *chtest.Server
	cfg     clickhouse.Config
	w       *kafka.Writer
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	p := &pipeline{t: t, brokers: kc.ListenAddrs(), ch: chtest.StartServer(t, chtest.Options{})}
	if p.cfg, err = clickhouse.ParseURL("clickhouse://" + p.ch.Addr + "/llmgw"); err != nil {
		t.Fatal(err)
	}
	if _, err := clickhouse.Migrate(context.Background(), p.cfg, clickhouse.Retention{Days: 30, BodyDays: 7}); err != nil {
		t.Fatal(err)
	}
	p.w = &kafka.Writer{Addr: kafka.TCP(p.brokers...), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll}
	t.Cleanup(func() { p.w.Close() })
	return p
}

func (p *pipeline) produce(events []*usagev1.UsageEvent) {
	p.t.Helper()
	msgs := make([]kafka.Message, len(events))
	for i, e := range events {
		b, err := proto.Marshal(e)
		if err != nil {
			p.t.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: []byte(e.EventId), Value: b}
	}
	if err := p.w.WriteMessages(context.Background(), msgs...); err != nil {
		p.t.Fatal(err)
	}
}

// consumer starts a consumer-group member on the pipeline; wrap, when set, wraps its reader.
// It returns the consumer and a stop function that cancels it and closes its reader.
func (p *pipeline) consumer(o Options, wrap func(Reader, context.CancelFunc) Reader) (*Consumer, func()) {
	p.t.Helper()
	r, err := NewReader(p.brokers, topic, "llmgw-consumer", nil, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	w := clickhouse.NewWriter(p.cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var rd Reader = r
	if wrap != nil {
		rd = wrap(r, cancel)
	}
	if o.Logger == nil && testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	c := New(rd, w, o)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				p.t.Errorf("consumer: %v", err)
			}
			r.Close()
			w.Close()
		})
	}
	p.t.Cleanup(stop)
	return c, stop
}

func (p *pipeline) count(q string) uint64 {
	p.t.Helper()
	cl, err := ch.Dial(context.Background(), ch.Options{Address: p.ch.Addr, Database: "llmgw"})
	if err != nil {
		p.t.Fatal(err)
	}
	defer cl.Close()
	var n chproto.ColUInt64
	if err := cl.Do(context.Background(), ch.Query{Body: q, Result: chproto.Results{{Name: "n", Data: &n}}}); err != nil {
		p.t.Fatalf("%s: %v", q, err)
	}
	return n.Row(0)
}

// waitRows waits until usage_events FINAL and the usage_minute rollup both count n events.
// (An insert's rows show in the raw table a moment before its materialized views have them.)
func (p *pipeline) waitRows(n uint64) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		raw := p.count("SELECT count() AS n FROM usage_events FINAL")
		rolled := p.count("SELECT toUInt64(sum(requests)) AS n FROM usage_minute")
		if raw == n && rolled == n {
			return
		}
		if raw > n || rolled > n || time.Now().After(deadline) {
			p.t.Fatalf("usage_events has %d rows and usage_minute counts %d requests, want %d", raw, rolled, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noDuplicates checks that n events are stored once each: in the raw table with and without
// FINAL, and in the rollups.
func (p *pipeline) noDuplicates(n uint64) {
	p.t.Helper()
	for _, q := range []string{
		"SELECT count() AS n FROM usage_events FINAL",
		"SELECT count() AS n FROM usage_events",
		"SELECT uniqExact(event_id) AS n FROM usage_events",
		"SELECT toUInt64(sum(requests)) AS n FROM usage_minute",
	} {
		if got := p.count(q); got != n {
			p.t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
}

// TestEndToEndEveryMessageOneRow (a): N messages through Kafka give exactly N rows, with the
// fields as sent.
func TestEndToEndEveryMessageOneRow(t *testing.T) {
	p := newPipeline(t)
	const n = 500
	events := usagetest.Events("e2e", 0, n, base)
	p.produce(events)
	c, _ := p.consumer(Options{BatchSize: 64, BatchWait: 50 * time.Millisecond}, nil)
	p.waitRows(n)
	p.noDuplicates(n)
	// The consumer counts a write once its answer is in, a moment after the rows show.
	waitFor(t, "the consumer to count every event stored", func() bool { return c.Stats().Stored == n })
	if st := c.Stats(); st.Messages != n || st.Malformed != 0 {
		t.Errorf("stats %+v", st)
	}
	// A few events, field by field, as the Usage API would read them.
	cl, err := ch.Dial(context.Background(), ch.Options{Address: p.ch.Addr, Database: "llmgw"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, i := range []int{0, 5, 7, 13, 17} {
		e := events[i]
		var (
			id, model, user, va, target, status, project chproto.ColStr
			tm                                           = new(chproto.ColDateTime64).WithPrecision(chproto.PrecisionMicro)
			prompt, completion, cacheRead, latency, ttft chproto.ColInt64
			cost                                         chproto.ColFloat64
			stream, priced                               chproto.ColBool
			httpStatus                                   chproto.ColInt32
			teams, attemptStatus, counted                = chproto.NewArray[string](new(chproto.ColStr)), chproto.NewArray[string](new(chproto.ColStr)), chproto.NewArray[string](new(chproto.ColStr))
		)
		if err := cl.Do(context.Background(), ch.Query{
			Body: fmt.Sprintf(`SELECT event_id, time, CAST(model, 'String') AS model, user, CAST(virtual_account, 'String') AS va,
				CAST(target_model, 'String') AS target, CAST(status, 'String') AS status, metadata['project'] AS project,
				prompt_tokens, completion_tokens, cache_read_tokens, latency_us, ttft_us, cost_usd, stream, priced, http_status,
				CAST(teams, 'Array(String)') AS teams, CAST(attempts.status, 'Array(String)') AS attempt_status, counted
				FROM usage_events FINAL WHERE event_id = '%s'`, e.EventId),
			Result: chproto.Results{
				{Name: "event_id", Data: &id}, {Name: "time", Data: tm}, {Name: "model", Data: &model}, {Name: "user", Data: &user},
				{Name: "va", Data: &va}, {Name: "target", Data: &target}, {Name: "status", Data: &status}, {Name: "project", Data: &project},
				{Name: "prompt_tokens", Data: &prompt}, {Name: "completion_tokens", Data: &completion}, {Name: "cache_read_tokens", Data: &cacheRead},
				{Name: "latency_us", Data: &latency}, {Name: "ttft_us", Data: &ttft}, {Name: "cost_usd", Data: &cost},
				{Name: "stream", Data: &stream}, {Name: "priced", Data: &priced}, {Name: "http_status", Data: &httpStatus},
				{Name: "teams", Data: teams}, {Name: "attempt_status", Data: attemptStatus}, {Name: "counted", Data: counted},
			},
		}); err != nil {
			t.Fatal(err)
		}
		if id.Rows() != 1 {
			t.Fatalf("%s: %d rows", e.EventId, id.Rows())
		}
		var wantAttempts []string
		for _, a := range e.Attempts {
			wantAttempts = append(wantAttempts, a.Status)
		}
		for _, c := range []struct {
			field     string
			got, want any
		}{
			{"time", tm.Row(0).UnixMicro(), e.Time.AsTime().UnixMicro()},
			{"model", model.Row(0), e.Model},
			{"user", user.Row(0), e.User},
			{"virtual_account", va.Row(0), e.VirtualAccount},
			{"target.model", target.Row(0), e.Target.GetModel()},
			{"status", status.Row(0), e.Status},
			{"metadata[project]", project.Row(0), e.Metadata["project"]},
			{"tokens.prompt", prompt.Row(0), e.Tokens.GetPrompt()},
			{"tokens.completion", completion.Row(0), e.Tokens.GetCompletion()},
			{"tokens.cache_read", cacheRead.Row(0), e.Tokens.GetCacheRead()},
			{"latency_us", latency.Row(0), e.LatencyUs},
			{"ttft_us", ttft.Row(0), e.TtftUs},
			{"cost_usd", cost.Row(0), e.CostUsd},
			{"stream", stream.Row(0), e.Stream},
			{"priced", priced.Row(0), e.Priced},
			{"http_status", httpStatus.Row(0), e.HttpStatus},
			{"teams", fmt.Sprint(teams.Row(0)), fmt.Sprint(e.Teams)},
			{"attempts.status", fmt.Sprint(attemptStatus.Row(0)), fmt.Sprint(wantAttempts)},
			{"counted", fmt.Sprint(counted.Row(0)), fmt.Sprint(e.Counted)},
		} {
			if c.got != c.want {
				t.Errorf("%s %s: got %v, want %v", e.EventId, c.field, c.got, c.want)
			}
		}
	}
	if got, want := p.count("SELECT count() AS n FROM usage_bodies FINAL"), countBodies(events); got != uint64(want) {
		t.Errorf("usage_bodies: %d rows, want %d", got, want)
	}
}

func countBodies(es []*usagev1.UsageEvent) int {
	n := 0
	for _, e := range es {
		if e.Bodies != nil {
			n++
		}
	}
	return n
}

// TestEndToEndClickHouseOutage (b): ClickHouse stops while events keep coming; the consumer
// commits nothing while it is down, and once a new server is up on the same data and port it
// resumes with no loss and no visible duplicate.
func TestEndToEndClickHouseOutage(t *testing.T) {
	p := newPipeline(t)
	c, _ := p.consumer(Options{BatchSize: 50, BatchWait: 20 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, nil)
	p.produce(usagetest.Events("out", 0, 200, base))
	p.waitRows(200)

	if err := p.ch.Stop(); err != nil {
		t.Fatal(err)
	}
	p.produce(usagetest.Events("out", 200, 400, base))
	waitFor(t, "a failed write", func() bool { return c.Stats().WriteFailures > 0 })
	down := c.Stats()
	waitFor(t, "four more failed writes", func() bool { return c.Stats().WriteFailures >= down.WriteFailures+4 })
	if st := c.Stats(); st.Commits != down.Commits || st.Stored != down.Stored {
		t.Fatalf("while ClickHouse was down: commits %d -> %d, stored %d -> %d", down.Commits, st.Commits, down.Stored, st.Stored)
	}

	p.ch = chtest.StartServer(t, chtest.Options{Dir: p.ch.Dir, Port: p.ch.Port})
	p.produce(usagetest.Events("out", 400, 500, base))
	p.waitRows(500)
	p.noDuplicates(500)
	if st := c.Stats(); st.Commits <= down.Commits {
		t.Errorf("no commit after ClickHouse came back: %+v", st)
	}
}

// killAfterWrite is a reader whose first commit never happens: the process "dies" after the
// batch was written and before its offsets were committed.
type killAfterWrite struct {
	Reader
	kill   context.CancelFunc
	killed chan struct{}
	once   sync.Once
}

func (k *killAfterWrite) CommitMessages(ctx context.Context, msgs ...kafka.Message) error {
	died := false
	k.once.Do(func() { died = true; k.kill(); close(k.killed) })
	if died || ctxDone(k.killed) {
		return fmt.Errorf("killed before commit")
	}
	return k.Reader.CommitMessages(ctx, msgs...)
}

func ctxDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestEndToEndKilledMidBatch (c, d): a consumer killed between its insert and its commit; the
// restarted one reads the batch again, and neither the raw table nor the rollups count it twice.
func TestEndToEndKilledMidBatch(t *testing.T) {
	p := newPipeline(t)
	const n = 300
	p.produce(usagetest.Events("kill", 0, n, base))
	killed := make(chan struct{})
	c1, stop1 := p.consumer(Options{BatchSize: 100, BatchWait: time.Second}, func(r Reader, cancel context.CancelFunc) Reader {
		return &killAfterWrite{Reader: r, kill: cancel, killed: killed}
	})
	<-killed
	stop1()
	first := c1.Stats().Stored
	if first == 0 || c1.Stats().Commits != 0 {
		t.Fatalf("first consumer: %+v, want a stored batch and no commit", c1.Stats())
	}
	if got := p.count("SELECT count() AS n FROM usage_events"); got != first {
		t.Fatalf("after the kill: %d rows, want the %d written", got, first)
	}

	c2, _ := p.consumer(Options{BatchSize: 100, BatchWait: 50 * time.Millisecond}, nil)
	p.waitRows(n)
	p.noDuplicates(n)
	waitFor(t, "the second consumer to count its writes", func() bool { return c2.Stats().Stored >= n-first })
	st := c2.Stats()
	if st.Messages != n || st.Stored != n-first {
		t.Errorf("second consumer %+v: want all %d messages read again and only the %d unwritten stored", st, n, n-first)
	}
	// (d) every rollup agrees with the raw table.
	for _, q := range []struct{ rollup, raw string }{
		{"SELECT toUInt64(sum(prompt_tokens)) AS n FROM usage_minute", "SELECT toUInt64(sum(prompt_tokens)) AS n FROM usage_events FINAL"},
		{"SELECT toUInt64(sum(failures)) AS n FROM usage_minute", "SELECT countIf(status != 'ok') AS n FROM usage_events FINAL"},
		{"SELECT toUInt64(sum(requests)) AS n FROM usage_minute_team", "SELECT toUInt64(sum(length(teams))) AS n FROM usage_events FINAL"},
		{"SELECT toUInt64(sum(completion_tokens)) AS n FROM usage_minute_metadata WHERE key = 'project'", "SELECT toUInt64(sumIf(completion_tokens, mapContains(metadata, 'project'))) AS n FROM usage_events FINAL"},
	} {
		if a, b := p.count(q.rollup), p.count(q.raw); a != b || a == 0 {
			t.Errorf("%s = %d; %s = %d", q.rollup, a, q.raw, b)
		}
	}
}

// TestEndToEndTwoConsumersShareTheTopic: two consumers in one group split the partitions
// between them (rebalancing as the second joins) and together store every event, with no
// visible duplicate in the raw table. (The rollups are not checked here: two members that
// insert the same uncommitted messages at the same moment, which a rebalance allows, count
// them twice there; see the package documentation.)
func TestEndToEndTwoConsumersShareTheTopic(t *testing.T) {
	p := newPipeline(t)
	o := Options{BatchSize: 50, BatchWait: 20 * time.Millisecond}
	c1, _ := p.consumer(o, nil)
	c2, _ := p.consumer(o, nil)
	// Waves of events until both members have stored some (the second may join after the
	// first has taken every partition; the group then rebalances).
	n := 0
	for wave := 0; n < 300 || c1.Stats().Stored == 0 || c2.Stats().Stored == 0; wave++ {
		if wave == 100 {
			t.Fatalf("after %d events one consumer still did all the work: %+v, %+v", n, c1.Stats(), c2.Stats())
		}
		p.produce(usagetest.Events("two", n, n+60, base))
		n += 60
		p.waitRaw(uint64(n))
	}
	for _, q := range []string{
		"SELECT count() AS n FROM usage_events FINAL",
		"SELECT uniqExact(event_id) AS n FROM usage_events",
	} {
		if got := p.count(q); got != uint64(n) {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
	waitFor(t, "both consumers to count their writes", func() bool { return c1.Stats().Stored+c2.Stats().Stored >= uint64(n) })
}

// waitRaw waits until usage_events FINAL has n rows.
func (p *pipeline) waitRaw(n uint64) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := p.count("SELECT count() AS n FROM usage_events FINAL")
		if got == n {
			return
		}
		if got > n || time.Now().After(deadline) {
			p.t.Fatalf("usage_events has %d rows, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
