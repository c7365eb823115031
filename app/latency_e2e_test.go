package app

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
)

// latencyConfig is a fast model and a slow one (40 ms) on the fake upstream, behind a
// latency-based virtual model and a priority one whose slow first target has an sla_cutoff.
func latencyConfig(upstream string) string {
	return fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: slow, type: integration/model/openai, model_id: %s40, model_types: [chat]}
- authz_rules:
    - models: [prod/*]
      users: [bob]
---
name: prod
type: provider-account/virtual-model
integrations:
  - name: fastest
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: latency-based-routing
      load_balance_targets: [{target: fake/slow}, {target: fake/gpt}]
  - name: sla
    type: integration/model/virtual
    model_types: [chat]
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - {target: fake/slow, priority: 0, sla_cutoff: {time_to_first_token_ms: 20}}
        - {target: fake/gpt, priority: 1}
`, upstream, providertest.ModelSlowPrefix)
}

// TestLatencyRoutingPrefersTheFastTarget drives a real gateway with openai-go: a latency-based
// virtual model sends its traffic to the fast target; a priority
// target that breaches its sla_cutoff is skipped after its first answer.
func TestLatencyRoutingPrefersTheFastTarget(t *testing.T) {
	up := providertest.NewOpenAI(t)
	cfgPath := writeConfig(t, latencyConfig(up.BaseURL()))
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret}, "--config", cfgPath)
	ctx := context.Background()
	bobKey := g.userKey(t, "bob")
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(bobKey), option.WithMaxRetries(0))
	served := func(model string, n int) map[string]int {
		t.Helper()
		out := map[string]int{}
		for range n {
			var resp *http.Response
			if _, err := c.Chat.Completions.New(ctx, chatParams(model, 0), option.WithResponseInto(&resp)); err != nil {
				t.Fatal(err)
			}
			out[resp.Header.Get("X-Llmgw-Resolved-Model")]++
		}
		return out
	}

	// The statistics are the targets', whatever routed to them: the SLA part comes first.
	// SLA: the slow target is first until its time to first token (40 ms) is measured over
	// the cutoff (20 ms); then only 1 request in 20 probes it.
	if got := served("prod/sla", 1); got["fake/slow"] != 1 {
		t.Fatalf("first request served %v; want fake/slow, by priority", got)
	}
	if got := served("prod/sla", 20); got["fake/gpt"] < 14 {
		t.Errorf("after the breach served %v; want fake/gpt nearly always", got)
	}

	// Latency: the slow one is only explored (1 request in 10, while it has fewer than 3
	// answers; how often is the unit tests' business, with a seeded random source) and, once
	// measured, never first: it is not within 1.2x of the fast one.
	served("prod/fastest", 40)
	if got := served("prod/fastest", 20); got["fake/gpt"] < 14 {
		t.Errorf("after warm-up served %v; want fake/gpt nearly always", got)
	}
}
