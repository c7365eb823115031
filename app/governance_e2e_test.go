package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
	inferencev1 "github.com/llmgw/llmgw/gen/go/llmgw/inference/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/inference/v1/inferencev1connect"
)

// governanceConfig is an OpenAI account on the fake upstream, a model priced at one dollar an
// output token (so a request with max_tokens 1 reserves exactly one dollar), authz for alice
// and bob, and TrueFoundry's V1 documents, as their docs write them.
func governanceConfig(upstream string) string {
	return fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: limited, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: tokens, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: audited, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
- authz_rules:
    - models: [fake/*]
      users: [alice, bob]
---
name: ratelimiting-config
type: gateway-rate-limiting-config
rules:
  - id: alice-5-per-minute
    when:
      subjects: ["user:alice"]
      models: ["fake/limited"]
    limit_to: 5
    unit: requests_per_minute
    rate_limit_applies_per: ['user']
  - id: stream-tokens
    when:
      models: ["fake/tokens"]
    limit_to: 100
    unit: tokens_per_minute
    rate_limit_applies_per: ['user']
---
name: budget-config
type: gateway-budget-config
rules:
  - id: audited-budget
    when:
      models: ["fake/audited"]
    limit_to: 0.00001
    unit: cost_per_month
    budget_applies_per: ["user"]
    audit_mode: true
`, upstream)
}

type govFixture struct {
	g     *gateway
	up    *providertest.OpenAI
	admin adminv1connect.AdminServiceClient
	alice string
	bob   string
}

func newGovFixture(t *testing.T) *govFixture {
	t.Helper()
	up := providertest.NewOpenAI(t)
	cfgPath := writeConfig(t, governanceConfig(up.BaseURL()))
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", cfgPath)
	f := &govFixture{g: g, up: up}
	f.admin = adminv1connect.NewAdminServiceClient(http.DefaultClient, g.URL, connect.WithInterceptors(bearer(g.Token)))
	ctx := context.Background()
	for _, name := range []string{"alice", "bob"} {
		if _, err := f.admin.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: name}}); err != nil {
			t.Fatal(err)
		}
		k, err := f.admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: name + "-key", Owner: &adminv1.ApiKey_User{User: name}}})
		if err != nil {
			t.Fatal(err)
		}
		if name == "alice" {
			f.alice = k.GetSecret()
		} else {
			f.bob = k.GetSecret()
		}
	}
	return f
}

func (f *govFixture) client(key string) *openai.Client {
	c := openai.NewClient(option.WithBaseURL(f.g.URL+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
	return &c
}

func chatParams(model string, maxTokens int64) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	if maxTokens > 0 {
		p.MaxCompletionTokens = openai.Int(maxTokens)
	}
	return p
}

// upstreamCalls counts the fake's chat calls for an upstream model id.
func upstreamCalls(up *providertest.OpenAI) int {
	return len(up.Requests())
}

// TestRateLimitFromTrueFoundryFile: the TrueFoundry per-user requests_per_minute rule admits
// exactly 5 of alice's 20 requests in a minute; the 15 others are 429 in OpenAI's shape
// (requests / rate_limit_exceeded, Retry-After, naming the rule) and never reach the upstream;
// admitted answers carry OpenAI's x-ratelimit-* headers; bob, whom the rule does not name, is
// not limited; every request leaves one record and the admitted ones name the rule.
func TestRateLimitFromTrueFoundryFile(t *testing.T) {
	f := newGovFixture(t)
	ctx := context.Background()
	c := f.client(f.alice)
	before := upstreamCalls(f.up)
	var ok, refused int
	for i := range 20 {
		var resp *http.Response
		_, err := c.Chat.Completions.New(ctx, chatParams("fake/limited", 0), option.WithResponseInto(&resp))
		if err == nil {
			ok++
			if got, want := resp.Header.Get("X-Ratelimit-Remaining-Requests"), fmt.Sprint(5-ok); got != want || resp.Header.Get("X-Ratelimit-Limit-Requests") != "5" || resp.Header.Get("X-Ratelimit-Reset-Requests") == "" {
				t.Errorf("request %d: x-ratelimit headers %v, want remaining %s of 5", i, resp.Header, want)
			}
			continue
		}
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Type != "requests" || ae.Code != "rate_limit_exceeded" || !strings.Contains(ae.Message, "alice-5-per-minute") {
			t.Fatalf("request %d: %v, want a 429 rate_limit_exceeded naming the rule", i, err)
		}
		if ae.Response.Header.Get("Retry-After") == "" {
			t.Errorf("request %d: no Retry-After", i)
		}
		refused++
	}
	if ok != 5 || refused != 15 {
		t.Fatalf("admitted %d, refused %d; want 5 and 15", ok, refused)
	}
	if n := upstreamCalls(f.up) - before; n != 5 {
		t.Errorf("the upstream got %d calls, want 5", n)
	}
	// bob is not in the rule's subjects.
	for range 6 {
		if _, err := f.client(f.bob).Chat.Completions.New(ctx, chatParams("fake/limited", 0)); err != nil {
			t.Fatalf("bob: %v", err)
		}
	}
	// The admitted requests' events name the rule; the refusals are records of their own (the
	// edge records a refusal when its handler returns, maybe after the client has the answer).
	count := func() (counted, refusals int) {
		f.g.Events.mu.Lock()
		defer f.g.Events.mu.Unlock()
		for _, ev := range f.g.Events.all {
			if ev.Model != "fake/limited" || ev.Principal != "user:alice" {
				continue
			}
			switch {
			case ev.Status == "ok" && len(ev.Counted) == 1 && ev.Counted[0] == "rate_limit:alice-5-per-minute":
				counted++
			case ev.Status == "rate_limit_exceeded" && ev.HTTPStatus == 429 && ev.Operation == "":
				refusals++
			}
		}
		return counted, refusals
	}
	waitUntil(t, func() bool { c, r := count(); return c+r >= 20 })
	if counted, refusals := count(); counted != 5 || refusals != 15 {
		t.Errorf("records: %d counted, %d refusals; want 5 and 15", counted, refusals)
	}
	// The status listing shows alice's bucket full.
	st, err := f.admin.ListLimitStatus(ctx, &adminv1.ListLimitStatusRequest{Rule: "alice-5-per-minute"})
	if err != nil {
		t.Fatal(err)
	}
	if s := st.GetStatuses(); len(s) != 1 || s[0].GetUsed() != 5 || s[0].GetLimit() != 5 || s[0].GetRemaining() != 0 || s[0].GetBucket() != "user:alice" {
		t.Errorf("status %v, want alice's bucket at 5 of 5", s)
	}
}

// TestRateLimitRefusalInEveryDialect: the same rule refuses on the Anthropic surface in
// Anthropic's shape with retry-after, and on gRPC with ResourceExhausted and a RetryInfo.
func TestRateLimitRefusalInEveryDialect(t *testing.T) {
	f := newGovFixture(t)
	ctx := context.Background()
	for range 5 {
		if _, err := f.client(f.alice).Chat.Completions.New(ctx, chatParams("fake/limited", 0)); err != nil {
			t.Fatal(err)
		}
	}
	ac := anthropic.NewClient(anthropicoption.WithBaseURL(f.g.URL), anthropicoption.WithAPIKey(f.alice), anthropicoption.WithMaxRetries(0))
	_, err := ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "fake/limited", MaxTokens: 5,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var aerr *anthropic.Error
	if !errors.As(err, &aerr) || aerr.StatusCode != 429 || aerr.Response.Header.Get("Retry-After") == "" || !strings.Contains(aerr.RawJSON(), "rate_limit_error") {
		t.Errorf("anthropic: %v, want a 429 rate_limit_error with retry-after", err)
	}
	ic := inferencev1connect.NewInferenceServiceClient(h2cClient(), f.g.URL, connect.WithGRPC(), connect.WithInterceptors(bearer(f.alice)))
	_, err = ic.ChatCompletion(ctx, &inferencev1.ChatCompletionRequest{Model: "fake/limited", Messages: []*inferencev1.Message{{
		Role: inferencev1.Role_ROLE_USER, Content: []*inferencev1.ContentPart{{Part: &inferencev1.ContentPart_Text{Text: "hi"}}}}}})
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("grpc: %v, want ResourceExhausted", err)
	}
	var ce *connect.Error
	var retry bool
	if errors.As(err, &ce) {
		for _, d := range ce.Details() {
			if v, derr := d.Value(); derr == nil {
				if ri, ok := v.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
					retry = true
				}
			}
		}
	}
	if !retry {
		t.Errorf("grpc: no RetryInfo detail in %v", err)
	}
}

// TestStreamedTokensSettleToTheRealCount: a tokens_per_minute limit of 100 reserves each
// request's maximum (its prompt at four bytes a token, about 28, plus max_tokens 10) and
// settles it to the 18 tokens the fake's stream reports: 4 streamed requests fit one after
// another, where without the settle only 2 would, and the window then counts exactly the
// settled tokens.
func TestStreamedTokensSettleToTheRealCount(t *testing.T) {
	f := newGovFixture(t)
	ctx := context.Background()
	c := f.client(f.alice)
	admitted := 0
	for i := range 7 {
		st := c.Chat.Completions.NewStreaming(ctx, chatParams("fake/tokens", 10))
		for st.Next() {
		}
		err := st.Err()
		st.Close()
		if err == nil {
			admitted++
			continue
		}
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Type != "tokens" {
			t.Fatalf("stream %d: %v, want a 429 of type tokens", i, err)
		}
	}
	if admitted < 4 {
		t.Errorf("%d streamed requests fit, want at least 4 (2 without the settle)", admitted)
	}
	st, err := f.admin.ListLimitStatus(ctx, &adminv1.ListLimitStatusRequest{Rule: "stream-tokens"})
	if err != nil {
		t.Fatal(err)
	}
	if s := st.GetStatuses(); len(s) != 1 || s[0].GetUsed() != float64(18*admitted) || s[0].GetUnit() != "tokens_per_minute" {
		t.Errorf("status %v, want %d settled tokens", s, 18*admitted)
	}
}

// TestBudgetReservationUnderConcurrency: 200 concurrent requests against a budget that fits
// exactly 10 reservations reach the upstream at most 10 times; the rest are 429
// insufficient_quota naming the budget.
func TestBudgetReservationUnderConcurrency(t *testing.T) {
	f := newGovFixture(t)
	ctx := context.Background()
	if _, err := f.admin.CreateModel(ctx, &adminv1.CreateModelRequest{Model: &adminv1.Model{Account: "fake", Name: "priced", UpstreamModel: "gpt-4o-mini",
		Types: []string{"chat"}, Pricing: &adminv1.Pricing{InputPerMtok: 0, OutputPerMtok: 1e6}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.CreateBudget(ctx, &adminv1.CreateBudgetRequest{Budget: &adminv1.Budget{Name: "ten-dollars", Unit: "cost_per_day", LimitTo: 10,
		When: &adminv1.Condition{Models: []string{"fake/priced"}}}}); err != nil {
		t.Fatal(err)
	}
	before := upstreamCalls(f.up)
	var wg sync.WaitGroup
	var ok, quota, other atomic.Int32
	for range 200 {
		wg.Go(func() {
			_, err := f.client(f.alice).Chat.Completions.New(ctx, chatParams("fake/priced", 1))
			var ae *openai.Error
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &ae) && ae.StatusCode == 429 && ae.Code == "insufficient_quota" && strings.Contains(ae.Message, "ten-dollars"):
				quota.Add(1)
			default:
				other.Add(1)
				t.Errorf("unexpected: %v", err)
			}
		})
	}
	wg.Wait()
	calls := upstreamCalls(f.up) - before
	if calls < 1 || calls > 10 || int(ok.Load()) != calls || ok.Load()+quota.Load() != 200 {
		t.Errorf("upstream calls %d, admitted %d, refused %d, other %d; want at most 10 admitted, the rest refused", calls, ok.Load(), quota.Load(), other.Load())
	}
}

// TestAuditBudgetNeverBlocks: the TrueFoundry audit_mode budget is far exceeded and refuses
// nothing; the events say which rule would have blocked.
func TestAuditBudgetNeverBlocks(t *testing.T) {
	f := newGovFixture(t)
	ctx := context.Background()
	for i := range 4 {
		var resp *http.Response
		if _, err := f.client(f.alice).Chat.Completions.New(ctx, chatParams("fake/audited", 0), option.WithResponseInto(&resp)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		ev := f.g.Events.waitFor(t, resp.Header.Get("X-Request-Id"))
		if len(ev.Counted) != 1 || ev.Counted[0] != "budget:audited-budget" {
			t.Errorf("request %d counted %v", i, ev.Counted)
		}
		// Each request's maximum (gpt-4o-mini's 16,384 output tokens at the catalog price) is far
		// over $0.00001: an enforced budget would refuse every one.
		if len(ev.WouldBlock) != 1 || ev.WouldBlock[0] != "budget:audited-budget" || ev.Status != "ok" {
			t.Errorf("request %d: status %s, would block %v", i, ev.Status, ev.WouldBlock)
		}
	}
}

// TestBudgetAlertsAreSignedWebhooks: crossing 75, 90 and 100 percent of a budget posts one
// signed webhook per threshold, and no more when spend goes on.
func TestBudgetAlertsAreSignedWebhooks(t *testing.T) {
	f := newGovFixture(t)
	ctx := context.Background()
	const secret = "whsec-test-0123456789"
	hookURL, deliveries := signedWebhook(t, secret)
	if _, err := f.admin.CreateModel(ctx, &adminv1.CreateModelRequest{Model: &adminv1.Model{Account: "fake", Name: "priced", UpstreamModel: "gpt-4o-mini",
		Types: []string{"chat"}, Pricing: &adminv1.Pricing{OutputPerMtok: 1e6}}}); err != nil {
		t.Fatal(err)
	}
	// The fake answers 7 completion tokens: $7 a request against $20.
	if _, err := f.admin.CreateBudget(ctx, &adminv1.CreateBudgetRequest{Budget: &adminv1.Budget{Name: "alerting", Unit: "cost_per_month", LimitTo: 20, Mode: adminv1.Mode_MODE_AUDIT,
		When:   &adminv1.Condition{Models: []string{"fake/priced"}},
		Alerts: &adminv1.BudgetAlerts{NotificationTarget: []*adminv1.NotificationTarget{{Type: "webhook", Url: hookURL, Secret: secret}}}}}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := f.client(f.alice).Chat.Completions.New(ctx, chatParams("fake/priced", 1)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, func() bool { return len(deliveries()) >= 3 })
	f.g.stop() // the notifier's queue is flushed at shutdown: nothing more can arrive
	got := deliveries()
	if len(got) != 3 {
		t.Fatalf("%d deliveries, want 3 (75, 90, 100 once each): %v", len(got), got)
	}
	seen := map[float64]bool{}
	for _, m := range got {
		if m["rule"] != "alerting" {
			t.Errorf("delivery %v", m)
		}
		th, _ := m["threshold_percent"].(float64)
		seen[th] = true
	}
	if !seen[75] || !seen[90] || !seen[100] {
		t.Errorf("thresholds %v, want 75, 90 and 100", seen)
	}
	// Each alert is also one event on the usage stream.
	f.g.Events.mu.Lock()
	defer f.g.Events.mu.Unlock()
	alerts := map[string]bool{}
	for _, ev := range f.g.Events.all {
		if ev.Operation == "budget_alert" && len(ev.Counted) == 1 && ev.Counted[0] == "budget:alerting" && ev.Metadata["limit"] == "20" {
			alerts[ev.Metadata["threshold_percent"]] = true
		}
	}
	if len(alerts) != 3 || !alerts["75"] || !alerts["90"] || !alerts["100"] {
		t.Errorf("alert events %v, want 75, 90 and 100", alerts)
	}
}

// signedWebhook is a webhook notification target that checks each delivery's
// X-LLMGW-Signature (HMAC-SHA256 of the body with secret) and keeps the decoded bodies;
// deliveries returns them so far.
func signedWebhook(t *testing.T, secret string) (url string, deliveries func() []map[string]any) {
	var mu sync.Mutex
	var got []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(r.Header.Get("X-LLMGW-Signature")), []byte(want)) {
			t.Errorf("bad signature %q", r.Header.Get("X-LLMGW-Signature"))
			w.WriteHeader(400)
			return
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	return hook.URL, func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetadataAndUnpricedModels: a rule scoped and split by request metadata counts only the
// requests that carry it, one counter per value; a bad metadata header is a 400 naming it; a
// cost budget over a model without a price refuses it, naming the model.
func TestMetadataAndUnpricedModels(t *testing.T) {
	f := newGovFixture(t)
	ctx := context.Background()
	if _, err := f.admin.CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: &adminv1.RateLimit{Name: "per-project",
		When:       &adminv1.Condition{Models: []string{"fake/gpt"}, Metadata: map[string]string{"env": "prod"}},
		Limits:     []*adminv1.RateLimitEntry{{Unit: "requests_per_hour", LimitTo: 1}},
		AppliesPer: []string{"metadata.project"}}}); err != nil {
		t.Fatal(err)
	}
	send := func(meta string) error {
		var opts []option.RequestOption
		if meta != "" {
			opts = append(opts, option.WithHeader("X-TFY-METADATA", meta))
		}
		_, err := f.client(f.alice).Chat.Completions.New(ctx, chatParams("fake/gpt", 0), opts...)
		return err
	}
	status := func(err error) int {
		var ae *openai.Error
		if errors.As(err, &ae) {
			return ae.StatusCode
		}
		if err != nil {
			return -1
		}
		return 200
	}
	steps := []struct {
		meta string
		want int
	}{
		{`{"env":"prod","project":"a"}`, 200},
		{`{"env":"prod","project":"a"}`, 429}, // project a's counter is spent
		{`{"env":"prod","project":"b"}`, 200}, // project b has its own
		{`{"env":"dev","project":"a"}`, 200},  // the rule wants env=prod
		{``, 200},                             // no metadata: the rule does not match
	}
	for i, s := range steps {
		if got := status(send(s.meta)); got != s.want {
			t.Errorf("step %d (%s): status %d, want %d", i, s.meta, got, s.want)
		}
	}
	err := send(`{"env":["not","a","string"]}`)
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "X-TFY-METADATA" {
		t.Errorf("bad metadata: %v, want a 400 naming the header", err)
	}

	// A model the catalog does not know, with no pricing override, has no price.
	if _, err := f.admin.CreateModel(ctx, &adminv1.CreateModelRequest{Model: &adminv1.Model{Account: "fake", Name: "unpriced", UpstreamModel: "house-model-7b", Types: []string{"chat"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.CreateBudget(ctx, &adminv1.CreateBudgetRequest{Budget: &adminv1.Budget{Name: "unpriced-cost", Unit: "cost_per_day", LimitTo: 100,
		When: &adminv1.Condition{Models: []string{"fake/unpriced"}}}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.client(f.alice).Chat.Completions.New(ctx, chatParams("fake/unpriced", 0))
	if !errors.As(err, &ae) || ae.StatusCode != 403 || ae.Code != "model_unpriced" || !strings.Contains(ae.Message, "fake/unpriced") {
		t.Errorf("unpriced model under a cost budget: %v, want 403 model_unpriced naming it", err)
	}
}

// TestDeletedRulesArePruned: the counters of a rule that was deleted are dropped by the next
// prune; those of a rule that still exists are kept.
func TestDeletedRulesArePruned(t *testing.T) {
	up := providertest.NewOpenAI(t)
	cfgPath := writeConfig(t, governanceConfig(up.BaseURL()))
	var gov *governance
	g := startGatewayHooks(t, hooks{governance: func(s *governance) { gov = s }}, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", cfgPath)
	f := &govFixture{g: g, up: up, admin: adminv1connect.NewAdminServiceClient(http.DefaultClient, g.URL, connect.WithInterceptors(bearer(g.Token)))}
	ctx := context.Background()
	if _, err := f.admin.CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: &adminv1.RateLimit{Name: "doomed",
		Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_hour", LimitTo: 100}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client(g.Token).Chat.Completions.New(ctx, chatParams("fake/limited", 0)); err != nil {
		t.Fatal(err)
	}
	rules := func() map[string]bool {
		out := map[string]bool{}
		for _, s := range gov.limits.Status(nil) {
			out[s.Rule] = true
		}
		return out
	}
	if r := rules(); !r["doomed"] {
		t.Fatalf("counted rules %v, want doomed", r)
	}
	if _, err := f.admin.DeleteRateLimit(ctx, &adminv1.DeleteRateLimitRequest{Name: "doomed"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := gov.pruneOnce(); n != 1 {
		t.Errorf("pruned %d buckets, want 1", n)
	}
	if r := rules(); r["doomed"] {
		t.Errorf("the deleted rule's counters are still there: %v", r)
	}
}
