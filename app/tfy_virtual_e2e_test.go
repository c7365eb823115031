package app

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
)

// TestTrueFoundryVirtualModelExamples loads TrueFoundry's virtual model examples
// (configfile/testdata/virtual-models.yaml: a 90/10 weighted split across Azure OpenAI and
// OpenAI, and a priority chain with fallback) after the three accounts they name, on fakes
// where openai-main/gpt-4o answers 503, and drives them with openai-go and anthropic-sdk-go:
//   - prod/chat-ha tries openai-main first (priority 0), twice (the default retry_config), then
//     falls back to Azure (priority 1), never to anthropic-main (fallback_candidate: false), in
//     both dialects;
//   - prod/gpt-4o draws Azure first for about 90% of 400 requests and OpenAI for the rest; an
//     OpenAI draw is tried twice and falls back to Azure, or, once openai-main's circuit has
//     opened, is skipped; every answer comes from Azure.
func TestTrueFoundryVirtualModelExamples(t *testing.T) {
	up := providertest.NewOpenAI(t)
	claude := providertest.NewAnthropic(t, "anthropic-test-key")
	example, err := os.ReadFile("../configfile/testdata/virtual-models.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`
- name: openai-main
  type: provider-account/openai
  base_url: %[1]q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt-4o, type: integration/model/openai, model_id: fake-error-503, model_types: [chat]}
- name: azure-openai
  type: provider-account/openai
  base_url: %[1]q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt-4o, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
- name: anthropic-main
  type: provider-account/anthropic
  base_url: %[2]q
  auth_data: {type: api-key, api_key: env://ANTHROPIC_TEST_KEY}
  integrations:
    - {name: claude-sonnet-4-5, type: integration/model/anthropic, model_id: claude-sonnet-4-5}
- authz_rules:
    - models: [prod/*]
      users: [bob]
---
`, up.BaseURL(), claude.URL) + string(example)
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret, "ANTHROPIC_TEST_KEY": "anthropic-test-key"}, "--config", writeConfig(t, cfg))
	ctx := context.Background()
	bob := g.userKey(t, "bob")
	oc := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(bob), option.WithMaxRetries(0))
	ac := anthropic.NewClient(anthropicoption.WithBaseURL(g.URL), anthropicoption.WithAPIKey(bob), anthropicoption.WithMaxRetries(0))

	// The priority chain, in both dialects, while openai-main's circuit is still closed.
	var resp *http.Response
	if _, err := oc.Chat.Completions.New(ctx, chatParams("prod/chat-ha", 0), option.WithResponseInto(&resp)); err != nil {
		t.Fatal(err)
	}
	if got, attempts := resp.Header.Get("x-llmgw-resolved-model"), resp.Header.Get("x-llmgw-attempts"); got != "azure-openai/gpt-4o" || attempts != "3" {
		t.Errorf("prod/chat-ha (OpenAI dialect): %s after %s attempts, want azure-openai/gpt-4o after 3", got, attempts)
	}
	msg, err := ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "prod/chat-ha", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}, anthropicoption.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("x-llmgw-resolved-model"); got != "azure-openai/gpt-4o" || len(msg.Content) == 0 || msg.Content[0].Text == "" {
		t.Errorf("prod/chat-ha (Anthropic dialect): answered by %q with %v, want Azure's answer translated", got, msg.Content)
	}
	// The weighted split, by each request's first attempt.
	const n = 400
	first := map[string]int{}
	skipped := 0
	for i := range n {
		if _, err := oc.Chat.Completions.New(ctx, chatParams("prod/gpt-4o", 0), option.WithResponseInto(&resp)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := resp.Header.Get("x-llmgw-resolved-model"); got != "azure-openai/gpt-4o" {
			t.Fatalf("request %d answered by %q, want azure-openai/gpt-4o", i, got)
		}
		ev := g.Events.waitFor(t, resp.Header.Get("X-Request-Id"))
		if len(ev.Attempts) == 0 {
			t.Fatalf("request %d: no attempts", i)
		}
		first[ev.Attempts[0].Target]++
		// An OpenAI draw is tried twice, then Azure answers; once openai-main's circuit has
		// opened (it keeps failing), the draw is skipped at once.
		switch a := ev.Attempts; {
		case a[0].Target == "azure-openai/gpt-4o" && len(a) == 1:
		case a[0].Target == "openai-main/gpt-4o" && len(a) == 3 && a[1].Target == a[0].Target && a[0].ErrorClass == "upstream_5xx":
		case a[0].Target == "openai-main/gpt-4o" && len(a) == 2 && a[0].Status == "skipped" && a[0].ErrorClass == "circuit_open":
			skipped++
		default:
			t.Errorf("request %d: attempts %+v", i, a)
		}
	}
	// 90% of 400: the standard deviation is 1.5 points; 5 points is more than three of them.
	if azure := float64(first["azure-openai/gpt-4o"]) * 100 / n; azure < 85 || azure > 95 || first["azure-openai/gpt-4o"]+first["openai-main/gpt-4o"] != n {
		t.Errorf("first attempts %v: Azure %.1f%%, want 90%% within 5 points", first, azure)
	}
	if skipped == 0 {
		t.Error("openai-main's circuit never opened, though it failed every call")
	}

	if len(claude.Requests()) != 0 {
		t.Errorf("anthropic-main got %d requests; it is not a fallback candidate", len(claude.Requests()))
	}
}
