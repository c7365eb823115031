package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/app"
)

// update rewrites docs/compatibility.md from the results instead of comparing with it.
var update = flag.Bool("update", false, "rewrite docs/compatibility.md from the results")

// compatPath is the generated matrix, relative to this package's directory.
const compatPath = "../docs/compatibility.md"

// adminToken is the gateway's admin token; it may use every model.
const adminToken = "conformance-admin-token"

// upstreamTimeout is the gateway's --upstream-timeout: the timeout cell waits this long.
const upstreamTimeout = 2 * time.Second

// Cell texts.
const (
	cellPass = "✓"
	cellFail = "FAIL"
)

// TestMatrix drives every client dialect, through a real gateway, to every provider's fake,
// for every feature, and writes (with -update or LLMGW_UPDATE_COMPAT=1) or checks
// docs/compatibility.md.
func TestMatrix(t *testing.T) {
	providers := Providers()
	gw := startGateway(t, providers)
	m := &matrix{cells: map[string]string{}}
	t.Run("cell", func(t *testing.T) {
		for _, d := range dialects(gw) {
			t.Run(d.name, func(t *testing.T) {
				for _, p := range providers {
					t.Run(p.Name, func(t *testing.T) {
						for _, f := range features {
							t.Run(f.name, func(t *testing.T) {
								t.Parallel()
								ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
								defer cancel()
								cell, err := f.check(ctx, d.client, target{prefix: slug(p.Name) + "/", kind: p.Kind})
								if err != nil {
									cell = cellFail
									t.Errorf("%s -> %s, %s: %v", d.name, p.Name, f.name, err)
								}
								m.set(d.name, p.Name, f.name, cell)
							})
						}
					})
				}
			})
		}
	})
	doc := m.render(dialects(gw), providers)
	if *update || os.Getenv("LLMGW_UPDATE_COMPAT") == "1" {
		if err := os.MkdirAll(filepath.Dir(compatPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(compatPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(compatPath)
	if err != nil {
		t.Fatalf("docs/compatibility.md is stale: run go test ./conformance -update (%v)", err)
	}
	if diff := cmp.Diff(string(old), doc); diff != "" {
		t.Errorf("docs/compatibility.md is stale: run go test ./conformance -update\n(-committed +generated):\n%s", diff)
	}
}

// gateway is a running llmgw with one account per provider row.
type gateway struct {
	url  string
	logs *lockedBuffer
}

// lockedBuffer is the gateway's log, written by the server while a failing test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// scenarios are the models of every account: the scenario names, one per error status.
func scenarios() []string {
	s := []string{ScenarioText, ScenarioTools, ScenarioImage, ScenarioJSON, ScenarioHang, ScenarioCut}
	for _, status := range append(ErrorStatuses, LeakStatuses...) {
		s = append(s, ScenarioErrorPrefix+strconv.Itoa(status))
	}
	return append(s, ScenarioMalformed, ScenarioStreamError)
}

// slug is the account name of a row: its name in lowercase, runs of other characters as "-".
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

// startGateway starts each provider's fake and one gateway (temp SQLite, a generated config
// file) whose accounts point at them; both stop when the test ends. extra flags override the
// defaults (the last of a flag wins).
func startGateway(t *testing.T, providers []Provider, extra ...string) *gateway {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{"LLMGW_ADMIN_TOKEN": adminToken}
	var docs []string
	seen := map[string]string{}
	for _, p := range providers {
		account := slug(p.Name)
		if other, ok := seen[account]; ok {
			t.Fatalf("rows %q and %q have the same account name %q", other, p.Name, account)
		}
		seen[account] = p.Name
		fake := httptest.NewServer(p.Handler(t))
		t.Cleanup(fake.Close)
		docs = append(docs, p.Document(account, fake.URL, scenarios()))
		for k, v := range p.Env {
			if old, ok := env[k]; ok && old != v {
				t.Fatalf("row %q sets %s, which another row set differently", p.Name, k)
			}
			env[k] = v
		}
	}
	config := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(config, []byte(strings.Join(docs, "\n---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := &gateway{logs: &lockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	args := []string{
		"--listen", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(dir, "llmgw.db"), "--config", config,
		"--upstream-timeout", upstreamTimeout.String(), "--request-log=false", "--log-level", "warn",
	}
	args = append(args, extra...)
	go func() {
		done <- app.Serve(ctx, args, func(k string) string { return env[k] }, gw.logs, func(a string) { addr <- a })
	}()
	select {
	case a := <-addr:
		gw.url = "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("the gateway did not start: %v\nlogs:\n%s", err, gw.logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("the gateway did not start in 30s")
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway logs:\n%s", gw.logs)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the gateway returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the gateway did not shut down in 30s")
		}
	})
	return gw
}

// request is what a cell asks, in dialect-neutral terms.
type request struct {
	model  string
	stream bool
	tools  bool // declare ToolName
	image  bool // an image in the last user turn
	json   bool // ask for JSON output with a schema
}

// reply is what the client got, in dialect-neutral terms.
type reply struct {
	text               string
	deltas             int // text deltas received, streamed
	toolName, toolArgs string
	usage              usage
}

// usage is the token counts the client saw: prompt includes cached.
type usage struct {
	prompt, cached, completion int64
}

// apiError is an error status the client got, before any answer.
type apiError struct {
	status     int
	retryAfter string
	param      string // the parameter a refusal names
	raw        string // the body as the client received it
}

func (e *apiError) Error() string { return fmt.Sprintf("status %d: %s", e.status, e.raw) }

// streamError is a stream that began and then ended with an error.
type streamError struct {
	err error
}

func (e *streamError) Error() string { return "the stream ended with an error: " + e.err.Error() }

// client is one dialect's SDK. send returns *apiError for an error status, *streamError for a
// stream that failed after it began, and any other error for a transport failure.
type client interface {
	send(ctx context.Context, r request) (*reply, error)
}

// dialect is a column group of the matrix: one client API.
type dialect struct {
	name   string
	client client
}

func dialects(gw *gateway) []dialect {
	return []dialect{
		{"OpenAI Chat Completions", newChatClient(gw.url)},
		{"Anthropic Messages", newMessagesClient(gw.url)},
		{"OpenAI Responses", newResponsesClient(gw.url)},
	}
}

// feature is a column: one check, run for every dialect and provider.
type feature struct {
	name string
	// what says what the cell tests, for the document.
	what string
	// check runs the cell against the target row and returns the cell text, or an error when
	// the cell fails.
	check func(ctx context.Context, c client, p target) (string, error)
}

// target is the row a cell runs against.
type target struct {
	prefix string // "<account>/", the prefix of the row's model names
	kind   string // the row's provider kind
}

// uncachedKinds are the provider kinds whose wire format has no cached-token count: their
// fakes report Usage without CachedTokens, so the client must see cached = 0 (a gateway that
// invented a count would fail). Their usage cells say so.
var uncachedKinds = map[string]bool{"cohere": true}

// refusal is the cell of a request the gateway refused by design: a 400 naming the parameter.
func refusal(err error) (string, bool) {
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusBadRequest && ae.param != "" {
		return "refused (" + ae.param + ")", true
	}
	return "", false
}

// answer sends r and checks the reply with want; a refusal by design is a passing cell.
func answer(ctx context.Context, c client, r request, want func(*reply) error) (string, error) {
	rep, err := c.send(ctx, r)
	if cell, ok := refusal(err); ok {
		return cell, nil
	}
	if err != nil {
		return "", err
	}
	if err := want(rep); err != nil {
		return "", err
	}
	return cellPass, nil
}

func wantText(text string, minDeltas int) func(*reply) error {
	return func(r *reply) error {
		if r.text != text {
			return fmt.Errorf("text %q, want %q", r.text, text)
		}
		if r.deltas < minDeltas {
			return fmt.Errorf("%d text deltas, want at least %d: the answer was not streamed", r.deltas, minDeltas)
		}
		return nil
	}
}

func wantJSON(got, want string) error {
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return fmt.Errorf("%q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return err
	}
	if diff := cmp.Diff(w, g); diff != "" {
		return fmt.Errorf("JSON %s, want %s", got, want)
	}
	return nil
}

func wantTool(r *reply) error {
	if r.toolName != ToolName {
		return fmt.Errorf("tool call %q(%s), want %s", r.toolName, r.toolArgs, ToolName)
	}
	return wantJSON(r.toolArgs, ToolArgs)
}

// usageCell checks the usage of a text answer: Usage, with no cached tokens for a kind whose
// wire format has none.
func usageCell(ctx context.Context, c client, p target, stream bool) (string, error) {
	want := usage{prompt: Usage.InputTokens, cached: Usage.CachedTokens, completion: Usage.OutputTokens}
	if uncachedKinds[p.kind] {
		want.cached = 0
	}
	cell, err := answer(ctx, c, request{model: p.prefix + ScenarioText, stream: stream}, func(r *reply) error {
		if r.usage != want {
			return fmt.Errorf("usage prompt=%d cached=%d completion=%d, want prompt=%d cached=%d completion=%d",
				r.usage.prompt, r.usage.cached, r.usage.completion, want.prompt, want.cached, want.completion)
		}
		return nil
	})
	if err == nil && cell == cellPass && uncachedKinds[p.kind] {
		cell = cellPass + " (no cache field)"
	}
	return cell, err
}

// noLeak fails when the upstream's error text reached the client.
func noLeak(err error) error {
	if err != nil && strings.Contains(err.Error(), UpstreamMessage) {
		return fmt.Errorf("the upstream's error text reached the client: %v", err)
	}
	return nil
}

// wantStatus sends r and wants the error status status (and Retry-After for 429).
func wantStatus(ctx context.Context, c client, r request, status int) (string, error) {
	rep, err := c.send(ctx, r)
	if err == nil {
		return "", fmt.Errorf("got an answer (%+v), want status %d", rep, status)
	}
	if leak := noLeak(err); leak != nil {
		return "", leak
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		return "", fmt.Errorf("got %v, want status %d", err, status)
	}
	if ae.status != status {
		return "", fmt.Errorf("got %v, want status %d", ae, status)
	}
	if status == http.StatusTooManyRequests && ae.retryAfter != strconv.Itoa(RetryAfterSeconds) {
		return "", fmt.Errorf("Retry-After %q, want %d", ae.retryAfter, RetryAfterSeconds)
	}
	return cellPass, nil
}

// clientStatus is the status a client must get for an upstream error status.
var clientStatus = map[int]int{400: 400, 401: 502, 403: 502, 404: 502, 429: 429, 500: 502, 503: 503}

// features are the columns, in order.
var features = func() []feature {
	fs := []feature{
		{"text", "a user message; the answer's text", func(ctx context.Context, c client, p target) (string, error) {
			return answer(ctx, c, request{model: p.prefix + ScenarioText}, wantText(Text, 0))
		}},
		{"stream", "the same, streamed; the text arrives in at least two deltas", func(ctx context.Context, c client, p target) (string, error) {
			return answer(ctx, c, request{model: p.prefix + ScenarioText, stream: true}, wantText(Text, 2))
		}},
		{"tools", "a declared function tool; the answer calls it with its arguments", func(ctx context.Context, c client, p target) (string, error) {
			return answer(ctx, c, request{model: p.prefix + ScenarioTools, tools: true}, wantTool)
		}},
		{"stream tools", "the same, streamed; the SDK assembles the call from its fragments", func(ctx context.Context, c client, p target) (string, error) {
			return answer(ctx, c, request{model: p.prefix + ScenarioTools, tools: true, stream: true}, wantTool)
		}},
		{"image", "a base64 PNG in the last user turn reaches the upstream in its image form", func(ctx context.Context, c client, p target) (string, error) {
			return answer(ctx, c, request{model: p.prefix + ScenarioImage, image: true}, wantText(ImageReply, 0))
		}},
		{"JSON schema", "a JSON schema output format reaches the upstream in its JSON form", func(ctx context.Context, c client, p target) (string, error) {
			return answer(ctx, c, request{model: p.prefix + ScenarioJSON, json: true}, func(r *reply) error { return wantJSON(r.text, JSONReply) })
		}},
		{"usage", fmt.Sprintf("the client sees prompt %d (cached %d) and completion %d tokens", Usage.InputTokens, Usage.CachedTokens, Usage.OutputTokens), func(ctx context.Context, c client, p target) (string, error) {
			return usageCell(ctx, c, p, false)
		}},
		{"stream usage", "the same, streamed (chat streams ask for include_usage)", func(ctx context.Context, c client, p target) (string, error) {
			return usageCell(ctx, c, p, true)
		}},
	}
	for _, status := range ErrorStatuses {
		want := clientStatus[status]
		what := fmt.Sprintf("upstream %d: the client gets %d, without the upstream's error text", status, want)
		if status == http.StatusTooManyRequests {
			what += fmt.Sprintf(", with Retry-After: %d", RetryAfterSeconds)
		}
		fs = append(fs, feature{fmt.Sprintf("%d→%d", status, want), what, func(ctx context.Context, c client, p target) (string, error) {
			return wantStatus(ctx, c, request{model: p.prefix + ScenarioErrorPrefix + strconv.Itoa(status)}, want)
		}})
	}
	return append(fs,
		feature{"timeout→504", fmt.Sprintf("the upstream never answers: after --upstream-timeout (%s) the client gets 504", upstreamTimeout), func(ctx context.Context, c client, p target) (string, error) {
			return wantStatus(ctx, c, request{model: p.prefix + ScenarioHang}, http.StatusGatewayTimeout)
		}},
		feature{"stream cut", "the upstream drops the connection after the first delta: the SDK's stream ends with an error, never cleanly", func(ctx context.Context, c client, p target) (string, error) {
			rep, err := c.send(ctx, request{model: p.prefix + ScenarioCut, stream: true})
			if err == nil {
				return "", fmt.Errorf("the stream ended cleanly (text %q)", rep.text)
			}
			if leak := noLeak(err); leak != nil {
				return "", leak
			}
			var se *streamError
			var ae *apiError
			switch {
			case errors.As(err, &se):
			case errors.As(err, &ae) && ae.status >= 500:
			default:
				return "", fmt.Errorf("got %v, want an error in the stream", err)
			}
			return cellPass, nil
		}},
	)
}()

// matrix collects cell texts from parallel cells. It is safe for concurrent use.
type matrix struct {
	mu    sync.Mutex
	cells map[string]string
}

func cellKey(dialect, provider, feature string) string {
	return dialect + "\x00" + provider + "\x00" + feature
}

func (m *matrix) set(dialect, provider, feature, cell string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cells[cellKey(dialect, provider, feature)] = cell
}

// render writes docs/compatibility.md: one table per dialect, rows = providers, columns =
// features. A cell that did not run (the test stopped early) renders as FAIL.
func (m *matrix) render(ds []dialect, providers []Provider) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString("# Compatibility matrix\n\n")
	b.WriteString("<!-- Generated by `go test ./conformance -update`. Do not edit by hand: CI fails when it is stale. -->\n\n")
	b.WriteString("This file is generated by `go test ./conformance -update` from the results of the conformance\n")
	b.WriteString("suite (`conformance/conformance_test.go`). Do not edit it by hand: `go test ./conformance` fails\n")
	b.WriteString("when it differs from what the suite produces.\n\n")
	b.WriteString("Each cell is one request (or stream) sent by a client dialect's official SDK (`openai-go/v3`,\n")
	b.WriteString("`anthropic-sdk-go`, no retries) to a real llmgw, whose provider account points at a fake upstream\n")
	b.WriteString("that speaks that provider's documented wire format (`conformance/provider_*.go`).\n\n")
	b.WriteString("Legend:\n\n")
	fmt.Fprintf(&b, "- %s: the check passed.\n", cellPass)
	fmt.Fprintf(&b, "- %s (no cache field): the provider's usage has no cached-token count; the client saw\n", cellPass)
	b.WriteString("  the prompt and completion tokens and a cached count of 0.\n")
	b.WriteString("- refused (param): the gateway refuses the request by design with a 400 that names the\n")
	b.WriteString("  parameter the provider cannot honour; it is never dropped silently. This is a pass.\n")
	fmt.Fprintf(&b, "- %s: the check failed; the suite fails with it.\n", cellFail)
	for _, d := range ds {
		fmt.Fprintf(&b, "\n## %s\n\n| provider |", d.name)
		for _, f := range features {
			fmt.Fprintf(&b, " %s |", f.name)
		}
		b.WriteString("\n|---|")
		for range features {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, p := range providers {
			fmt.Fprintf(&b, "| %s |", p.Name)
			for _, f := range features {
				cell, ok := m.cells[cellKey(d.name, p.Name, f.name)]
				if !ok {
					cell = cellFail
				}
				fmt.Fprintf(&b, " %s |", cell)
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\n## What each cell tests\n\n| column | check |\n|---|---|\n")
	for _, f := range features {
		fmt.Fprintf(&b, "| %s | %s |\n", f.name, f.what)
	}
	b.WriteString("\nRefusals are recognised from the error's `param` (OpenAI dialects) or from a message of the form\n")
	b.WriteString("\"<param> is not supported ...\" (the Anthropic error shape has no param).\n")
	return b.String()
}

// anthropicRefusal extracts the parameter an Anthropic-shaped refusal names.
var anthropicRefusal = regexp.MustCompile(`^([A-Za-z0-9_.\[\]]+) is not supported`)
