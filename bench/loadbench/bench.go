package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The targets, in the order they are measured.
const (
	targetDirect = "direct"
	targetProxy  = "proxy"
	targetLLMGW  = "llmgw"
	// targetGoverned is llmgw with a user key and five rules matching every
	// request (see governed.go).
	targetGoverned = "llmgw-governed"
	// targetFull is the governed llmgw routing a virtual model and producing its usage
	// events to Kafka: everything issue 11 measures on (see full.go).
	targetFull = "llmgw-full"
	// targetReplica is the full target's configuration served by a gateway replica, the
	// gateway-only build, of a control plane: what runs beside applications in a
	// deployment with a control plane (see replica.go).
	targetReplica = "llmgw-replica"
)

// allTargets is every target in measurement order.
var allTargets = []string{targetDirect, targetProxy, targetLLMGW, targetGoverned, targetFull, targetReplica}

// Models sent in the request body. Direct and proxy ignore it; llmgw routes
// "<provider account>/<integration>" to the fake upstream.
const (
	upstreamModel = "bench-model"
	gatewayModel  = "bench/echo"
)

// benchConfig is the parsed flags of the "run" subcommand.
type benchConfig struct {
	// rates are the open loop's rates in requests per second, ascending: each
	// target is measured at each, with a fresh process per rate.
	rates []int
	// workers, when positive, makes the load closed-loop: that many workers, each sending its
	// next request when its last was answered, as fast as the target answers (rate unused).
	workers   int
	duration  time.Duration
	warmup    time.Duration
	targets   []string
	repo      string
	token     string
	genCPU    int
	targetCPU int
	keep      bool
	ready     time.Duration
	// gatewayFlags are extra flags for `llmgw serve`, e.g. --request-log=false.
	gatewayFlags []string
	// stream makes every request ask for a streamed answer (20 SSE chunks
	// and a usage chunk from the fake upstream).
	stream bool
	// saturate searches, per target, the highest open-loop rate that holds
	// (see saturate.go) instead of measuring fixed rates.
	saturate bool
	// memEvery, when positive, samples the target's resident memory this often
	// during the measured attack, for a soak's growth (see memoryOverTime).
	memEvery time.Duration
	// rounds is how many times every target is measured at each rate, the targets
	// taking turns (see summarize): on a shared machine one round's CPU figures
	// move by a third from run to run, the median of rounds much less.
	rounds int
}

