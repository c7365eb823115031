package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go"
	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/protobuf/proto"

	"github.com/llmgw/llmgw/analytics/chtest"
	llmgwkafka "github.com/llmgw/llmgw/analytics/kafka"
	"github.com/llmgw/llmgw/analytics/usagetest"
)

// TestMigrateClickHouseAndConsume: `llmgw migrate --clickhouse` prepares ClickHouse with the
// retention asked for (and changes it when asked again), `llmgw consume` refuses an unmigrated
// database, then loads what the gateways wrote to Kafka and stops cleanly on SIGTERM.
func TestMigrateClickHouseAndConsume(t *testing.T) {
	ctx := context.Background()
	addr := chtest.Start(t)
	url := "clickhouse://" + addr + "/llmgw"
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "usage-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	env := map[string]string{
		"LLMGW_KAFKA_BROKERS":      strings.Join(kc.ListenAddrs(), ","),
		"LLMGW_KAFKA_TOPIC":        "usage-test",
		"LLMGW_KAFKA_GROUP":        "app-test",
		"LLMGW_CLICKHOUSE":         url,
		"LLMGW_CONSUME_BATCH_WAIT": "50ms",
	}
	getenv := func(k string) string { return env[k] }

	if err := Run(ctx, []string{"consume"}, getenv, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "llmgw migrate --clickhouse") {
		t.Fatalf("consume on an unmigrated ClickHouse: %v; want an error that says to run llmgw migrate --clickhouse", err)
	}

	var out bytes.Buffer
	if err := Run(ctx, []string{"migrate", "--clickhouse", url, "--clickhouse-retention-days", "30"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("llmgw migrate --clickhouse: %v", err)
	}
	if !strings.Contains(out.String(), "clickhouse is up to date") {
		t.Errorf("migrate said %q", out.String())
	}
	cl, err := ch.Dial(ctx, ch.Options{Address: addr, Database: "llmgw"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	engine := func(table string) string {
		var s chproto.ColStr
		if err := cl.Do(ctx, ch.Query{Body: "SELECT engine_full FROM system.tables WHERE database = 'llmgw' AND name = '" + table + "'",
			Result: chproto.Results{{Name: "engine_full", Data: &s}}}); err != nil {
			t.Fatal(err)
		}
		return s.Row(0)
	}
	if e := engine("usage_events"); !strings.Contains(e, "TTL toDateTime(time) + toIntervalDay(30)") {
		t.Errorf("usage_events after --clickhouse-retention-days 30: %s", e)
	}
	if e := engine("usage_bodies"); !strings.Contains(e, "toIntervalDay(7)") {
		t.Errorf("usage_bodies with the default body retention: %s", e)
	}
	// Again, with the retention from the environment: the TTLs change, nothing else.
	env["LLMGW_CLICKHOUSE_RETENTION_DAYS"], env["LLMGW_CLICKHOUSE_BODY_RETENTION_DAYS"] = "400", "2"
	out.Reset()
	if err := Run(ctx, []string{"migrate"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if !strings.Contains(out.String(), "0 migrations applied now") {
		t.Errorf("second migrate said %q", out.String())
	}
	if e := engine("usage_events"); !strings.Contains(e, "toIntervalDay(400)") {
		t.Errorf("usage_events after LLMGW_CLICKHOUSE_RETENTION_DAYS=400: %s", e)
	}
	if e := engine("usage_bodies"); !strings.Contains(e, "toIntervalDay(2)") {
		t.Errorf("usage_bodies after LLMGW_CLICKHOUSE_BODY_RETENTION_DAYS=2: %s", e)
	}

	// The gateways' events, as the producer writes them.
	const n = 120
	w := &kafka.Writer{Addr: kafka.TCP(kc.ListenAddrs()...), Topic: "usage-test", Balancer: &kafka.Hash{}, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for _, e := range usagetest.Events("app", 0, n, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		b, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(e.EventId), Value: b})
	}
	msgs = append(msgs, kafka.Message{Key: []byte("junk"), Value: []byte("not an event")})
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	cctx, stop := context.WithCancel(ctx)
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- Run(cctx, []string{"consume", "--log-format", "json"}, getenv, io.Discard, logs) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var c chproto.ColUInt64
		if err := cl.Do(ctx, ch.Query{Body: "SELECT count() AS n FROM usage_events FINAL", Result: chproto.Results{{Name: "n", Data: &c}}}); err != nil {
			t.Fatal(err)
		}
		if c.Row(0) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage_events has %d rows, want %d; consumer log:\n%s", c.Row(0), n, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop() // SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("consume after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("consume did not stop after SIGTERM")
	}
	for _, want := range []string{`"msg":"consuming usage events"`, `"msg":"malformed usage message skipped"`, `"msg":"consumer stopped"`, fmt.Sprintf(`"stored":%d`, n)} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("consumer log lacks %s:\n%s", want, logs.String())
		}
	}
}

// TestConsumeOverSASL: `llmgw consume` authenticates to a broker that requires SASL
// (SCRAM-SHA-512) with --kafka-sasl-mechanism, --kafka-username and LLMGW_KAFKA_PASSWORD, and
// loads what was written; a username without a mechanism is refused before it starts.
func TestConsumeOverSASL(t *testing.T) {
	ctx := context.Background()
	addr := chtest.Start(t)
	url := "clickhouse://" + addr + "/llmgw"
	if err := Run(ctx, []string{"migrate", "--clickhouse", url}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "usage-sasl"), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "llmgw", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	mech, err := llmgwkafka.Mechanism(llmgwkafka.Options{SASLMechanism: llmgwkafka.SASLScramSHA512, Username: "llmgw", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(kc.ListenAddrs()...), Topic: "usage-sasl", Transport: &kafka.Transport{SASL: mech}, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	const n = 10
	var msgs []kafka.Message
	for _, e := range usagetest.Events("sasl", 0, n, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		b, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(e.EventId), Value: b})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LLMGW_KAFKA_BROKERS": strings.Join(kc.ListenAddrs(), ","), "LLMGW_KAFKA_TOPIC": "usage-sasl", "LLMGW_CLICKHOUSE": url,
		"LLMGW_CONSUME_BATCH_WAIT": "50ms", "LLMGW_KAFKA_PASSWORD": "s3cret"}
	getenv := func(k string) string { return env[k] }
	if err := Run(ctx, []string{"consume", "--kafka-username", "llmgw"}, getenv, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "without a SASL mechanism") {
		t.Fatalf("consume with a username and no mechanism: %v", err)
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- Run(cctx, []string{"consume", "--kafka-sasl-mechanism", "scram-sha-512", "--kafka-username", "llmgw"}, getenv, io.Discard, logs)
	}()
	cl, err := ch.Dial(ctx, ch.Options{Address: addr, Database: "llmgw"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var c chproto.ColUInt64
		if err := cl.Do(ctx, ch.Query{Body: "SELECT count() AS n FROM usage_events FINAL", Result: chproto.Results{{Name: "n", Data: &c}}}); err != nil {
			t.Fatal(err)
		}
		if c.Row(0) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage_events has %d rows, want %d; consumer log:\n%s", c.Row(0), n, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("consume: %v", err)
	}
}
