package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/analytics/embedded"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	"github.com/llmgw/llmgw/gateway/usage"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/usage/v1/usagev1connect"
)

func usageConfig(upstream string) string {
	return fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: broken, type: integration/model/openai, model_id: %s500, model_types: [chat]}
- authz_rules:
    - models: [fake/*]
      users: [alice, bob]
`, upstream, providertest.ModelErrorPrefix)
}

func (g *gateway) usageClient(key string, opts ...connect.ClientOption) usagev1connect.UsageServiceClient {
	return usagev1connect.NewUsageServiceClient(h2cClient(), g.URL, append(opts, connect.WithInterceptors(bearer(key)))...)
}

// sumEvents is what the Usage API must answer for events.
func sumEvents(evs []usage.Event) *usagev1.Totals {
	t := &usagev1.Totals{}
	for _, e := range evs {
		t.Requests++
		if e.Status != "ok" {
			t.Failures++
		}
		t.PromptTokens += e.Usage.PromptTokens
		t.CompletionTokens += e.Usage.CompletionTokens
		t.CacheReadTokens += e.Usage.CachedTokens()
		t.ReasoningTokens += e.Usage.ReasoningTokens()
		t.CostUsd += e.CostUSD
		if !e.Priced {
			t.UnpricedRequests++
		}
	}
	return t
}

func sameTotals(t *testing.T, what string, want, got *usagev1.Totals) {
	t.Helper()
	if got.GetRequests() != want.GetRequests() || got.GetFailures() != want.GetFailures() || got.GetPromptTokens() != want.GetPromptTokens() ||
		got.GetCompletionTokens() != want.GetCompletionTokens() || got.GetCacheReadTokens() != want.GetCacheReadTokens() ||
		got.GetReasoningTokens() != want.GetReasoningTokens() || got.GetUnpricedRequests() != want.GetUnpricedRequests() ||
		math.Abs(got.GetCostUsd()-want.GetCostUsd()) > 1e-12 {
		t.Errorf("%s: totals\n got %v\nwant %v", what, got, want)
	}
}

// TestUsageAPI: requests of two users, streamed, answered whole and failed, end in the
// embedded store, and the Usage API answers their exact totals: to the admin everyone's, to a
// user only their own, over Connect, gRPC and REST; a request whose bodies were logged has
// them in GetRequest, and only there.
func TestUsageAPI(t *testing.T) {
	up := providertest.NewOpenAI(t)
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", writeConfig(t, usageConfig(up.BaseURL())))
	ctx := context.Background()
	if _, err := g.adminClient().CreateTeam(ctx, &adminv1.CreateTeamRequest{Team: &adminv1.Team{Name: "team-a"}}); err != nil {
		t.Fatal(err)
	}
	alice, bob := g.userKey(t, "alice", "team-a"), g.userKey(t, "bob")

	chat := func(key, model string, stream bool) string {
		t.Helper()
		body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hello usage"}],"stream":%v,"stream_options":{"include_usage":true}}`, model, stream)
		if !stream {
			body = fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hello usage"}]}`, model)
		}
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-LLMGW-Metadata", `{"app":"e2e"}`)
		if stream {
			req.Header.Set("X-LLMGW-Logging-Config", `{"enabled": true}`) // its bodies are logged
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if want := model == "fake/gpt"; (resp.StatusCode == http.StatusOK) != want {
			t.Fatalf("%s: status %d", model, resp.StatusCode)
		}
		return resp.Header.Get("X-Request-Id")
	}
	aliceIDs := []string{chat(alice, "fake/gpt", false), chat(alice, "fake/gpt", true), chat(alice, "fake/broken", false)}
	bobIDs := []string{chat(bob, "fake/gpt", false)}
	var aliceEvs, bobEvs []usage.Event
	for _, id := range aliceIDs {
		aliceEvs = append(aliceEvs, g.Events.waitFor(t, id))
	}
	for _, id := range bobIDs {
		bobEvs = append(bobEvs, g.Events.waitFor(t, id))
	}
	wantAlice, wantBob := sumEvents(aliceEvs), sumEvents(bobEvs)
	// The fake's usage (11 prompt tokens, 3 cached; 7 completion, 2 reasoning) answered whole
	// and streamed, and a failure with none.
	if wantAlice.GetRequests() != 3 || wantAlice.GetFailures() != 1 || wantAlice.GetPromptTokens() != 22 || wantAlice.GetCompletionTokens() != 14 ||
		wantAlice.GetCacheReadTokens() != 6 || wantAlice.GetReasoningTokens() != 4 || wantAlice.GetCostUsd() <= 0 {
		t.Fatalf("alice's recorded events: %v", wantAlice)
	}
	wantAll := sumEvents(append(append([]usage.Event{}, aliceEvs...), bobEvs...))

	admin := g.usageClient(g.Token)
	// The store is written off the request path: wait until it holds every event.
	waitUntil(t, func() bool {
		res, err := admin.GetCostBreakdown(ctx, &usagev1.GetCostBreakdownRequest{})
		return err == nil && res.GetTotals().GetRequests() == 4
	})

	t.Run("admin sees everyone", func(t *testing.T) {
		res, err := admin.GetCostBreakdown(ctx, &usagev1.GetCostBreakdownRequest{GroupBy: usagev1.Dimension_DIMENSION_USER})
		if err != nil {
			t.Fatal(err)
		}
		sameTotals(t, "all", wantAll, res.GetTotals())
		by := map[string]*usagev1.Totals{}
		for _, gr := range res.GetGroups() {
			by[gr.GetKey()] = gr.GetTotals()
		}
		sameTotals(t, "alice", wantAlice, by["alice"])
		sameTotals(t, "bob", wantBob, by["bob"])
		// The same over gRPC, as a time series per minute filtered by team and metadata.
		grpcAdmin := g.usageClient(g.Token, connect.WithGRPC())
		ts, err := grpcAdmin.GetTimeSeries(ctx, &usagev1.GetTimeSeriesRequest{Granularity: usagev1.Granularity_GRANULARITY_MINUTE,
			Filter: &usagev1.Filter{Teams: []string{"team-a"}, Metadata: map[string]string{"app": "e2e"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ts.GetSeries()) != 1 {
			t.Fatalf("series: %v", ts)
		}
		sameTotals(t, "team-a series", wantAlice, ts.GetSeries()[0].GetTotals())
		lat, err := admin.GetLatencyPercentiles(ctx, &usagev1.GetLatencyPercentilesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(lat.GetModels()) != 1 || lat.GetModels()[0].GetModel() != "fake/gpt" || lat.GetModels()[0].GetRequests() != 3 || lat.GetModels()[0].GetStreams() != 1 {
			t.Errorf("latency: %v", lat)
		}
	})

	t.Run("a user sees their own", func(t *testing.T) {
		c := g.usageClient(alice)
		res, err := c.GetCostBreakdown(ctx, &usagev1.GetCostBreakdownRequest{GroupBy: usagev1.Dimension_DIMENSION_MODEL})
		if err != nil {
			t.Fatal(err)
		}
		sameTotals(t, "alice's view", wantAlice, res.GetTotals())
		list, err := c.ListRequests(ctx, &usagev1.ListRequestsRequest{PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		next, err := c.ListRequests(ctx, &usagev1.ListRequestsRequest{PageSize: 2, PageToken: list.GetNextPageToken()})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range append(list.GetEvents(), next.GetEvents()...) {
			got = append(got, e.GetEventId())
			if e.GetUser() != "alice" {
				t.Errorf("alice sees %s's event %s", e.GetUser(), e.GetEventId())
			}
		}
		if want := []string{aliceIDs[2], aliceIDs[1], aliceIDs[0]}; strings.Join(got, ",") != strings.Join(want, ",") || next.GetNextPageToken() != "" {
			t.Errorf("alice's request log %v, want %v, newest first", got, want)
		}
		failed, err := c.GetRequest(ctx, &usagev1.GetRequestRequest{EventId: aliceIDs[2]})
		if err != nil {
			t.Fatal(err)
		}
		if e := failed.GetEvent(); e.GetStatus() == "ok" || len(e.GetAttempts()) == 0 || e.GetAttempts()[0].GetTarget() != "fake/broken" || e.GetMetadata()["app"] != "e2e" {
			t.Errorf("alice's failed request: %v", e)
		}
		streamed, err := c.GetRequest(ctx, &usagev1.GetRequestRequest{EventId: aliceIDs[1]})
		if err != nil {
			t.Fatal(err)
		}
		if b := streamed.GetEvent().GetBodies(); !strings.Contains(string(b.GetRequest()), "hello usage") || len(b.GetResponse()) == 0 {
			t.Errorf("the streamed request's logged bodies: %v", b)
		}
		if failed.GetEvent().GetBodies() != nil {
			t.Error("bodies of a request that did not ask for them")
		}
		for _, e := range list.GetEvents() {
			if e.GetBodies() != nil {
				t.Errorf("listed event %s carries bodies", e.GetEventId())
			}
		}
		if _, err := c.GetRequest(ctx, &usagev1.GetRequestRequest{EventId: bobIDs[0]}); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("alice reading bob's request: %v, want NotFound", err)
		}
		if _, err := c.GetCostBreakdown(ctx, &usagev1.GetCostBreakdownRequest{Filter: &usagev1.Filter{Users: []string{"bob"}}}); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("alice asking for bob's usage: %v, want PermissionDenied", err)
		}
		bobList, err := g.usageClient(bob).ListRequests(ctx, &usagev1.ListRequestsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(bobList.GetEvents()) != 1 || bobList.GetEvents()[0].GetEventId() != bobIDs[0] {
			t.Errorf("bob's request log: %v", bobList.GetEvents())
		}
	})

	t.Run("REST", func(t *testing.T) {
		resp, body := g.do(t, http.MethodPost, "/api/v1/usage/cost-breakdown", alice, `{"groupBy":"DIMENSION_MODEL"}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var out struct {
			Groups []struct {
				Key    string `json:"key"`
				Totals struct {
					Requests string  `json:"requests"`
					CostUsd  float64 `json:"costUsd"`
				} `json:"totals"`
			} `json:"groups"`
			Totals struct {
				Requests string  `json:"requests"`
				Failures string  `json:"failures"`
				CostUsd  float64 `json:"costUsd"`
			} `json:"totals"`
		}
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		if out.Totals.Requests != "3" || out.Totals.Failures != "1" || math.Abs(out.Totals.CostUsd-wantAlice.GetCostUsd()) > 1e-12 || len(out.Groups) != 2 {
			t.Errorf("alice's breakdown over REST: %s", body)
		}
		resp, body = g.do(t, http.MethodGet, "/api/v1/usage/requests/"+bobIDs[0], g.Token, "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"user":"bob"`) {
			t.Errorf("admin reading bob's request over REST: %d %s", resp.StatusCode, body)
		}
		if resp, body := g.do(t, http.MethodGet, "/api/v1/usage/requests/"+bobIDs[0], alice, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("alice reading bob's request over REST: %d %s", resp.StatusCode, body)
		}
		if resp, body := g.do(t, http.MethodPost, "/api/v1/usage/timeseries", "", `{}`); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("no key: %d %s", resp.StatusCode, body)
		}
	})
}

// TestUsageRetention: --usage-retention-days deletes older events from the embedded store
// when the gateway starts (and every hour after).
func TestUsageRetention(t *testing.T) {
	dir := t.TempDir()
	st, err := embedded.Open(context.Background(), filepath.Join(dir, embedded.FileName), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.Write(context.Background(), []*usagev1.UsageEvent{
		{EventId: "old", Time: timestamppb.New(now.Add(-3 * 24 * time.Hour)), Status: "ok", Model: "mock/echo"},
		{EventId: "recent", Time: timestamppb.New(now.Add(-12 * time.Hour)), Status: "ok", Model: "mock/echo"},
	}); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	for _, tt := range []struct {
		days string
		want int
	}{{"30", 2}, {"2", 1}} {
		t.Run(tt.days, func(t *testing.T) {
			g := startGateway(t, nil, "--db", "sqlite:"+filepath.Join(dir, "llmgw.db"), "--usage-retention-days", tt.days)
			week := &usagev1.Filter{StartTime: timestamppb.New(now.Add(-7 * 24 * time.Hour)), EndTime: timestamppb.New(now)}
			waitUntil(t, func() bool {
				res, err := g.usageClient(g.Token).ListRequests(context.Background(), &usagev1.ListRequestsRequest{Filter: week})
				return err == nil && len(res.GetEvents()) == tt.want
			})
			g.stop()
		})
	}
	if fi, err := os.Stat(filepath.Join(dir, embedded.FileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("usage.db: %v %v", fi.Mode(), err)
	}
}