// parseBenchFlags parses the "run" subcommand's flags.
func parseBenchFlags(args []string, stderr io.Writer) (benchConfig, error) {
	fs := flag.NewFlagSet("loadbench run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c benchConfig
	var targets, rates string
	rate := fs.Int("rate", 1000, "requests per second, held fixed whatever the latency")
	fs.StringVar(&rates, "rates", "", "comma-separated rates to measure each target at, e.g. 250,1000,2000,5000 (instead of -rate); with -saturate, the first is where the search starts")
	fs.BoolVar(&c.stream, "stream", false, "send stream:true requests (with stream_options.include_usage) and measure streamed answers of 20 SSE chunks")
	fs.BoolVar(&c.saturate, "saturate", false, fmt.Sprintf("per target, search the highest open-loop rate whose p99 stays at most %s with every request answered 2xx, starting at -rate (or the first of -rates)", saturateMaxP99))
	fs.IntVar(&c.workers, "workers", 0, "closed loop: this many concurrent workers, each sending its next request when the last is answered (-rate is then ignored); 0 is the open loop at -rate")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "length of the measured attack on each target")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "length of the unmeasured attack before each measured one")
	fs.DurationVar(&c.memEvery, "mem-every", 0, "sample the target's resident memory this often during the measured attack and report how it grew (a soak: -duration 10m -mem-every 30s); 0: only after the attack")
	fs.StringVar(&targets, "targets", strings.Join(allTargets, ","), "comma-separated targets to measure, from "+strings.Join(allTargets, ", "))
	fs.StringVar(&c.repo, "repo", ".", "root of the llmgw module, where the gateway and vegeta are built")
	fs.StringVar(&c.token, "token", "", "admin token given to llmgw and sent as the bearer key (default: random)")
	fs.IntVar(&c.genCPU, "gen-cpu", 0, "core for the load generator and the fake upstream")
	fs.IntVar(&c.targetCPU, "target-cpu", 1, "core for the process under test (proxy, llmgw, llmgw-governed)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directory (binaries, logs, results)")
	fs.DurationVar(&c.ready, "ready-timeout", 30*time.Second, "how long to wait for a started process to answer")
	fs.IntVar(&c.rounds, "rounds", 1, "measure every target this many times at each rate, the targets taking turns, and summarize each figure's median and range over the rounds")
	gatewayFlags := fs.String("llmgw-flags", "", "extra space-separated flags for `llmgw serve`, e.g. --request-log=false")
	if err := fs.Parse(args); err != nil {
		return benchConfig{}, err
	}
	c.gatewayFlags = strings.Fields(*gatewayFlags)
	if fs.NArg() > 0 {
		return benchConfig{}, fmt.Errorf("run: unexpected arguments %q", fs.Args())
	}
	rateSet := false
	fs.Visit(func(f *flag.Flag) { rateSet = rateSet || f.Name == "rate" })
	var err error
	switch {
	case rates != "" && rateSet:
		return benchConfig{}, errors.New("run: give -rate or -rates, not both")
	case rates != "":
		if c.rates, err = parseRates(rates); err != nil {
			return benchConfig{}, err
		}
	case *rate <= 0:
		return benchConfig{}, fmt.Errorf("run: -rate must be positive, got %d", *rate)
	default:
		c.rates = []int{*rate}
	}
	if c.workers < 0 {
		return benchConfig{}, fmt.Errorf("run: -workers must not be negative, got %d", c.workers)
	}
	if c.workers > 0 && (len(c.rates) > 1 || c.saturate) {
		return benchConfig{}, errors.New("run: -workers (closed loop) takes no -rates and no -saturate")
	}
	if c.duration <= 0 {
		return benchConfig{}, fmt.Errorf("run: -duration must be positive, got %s", c.duration)
	}
	if c.rounds < 1 {
		return benchConfig{}, fmt.Errorf("run: -rounds must be at least 1, got %d", c.rounds)
	}
	if c.rounds > 1 && c.saturate {
		return benchConfig{}, errors.New("run: -saturate takes no -rounds")
	}
	if c.targets, err = parseTargets(targets); err != nil {
		return benchConfig{}, err
	}
	return c, nil
}

// parseRates parses a comma-separated list of positive rates and returns it
// ascending, without duplicates.
func parseRates(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		r, err := strconv.Atoi(f)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("run: -rates: %q is not a positive number of requests per second", f)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New("run: -rates names no rate")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// parseTargets validates a comma-separated target list and returns it in
// measurement order (direct first, so added latency can be computed), without
// duplicates.
func parseTargets(s string) ([]string, error) {
	want := map[string]bool{}
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
		case slices.Contains(allTargets, t):
			want[t] = true
		default:
			return nil, fmt.Errorf("run: unknown target %q (want one of %s)", t, strings.Join(allTargets, ", "))
		}
	}
	var out []string
	for _, t := range allTargets {
		if want[t] {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("run: -targets names no target")
	}
	return out, nil
}

// bench is one run of the benchmark: its config, temporary directory and
// the helpers every step uses.
type bench struct {
	cfg    benchConfig
	dir    string
	self   string
	vegeta string
	clock  cpuClock
	pin    pinner
	log    *slog.Logger
	starts int // gateways started so far, each in its own directory
	// gatewayOnly is the gateway-only build of llmgw (the replica target's), when measured.
	gatewayOnly string
}

