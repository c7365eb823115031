package configfile

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

func TestRoutingConfigFromFile(t *testing.T) {
	data, err := os.ReadFile("testdata/load-balancing-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	def := snapshot.Retry{Attempts: 2, Delay: 100 * time.Millisecond, OnStatus: []int{429, 500, 502, 503}}
	fb := []int{401, 403, 404, 429, 500, 502, 503}
	want := []snapshot.RoutingRule{
		{ID: "gpt4-engineering-production", Strategy: snapshot.RoutingWeight,
			When: governance.Condition{Subjects: []string{"team:engineering-team"}, Models: []string{"openai-main/gpt-4"}, Metadata: map[string]string{"environment": "production"}},
			Targets: []snapshot.VirtualTarget{
				{Model: "azure-openai/gpt-4", Weight: 80, Retry: def, FallbackStatus: fb, FallbackCandidate: true},
				{Model: "openai-main/gpt-4", Weight: 20, Retry: def, FallbackStatus: fb, FallbackCandidate: true},
			}},
		{ID: "gpt4-fallback", Strategy: snapshot.RoutingPriority,
			When: governance.Condition{Models: []string{"openai-main/gpt-4"}},
			Targets: []snapshot.VirtualTarget{
				{Model: "openai-main/gpt-4", Retry: snapshot.Retry{Attempts: 1, Delay: 100 * time.Millisecond, OnStatus: []int{429}}, FallbackStatus: []int{429, 500, 502, 503}, FallbackCandidate: true},
				{Model: "azure-openai/gpt-4", Priority: 1, Retry: def, FallbackStatus: fb, FallbackCandidate: true},
			}},
	}
	if diff := cmp.Diff(want, f.RoutingRules); diff != "" {
		t.Errorf("RoutingRules (-want +got):\n%s", diff)
	}
}

func TestRoutingConfigErrorsNameField(t *testing.T) {
	head := "name: lb\ntype: gateway-load-balancing-config\nrules:\n"
	rule := "  - id: r\n    type: priority-based-routing\n    when: {models: [a/b]}\n    load_balance_targets: [{target: a/c}]\n"
	for _, tc := range []struct{ name, body, want string }{
		{"unknown routing type", "  - id: r\n    type: cost-based-routing\n    when: {models: [a/b]}\n    load_balance_targets: [{target: a/c}]\n",
			"rules[0].type: unsupported routing type \"cost-based-routing\""},
		{"when required", "  - id: r\n    type: priority-based-routing\n    load_balance_targets: [{target: a/c}]\n",
			"rules[0].when: is required"},
		{"models required", "  - id: r\n    type: priority-based-routing\n    when: {subjects: [user:bob]}\n    load_balance_targets: [{target: a/c}]\n",
			"rules[0].when.models: is required"},
		{"bad subject", "  - id: r\n    type: priority-based-routing\n    when: {models: [a/b], subjects: [group:x]}\n    load_balance_targets: [{target: a/c}]\n",
			"rules[0].when.subjects[0]:"},
		{"duplicate id", rule + rule, "rules[1].id: duplicate rule r"},
		{"weights must sum to 100", "  - id: r\n    type: weight-based-routing\n    when: {models: [a/b]}\n    load_balance_targets: [{target: a/c, weight: 50}]\n",
			"rules[0].load_balance_targets: weights sum to 50"},
		{"override_params checked", "  - id: r\n    type: priority-based-routing\n    when: {models: [a/b]}\n    load_balance_targets: [{target: a/c, override_params: {temperature: -1}}]\n",
			"rules[0].load_balance_targets[0].override_params.temperature: Invalid 'temperature'"},
		{"unknown rule field", "  - id: r\n    type: priority-based-routing\n    when: {models: [a/b]}\n    load_balance_targets: [{target: a/c}]\n    sticky_routing: {}\n",
			"rules[0].sticky_routing: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(head+tc.body), env(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "document 1 (lb): ") {
				t.Errorf("Parse: %v; want an error naming the field, containing %q", err, tc.want)
			}
		})
	}
	_, err := Parse([]byte(head+rule+"---\n"+head+strings.ReplaceAll(rule, "id: r", "id: s")), env(nil))
	if err == nil || !strings.Contains(err.Error(), "at most one gateway-load-balancing-config") {
		t.Errorf("two routing configs: %v, want refused", err)
	}
}

func TestReadmeRoutingConfigExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, part := range strings.Split(string(b), "```yaml\n")[1:] {
		if text, _, _ := strings.Cut(part, "```"); strings.Contains(text, "type: gateway-load-balancing-config") {
			block = text
		}
	}
	f, err := Parse([]byte(block), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.RoutingRules) != 2 || f.RoutingRules[1].Targets[0].FallbackStatus[0] != 429 {
		t.Errorf("README example parsed as %+v, want two rules", f.RoutingRules)
	}
}
