package main

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseTargets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "direct,proxy,llmgw", want: []string{"direct", "proxy", "llmgw"}},
		{in: "llmgw-governed,proxy,direct,llmgw", want: []string{"direct", "proxy", "llmgw", "llmgw-governed"}},
		{in: "llmgw-full,llmgw", want: []string{"llmgw", "llmgw-full"}},
		{in: "llmgw-replica,proxy", want: []string{"proxy", "llmgw-replica"}},
		{in: "llmgw,direct", want: []string{"direct", "llmgw"}},
		{in: " proxy , direct ", want: []string{"direct", "proxy"}},
		{in: "proxy,proxy,", want: []string{"proxy"}},
		{in: "", wantErr: true},
		{in: ",", wantErr: true},
		{in: "direct,nginx", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseTargets(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseTargets(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseTargets(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseBenchFlags(t *testing.T) {
	t.Parallel()
	defaults := benchConfig{
		rates: []int{1000}, duration: 10 * time.Second, warmup: 2 * time.Second,
		targets: []string{"direct", "proxy", "llmgw", "llmgw-governed", "llmgw-full", "llmgw-replica"}, repo: ".", genCPU: 0, targetCPU: 1,
		ready: 30 * time.Second, rounds: 1,
	}
	tests := []struct {
		name    string
		args    []string
		want    benchConfig
		wantErr bool
	}{
		{name: "defaults", args: nil, want: defaults},
		{
			name: "short development run",
			args: []string{"-rate", "500", "-duration", "5s", "-warmup", "0s", "-targets", "direct,proxy", "-keep"},
			want: func() benchConfig {
				c := defaults
				c.rates, c.duration, c.warmup, c.targets, c.keep = []int{500}, 5*time.Second, 0, []string{"direct", "proxy"}, true
				return c
			}(),
		},
		{
			name: "extra gateway flags",
			args: []string{"-llmgw-flags", " --request-log=false  --log-level=warn "},
			want: func() benchConfig {
				c := defaults
				c.gatewayFlags = []string{"--request-log=false", "--log-level=warn"}
				return c
			}(),
		},
		{
			name: "closed loop",
			args: []string{"-workers", "32"},
			want: func() benchConfig {
				c := defaults
				c.workers = 32
				return c
			}(),
		},
		{
			name: "rate sweep, ascending without duplicates",
			args: []string{"-rates", "5000, 250,1000,2000,1000,"},
			want: func() benchConfig {
				c := defaults
				c.rates = []int{250, 1000, 2000, 5000}
				return c
			}(),
		},
		{
			name: "streams and saturation",
			args: []string{"-stream", "-saturate", "-rate", "500"},
			want: func() benchConfig {
				c := defaults
				c.rates, c.stream, c.saturate = []int{500}, true, true
				return c
			}(),
		},
		{
			name: "rounds",
			args: []string{"-rounds", "3", "-workers", "32"},
			want: func() benchConfig {
				c := defaults
				c.rounds, c.workers = 3, 32
				return c
			}(),
		},
		{name: "zero rounds", args: []string{"-rounds", "0"}, wantErr: true},
		{name: "rounds of a saturation search", args: []string{"-rounds", "2", "-saturate"}, wantErr: true},
		{name: "rate and rates", args: []string{"-rate", "500", "-rates", "250,1000"}, wantErr: true},
		{name: "rates with a zero", args: []string{"-rates", "250,0"}, wantErr: true},
		{name: "rates not numbers", args: []string{"-rates", "250,fast"}, wantErr: true},
		{name: "rates empty", args: []string{"-rates", ","}, wantErr: true},
		{name: "closed loop with rates", args: []string{"-workers", "8", "-rates", "250,1000"}, wantErr: true},
		{name: "closed loop saturation", args: []string{"-workers", "8", "-saturate"}, wantErr: true},
		{name: "negative workers", args: []string{"-workers", "-1"}, wantErr: true},
		{name: "zero rate", args: []string{"-rate", "0"}, wantErr: true},
		{name: "zero duration", args: []string{"-duration", "0s"}, wantErr: true},
		{name: "bad target", args: []string{"-targets", "envoy"}, wantErr: true},
		{name: "stray argument", args: []string{"extra"}, wantErr: true},
		{name: "unknown flag", args: []string{"-qps", "5"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseBenchFlags(tt.args, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseBenchFlags() error = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(benchConfig{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseBenchFlags() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadArgs: the open loop holds vegeta to a fixed rate; the closed loop gives it rate 0
// (as fast as answered) and exactly the workers asked for, never more.
func TestLoadArgs(t *testing.T) {
	t.Parallel()
	if got, want := (benchConfig{}).loadArgs(1000), []string{"-rate", "1000/1s"}; !cmp.Equal(got, want) {
		t.Errorf("open loop: %q, want %q", got, want)
	}
	if got, want := (benchConfig{workers: 16}).loadArgs(0), []string{"-rate", "0", "-workers", "16", "-max-workers", "16"}; !cmp.Equal(got, want) {
		t.Errorf("closed loop: %q, want %q", got, want)
	}
}

func TestRunUnknownSubcommand(t *testing.T) {
	t.Parallel()
	err := run(t.Context(), []string{"nginx"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `unknown subcommand "nginx"`) {
		t.Errorf("run(nginx) error = %v, want unknown subcommand", err)
	}
}

func TestRequestBody(t *testing.T) {
	t.Parallel()
	for _, model := range []string{upstreamModel, gatewayModel} {
		for _, stream := range []bool{false, true} {
			var req struct {
				Model    string `json:"model"`
				Messages []struct {
					Role    string `json:"role"`
					Content string `json:"content"`
				} `json:"messages"`
				streamFlags
			}
			if err := json.Unmarshal([]byte(requestBody(model, stream)), &req); err != nil {
				t.Fatalf("requestBody(%q, %v) is not JSON: %v", model, stream, err)
			}
			if req.Model != model || len(req.Messages) != 1 || req.Messages[0].Role != "user" || req.Messages[0].Content != "Say hello" {
				t.Errorf("requestBody(%q, %v) = %+v", model, stream, req)
			}
			// A streamed request asks for the usage chunk; a plain one asks for no stream.
			usage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
			if req.Stream != stream || usage != stream {
				t.Errorf("requestBody(%q, %v): stream %v, include_usage %v", model, stream, req.Stream, usage)
			}
		}
	}
}

func TestLoadShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    benchConfig
		rate int
		want string
		all  string
	}{
		{name: "open loop", c: benchConfig{rates: []int{1000}}, rate: 1000,
			want: "open loop, 1000 req/s, requests", all: "open loop at 1000 req/s, requests"},
		{name: "sweep of streams", c: benchConfig{rates: []int{250, 1000}, stream: true}, rate: 250,
			want: "open loop, 250 req/s, streamed requests", all: "open loop at 250, 1000 req/s, streamed requests"},
		{name: "closed loop", c: benchConfig{rates: []int{1000}, workers: 8},
			want: "closed loop, 8 workers, requests", all: "closed loop, 8 workers, requests"},
		{name: "saturation", c: benchConfig{rates: []int{500}, saturate: true}, rate: 500,
			want: "open loop, 500 req/s, requests", all: "open-loop saturation search from 500 req/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.c.loadShape(tt.rate); got != tt.want {
				t.Errorf("loadShape(%d) = %q, want %q", tt.rate, got, tt.want)
			}
			if got := tt.c.ratesShape(); got != tt.all {
				t.Errorf("ratesShape() = %q, want %q", got, tt.all)
			}
		})
	}
}

func TestGatewayConfig(t *testing.T) {
	t.Parallel()
	want := `- name: bench
  type: provider-account/self-hosted-model
  integrations:
    - name: echo
      type: integration/model/self-hosted-model
      hosted_model_name: bench-model
      url: "http://127.0.0.1:9/v1"
      model_server: "openai-compatible"
      model_types: ["chat"]
`
	if diff := cmp.Diff(want, gatewayConfig("http://127.0.0.1:9")); diff != "" {
		t.Errorf("gatewayConfig() mismatch (-want +got):\n%s", diff)
	}
}

func TestPinnerWrap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    pinner
		want []string
	}{
		{name: "pinned", p: pinner{taskset: "/usr/bin/taskset"}, want: []string{"/usr/bin/taskset", "-c", "1", "/bin/x", "a", "b"}},
		{name: "unpinned", p: pinner{}, want: []string{"/bin/x", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.p.wrap(1, "/bin/x", "a", "b")); diff != "" {
				t.Errorf("wrap() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