// runBench is the "run" subcommand: it builds what it needs, starts the fake
// upstream, measures each target in turn and prints the report to stdout.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, "run")
	if cfg.token == "" {
		cfg.token = randomToken()
	}
	dir, err := os.MkdirTemp("", "llmgw-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		log.Info("keeping temporary directory", "dir", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	b := &bench{
		cfg:   cfg,
		dir:   dir,
		clock: newCPUClock(),
		pin:   newPinner(ctx, log, cfg.genCPU, cfg.targetCPU),
		log:   log,
	}
	fmt.Fprintf(stdout, "loadbench: %s for %s per target (warm-up %s), %s, %d CPUs, %s, CPU clock resolution %s\n",
		cfg.ratesShape(), cfg.duration, cfg.warmup, runtime.Version(), runtime.NumCPU(), b.pin.describe(cfg), b.clock.resolution())

	// Builds run one after the other: the machine may be shared, and two
	// concurrent builds would only slow each other down.
	b.vegeta = filepath.Join(dir, "vegeta")
	if err := b.build(ctx, b.vegeta, "github.com/tsenart/vegeta/v12"); err != nil {
		return err
	}
	// The upstream, the proxy and the broker are this program, built again as every measured
	// process is.
	b.self = filepath.Join(dir, "loadbench")
	if err := b.build(ctx, b.self, "./bench/loadbench"); err != nil {
		return err
	}
	gateway := filepath.Join(dir, "llmgw")
	if slices.ContainsFunc(cfg.targets, func(t string) bool { return strings.HasPrefix(t, "llmgw") }) {
		if err := b.build(ctx, gateway, "./cmd/llmgw"); err != nil {
			return fmt.Errorf("llmgw does not build (measure the others with -targets direct,proxy): %w", err)
		}
	}
	if slices.Contains(cfg.targets, targetReplica) {
		b.gatewayOnly = filepath.Join(dir, "llmgw-gateway")
		if err := b.build(ctx, b.gatewayOnly, "./cmd/llmgw", "-tags", gatewayOnlyTags); err != nil {
			return fmt.Errorf("the gateway-only llmgw does not build: %w", err)
		}
	}

	startLoad := loadAvg() // after the builds, which load the machine themselves
	upAddr, err := freeAddr()
	if err != nil {
		return err
	}
	upstream, err := b.start(ctx, "upstream", cfg.genCPU, nil, b.self, "upstream", "-listen", upAddr)
	if err != nil {
		return err
	}
	defer upstream.stop()
	upURL := "http://" + upAddr
	if err := b.waitReady(ctx, upstream, upURL+"/healthz"); err != nil {
		return err
	}

	if cfg.saturate {
		return b.saturateAll(ctx, stdout, upstream, upURL, gateway, startLoad)
	}

	// Each target is measured at each rate with a fresh process, so that its
	// memory figures are those of that rate alone. A target that cannot be
	// measured (it does not start, or dies) ends the run, but the figures
	// measured before it are still printed.
	rates := cfg.rates
	if cfg.workers > 0 {
		rates = []int{0} // closed loop: one pass, the rate is whatever the targets answer
	}
	// With rounds, the targets take turns: round k measures them in their order
	// rotated by k, so that none is always measured first or last.
	type group struct {
		rate, round int
		ms          []measurement
	}
	var groups []group
	var measureErr error
