package configfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/snapshot"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// documented is the document from the docs, exactly as written there.
const documented = `- name: nvidia-external
  type: provider-account/self-hosted-model
  integrations:
    - name: nemotron-nano
      type: integration/model/self-hosted-model
      hosted_model_name: nvidia/nemotron-3-nano-30b-a3b
      url: "https://integrate.api.nvidia.com/v1"
      model_server: "openai-compatible"
      model_types: ["chat"]
      auth_data:
        type: bearer-auth
        bearer_token: "env://NVIDIA_API_KEY"
`

const documentedRules = `authz_rules:
  - models: [openai-main/gpt-4o, nvidia-external/nemotron-nano]
    users: [alice, bob]
`

func env(m map[string]string) Resolver {
	return EnvFileResolver(func(k string) string { return m[k] })
}

func TestParseDocumentedShape(t *testing.T) {
	// The two snippets in one file as a YAML stream, and the rule as an item of the list.
	for name, text := range map[string]string{
		"stream": documented + "---\n" + documentedRules,
		"list":   documented + "- " + strings.ReplaceAll(documentedRules, "\n  ", "\n    "),
	} {
		t.Run(name, func(t *testing.T) {
			f, err := Parse([]byte(text), env(map[string]string{"NVIDIA_API_KEY": "nvapi-123"}))
			if err != nil {
				t.Fatal(err)
			}
			want := &File{
				Accounts: []Account{{
					Account: &adminv1.ProviderAccount{Name: "nvidia-external", Provider: "self-hosted-model"},
					Models: []*adminv1.Model{{
						Account: "nvidia-external", Name: "nemotron-nano", UpstreamModel: "nvidia/nemotron-3-nano-30b-a3b",
						BaseUrl: "https://integrate.api.nvidia.com/v1", Types: []string{"chat"}, ApiKey: "nvapi-123",
					}},
				}},
				Rules: []*adminv1.AuthzRule{{Name: "config-rule-1", Models: []string{"openai-main/gpt-4o", "nvidia-external/nemotron-nano"}, Users: []string{"alice", "bob"}}},
			}
			if diff := cmp.Diff(want, f, protocmp.Transform()); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSettings(t *testing.T) {
	f, err := Parse([]byte(`
- name: azure-east
  type: provider-account/openai
  settings: {api_version: "2024-10-21"}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o, settings: {deployment: gpt4o-prod}}
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Accounts[0].Account.Settings["api_version"]; got != "2024-10-21" {
		t.Errorf("account settings %v", f.Accounts[0].Account.Settings)
	}
	if got := f.Accounts[0].Models[0].Settings["deployment"]; got != "gpt4o-prod" {
		t.Errorf("model settings %v", f.Accounts[0].Models[0].Settings)
	}
	_, err = Parse([]byte("- {name: a, type: provider-account/openai, settings: {key: \"env://X\"}}\n"), env(nil))
	var e *Error
	if !errors.As(err, &e) || e.Field != "settings.key" {
		t.Errorf("a secret reference in settings: %v", err)
	}
}

func TestParseSecretFromFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte("sk-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Parse([]byte(`
- name: openai-main
  type: provider-account/openai
  auth_data: {type: api-key, api_key: "file://`+p+`"}
  integrations:
    - {name: gpt-4o, type: integration/model/openai, model_id: gpt-4o}
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Accounts[0].Account.ApiKey; got != "sk-from-file" {
		t.Errorf("api key %q", got)
	}
}

// TestParseMissingSecrets: a reference this process cannot resolve does not fail the file; it
// is recorded for its account or model, whose key is left empty.
func TestParseMissingSecrets(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := `
- name: openai-main
  type: provider-account/openai
  auth_data: {type: api-key, api_key: env://OPENAI_API_KEY}
  integrations:
    - {name: gpt-4o, type: integration/model/openai, model_id: gpt-4o}
- name: files
  type: provider-account/openai
  auth_data: {type: api-key, api_key: "file://` + filepath.Join(dir, "absent") + `"}
  integrations:
    - name: m
      type: integration/model/openai
      auth_data: {type: api-key, api_key: "file://` + empty + `"}
` + documented
	f, err := Parse([]byte(text), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []snapshot.MissingSecret{
		{Account: "openai-main", Problem: "secret env://OPENAI_API_KEY is not set"},
		{Account: "files", Problem: "secret file://" + filepath.Join(dir, "absent") + " cannot be read: no such file or directory"},
		{Account: "files", Model: "m", Problem: "secret file://" + empty + " is empty"},
		{Account: "nvidia-external", Model: "nemotron-nano", Problem: "secret env://NVIDIA_API_KEY is not set"},
	}
	if diff := cmp.Diff(want, f.MissingSecrets); diff != "" {
		t.Errorf("MissingSecrets (-want +got):\n%s", diff)
	}
	if len(f.Accounts) != 3 || f.Accounts[0].Account.ApiKey != "" || f.Accounts[2].Models[0].ApiKey != "" {
		t.Errorf("accounts %+v", f.Accounts)
	}
}

func TestParseErrorsNameDocumentAndField(t *testing.T) {
	tests := []struct {
		name, text, doc, field, msg string
	}{
		{"inline secret", strings.Replace(documented, `"env://NVIDIA_API_KEY"`, `"nvapi-inline"`, 1), "document 1 (nvidia-external)", "integrations[0].auth_data.bearer_token", "references"},
		{"typo in a field", strings.Replace(documented, "hosted_model_name", "hosted_model_nam", 1), "document 1 (nvidia-external)", "integrations[0].hosted_model_nam", "unknown field"},
		{"bad type", strings.Replace(documented, "provider-account/self-hosted-model", "provider/self-hosted-model", 1), "document 1 (nvidia-external)", "type", "unsupported type"},
		{"integration type mismatch", strings.Replace(documented, "integration/model/self-hosted-model", "integration/model/openai", 1), "document 1 (nvidia-external)", "integrations[0].type", "want"},
		{"bad model type", strings.Replace(documented, `["chat"]`, `["vision"]`, 1), "document 1 (nvidia-external)", "integrations[0].model_types[0]", "unsupported model type"},
		{"missing name", strings.Replace(documented, "- name: nvidia-external\n  type:", "- type:", 1), "document 1", "name", "is required"},
		{"self-hosted without url", strings.Replace(documented, `      url: "https://integrate.api.nvidia.com/v1"`+"\n", "", 1), "document 1 (nvidia-external)", "integrations[0].url", "needs"},
		{"rule with a bare model", "authz_rules:\n  - {models: [gpt-4o], users: [alice]}\n", "document 1", "authz_rules[0].models[0]", "fully qualified"},
		{"rule without principals", "authz_rules:\n  - {models: [a/b]}\n", "document 1", "authz_rules[0]", "at least one"},
		{"not YAML", "- name: [unclosed", "config", "", "invalid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.text), env(nil))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Doc != tt.doc || e.Field != tt.field || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got %q / %q / %q, want %q / %q / ...%q...", e.Doc, e.Field, e.Msg, tt.doc, tt.field, tt.msg)
			}
			if strings.Contains(err.Error(), "nvapi-inline") {
				t.Errorf("the error quotes the inline secret: %v", err)
			}
		})
	}
}

// fakeStore is an in-memory Store that counts writes.
type fakeStore struct {
	cfg    snapshot.Config
	writes int
}

func (s *fakeStore) SnapshotConfig(context.Context) (*snapshot.Config, error) {
	c := s.cfg
	return &c, nil
}

func (s *fakeStore) CreateProviderAccount(_ context.Context, in *adminv1.ProviderAccount) (*adminv1.ProviderAccount, error) {
	s.writes++
	s.cfg.Accounts = append(s.cfg.Accounts, snapshot.Account{Name: in.Name, Provider: in.Provider, BaseURL: in.BaseUrl, APIKey: in.ApiKey, Settings: in.Settings})
	return in, nil
}

func (s *fakeStore) UpdateProviderAccount(_ context.Context, in *adminv1.ProviderAccount) (*adminv1.ProviderAccount, error) {
	s.writes++
	for i, a := range s.cfg.Accounts {
		if a.Name == in.Name {
			s.cfg.Accounts[i] = snapshot.Account{Name: in.Name, Provider: in.Provider, BaseURL: in.BaseUrl, APIKey: in.ApiKey, Settings: in.Settings}
		}
	}
	return in, nil
}

// toModel stores a model as the store's UpdateModel does: every field replaced, the pricing
// override included (nil clears it).
func toModel(in *adminv1.Model) snapshot.Model {
	m := snapshot.Model{Account: in.Account, Name: in.Name, UpstreamModel: in.UpstreamModel, Types: in.Types, BaseURL: in.BaseUrl, APIKey: in.ApiKey, Settings: in.Settings}
	if p := in.GetPricing(); p != nil {
		m.Pricing = &snapshot.Pricing{Input: p.GetInputPerMtok(), Output: p.GetOutputPerMtok(), CachedInput: p.GetCachedInputPerMtok(),
			CacheWrite: p.GetCacheWritePerMtok(), CacheWrite1h: p.GetCacheWrite_1HPerMtok()}
	}
	return m
}

func (s *fakeStore) CreateModel(_ context.Context, in *adminv1.Model) (*adminv1.Model, error) {
	s.writes++
	s.cfg.Models = append(s.cfg.Models, toModel(in))
	return in, nil
}

func (s *fakeStore) UpdateModel(_ context.Context, in *adminv1.Model) (*adminv1.Model, error) {
	s.writes++
	for i, m := range s.cfg.Models {
		if m.Account == in.Account && m.Name == in.Name {
			s.cfg.Models[i] = toModel(in)
		}
	}
	return in, nil
}

func (s *fakeStore) CreateAuthzRule(_ context.Context, in *adminv1.AuthzRule) (*adminv1.AuthzRule, error) {
	s.writes++
	s.cfg.Rules = append(s.cfg.Rules, snapshot.Rule{Name: in.Name, Models: in.Models, Users: in.Users, Teams: in.Teams, VirtualAccounts: in.VirtualAccounts})
	return in, nil
}

func (s *fakeStore) UpdateAuthzRule(_ context.Context, in *adminv1.AuthzRule) (*adminv1.AuthzRule, error) {
	s.writes++
	for i, r := range s.cfg.Rules {
		if r.Name == in.Name {
			s.cfg.Rules[i] = snapshot.Rule{Name: in.Name, Models: in.Models, Users: in.Users, Teams: in.Teams, VirtualAccounts: in.VirtualAccounts}
		}
	}
	return in, nil
}

func (s *fakeStore) CreateRateLimit(_ context.Context, in *adminv1.RateLimit) (*adminv1.RateLimit, error) {
	s.writes++
	s.cfg.RateLimits = append(s.cfg.RateLimits, governance.RateLimitRule{Name: in.Name})
	return in, nil
}

func (s *fakeStore) UpdateRateLimit(_ context.Context, in *adminv1.RateLimit) (*adminv1.RateLimit, error) {
	s.writes++
	return in, nil
}

func (s *fakeStore) CreateBudget(_ context.Context, in *adminv1.Budget) (*adminv1.Budget, error) {
	s.writes++
	s.cfg.Budgets = append(s.cfg.Budgets, governance.BudgetRule{Name: in.Name})
	return in, nil
}

func (s *fakeStore) UpdateBudget(_ context.Context, in *adminv1.Budget) (*adminv1.Budget, error) {
	s.writes++
	return in, nil
}

func TestApplyIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st := &fakeStore{}
	parse := func(key string) *File {
		f, err := Parse([]byte(documented+"---\n"+documentedRules), env(map[string]string{"NVIDIA_API_KEY": key}))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if n, err := Apply(ctx, st, parse("k1")); err != nil || n != 3 {
		t.Fatalf("first apply: %d changes, %v; want 3", n, err)
	}
	if n, err := Apply(ctx, st, parse("k1")); err != nil || n != 0 || st.writes != 3 {
		t.Fatalf("second apply: %d changes (%d writes), %v; want none", n, st.writes, err)
	}
	if n, err := Apply(ctx, st, parse("k2")); err != nil || n != 1 {
		t.Fatalf("apply with a rotated secret: %d changes, %v; want 1 (the model)", n, err)
	}
	if st.cfg.Models[0].APIKey != "k2" {
		t.Errorf("model key %q, want k2", st.cfg.Models[0].APIKey)
	}
}

// TestApplyKeepsPricingOverride: the file has no pricing, so a model it updates keeps the
// pricing override set through the Admin API.
func TestApplyKeepsPricingOverride(t *testing.T) {
	ctx := context.Background()
	override := &snapshot.Pricing{Input: 1.5, Output: 6, CachedInput: 0.5, CacheWrite: 1.875, CacheWrite1h: 3}
	st := &fakeStore{cfg: snapshot.Config{
		Accounts: []snapshot.Account{{Name: "nvidia-external", Provider: "self-hosted-model"}},
		Models: []snapshot.Model{{
			Account: "nvidia-external", Name: "nemotron-nano", UpstreamModel: "nvidia/old-name",
			BaseURL: "https://integrate.api.nvidia.com/v1", Types: []string{"chat"}, APIKey: "k1", Pricing: override,
		}},
	}}
	f, err := Parse([]byte(documented), env(map[string]string{"NVIDIA_API_KEY": "k1"}))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := Apply(ctx, st, f); err != nil || n != 1 {
		t.Fatalf("apply: %d changes, %v; want 1 (the model's upstream name)", n, err)
	}
	m := st.cfg.Models[0]
	if m.UpstreamModel != "nvidia/nemotron-3-nano-30b-a3b" {
		t.Errorf("upstream model %q: the file's change was not applied", m.UpstreamModel)
	}
	if m.Pricing == nil || *m.Pricing != *override {
		t.Errorf("pricing after apply = %+v, want the override %+v kept", m.Pricing, override)
	}
	if f.Accounts[0].Models[0].Pricing != nil {
		t.Error("Apply modified the parsed file")
	}
}
