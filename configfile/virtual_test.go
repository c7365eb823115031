package configfile

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

func TestVirtualModelsFromFile(t *testing.T) {
	data, err := os.ReadFile("testdata/virtual-models.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	def := snapshot.Retry{Attempts: 2, Delay: 100 * time.Millisecond, OnStatus: []int{429, 500, 502, 503}}
	fb := []int{401, 403, 404, 429, 500, 502, 503}
	want := []snapshot.VirtualModel{
		{Account: "prod", Name: "gpt-4o", Types: []string{"chat"}, Strategy: snapshot.RoutingWeight, Targets: []snapshot.VirtualTarget{
			{Model: "azure-openai/gpt-4o", Weight: 90, Retry: snapshot.Retry{Attempts: 3, Delay: 200 * time.Millisecond, OnStatus: []int{429, 500, 503}}, FallbackStatus: []int{429, 500, 502, 503}, FallbackCandidate: true},
			{Model: "openai-main/gpt-4o", Weight: 10, Retry: def, FallbackStatus: fb, FallbackCandidate: true},
		}},
		{Account: "prod", Name: "chat-ha", Types: []string{"chat"}, Strategy: snapshot.RoutingPriority, Targets: []snapshot.VirtualTarget{
			{Model: "openai-main/gpt-4o", Retry: def, FallbackStatus: fb, FallbackCandidate: true},
			{Model: "azure-openai/gpt-4o", Priority: 1, Retry: def, FallbackStatus: fb, FallbackCandidate: true},
			{Model: "anthropic-main/claude-sonnet-4-5", Priority: 2, Retry: def, FallbackStatus: fb},
		}},
	}
	if diff := cmp.Diff(want, f.VirtualModels); diff != "" {
		t.Errorf("VirtualModels (-want +got):\n%s", diff)
	}
}

func TestStickyRouting(t *testing.T) {
	doc := `name: prod
type: provider-account/virtual-model
integrations:
  - name: chat
    type: integration/model/virtual
    routing_config:
      type: weight-based-routing
      sticky_routing:
        ttl_seconds: 600
        session_identifiers:
          - key: x-session-id
            source: headers
          - {key: conversation_id, source: metadata}
      load_balance_targets: [{target: a/x, weight: 50}, {target: b/y, weight: 50}]
`
	f, err := Parse([]byte(doc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := &snapshot.Sticky{TTL: 10 * time.Minute, Identifiers: []snapshot.SessionIdentifier{
		{Source: snapshot.SessionHeaders, Key: "X-Session-Id"}, {Source: snapshot.SessionMetadata, Key: "conversation_id"}}}
	if len(f.VirtualModels) != 1 {
		t.Fatalf("%d virtual models, want 1", len(f.VirtualModels))
	}
	if diff := cmp.Diff(want, f.VirtualModels[0].Sticky); diff != "" {
		t.Errorf("Sticky (-want +got):\n%s", diff)
	}
}

func TestLatencyAndSLARouting(t *testing.T) {
	doc := `name: prod
type: provider-account/virtual-model
integrations:
  - name: fast
    type: integration/model/virtual
    routing_config:
      type: latency-based-routing
      load_balance_targets: [{target: a/x}, {target: b/y, fallback_candidate: false}]
  - name: sla
    type: integration/model/virtual
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - {target: a/x, priority: 0, sla_cutoff: {time_per_output_token_ms: 50, time_to_first_token_ms: 800}}
        - {target: b/y, priority: 1, sla_cutoff: {time_to_first_token_ms: 2000}}
`
	f, err := Parse([]byte(doc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	def := snapshot.Retry{Attempts: 2, Delay: 100 * time.Millisecond, OnStatus: []int{429, 500, 502, 503}}
	fb := []int{401, 403, 404, 429, 500, 502, 503}
	want := []snapshot.VirtualModel{
		{Account: "prod", Name: "fast", Strategy: snapshot.RoutingLatency, Targets: []snapshot.VirtualTarget{
			{Model: "a/x", Retry: def, FallbackStatus: fb, FallbackCandidate: true},
			{Model: "b/y", Retry: def, FallbackStatus: fb},
		}},
		{Account: "prod", Name: "sla", Strategy: snapshot.RoutingPriority, Targets: []snapshot.VirtualTarget{
			{Model: "a/x", Retry: def, FallbackStatus: fb, FallbackCandidate: true, SLA: snapshot.SLA{TPOT: 50 * time.Millisecond, TTFT: 800 * time.Millisecond}},
			{Model: "b/y", Priority: 1, Retry: def, FallbackStatus: fb, FallbackCandidate: true, SLA: snapshot.SLA{TTFT: 2 * time.Second}},
		}},
	}
	if diff := cmp.Diff(want, f.VirtualModels); diff != "" {
		t.Errorf("VirtualModels (-want +got):\n%s", diff)
	}
}

func TestVirtualModelErrorsNameField(t *testing.T) {
	head := "name: prod\ntype: provider-account/virtual-model\nintegrations:\n  - name: m\n    type: integration/model/virtual\n    routing_config:\n"
	for _, tc := range []struct{ name, body, want string }{
		{"weight in latency routing", "      type: latency-based-routing\n      load_balance_targets: [{target: a/b, weight: 100}]\n",
			"load_balance_targets[0].weight: weight does not apply to latency-based-routing"},
		{"sla_cutoff in latency routing", "      type: latency-based-routing\n      load_balance_targets: [{target: a/b, sla_cutoff: {time_to_first_token_ms: 100}}]\n",
			"load_balance_targets[0].sla_cutoff: sla_cutoff applies only to priority-based-routing"},
		{"sla_cutoff empty", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, sla_cutoff: {}}]\n",
			"load_balance_targets[0].sla_cutoff: expected time_per_output_token_ms or time_to_first_token_ms"},
		{"sla_cutoff unknown field", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, sla_cutoff: {ttft: 100}}]\n",
			"load_balance_targets[0].sla_cutoff"},
		{"sla_cutoff not positive", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, sla_cutoff: {time_per_output_token_ms: 0}}]\n",
			"load_balance_targets[0].sla_cutoff.time_per_output_token_ms: expected an integer from 1"},
		{"sticky routing without identifiers", "      type: weight-based-routing\n      sticky_routing: {ttl_seconds: 60}\n      load_balance_targets: [{target: a/b, weight: 100}]\n",
			"routing_config.sticky_routing.session_identifiers: expected a non-empty list"},
		{"sticky routing without a ttl", "      type: weight-based-routing\n      sticky_routing: {session_identifiers: [{source: headers, key: x-session-id}]}\n      load_balance_targets: [{target: a/b, weight: 100}]\n",
			"routing_config.sticky_routing.ttl_seconds: is required"},
		{"sticky routing ttl not positive", "      type: weight-based-routing\n      sticky_routing: {ttl_seconds: 0, session_identifiers: [{source: headers, key: x-session-id}]}\n      load_balance_targets: [{target: a/b, weight: 100}]\n",
			"routing_config.sticky_routing.ttl_seconds: expected an integer from 1 to 604800"},
		{"sticky routing ttl over a week", "      type: weight-based-routing\n      sticky_routing: {ttl_seconds: 604801, session_identifiers: [{source: headers, key: x-session-id}]}\n      load_balance_targets: [{target: a/b, weight: 100}]\n",
			"routing_config.sticky_routing.ttl_seconds: expected an integer from 1 to 604800"},
		{"sticky routing negative ttl", "      type: weight-based-routing\n      sticky_routing: {ttl_seconds: -5, session_identifiers: [{source: headers, key: x-session-id}]}\n      load_balance_targets: [{target: a/b, weight: 100}]\n",
			"routing_config.sticky_routing.ttl_seconds: expected an integer from 1 to 604800"},
		{"sticky routing too many identifiers", "      type: weight-based-routing\n      sticky_routing: {ttl_seconds: 60, session_identifiers: [{source: headers, key: a}, {source: headers, key: b}, {source: headers, key: c}, {source: headers, key: d}, {source: headers, key: e}, {source: headers, key: f}, {source: headers, key: g}, {source: headers, key: h}, {source: headers, key: i}, {source: headers, key: j}, {source: headers, key: k}]}\n      load_balance_targets: [{target: a/b, weight: 100}]\n",
			"routing_config.sticky_routing.session_identifiers: 11 session identifiers; at most 10"},
		{"sticky routing unknown source", "      type: weight-based-routing\n      sticky_routing: {ttl_seconds: 60, session_identifiers: [{source: cookies, key: sid}]}\n      load_balance_targets: [{target: a/b, weight: 100}]\n",
			"routing_config.sticky_routing.session_identifiers[0].source: got \"cookies\", want headers or metadata"},
		{"sticky routing bad header name", "      type: weight-based-routing\n      sticky_routing: {ttl_seconds: 60, session_identifiers: [{source: headers, key: \"x session\"}]}\n      load_balance_targets: [{target: a/b, weight: 100}]\n",
			"routing_config.sticky_routing.session_identifiers[0].key: \"x session\" is not a header name"},
		{"sticky routing duplicate identifier", "      type: weight-based-routing\n      sticky_routing: {ttl_seconds: 60, session_identifiers: [{source: headers, key: x-session-id}, {source: headers, key: X-Session-Id}]}\n      load_balance_targets: [{target: a/b, weight: 100}]\n",
			"routing_config.sticky_routing.session_identifiers[1]: duplicate session identifier"},
		{"sticky routing unknown field", "      type: weight-based-routing\n      sticky_routing: {ttl: 60, ttl_seconds: 60, session_identifiers: [{source: metadata, key: conversation}]}\n      load_balance_targets: [{target: a/b, weight: 100}]\n",
			"routing_config.sticky_routing.ttl: unknown field"},
		{"sticky routing on priority routing", "      type: priority-based-routing\n      sticky_routing: {ttl_seconds: 60, session_identifiers: [{source: metadata, key: conversation}]}\n      load_balance_targets: [{target: a/b}]\n",
			"routing_config.sticky_routing: sticky_routing applies only to weight-based-routing"},
		{"override_params not a map", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, override_params: [temperature]}]\n",
			"load_balance_targets[0].override_params: expected a map"},
		{"override_params unknown parameter", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, override_params: {model: x}}]\n",
			"load_balance_targets[0].override_params.model: model cannot be overridden"},
		{"override_params out of range", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, override_params: {temperature: 3}}]\n",
			"load_balance_targets[0].override_params.temperature: Invalid 'temperature'"},
		{"override_params wrong type", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, override_params: {max_tokens: lots}}]\n",
			"load_balance_targets[0].override_params.max_tokens: invalid value \"lots\" for max_tokens"},
		{"override_params max_tokens below 1", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, override_params: {max_tokens: 0}}]\n",
			"load_balance_targets[0].override_params.max_tokens"},
		{"headers_override may not set a credential", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, headers_override: {set: {authorization: x}}}]\n",
			"load_balance_targets[0].headers_override.set.authorization: Authorization is set by the gateway"},
		{"headers_override may not remove a credential", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, headers_override: {remove: [x-tenant, x-api-key]}}]\n",
			"load_balance_targets[0].headers_override.remove[1]: X-Api-Key is set by the gateway"},
		{"headers_override unknown field", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, headers_override: {add: {x: y}}}]\n",
			"load_balance_targets[0].headers_override"},
		{"headers_override value not a string", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, headers_override: {set: {x-a: [1]}}}]\n",
			"load_balance_targets[0].headers_override.set.x-a: expected a header value"},
		{"weights must sum to 100", "      type: weight-based-routing\n      load_balance_targets: [{target: a/b, weight: 90}, {target: a/c, weight: 20}]\n",
			"weights sum to 110"},
		{"weight missing", "      type: weight-based-routing\n      load_balance_targets: [{target: a/b}]\n",
			"load_balance_targets[0].weight: is required"},
		{"weight in priority routing", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, weight: 100}]\n",
			"load_balance_targets[0].weight: weight applies only to weight-based-routing"},
		{"target not a model name", "      type: priority-based-routing\n      load_balance_targets: [{target: gpt-4o}]\n",
			"load_balance_targets[0].target: \"gpt-4o\" is not a model name"},
		{"bad status", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, fallback_status_codes: [42]}]\n",
			"fallback_status_codes[0]: expected an HTTP status code"},
		{"unknown retry field", "      type: priority-based-routing\n      load_balance_targets: [{target: a/b, retry_config: {tries: 3}}]\n",
			"retry_config.tries: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(head+tc.body), env(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "document 1 (prod): integrations[0].") {
				t.Errorf("Parse: %v; want an error naming the field, containing %q", err, tc.want)
			}
		})
	}
}

func TestReadmeVirtualModelExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, part := range strings.Split(string(b), "```yaml\n")[1:] {
		if text, _, _ := strings.Cut(part, "```"); strings.Contains(text, "type: provider-account/virtual-model") {
			block = text
		}
	}
	f, err := Parse([]byte(block), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.VirtualModels) != 1 || len(f.VirtualModels[0].Targets) != 2 || f.VirtualModels[0].Strategy != snapshot.RoutingPriority {
		t.Errorf("README example parsed as %+v, want one priority virtual model of two targets", f.VirtualModels)
	}
}

func TestVirtualTargetOverrideParams(t *testing.T) {
	doc := `name: prod
type: provider-account/virtual-model
integrations:
  - name: m
    type: integration/model/virtual
    routing_config:
      type: priority-based-routing
      load_balance_targets:
        - target: a/b
          override_params: {temperature: 0.2, max_tokens: 100, top_p: 1, stop: ["END"], seed: 7}
          headers_override: {set: {x-tenant: a, X-Team: "7"}, remove: [openai-organization]}
        - target: a/c
`
	f, err := Parse([]byte(doc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []chat.Param{
		{Name: "temperature", Value: json.RawMessage(`0.2`)},
		{Name: "max_tokens", Value: json.RawMessage(`100`)},
		{Name: "top_p", Value: json.RawMessage(`1`)},
		{Name: "stop", Value: json.RawMessage(`["END"]`)},
		{Name: "seed", Value: json.RawMessage(`7`)},
	}
	ts := f.VirtualModels[0].Targets
	if diff := cmp.Diff(want, ts[0].Params); diff != "" {
		t.Errorf("Params (-want +got):\n%s", diff)
	}
	wantH := &provider.HeaderOverride{Set: map[string]string{"X-Tenant": "a", "X-Team": "7"}, Remove: []string{"Openai-Organization"}}
	if diff := cmp.Diff(wantH, ts[0].Headers); diff != "" {
		t.Errorf("Headers (-want +got):\n%s", diff)
	}
	if ts[1].Params != nil || ts[1].Headers != nil {
		t.Errorf("second target's Params, Headers = %v, %v; want none", ts[1].Params, ts[1].Headers)
	}
}