sweep:
	for _, rate := range rates {
		for round := range cfg.rounds {
			var ms []measurement
			for i := range cfg.targets {
				name := cfg.targets[(i+round)%len(cfg.targets)]
				m, err := b.measureOnce(ctx, name, rate, upstream, upURL, gateway)
				if err != nil {
					measureErr = fmt.Errorf("%s at %s: %w", name, cfg.loadShape(rate), err)
					if len(ms) > 0 {
						groups = append(groups, group{rate, round, ms})
					}
					break sweep
				}
				ms = append(ms, m)
			}
			groups = append(groups, group{rate, round, ms})
		}
	}
	if len(groups) == 0 {
		return measureErr
	}

	var reportErrs []error
	var rounds []report // the reports of one rate's rounds
	for i, g := range groups {
		shape := cfg.loadShape(g.rate)
		if cfg.rounds > 1 {
			shape += fmt.Sprintf(", round %d of %d", g.round+1, cfg.rounds)
		}
		fmt.Fprintf(stdout, "\n== %s ==\n", shape)
		r := buildReport(inOrder(g.ms, cfg.targets), cfg.stream)
		if err := r.write(stdout); err != nil {
			return err
		}
		if err := writeMemory(stdout, g.ms); err != nil {
			return err
		}
		reportErrs = append(reportErrs, r.err())
		rounds = append(rounds, r)
		if cfg.rounds > 1 && (i == len(groups)-1 || groups[i+1].rate != g.rate) {
			fmt.Fprintf(stdout, "\n== %s: %d rounds ==\n", cfg.loadShape(g.rate), len(rounds))
			if err := summarize(rounds).write(stdout); err != nil {
				return err
			}
			rounds = nil
		}
	}
	fmt.Fprintf(stdout, "\nload average (1, 5, 15 min): %s at the start, %s at the end; with more load than cores,\n"+
		"other work skews the latencies (p99 first); CPU µs/request is the steadier figure.\n", startLoad, loadAvg())
	return errors.Join(append([]error{measureErr}, reportErrs...)...)
}

// measureOnce starts target, measures it once at rate and stops it.
func (b *bench) measureOnce(ctx context.Context, name string, rate int, upstream *process, upURL, gateway string) (measurement, error) {
	t, err := b.startTarget(ctx, name, upstream, upURL, gateway)
	if err != nil {
		return measurement{}, err
	}
	defer t.stop()
	return b.measure(ctx, t, rate)
}

// target is a started target: the process measured, the request it is sent
// and, when not nil, the check that it did the work it is measured for.
type target struct {
	name  string
	p     *process
	req   request
	check countCheck
	// stop ends what startTarget started (nothing for direct, whose
	// process is the shared upstream).
	stop func()
}

// startTarget starts target's process (direct reuses the upstream) and
// waits until it answers.
func (b *bench) startTarget(ctx context.Context, name string, upstream *process, upURL, gateway string) (*target, error) {
	switch name {
	case targetDirect:
		return &target{name: name, p: upstream, req: request{upURL + "/v1/chat/completions", upstreamModel, b.cfg.token}, stop: func() {}}, nil
	case targetProxy:
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		p, err := b.start(ctx, name, b.cfg.targetCPU, nil, b.self, "proxy", "-listen", addr, "-upstream", upURL)
		if err != nil {
			return nil, err
		}
		if err := b.waitReady(ctx, p, "http://"+addr+"/healthz"); err != nil {
			p.stop()
			return nil, err
		}
		return &target{name: name, p: p, req: request{"http://" + addr + "/v1/chat/completions", upstreamModel, b.cfg.token}, stop: p.stop}, nil
	case targetLLMGW:
		p, base, err := b.startGateway(ctx, name, gateway, gatewayConfig(upURL), b.cfg.targetCPU, nil)
		if err != nil {
			return nil, err
		}
		return &target{name: name, p: p, req: request{base + "/v1/chat/completions", gatewayModel, b.cfg.token}, stop: p.stop}, nil
	case targetGoverned:
		return b.startGoverned(ctx, upURL, gateway)
	case targetFull:
		return b.startFull(ctx, upURL, gateway)
	case targetReplica:
		return b.startReplica(ctx, upURL, gateway)
	default:
		return nil, fmt.Errorf("unknown target %q", name)
	}
}

