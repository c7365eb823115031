package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const baseline = `goos: linux
goarch: amd64
pkg: github.com/llmgw/llmgw/gateway/openaiapi
BenchmarkChatCompletion-2   	    2000	     60000 ns/op	   11000 B/op	     160 allocs/op
BenchmarkChatCompletion-2   	    2000	     61000 ns/op	   11000 B/op	     161 allocs/op
BenchmarkChatCompletion-2   	    2000	     59000 ns/op	   11000 B/op	     160 allocs/op
pkg: github.com/llmgw/llmgw/gateway/quota
BenchmarkGuard-2            	    2000	      900 ns/op	       0 B/op	       0 allocs/op
`

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bench.txt")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAllocGuard(t *testing.T) {
	base := write(t, baseline)
	tests := []struct {
		name, now string
		fail      string // a substring of the error; empty: passes
	}{
		{"same", baseline, ""},
		{"another core count", strings.ReplaceAll(baseline, "-2 ", "-8 "), ""},
		{"noise within the threshold", strings.ReplaceAll(baseline, "160 allocs/op", "170 allocs/op"), ""},
		{"zero to one is slack", strings.Replace(baseline, " 0 allocs/op", " 1 allocs/op", 1), ""},
		{"regression", strings.NewReplacer("160 allocs/op", "190 allocs/op", "161 allocs/op", "190 allocs/op").Replace(baseline), "ChatCompletion: 190 allocs/op, baseline 160"},
		{"zero to two", strings.Replace(baseline, " 0 allocs/op", " 2 allocs/op", 1), "Guard: 2 allocs/op"},
		{"a benchmark gone", baseline[:strings.Index(baseline, "pkg: github.com/llmgw/llmgw/gateway/quota")], "Guard did not run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := run([]string{"-baseline", base, write(t, tt.now)}, &out)
			switch {
			case tt.fail == "" && err != nil:
				t.Fatalf("failed: %v\n%s", err, out.String())
			case tt.fail != "" && (err == nil || !strings.Contains(err.Error(), tt.fail)):
				t.Fatalf("error %v, want one naming %q\n%s", err, tt.fail, out.String())
			}
			if !strings.Contains(out.String(), "gateway/openaiapi.ChatCompletion") {
				t.Errorf("table does not name the benchmark:\n%s", out.String())
			}
		})
	}
}
