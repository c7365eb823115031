package main

import (
	"slices"
	"testing"

	"github.com/llmgw/llmgw/configfile"
)

// TestFullConfig: the full target's config parses, with the second model, the virtual model
// routing by weight over both, the authz rule and the model-scoped rule widened to it, and the
// governed target's five rules.
func TestFullConfig(t *testing.T) {
	t.Parallel()
	f, err := configfile.Parse([]byte(fullConfig("http://127.0.0.1:9")), configfile.EnvFileResolver(func(name string) string {
		if name == upstreamKeyEnv {
			return "unused"
		}
		return ""
	}))
	if err != nil {
		t.Fatalf("Parse(fullConfig) error = %v", err)
	}
	if len(f.Accounts) != 1 || len(f.Accounts[0].Models) != 2 {
		t.Fatalf("accounts = %v, want one account with two models", f.Accounts)
	}
	if len(f.VirtualModels) != 1 || f.VirtualModels[0].Account+"/"+f.VirtualModels[0].Name != fullModel || len(f.VirtualModels[0].Targets) != 2 {
		t.Fatalf("virtual models = %+v, want %s over two targets", f.VirtualModels, fullModel)
	}
	if len(f.RateLimits)+len(f.Budgets) != len(governedRules) {
		t.Errorf("%d rate limits and %d budgets, want the governed target's %d rules", len(f.RateLimits), len(f.Budgets), len(governedRules))
	}
	var tpm []string
	for _, r := range f.RateLimits {
		if r.GetName() == "bench-model-tpm" {
			tpm = r.GetWhen().GetModels()
		}
	}
	if !slices.Contains(tpm, fullModel) || !slices.Contains(tpm, governedModel) {
		t.Errorf("bench-model-tpm models %v, want the virtual model and its targets", tpm)
	}
	if len(f.Rules) != 1 || !slices.Contains(f.Rules[0].GetModels(), fullModel) {
		t.Errorf("authz rules %v, want the virtual model allowed", f.Rules)
	}
}
