package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeConfig returns the config file example of README.md (its first yaml block), so the
// test runs what the README shows.
func readmeConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 || !strings.Contains(block, "env://OPENAI_API_KEY") {
		t.Fatalf("README.md has no yaml block with the config example")
	}
	return block
}

// TestReadmeConfigWithoutSecrets: the README's config example starts with none of its
// variables set. The accounts whose secret is missing answer 503 naming the variable, /readyz
// and the log name it, and the rest serves. A secret stored at an earlier start is kept.
func TestReadmeConfigWithoutSecrets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(readmeConfig(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + filepath.Join(dir, "llmgw.db")
	g := startGateway(t, nil, "--config", path, "--db", db)

	resp, body := g.do(t, "GET", "/readyz", "", "")
	var ready struct {
		Snapshot    string            `json:"snapshot"`
		Unavailable map[string]string `json:"unavailable"`
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil || resp.StatusCode != 200 || ready.Snapshot != "loaded" {
		t.Fatalf("readyz %d %s (%v)", resp.StatusCode, body, err)
	}
	want := map[string]string{
		"openai-main":                   "secret env://OPENAI_API_KEY is not set",
		"nvidia-external/nemotron-nano": "secret env://NVIDIA_API_KEY is not set",
	}
	for k, v := range want {
		if ready.Unavailable[k] != v {
			t.Errorf("readyz unavailable[%s] = %q, want %q (%s)", k, ready.Unavailable[k], v, body)
		}
	}

	chat := func(model string) (int, string) {
		resp, body := g.do(t, "POST", "/v1/chat/completions", g.Token, `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`)
		return resp.StatusCode, body
	}
	for model, msg := range map[string]string{
		"openai-main/gpt-4o":            "the provider account openai-main is unavailable: its secret env://OPENAI_API_KEY is not set",
		"nvidia-external/nemotron-nano": "the model nvidia-external/nemotron-nano is unavailable: its secret env://NVIDIA_API_KEY is not set",
	} {
		code, body := chat(model)
		if code != 503 || !strings.Contains(body, msg) {
			t.Errorf("%s: %d %s, want 503 with %q", model, code, body, msg)
		}
	}
	if code, body := chat("mock/echo"); code != 200 {
		t.Errorf("mock/echo: %d %s", code, body)
	}
	logs := g.Logs.String()
	for _, want := range []string{`"level":"WARN"`, `"account":"openai-main"`, `"problem":"secret env://OPENAI_API_KEY is not set"`, `"model":"nemotron-nano"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s:\n%s", want, logs)
		}
	}
	g.stop()

	// With the variable set the account serves; unset again, the stored secret is kept.
	g = startGateway(t, map[string]string{"OPENAI_API_KEY": "sk-from-env"}, "--config", path, "--db", db)
	if _, body := g.do(t, "GET", "/readyz", "", ""); strings.Contains(body, "openai-main") {
		t.Errorf("readyz with the variable set: %s", body)
	}
	g.stop()
	g = startGateway(t, nil, "--config", path, "--db", db)
	if _, body := g.do(t, "GET", "/readyz", "", ""); strings.Contains(body, "openai-main") || !strings.Contains(body, "nemotron-nano") {
		t.Errorf("readyz after the variable was unset again: %s", body)
	}
	if logs := g.Logs.String(); !strings.Contains(logs, "the secret stored earlier is used") || strings.Contains(logs, "sk-from-env") {
		t.Errorf("log after the variable was unset again:\n%s", logs)
	}
}
