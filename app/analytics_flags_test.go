package app

import (
	"flag"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestConsumeAndMigrateFlagsHaveEnvironmentVariables: like serve's, every flag consume and
// migrate --clickhouse add names its LLMGW_* variable and reads it.
func TestConsumeAndMigrateFlagsHaveEnvironmentVariables(t *testing.T) {
	named := regexp.MustCompile(`\((LLMGW_[A-Z_]+)\)$`)
	check := func(name string, fs *flag.FlagSet, read map[string]bool, atLeast int) {
		n := 0
		fs.VisitAll(func(f *flag.Flag) {
			n++
			m := named.FindStringSubmatch(f.Usage)
			switch {
			case m == nil:
				t.Errorf("%s --%s: usage %q names no LLMGW_ variable", name, f.Name, f.Usage)
			case !read[m[1]]:
				t.Errorf("%s --%s: usage names %s, which is never read", name, f.Name, m[1])
			}
		})
		if n < atLeast {
			t.Errorf("%s: only %d flags", name, n)
		}
	}
	read := map[string]bool{}
	fs, _, err := consumeFlags(func(k string) string { read[k] = true; return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	check("consume", fs, read, 8)

	read = map[string]bool{}
	fs = flag.NewFlagSet("migrate", flag.ContinueOnError)
	clickHouseMigrateFlags(fs, &envReader{getenv: func(k string) string { read[k] = true; return "" }})
	check("migrate", fs, read, 3)
}

func TestConsumeFlagsFromEnvironment(t *testing.T) {
	base := map[string]string{"LLMGW_KAFKA_BROKERS": "k1:9092,k2:9092", "LLMGW_CLICKHOUSE": "clickhouse://ch:9000/llmgw"}
	tests := []struct {
		env, value string
		got        func(*consumeConfig) any
		want       any
	}{
		{"LLMGW_KAFKA_TOPIC", "usage-eu", func(c *consumeConfig) any { return c.KafkaTopic }, "usage-eu"},
		{"LLMGW_KAFKA_GROUP", "loader", func(c *consumeConfig) any { return c.KafkaGroup }, "loader"},
		{"LLMGW_CONSUME_BATCH_SIZE", "500", func(c *consumeConfig) any { return c.BatchSize }, 500},
		{"LLMGW_CONSUME_BATCH_WAIT", "250ms", func(c *consumeConfig) any { return c.BatchWait }, 250 * time.Millisecond},
		{"LLMGW_LOG_FORMAT", "json", func(c *consumeConfig) any { return c.LogFormat }, "json"},
		{"LLMGW_KAFKA_BROKERS", "b:1", func(c *consumeConfig) any { return c.KafkaBrokers }, "b:1"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			c, err := parseConsumeFlags(nil, func(k string) string {
				if k == tt.env {
					return tt.value
				}
				return base[k]
			}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(c); got != tt.want {
				t.Errorf("%s=%s: got %v, want %v", tt.env, tt.value, got, tt.want)
			}
		})
	}
	// Defaults.
	c, err := parseConsumeFlags(nil, func(k string) string { return base[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.KafkaTopic != "llmgw.usage" || c.KafkaGroup != "llmgw-consumer" || c.BatchSize != 10000 || c.BatchWait != time.Second {
		t.Errorf("defaults: %+v", c)
	}
	// Bad values name their variable; the required ones are required.
	for env, bad := range map[string]string{"LLMGW_CONSUME_BATCH_SIZE": "0", "LLMGW_CONSUME_BATCH_WAIT": "soon", "LLMGW_KAFKA_BROKERS": "", "LLMGW_CLICKHOUSE": ""} {
		_, err := parseConsumeFlags(nil, func(k string) string {
			if k == env {
				return bad
			}
			return base[k]
		}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%q: err %v, want one naming the variable", env, bad, err)
		}
	}
	for env, bad := range map[string]string{"LLMGW_CLICKHOUSE_RETENTION_DAYS": "-1", "LLMGW_CLICKHOUSE_BODY_RETENTION_DAYS": "a week"} {
		err := Run(t.Context(), []string{"migrate", "--clickhouse", "clickhouse://127.0.0.1:1/x"}, func(k string) string {
			if k == env {
				return bad
			}
			return ""
		}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%q: err %v, want one naming the variable", env, bad, err)
		}
	}
}