// startGateway runs `llmgw serve` as target on cpu, with a fresh SQLite database,
// config as its config file, env added to its environment and flags to its
// flags, and waits for /readyz. It returns the process and its base URL; the
// caller stops it.
func (b *bench) startGateway(ctx context.Context, target, gateway, config string, cpu int, env []string, flags ...string) (*process, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	dir, err := b.startDir(target)
	if err != nil {
		return nil, "", err
	}
	configPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return nil, "", err
	}
	env = append([]string{"LLMGW_ADMIN_TOKEN=" + b.cfg.token}, env...)
	args := append([]string{"serve",
		"--listen", addr, "--db", "sqlite:" + filepath.Join(dir, "llmgw.db"), "--data-dir", dir, "--config", configPath},
		b.cfg.gatewayFlags...)
	p, err := b.start(ctx, target, cpu, env, gateway, append(args, flags...)...)
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	if err := b.waitReady(ctx, p, base+"/readyz"); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, base, nil
}

// startDir makes a new directory for one start of target: its database, config, usage store,
// spool and master key, so that a target measured again (another rate, another round) starts
// as fresh as the first time.
func (b *bench) startDir(target string) (string, error) {
	b.starts++
	dir := filepath.Join(b.dir, fmt.Sprintf("%s-%d", target, b.starts))
	return dir, os.Mkdir(dir, 0o700)
}

// gatewayConfig is llmgw's declarative config: one self-hosted provider
// account "bench" whose integration "echo" points at the fake upstream.
func gatewayConfig(upstreamURL string) string {
	return `- name: bench
  type: provider-account/self-hosted-model
  integrations:
    - name: echo
      type: integration/model/self-hosted-model
      hosted_model_name: ` + upstreamModel + `
      url: "` + upstreamURL + `/v1"
      model_server: "openai-compatible"
      model_types: ["chat"]
`
}

// requestBody is the fixed chat request every target receives. A streamed
// one asks for the usage chunk too, as a client metering tokens does, so that
// every target relays the same stream (a gateway that asks the upstream for
// usage on its own account would otherwise relay a chunk the proxy does not).
func requestBody(model string, stream bool) string {
	if stream {
		return `{"model":"` + model + `","messages":[{"role":"user","content":"Say hello"}],` +
			`"stream":true,"stream_options":{"include_usage":true}}`
	}
	return `{"model":"` + model + `","messages":[{"role":"user","content":"Say hello"}]}`
}

// request is the one request vegeta sends to a target, over and over.
type request struct {
	url, model string
	// token is sent as the bearer key.
	token string
}

// countCheck proves that a target did the work it is measured for. Its
// methods run outside the CPU window: baseline after the warm-up, verify
// after the measured attack; describe says what was counted, for the log.
type countCheck interface {
	baseline(ctx context.Context) error
	verify(ctx context.Context) error
	describe() string
}

