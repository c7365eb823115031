package app

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClaudeCode points Claude Code (pinned in conformance/npm) at a real gateway, as the
// docs tell users to (ANTHROPIC_BASE_URL plus a key), and asks it one question in print
// mode against mock/echo: the request Claude Code sends (system turns, adaptive thinking,
// effort hints, 20-odd tools, streaming) must go through /v1/messages to a model that is not
// Anthropic's, and its answer must come back.
func TestClaudeCode(t *testing.T) {
	claude, err := filepath.Abs(filepath.Join("..", "conformance", "npm", "node_modules", ".bin", "claude"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(claude); err != nil {
		t.Fatalf("Claude Code is not installed at %s: run `make npm-deps` (npm install --prefix conformance/npm)", claude)
	}
	const token = "claude-code-admin-token"
	g := startGateway(t, map[string]string{"LLMGW_ADMIN_TOKEN": token})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, claude, "-p", "hello from claude code", "--model", "mock/echo")
	cmd.Dir = home
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"ANTHROPIC_BASE_URL=" + g.URL, "ANTHROPIC_AUTH_TOKEN=" + token,
		// No traffic anywhere but the gateway.
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_TELEMETRY=1", "DISABLE_AUTOUPDATER=1",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("claude -p failed: %v\n%s\ngateway logs:\n%s", err, out, g.Logs)
	}
	// mock/echo answers with the last user message: the prompt (after Claude Code's context).
	if !strings.Contains(string(out), "hello from claude code") {
		t.Errorf("Claude Code printed %q; want the echo of the prompt", out)
	}
	g.Events.mu.Lock()
	defer g.Events.mu.Unlock()
	var seen bool
	for _, ev := range g.Events.all {
		if ev.Model == "mock/echo" && ev.Stream && ev.Status == "ok" && ev.Usage.PromptTokens > 100 && !ev.UsageMissing {
			seen = true
		}
	}
	if !seen {
		t.Errorf("no streamed mock/echo usage event with Claude Code's prompt tokens: %+v", g.Events.all)
	}
}
