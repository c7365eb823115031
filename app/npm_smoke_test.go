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
	runNodeChecks(ctx, t, cmd, g, 10)
}

// runNodeChecks runs a node test script and fails unless it exits 0 with the summary line
// "N passed, 0 failed" as its last line, N being the number of "ok " lines it printed and at
// least min: a script that exits 0 early does not pass. It returns the output.
func runNodeChecks(ctx context.Context, t *testing.T, cmd *exec.Cmd, g *gateway, min int) []byte {
	t.Helper()
	name := filepath.Base(cmd.Args[len(cmd.Args)-1])
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s did not finish in time; output:\n%s\ngateway logs:\n%s", name, out, g.Logs)
	}
	if err != nil {
		t.Fatalf("node %s: %v; output:\n%s\ngateway logs:\n%s", name, err, out, g.Logs)
	}
	t.Logf("%s output:\n%s", name, out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	m := regexp.MustCompile(`^(\d+) passed, 0 failed$`).FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		t.Fatalf("%s exited 0 without the summary line `N passed, 0 failed`; output:\n%s", name, out)
	}
	ok := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "ok ") {
			ok++
		}
	}
	if n, _ := strconv.Atoi(m[1]); n != ok || n < min {
		t.Fatalf("%s: summary says %s passed, %d checks printed ok, want the same number and at least %d; output:\n%s", name, m[1], ok, min, out)
	}
	return out
}
