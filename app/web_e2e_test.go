package app

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"connectrpc.com/connect"

	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/usage/v1/usagev1connect"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
)

// chromiumPath is Debian's chromium binary, or LLMGW_CHROMIUM.
func chromiumPath() (string, error) {
	if p := os.Getenv("LLMGW_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, p := range []string{"/usr/lib/chromium/chromium", "/usr/bin/chromium"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium is not installed")
}

// TestWebAppE2E runs web/e2e/e2e.mjs, the web app in headless Chromium, against a real
// gateway: sign in; create a team, an access rule (and edit it), a user (and edit it), a key
// (the secret shown once, then gone), a provider account on a fake OpenAI upstream with a model
// (test its connection and the account's, price it; edit and delete a spare account and
// model), a virtual account (a key, an edit, a delete), a virtual model routed to that model
// (chat with it; edit its targets' options and sticky routing; delete a spare), a routing rule
// with subjects, metadata and target options, a rate limit and a budget (and a spare rate
// limit given a second limit, then deleted); chat with mock/echo in the Playground with
// streaming and that user's key; see the live status; hit the rate limit and see the refusal;
// revoke the key; see the requests on the Usage dashboard and in the request log; edit the
// configuration as YAML (review the diff, apply), compare two virtual models side by side in
// the Playground and answer a tool call there (the upstream must get the tool message); sign in again with a key of a user with no Admin API role and see only that user's pages,
// and with a viewer's and see the configuration read-only. The dashboard's numbers must be
// the Usage API's. Node, web/node_modules and chromium are required: a machine without them
// fails here with the command that fixes it. Screenshots go to docs/screenshots.
func TestWebAppE2E(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(root, "web")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (need Node.js 20.19+): %v; install it, then run `make npm-deps`", err)
	}
	if _, err := os.Stat(filepath.Join(web, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core is not installed in %s/node_modules: run `make npm-deps` (npm install --prefix web)", web)
	}
	chromium, err := chromiumPath()
	if err != nil {
		t.Fatalf("%v: install Debian's chromium package (`apt-get install chromium`; .ci/run does) or set LLMGW_CHROMIUM to a Chromium binary", err)
	}

	const token = "web-e2e-admin-token"
	g := startGateway(t, map[string]string{"LLMGW_ADMIN_TOKEN": token})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	userKey := g.userKey(t, "bob") // a user with no Admin API role
	// The upstream of the provider account the script creates: it tests the connection to a
	// model there and chats with it through a virtual model.
	fake := providertest.NewOpenAI(t)
	cmd := exec.CommandContext(ctx, node, filepath.Join(web, "e2e", "e2e.mjs"))
	cmd.Dir = web
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(), // chromium's profile and caches stay out of the user's home
		"LLMGW_URL=" + g.URL,
		"LLMGW_TOKEN=" + token,
		"LLMGW_USER_KEY=" + userKey,
		"LLMGW_FAKE_OPENAI=" + fake.URL + "/v1",
		"LLMGW_CHROMIUM=" + chromium,
		"LLMGW_SCREENSHOTS=" + filepath.Join(root, "docs", "screenshots"),
	}
	out := runNodeChecks(ctx, t, cmd, g, 20)

	// The dashboard showed what the Usage API answers.
	dm := regexp.MustCompile(`(?m)^dashboard mock/echo requests=(\d+) completion_tokens=(\d+) failures=(\d+)$`).FindSubmatch(out)
	if dm == nil {
		t.Fatalf("e2e.mjs printed no dashboard line; output:\n%s", out)
	}
	usage := usagev1connect.NewUsageServiceClient(http.DefaultClient, g.URL, connect.WithInterceptors(bearer(token)))
	res, err := usage.GetCostBreakdown(ctx, &usagev1.GetCostBreakdownRequest{GroupBy: usagev1.Dimension_DIMENSION_MODEL,
		Filter: &usagev1.Filter{Models: []string{"mock/echo"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetGroups()) != 1 {
		t.Fatalf("Usage API: %d groups for mock/echo, want 1", len(res.GetGroups()))
	}
	tot := res.GetGroups()[0].GetTotals()
	if got, want := string(dm[1]), strconv.FormatInt(tot.GetRequests(), 10); got != want {
		t.Errorf("dashboard requests %s, Usage API %s", got, want)
	}
	if got, want := string(dm[2]), strconv.FormatInt(tot.GetCompletionTokens(), 10); got != want {
		t.Errorf("dashboard completion tokens %s, Usage API %s", got, want)
	}
	if got, want := string(dm[3]), strconv.FormatInt(tot.GetFailures(), 10); got != want {
		t.Errorf("dashboard failures %s, Usage API %s", got, want)
	}
	// Three Playground requests of mock/echo with alice's key: two answered, the third refused
	// by the 2-a-minute rate limit.
	if tot.GetRequests() != 3 || tot.GetFailures() != 1 {
		t.Errorf("Usage API counts %d mock/echo requests and %d failures, want the Playground's 3 and 1", tot.GetRequests(), tot.GetFailures())
	}

	// The Playground's second turn of a tool call reached the upstream in the OpenAI shape: the
	// assistant's tool_calls, then a tool message answering the call by its id.
	if !sentToolResult(fake.Requests(), "12 C and sunny") {
		t.Errorf("no request to the fake upstream carried the assistant's tool call and the tool's result %q", "12 C and sunny")
	}
}

// sentToolResult reports whether one of reqs has, as its last two messages, an assistant
// message with providertest.ModelTools's tool call and a tool message answering it with result.
func sentToolResult(reqs []providertest.Request, result string) bool {
	for _, r := range reqs {
		msgs, _ := r.Body["messages"].([]any)
		if len(msgs) < 2 {
			continue
		}
		asked, _ := msgs[len(msgs)-2].(map[string]any)
		answer, _ := msgs[len(msgs)-1].(map[string]any)
		calls, _ := asked["tool_calls"].([]any)
		if asked["role"] != "assistant" || len(calls) != 1 {
			continue
		}
		call, _ := calls[0].(map[string]any)
		if call["id"] == providertest.ToolCallID && answer["role"] == "tool" && answer["tool_call_id"] == providertest.ToolCallID && answer["content"] == result {
			return true
		}
	}
	return false
}
