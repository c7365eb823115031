package configfile

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseManagedSecrets: a secret manager's reference is checked and listed for the caller
// to read at run time; the key is parsed empty, so Apply stores no value.
func TestParseManagedSecrets(t *testing.T) {
	text := `
- name: openai-main
  type: provider-account/openai
  auth_data: {type: api-key, api_key: "vault://secret/llmgw/openai#api_key"}
  integrations:
    - {name: gpt-4o, type: integration/model/openai, model_id: gpt-4o}
    - name: o3
      type: integration/model/openai
      auth_data: {type: bearer-auth, bearer_token: "aws-sm://prod/keys#o3"}
- name: gcp
  type: provider-account/openai
  auth_data: {type: api-key, api_key: "gcp-sm://projects/p/secrets/openai"}
`
	f, err := Parse([]byte(text), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []ManagedSecret{
		{Account: "openai-main", Ref: "vault://secret/llmgw/openai#api_key"},
		{Account: "openai-main", Model: "o3", Ref: "aws-sm://prod/keys#o3"},
		{Account: "gcp", Ref: "gcp-sm://projects/p/secrets/openai"},
	}
	if diff := cmp.Diff(want, f.ManagedSecrets); diff != "" {
		t.Errorf("ManagedSecrets (-want +got):\n%s", diff)
	}
	if len(f.MissingSecrets) != 0 {
		t.Errorf("MissingSecrets = %v, want none", f.MissingSecrets)
	}
	if f.Accounts[0].Account.ApiKey != "" || f.Accounts[0].Models[1].ApiKey != "" {
		t.Errorf("a managed key was parsed into the account: %+v", f.Accounts[0])
	}
	st := &fakeStore{}
	if _, err := Apply(context.Background(), st, f); err != nil {
		t.Fatal(err)
	}
	for _, a := range st.cfg.Accounts {
		if a.APIKey != "" {
			t.Errorf("Apply stored key %q for account %s", a.APIKey, a.Name)
		}
	}
}

func TestParseManagedSecretErrors(t *testing.T) {
	tests := []struct{ name, text, field, msg string }{
		{"malformed vault reference", `
- name: a
  type: provider-account/openai
  auth_data: {type: api-key, api_key: "vault://secret/llmgw"}
`, "auth_data.api_key", "want vault://"},
		{"a reference in settings", `
- name: a
  type: provider-account/openai
  settings: {region: "aws-ssm://region"}
`, "settings.region", "not secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.text), env(nil))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Field != tt.field || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got %q / %q, want %q / ...%q...", e.Field, e.Msg, tt.field, tt.msg)
			}
		})
	}
}
