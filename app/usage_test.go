package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/llmgw/llmgw/analytics/kafka"
	"github.com/llmgw/llmgw/gateway/usage"
)

// TestUsageFlags: each usage flag reads its variable, and reaches the producer's options.
func TestUsageFlags(t *testing.T) {
	env := map[string]string{
		"LLMGW_REPLICA": "gw-3", "LLMGW_REGION": "eu-west-1", "LLMGW_KAFKA_BROKERS": " k1:9092, k2:9093 ,", "LLMGW_KAFKA_TOPIC": "usage.v1",
		"LLMGW_KAFKA_SASL_MECHANISM": "scram-sha-512", "LLMGW_KAFKA_USERNAME": "llmgw", "LLMGW_KAFKA_PASSWORD": "pw", "LLMGW_KAFKA_TLS": "true",
		"LLMGW_SPOOL_MAX_BYTES": "1048576",
	}
	cfg, err := parseFlags("serve", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := UsageConfig{Replica: "gw-3", Region: "eu-west-1", Brokers: " k1:9092, k2:9093 ,", Topic: "usage.v1", SASLMechanism: "scram-sha-512", Username: "llmgw", TLS: true, SpoolMaxBytes: 1 << 20}
	if d := cmp.Diff(want, cfg.Usage); d != "" {
		t.Errorf("from the environment (-want +got):\n%s", d)
	}
	o := kafkaOptions(&cfg.Usage, func(k string) string { return env[k] })
	wantOpts := kafka.Options{Brokers: []string{"k1:9092", "k2:9093"}, Topic: "usage.v1", SASLMechanism: "scram-sha-512", Username: "llmgw", Password: "pw"}
	if d := cmp.Diff(wantOpts, o, cmpopts.IgnoreFields(kafka.Options{}, "TLS")); d != "" || o.TLS == nil {
		t.Errorf("producer options (-want +got):\n%s\nTLS %v", d, o.TLS)
	}

	// The defaults: the host name, the default topic, a 1 GiB spool, no TLS; and flags over
	// variables.
	cfg, err = parseFlags("serve", []string{"--kafka-topic", "t2", "--kafka-tls=false", "--spool-max-bytes", "4096"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.Usage.Topic != "t2" || cfg.Usage.TLS || cfg.Usage.SpoolMaxBytes != 4096 {
		t.Errorf("flags over variables: %+v %v", cfg.Usage, err)
	}
	if o := kafkaOptions(&cfg.Usage, func(string) string { return "" }); o.TLS != nil {
		t.Error("TLS without --kafka-tls")
	}
	cfg, err = parseFlags("serve", nil, func(string) string { return "" }, io.Discard)
	host, _ := os.Hostname()
	if err != nil || cfg.Usage.Replica != host || cfg.Usage.Topic != kafka.DefaultTopic || cfg.Usage.SpoolMaxBytes != 1<<30 || cfg.Usage.Brokers != "" {
		t.Errorf("defaults: %+v %v", cfg.Usage, err)
	}
	if _, err := parseFlags("serve", nil, func(k string) string {
		if k == "LLMGW_SPOOL_MAX_BYTES" {
			return "1GiB"
		}
		return ""
	}, io.Discard); err == nil {
		t.Error("LLMGW_SPOOL_MAX_BYTES=1GiB accepted")
	}
}

// TestNoBrokersKeepsTheRequestLog: without --kafka-brokers the queue delivers to the embedded
// usage store and the request log, and no spool is made.
func TestNoBrokersKeepsTheRequestLog(t *testing.T) {
	dir := t.TempDir()
	cfg, err := parseFlags("serve", []string{"--data-dir", dir}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &events{}
	s, err := newUsageSink(context.Background(), cfg, func(string) string { return "" }, nil, logs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close(context.Background())
	if tee, ok := s.sink.(usage.Tee); s.producer != nil || s.store == nil || s.api == nil || !ok || len(tee) != 2 || tee[1] != logs {
		t.Errorf("sink %T, producer %v; want the embedded store and the request log", s.sink, s.producer)
	}
	if _, err := os.Stat(dir + "/usage.db"); err != nil {
		t.Errorf("no embedded usage store: %v", err)
	}
	if _, err := os.Stat(dir + "/spool"); !os.IsNotExist(err) {
		t.Errorf("a spool without Kafka: %v", err)
	}
}

// TestSpoolMaxBytesCapsTheSpool: with Kafka unreachable, the spool under the data dir keeps
// events up to --spool-max-bytes and counts the rest as dropped.
func TestSpoolMaxBytesCapsTheSpool(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	broker := ln.Addr().String()
	ln.Close() // nothing listens there: every write is refused
	getenv := func(k string) string {
		if k == "LLMGW_KAFKA_BROKERS" {
			return broker
		}
		return ""
	}
	cfg, err := parseFlags("serve", []string{"--data-dir", dir, "--spool-max-bytes", "4096"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newUsageSink(context.Background(), cfg, getenv, nil, discard{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if s.store != nil || s.api != nil {
		t.Error("an embedded usage store with Kafka")
	}
	if err != nil {
		t.Fatal(err)
	}
	es := make([]usage.Event, 40)
	for i := range es {
		es[i] = usage.Event{RequestID: fmt.Sprintf("01938f7e-5c2a-7b3e-9f1d-%012d", i), Model: "acct/gpt-4o-mini", Status: "ok", Metadata: map[string]string{"pad": strings.Repeat("x", 100)}}
	}
	s.sink.(usage.BatchSink).RecordBatch(context.Background(), es)
	p := s.producer
	if p.Dropped() == 0 || p.Spooled() == 0 || p.Spooled()+int64(p.Dropped()) != 40 || p.SpoolBytes() > 4096 {
		t.Errorf("spooled %d (%d bytes) dropped %d; want a 4096-byte spool and the rest dropped", p.Spooled(), p.SpoolBytes(), p.Dropped())
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "spool", "*.seg")); len(segs) == 0 {
		t.Error("no spool segment under <data-dir>/spool")
	}
	s.grace = 0 // no replay at close: Kafka is down
	if err := s.close(context.Background()); err != nil {
		t.Error(err)
	}
}
