package app

import (
	"flag"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEveryFlagHasAnEnvironmentVariable: `llmgw help` says each flag has an LLMGW_*
// equivalent; every flag's usage names one, and flags reads it.
func TestEveryFlagHasAnEnvironmentVariable(t *testing.T) {
	read := map[string]bool{}
	fs, _, err := flags("serve", func(k string) string { read[k] = true; return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`\((LLMGW_[A-Z_]+)\)$`)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		m := named.FindStringSubmatch(f.Usage)
		switch {
		case m == nil:
			t.Errorf("--%s: usage %q names no LLMGW_ variable", f.Name, f.Usage)
		case !read[m[1]]:
			t.Errorf("--%s: usage names %s, which is never read", f.Name, m[1])
		}
	})
	if n < 11 {
		t.Errorf("only %d flags visited", n)
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	tests := []struct {
		env, value string
		got        func(*Config) any
		want       any
	}{
		{"LLMGW_MAX_BODY", "1048576", func(c *Config) any { return c.MaxBody }, int64(1 << 20)},
		{"LLMGW_MAX_FILE", "5000", func(c *Config) any { return c.MaxFile }, int64(5000)},
		{"LLMGW_UPSTREAM_TIMEOUT", "90s", func(c *Config) any { return c.UpstreamTimeout }, 90 * time.Second},
		{"LLMGW_RELOAD_INTERVAL", "1m", func(c *Config) any { return c.ReloadInterval }, time.Minute},
		{"LLMGW_SECRET_REFRESH", "90s", func(c *Config) any { return c.SecretRefresh }, 90 * time.Second},
		{"LLMGW_REQUEST_LOG", "false", func(c *Config) any { return c.RequestLog }, false},
		{"LLMGW_REQUEST_LOG_MAX_RATE", "250", func(c *Config) any { return c.RequestLogMaxRate }, 250},
		{"LLMGW_PPROF", "true", func(c *Config) any { return c.Pprof }, true},
		{"LLMGW_LISTEN", "127.0.0.1:9", func(c *Config) any { return c.Listen }, "127.0.0.1:9"},
		{"LLMGW_USAGE_RETENTION_DAYS", "7", func(c *Config) any { return c.UsageRetentionDays }, 7},
		{"LLMGW_USAGE_RETENTION_DAYS", "0", func(c *Config) any { return c.UsageRetentionDays }, 0},
		{"LLMGW_METRICS_LISTEN", "127.0.0.1:9090", func(c *Config) any { return c.MetricsListen }, "127.0.0.1:9090"},
		{"LLMGW_METRICS_PUBLIC", "true", func(c *Config) any { return c.MetricsPublic }, true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			getenv := func(k string) string {
				if k == tt.env {
					return tt.value
				}
				return ""
			}
			cfg, err := parseFlags("serve", nil, getenv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(cfg); got != tt.want {
				t.Errorf("%s=%s: got %v, want %v", tt.env, tt.value, got, tt.want)
			}
		})
	}
	// A bad value is an error naming the variable, never silently the default.
	for env, bad := range map[string]string{
		"LLMGW_MAX_BODY": "32MiB", "LLMGW_MAX_FILE": "-1", "LLMGW_UPSTREAM_TIMEOUT": "10", "LLMGW_RELOAD_INTERVAL": "soon", "LLMGW_REQUEST_LOG": "yes please",
		"LLMGW_USAGE_RETENTION_DAYS": "-1",
	} {
		_, err := parseFlags("serve", nil, func(k string) string {
			if k == env {
				return bad
			}
			return ""
		}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%q: err %v, want one naming the variable", env, bad, err)
		}
	}
	// A flag still overrides its variable.
	cfg, err := parseFlags("serve", []string{"--max-body", "7"}, func(k string) string {
		if k == "LLMGW_MAX_BODY" {
			return "1000"
		}
		return ""
	}, io.Discard)
	if err != nil || cfg.MaxBody != 7 {
		t.Errorf("--max-body over LLMGW_MAX_BODY: %v %v", cfg, err)
	}
}