// measure warms t up, then runs the measured attack at rate (0: the closed
// loop), reading the CPU time of t's process before and after it and its
// memory right after it. t.check, when not nil, is run around the measured
// attack and fails the measurement when it fails.
func (b *bench) measure(ctx context.Context, t *target, rate int) (measurement, error) {
	prefix := filepath.Join(b.dir, t.name)
	targetsFile, bodyFile := prefix+".targets", prefix+".body.json"
	if err := os.WriteFile(targetsFile, []byte("POST "+t.req.url+"\n"), 0o600); err != nil {
		return measurement{}, err
	}
	if err := os.WriteFile(bodyFile, []byte(requestBody(t.req.model, b.cfg.stream)), 0o600); err != nil {
		return measurement{}, err
	}
	prefix += "-" + strconv.Itoa(rate)
	if b.cfg.warmup > 0 {
		b.log.Info("warming up", "target", t.name, "load", b.cfg.loadShape(rate), "duration", b.cfg.warmup)
		if err := b.attack(ctx, rate, targetsFile, bodyFile, t.req.token, b.cfg.warmup, prefix+".warmup.bin"); err != nil {
			return measurement{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	if t.check != nil {
		if err := t.check.baseline(ctx); err != nil {
			return measurement{}, err
		}
	}

	b.log.Info("attacking", "target", t.name, "load", b.cfg.loadShape(rate), "duration", b.cfg.duration)
	before, err := b.clock.cpuTime(t.p.pid())
	if err != nil {
		return measurement{}, err
	}
	results := prefix + ".bin"
	stopSampling := sampleMemory(t.p.pid(), b.cfg.memEvery)
	err = b.attack(ctx, rate, targetsFile, bodyFile, t.req.token, b.cfg.duration, results)
	samples := stopSampling()
	if err != nil {
		return measurement{}, err
	}
	after, err := b.clock.cpuTime(t.p.pid())
	if err != nil {
		return measurement{}, err
	}
	mem, err := readMemory(t.p.pid())
	if err != nil {
		return measurement{}, err
	}
	if err := t.p.alive(); err != nil {
		return measurement{}, err
	}
	if t.check != nil {
		if err := t.check.verify(ctx); err != nil {
			return measurement{}, err
		}
		b.log.Info("every rule counted the attack", "target", t.name, "added", t.check.describe())
	}

	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, b.vegeta, "report", "-type=json", results)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return measurement{}, fmt.Errorf("vegeta report: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	m, err := parseVegetaMetrics(out.Bytes())
	if err != nil {
		return measurement{}, err
	}
	return measurement{target: t.name, rate: rate, metrics: m, cpu: after - before, mem: mem, samples: samples, memEvery: b.cfg.memEvery}, nil
}

// sampleMemory reads pid's resident memory now and every interval until the returned function
// is called, which returns the samples (none when interval is not positive).
func sampleMemory(pid int, interval time.Duration) func() []memory {
	if interval <= 0 {
		return func() []memory { return nil }
	}
	var samples []memory
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if m, err := readMemory(pid); err == nil {
				samples = append(samples, m)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() []memory {
		close(stop)
		<-done
		return samples
	}
}

// attack runs vegeta at rate (0: the closed loop), pinned to the
// generator's core, sending token as the bearer key and writing its binary
// results to output.
func (b *bench) attack(ctx context.Context, rate int, targetsFile, bodyFile, token string, d time.Duration, output string) error {
	args := b.pin.wrap(b.cfg.genCPU, b.vegeta, append([]string{"attack"}, append(b.cfg.loadArgs(rate),
		"-duration", d.String(),
		"-targets", targetsFile,
		"-body", bodyFile,
		"-header", "Content-Type: application/json",
		"-header", "Authorization: Bearer "+token,
		"-timeout", "10s",
		"-output", output,
	)...)...)
	var errb bytes.Buffer
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("vegeta attack: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return nil
}

// loadArgs are vegeta's flags for the load's shape: a fixed rate (open loop), or with
// workers, rate 0 and that many workers and no more (closed loop).
func (c benchConfig) loadArgs(rate int) []string {
	if c.workers > 0 {
		w := strconv.Itoa(c.workers)
		return []string{"-rate", "0", "-workers", w, "-max-workers", w}
	}
	return []string{"-rate", strconv.Itoa(rate) + "/1s"}
}

// loadShape describes the load at rate, for the report and the log.
func (c benchConfig) loadShape(rate int) string {
	kind := "requests"
	if c.stream {
		kind = "streamed requests"
	}
	if c.workers > 0 {
		return fmt.Sprintf("closed loop, %d workers, %s", c.workers, kind)
	}
	return fmt.Sprintf("open loop, %d req/s, %s", rate, kind)
}

// ratesShape describes the configured load for the first line of the output.
func (c benchConfig) ratesShape() string {
	switch {
	case c.workers > 0:
		return c.loadShape(0)
	case c.saturate:
		return fmt.Sprintf("open-loop saturation search from %d req/s", c.rates[0])
	}
	rs := make([]string, len(c.rates))
	for i, r := range c.rates {
		rs[i] = strconv.Itoa(r)
	}
	kind := "requests"
	if c.stream {
		kind = "streamed requests"
	}
	return fmt.Sprintf("open loop at %s req/s, %s", strings.Join(rs, ", "), kind)
}

// build compiles pkg (a path or package pattern understood by go build, run
// from the module root) to out.
func (b *bench) build(ctx context.Context, out, pkg string, flags ...string) error {
	b.log.Info("building", "package", pkg, "flags", strings.Join(flags, " "))
	var errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"build", "-o", out}, flags...), pkg)...)
	cmd.Dir = b.cfg.repo
	// Statically, as the Dockerfile builds llmgw: a binary linked to the C library also keeps
	// libc's pages resident (about 1.4 MB) and starts its threads through it.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = &errb, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, strings.TrimSpace(errb.String()))
	}
	return nil
}

