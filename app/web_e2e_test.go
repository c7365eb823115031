package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"

	"github.com/llmgw/llmgw/gateway/oidc/oidctest"
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
// revoke the key; see the requests on the Usage dashboards and in the request log; edit the
// configuration as YAML (review the diff, apply), compare two virtual models side by side in
// the Playground and answer a tool call there (the upstream must get the tool message); sign
// in again as a user with no Admin API role, a viewer (the configuration read-only) and a team
// admin, and see what each role allows; sign in through a test OpenID provider (authorization
// code with PKCE) as a viewer. The dashboards' numbers must be the Usage API's. Node,
// web/node_modules and chromium are required: a machine without them fails here with the
// command that fixes it. Screenshots and page timings go to docs/screenshots.
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
	if _, err := g.adminClient().CreateTeam(ctx, &adminv1.CreateTeamRequest{Team: &adminv1.Team{Name: "sre"}}); err != nil {
		t.Fatal(err)
	}
	teamAdminKey := g.roleKey(t, "lena", []string{"team-admin"}, "sre")
	// GetCaller serves every caller, over REST too: a user without a role learns who they are.
	if resp, body := g.do(t, http.MethodGet, "/api/v1/caller", userKey, ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"principal":"user:bob"`) || strings.Contains(body, `"adminApi":true`) {
		t.Fatalf("GET /api/v1/caller as bob: %d %s", resp.StatusCode, body)
	}
	// The login identity provider: a spec-following test OP that logs "sara", a viewer, in at
	// once; the web app signs in through it with the authorization code flow.
	idp := oidctest.New()
	defer idp.Close()
	idp.SetUser(oidctest.Claims{Subject: "sara", Email: "sara@example.com"})
	if _, err := g.adminClient().CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "sara", Roles: []string{"viewer"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.adminClient().CreateIdentityProvider(ctx, &adminv1.CreateIdentityProviderRequest{IdentityProvider: &adminv1.IdentityProvider{
		Name: "test-sso", Issuer: idp.Issuer, Audiences: []string{idp.Audience}, ClientId: idp.ClientID, UserClaim: "sub"}}); err != nil {
		t.Fatal(err)
	}
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
		"LLMGW_TEAM_ADMIN_KEY=" + teamAdminKey,
		"LLMGW_FAKE_OPENAI=" + fake.URL + "/v1",
		"LLMGW_SSO_PROVIDER=test-sso",
		"LLMGW_SSO_ISSUER=" + idp.Issuer,
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
	checkDashboard(ctx, t, usage, out)
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

// checkDashboard compares the rest of the dashboard e2e.mjs printed (the time series, cost by
// user, latency per model, over the range the page showed) with the Usage API's answers for
// the same range.
func checkDashboard(ctx context.Context, t *testing.T, usage usagev1connect.UsageServiceClient, out []byte) {
	t.Helper()
	line := func(prefix string) map[string]string {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix) + ` (.*)$`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("e2e.mjs printed no %q line; output:\n%s", prefix, out)
		}
		kv := map[string]string{}
		for _, f := range regexp.MustCompile(`(\w+)=(\S+)`).FindAllStringSubmatch(string(m[1]), -1) {
			kv[f[1]] = f[2]
		}
		return kv
	}
	series := line("dashboard series")
	start, err1 := time.Parse(time.RFC3339, series["start"])
	end, err2 := time.Parse(time.RFC3339, series["end"])
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("dashboard range: %v", err)
	}
	filter := &usagev1.Filter{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)}
	want := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("dashboard %s %q, Usage API %q", what, got, want)
		}
	}

	ts, err := usage.GetTimeSeries(ctx, &usagev1.GetTimeSeriesRequest{Filter: filter, Granularity: usagev1.Granularity_GRANULARITY_HOUR, GroupBy: usagev1.Dimension_DIMENSION_MODEL})
	if err != nil {
		t.Fatal(err)
	}
	var echo *usagev1.Series
	for _, s := range ts.GetSeries() {
		if s.GetGroup() == "mock/echo" {
			echo = s
		}
	}
	if echo == nil {
		t.Fatalf("Usage API time series has no mock/echo series: %v", ts)
	}
	want("series requests", series["requests"], strconv.FormatInt(echo.GetTotals().GetRequests(), 10))
	want("series completion tokens", series["completion_tokens"], strconv.FormatInt(echo.GetTotals().GetCompletionTokens(), 10))
	want("series cost", series["cost"], usd(echo.GetTotals().GetCostUsd()))

	for _, c := range []struct {
		dim usagev1.Dimension
		key string // as the page names the group; the API's key for "(none)" is ""
	}{{usagev1.Dimension_DIMENSION_USER, "alice"}, {usagev1.Dimension_DIMENSION_TEAM, "eng"}} { // the metadata group, which grows during the run, e2e.mjs compares at once
		name := strings.ToLower(strings.TrimPrefix(c.dim.String(), "DIMENSION_"))
		cost := line("dashboard cost dim=" + name)
		req := &usagev1.GetCostBreakdownRequest{Filter: filter, GroupBy: c.dim}
		if c.dim == usagev1.Dimension_DIMENSION_METADATA {
			req.GroupByMetadataKey = "project"
		}
		cb, err := usage.GetCostBreakdown(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var got *usagev1.Totals
		for _, g := range cb.GetGroups() {
			if g.GetKey() == strings.TrimSuffix(c.key, "(none)") {
				got = g.GetTotals()
			}
		}
		if got == nil || cost["key"] != c.key {
			t.Fatalf("cost by %s: page's group %q, Usage API's groups %v", name, cost["key"], cb.GetGroups())
		}
		want("cost by "+name+" requests", cost["requests"], strconv.FormatInt(got.GetRequests(), 10))
		want("cost by "+name+" failures", cost["failures"], strconv.FormatInt(got.GetFailures(), 10))
		want("cost by "+name+" completion tokens", cost["completion_tokens"], strconv.FormatInt(got.GetCompletionTokens(), 10))
		want("cost by "+name+" cost", cost["cost"], usd(got.GetCostUsd()))
	}

	lat := line("dashboard latency mock/echo")
	lp, err := usage.GetLatencyPercentiles(ctx, &usagev1.GetLatencyPercentilesRequest{Filter: filter})
	if err != nil {
		t.Fatal(err)
	}
	var ml *usagev1.ModelLatency
	for _, m := range lp.GetModels() {
		if m.GetModel() == "mock/echo" {
			ml = m
		}
	}
	if ml == nil {
		t.Fatalf("Usage API latency has no mock/echo: %v", lp)
	}
	want("latency requests", lat["requests"], strconv.FormatInt(ml.GetRequests(), 10))
	want("latency p50", lat["p50"], durationMs(ml.GetLatency().GetP50()))
	want("latency p95", lat["p95"], durationMs(ml.GetLatency().GetP95()))
	want("latency p99", lat["p99"], durationMs(ml.GetLatency().GetP99()))
	want("latency streams", lat["streams"], strconv.FormatInt(ml.GetStreams(), 10))
	want("ttft p50", lat["ttft_p50"], durationMs(ml.GetTtft().GetP50()))
	want("ttft p95", lat["ttft_p95"], durationMs(ml.GetTtft().GetP95()))
	want("ttft p99", lat["ttft_p99"], durationMs(ml.GetTtft().GetP99()))
	if ml.GetStreams() == 0 || ml.GetLatency().GetP50().AsDuration() <= 0 {
		t.Errorf("Usage API latency of mock/echo: %d streams, p50 %v; want the Playground's streams timed", ml.GetStreams(), ml.GetLatency().GetP50().AsDuration())
	}
}

// usd is how the web app shows a cost: "$" and JavaScript's String(number), the double's
// shortest representation, in exponent form below 1e-6 and from 1e21 ("1e-7", "1.5e+21").
func usd(v float64) string {
	if a := math.Abs(v); a == 0 || (a >= 1e-6 && a < 1e21) {
		return "$" + strconv.FormatFloat(v, 'f', -1, 64)
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(v, 'e', -1, 64), "e")
	sign, digits := exp[:1], strings.TrimLeft(exp[1:], "0")
	return "$" + mant + "e" + sign + digits
}

// durationMs is how the web app shows a duration: milliseconds with every nanosecond digit,
// trailing zeros dropped; the value only (the page prints "<n> ms", the line splits at spaces).
func durationMs(d interface{ AsDuration() time.Duration }) string {
	ns := d.AsDuration().Nanoseconds()
	s := strconv.FormatInt(ns/1e6, 10)
	if frac := strings.TrimRight(fmt.Sprintf("%06d", ns%1e6), "0"); frac != "" {
		s += "." + frac
	}
	return s
}

// roleKey creates a user with Admin API roles (and teams) and returns a key of theirs, named
// "<name>-key".
func (g *gateway) roleKey(t *testing.T, name string, roles []string, teams ...string) string {
	t.Helper()
	ctx := context.Background()
	admin := g.adminClient()
	if _, err := admin.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: name, Roles: roles, Teams: teams}}); err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	k, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: name + "-key", Owner: &adminv1.ApiKey_User{User: name}}})
	if err != nil {
		t.Fatalf("create key for %s: %v", name, err)
	}
	return k.GetSecret()
}
