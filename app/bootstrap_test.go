package app

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/store"
)

// TestFirstStart: with no admin token set, one is generated and printed once; provider keys in
// the environment become accounts; a restart on the same database prints nothing new.
func TestFirstStart(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"OPENAI_API_KEY": "sk-openai-env", "ANTHROPIC_API_KEY": "sk-ant-env"}
	start := func() (*syncBuffer, string, func()) {
		getenv := func(k string) string { return env[k] }
		cfg, err := parseFlags("serve", []string{"--listen", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(dir, "llmgw.db"), "--request-log=false"}, getenv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		logs := &syncBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		addr := make(chan string, 1)
		done := make(chan error, 1)
		go func() { done <- serve(ctx, cfg, getenv, logs, &hooks{ready: func(a string) { addr <- a }}) }()
		select {
		case a := <-addr:
			return logs, "http://" + a, func() { cancel(); <-done }
		case err := <-done:
			t.Fatalf("serve: %v\n%s", err, logs)
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not start")
		}
		return nil, "", nil
	}
	logs, url, stop := start()
	m := regexp.MustCompile(`llmgw-[A-Za-z0-9_-]{43}`).FindString(logs.String())
	if m == "" {
		stop()
		t.Fatalf("no generated admin token printed:\n%s", logs)
	}
	g := &gateway{URL: url}
	resp, body := g.do(t, "GET", "/v1/models", m, "")
	stop()
	if resp.StatusCode != 200 {
		t.Fatalf("the printed token does not work: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{"mock/echo", "mock/embed", "openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5"} {
		if !strings.Contains(body, want) {
			t.Errorf("models %s lack %s", body, want)
		}
	}
	for _, secret := range []string{"sk-openai-env", "sk-ant-env"} {
		if strings.Contains(logs.String(), secret) || strings.Contains(body, secret) {
			t.Errorf("%s leaked", secret)
		}
	}

	logs2, url2, stop2 := start()
	defer stop2()
	if strings.Contains(logs2.String(), "llmgw-") {
		t.Errorf("the second start printed a token again:\n%s", logs2)
	}
	resp, _ = (&gateway{URL: url2}).do(t, "GET", "/v1/models", m, "")
	if resp.StatusCode != 200 {
		t.Errorf("the first token stopped working after a restart: %d", resp.StatusCode)
	}
}

func TestRunCommands(t *testing.T) {
	var out strings.Builder
	if err := Run(context.Background(), []string{"version"}, func(string) string { return "" }, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "llmgw ") {
		t.Errorf("version: %q %v", out.String(), err)
	}
	if err := Run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Error("an unknown command succeeded")
	}
	if err := Run(context.Background(), []string{"serve", "--log-level", "loud"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Error("a bad log level was accepted")
	}
}

// TestAdminTokenReplacedIsLogged: a changed LLMGW_ADMIN_TOKEN replaces the stored one with a
// warning that says so (never the token); the same token again, or the first one, logs nothing.
func TestAdminTokenReplacedIsLogged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "llmgw.db"), store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	run := func(token string) string {
		t.Helper()
		var logs strings.Builder
		logger := slog.New(slog.NewJSONHandler(&logs, nil))
		if err := bootstrap(ctx, st, func(k string) string {
			if k == "LLMGW_ADMIN_TOKEN" {
				return token
			}
			return ""
		}, io.Discard, logger); err != nil {
			t.Fatal(err)
		}
		return logs.String()
	}
	for _, step := range []struct {
		token string
		warn  bool
	}{
		{"first-admin-token", false}, // a fresh database
		{"first-admin-token", false}, // unchanged
		{"second-admin-token", true}, // replaced
		{"second-admin-token", false},
	} {
		logs := run(step.token)
		warned := strings.Contains(logs, `"level":"WARN"`) && strings.Contains(logs, "admin token was replaced from LLMGW_ADMIN_TOKEN")
		if warned != step.warn {
			t.Errorf("start with %s: warned %v, want %v; logs:\n%s", step.token, warned, step.warn, logs)
		}
		if strings.Contains(logs, "admin-token") {
			t.Errorf("a token reached the logs:\n%s", logs)
		}
	}
	if h, _ := st.AdminTokenHash(ctx); h != snapshot.KeyHash("second-admin-token") {
		t.Error("the stored admin token is not the replacement")
	}
}