// start runs a process pinned to cpu, its output going to a log file in the
// temporary directory. env is added to this process's environment.
func (b *bench) start(ctx context.Context, name string, cpu int, env []string, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(b.dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	argv := b.pin.wrap(cpu, bin, args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	b.log.Info("started", "process", name, "pid", cmd.Process.Pid, "cpu", b.pin.describeCPU(cpu))
	return p, nil
}

// waitReady polls url until it answers 200, the process exits, or the
// ready timeout passes.
func (b *bench) waitReady(ctx context.Context, p *process, url string) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ready)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v\n%s", p.name, p.err, p.tail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s after %s (last: %s)\n%s", p.name, url, b.cfg.ready, last, p.tail())
		case <-tick.C:
		}
	}
}

// process is a child started by bench.start.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // valid once done is closed
}

// pid is the process id. When pinned, taskset execs the real binary in
// place, so the pid is the measured program's own.
func (p *process) pid() int { return p.cmd.Process.Pid }

// alive returns an error if the process has exited.
func (p *process) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited during the attack: %v\n%s", p.name, p.err, p.tail())
	default:
		return nil
	}
}

// stop asks the process to exit with SIGTERM, and kills it if it has not
// within five seconds.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail returns the end of the process's log, for error messages.
func (p *process) tail() string {
	const maxTail = 2000
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	if len(data) > maxTail {
		data = data[len(data)-maxTail:]
	}
	return "--- " + p.logPath + " ---\n" + string(data)
}

// pinner prefixes commands with taskset when it is available and works.
type pinner struct {
	taskset string // empty when running unpinned
}

// newPinner finds taskset and checks it can pin to each of cpus; if not, it
// logs why and returns a pinner that runs everything unpinned.
func newPinner(ctx context.Context, log *slog.Logger, cpus ...int) pinner {
	path, err := exec.LookPath("taskset")
	if err != nil {
		log.Warn("taskset not found: running unpinned, figures will be noisier and CPU use may spread over cores")
		return pinner{}
	}
	for _, cpu := range cpus {
		if out, err := exec.CommandContext(ctx, path, "-c", strconv.Itoa(cpu), "true").CombinedOutput(); err != nil {
			log.Warn("taskset cannot pin here: running unpinned", "cpu", cpu, "err", err, "output", strings.TrimSpace(string(out)))
			return pinner{}
		}
	}
	return pinner{taskset: path}
}

// wrap returns the argv that runs bin with args on cpu.
func (p pinner) wrap(cpu int, bin string, args ...string) []string {
	if p.taskset == "" {
		return append([]string{bin}, args...)
	}
	return append([]string{p.taskset, "-c", strconv.Itoa(cpu), bin}, args...)
}

func (p pinner) describe(c benchConfig) string {
	if p.taskset == "" {
		return "unpinned (no usable taskset)"
	}
	return fmt.Sprintf("generator+upstream on core %d, proxy/llmgw on core %d", c.genCPU, c.targetCPU)
}

func (p pinner) describeCPU(cpu int) string {
	if p.taskset == "" {
		return "any"
	}
	return strconv.Itoa(cpu)
}

// freeAddr returns a loopback address with a port free at the time of the
// call. A process started right after binds it; the window for another
// program to take it first is small enough for a benchmark.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", err
	}
	return addr, nil
}

// randomToken returns a fresh admin token for one run.
func randomToken() string {
	var buf [16]byte
	_, _ = rand.Read(buf[:])
	return "llmgw-bench-" + hex.EncodeToString(buf[:])
}
