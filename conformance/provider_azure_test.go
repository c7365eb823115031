package conformance

import (
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/provider/providerazure"
)

func TestAzureFake(t *testing.T) {
	p := Azure()
	driveFake(t, fakeDriver{
		provider: p,
		build:    providerazure.New,
		config: func(baseURL, scenario string) provider.Config {
			// No deployment setting: the deployment is the model id, as in the document.
			return provider.Config{Kind: p.Kind, BaseURL: baseURL, APIKey: p.Env[AzureKeyEnv], Model: scenario,
				Settings: map[string]string{providerazure.SettingAPIVersion: AzureAPIVersion}}
		},
		extra: []fakeCase{
			{
				name:     "wrong key",
				scenario: ScenarioText,
				body:     fakeBodyText,
				config:   func(c *provider.Config) { c.APIKey = "not-the-key" },
				wantErr:  &apierr.Error{Kind: apierr.KindUpstreamBadResponse, Code: "upstream_auth_failed"},
			},
			{
				// The deployment setting wins over the model id.
				name:     "deployment setting",
				scenario: "gpt-4o",
				body:     fakeBodyText,
				config: func(c *provider.Config) {
					c.Settings = map[string]string{providerazure.SettingDeployment: ScenarioText}
				},
				wantText: Text,
			},
			{
				// The JSON scenario takes a json_schema response format too.
				name:     "json schema",
				scenario: ScenarioJSON,
				body:     `{"model":"m","messages":[{"role":"user","content":"City?"}],"response_format":{"type":"json_schema","json_schema":{"name":"city","schema":{"type":"object","properties":{"city":{"type":"string"}}}}}}`,
				wantText: JSONReply,
			},
		},
	})
}
