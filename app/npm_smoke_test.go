package app

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNodeSDKSmoke runs conformance/npm/smoke.mjs, the smoke run of the official `openai` and
// `@anthropic-ai/sdk` npm packages, against a real gateway. Node and the pinned packages are
// required: a machine without them fails here with the command that fixes it.
func TestNodeSDKSmoke(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "conformance", "npm"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (need Node.js 20+): %v; install it, then run `make npm-deps`", err)
	}
	for _, pkg := range []string{"openai", "@anthropic-ai/sdk"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("the npm package %s is not installed in %s/node_modules: run `make npm-deps` (npm install --prefix conformance/npm)", pkg, dir)
		}
	}

	const token = "npm-smoke-admin-token"
	g := startGateway(t, map[string]string{"LLMGW_ADMIN_TOKEN": token})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "smoke.mjs"))
	cmd.Dir = dir
	// Only what node needs: no OPENAI_*/ANTHROPIC_* variables from the caller reach the SDKs.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"LLMGW_URL=" + g.URL,
		"LLMGW_KEY=" + token,
	}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("smoke.mjs did not finish in 2 minutes; output:\n%s\ngateway logs:\n%s", out, g.Logs)
	}
	if err != nil {
		t.Fatalf("node smoke.mjs: %v; output:\n%s\ngateway logs:\n%s", err, out, g.Logs)
	}
	t.Logf("smoke.mjs output:\n%s", out)

	// The last line is the summary; it must count every printed check and no failure, so a
	// script that exits 0 early does not pass.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	m := regexp.MustCompile(`^(\d+) passed, 0 failed$`).FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		t.Fatalf("smoke.mjs exited 0 without the summary line `N passed, 0 failed`; output:\n%s", out)
	}
	ok := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "ok ") {
			ok++
		}
	}
	if n, _ := strconv.Atoi(m[1]); n != ok || n < 10 {
		t.Fatalf("summary says %s passed, %d checks printed ok, want the same number and at least 10; output:\n%s", m[1], ok, out)
	}
}
