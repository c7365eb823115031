package providerbedrock

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/provider"
)

func TestNew(t *testing.T) {
	base := func() provider.Config {
		return provider.Config{
			Kind: "bedrock", APIKey: testSecret, Model: testModel, HTTPClient: http.DefaultClient,
			Settings: map[string]string{SettingRegion: "eu-central-1", SettingAccessKeyID: testKeyID},
		}
	}
	with := func(edit func(c *provider.Config)) provider.Config {
		c := base()
		c.Settings = maps.Clone(c.Settings)
		edit(&c)
		return c
	}
	tests := []struct {
		name    string
		cfg     provider.Config
		wantErr string // a substring of the error; empty for success
	}{
		{"defaults", base(), ""},
		{"unknown setting", with(func(c *provider.Config) { c.Settings["endpoint_url"] = "x" }), `unknown setting "endpoint_url"`},
		{"session token as setting", with(func(c *provider.Config) { c.Settings["session_token"] = "x" }), `"session_token" is a secret`},
		{"no region", with(func(c *provider.Config) { delete(c.Settings, SettingRegion) }), "region is required"},
		{"region that changes the host", with(func(c *provider.Config) { c.Settings[SettingRegion] = "evil.com/x" }), "not an AWS region"},
		{"no access key id", with(func(c *provider.Config) { delete(c.Settings, SettingAccessKeyID) }), "access_key_id is required"},
		{"no secret", with(func(c *provider.Config) { c.APIKey = "" }), "api key"},
		{"bad secret JSON", with(func(c *provider.Config) { c.APIKey = `{"secret_access_key":"s3cr3t",}` }), "not a JSON object"},
		{"external id without role", with(func(c *provider.Config) { c.Settings[SettingExternalID] = "e" }), "need role_arn"},
		{"session name without role", with(func(c *provider.Config) { c.Settings[SettingRoleSessionName] = "n" }), "need role_arn"},
		{"role", with(func(c *provider.Config) {
			c.Settings[SettingRoleARN] = "arn:aws:iam::123456789012:role/r"
			c.Settings[SettingExternalID] = "e"
		}), ""},
		{"no model", with(func(c *provider.Config) { c.Model = "" }), "model is required"},
		{"no client", with(func(c *provider.Config) { c.HTTPClient = nil }), "http client is required"},
		{"relative base url", with(func(c *provider.Config) { c.BaseURL = "bedrock.local" }), "base url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.cfg)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("New succeeded, want an error with %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q lacks %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("error %q shows the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			ad := a.(*adapter)
			if got, want := ad.url("converse").String(), "https://bedrock-runtime.eu-central-1.amazonaws.com"+testModelPath+"converse"; got != want {
				t.Errorf("url = %q, want %q", got, want)
			}
			if rc, ok := ad.creds.(*roleCredentials); ok {
				if rc.endpoint != "https://sts.eu-central-1.amazonaws.com/" || rc.sessionName != DefaultRoleSessionName {
					t.Errorf("sts endpoint %q session %q, want the regional endpoint and the default session name", rc.endpoint, rc.sessionName)
				}
			}
			if _, ok := a.(provider.Embedder); ok {
				t.Errorf("a chat model's adapter implements provider.Embedder")
			}
		})
	}
}

func TestEmbedderByModel(t *testing.T) {
	tests := map[string]bool{
		"amazon.titan-embed-text-v2:0": true,
		"amazon.titan-embed-text-v1":   true,
		"cohere.embed-english-v3":      true,
		"us.cohere.embed-v4:0":         true,
		"arn:aws:bedrock:us-west-2::foundation-model/amazon.titan-embed-text-v2:0": true,
		"amazon.titan-text-express-v1":                                             false,
		"cohere.command-r-plus-v1:0":                                               false,
		"us.anthropic.claude-3-5-haiku-20241022-v1:0":                              false,
	}
	for model, want := range tests {
		cfg := provider.Config{
			APIKey: testSecret, Model: model, HTTPClient: http.DefaultClient,
			Settings: map[string]string{SettingRegion: testRegion, SettingAccessKeyID: testKeyID},
		}
		a, err := New(cfg)
		if err != nil {
			t.Fatalf("New(%s): %v", model, err)
		}
		if _, got := a.(provider.Embedder); got != want {
			t.Errorf("%s: implements provider.Embedder = %v, want %v", model, got, want)
		}
	}
}

// TestModelARN sends a request for an ARN model: ":" and "/" are escaped in the path and the
// signature (computed over the escaped path) still verifies.
func TestModelARN(t *testing.T) {
	const arn = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3d4e5f6"
	f := newFake(t, respondJSON(minimalAnswer))
	if _, err := adapterFor(t, f.config(arn)).Chat(context.Background(), call(t, simpleRequest)); err != nil {
		t.Fatalf("Chat: %v", err)
	}
	reqs := f.requests()
	want := "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3d4e5f6/converse"
	if len(reqs) != 1 || reqs[0].path != want {
		t.Fatalf("requests %+v, want one to %s", reqs, want)
	}
}

// TestRedirectIsNotFollowed: a redirect would carry the session token to another host.
func TestRedirectIsNotFollowed(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("redirect followed to another host, with X-Amz-Security-Token %q", r.Header.Get("X-Amz-Security-Token"))
	}))
	defer other.Close()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	})
	f.expectCreds(aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: "s", SessionToken: "tok"})
	cfg := f.config(testModel)
	cfg.APIKey = `{"secret_access_key":"s","session_token":"tok"}`
	_, err := adapterFor(t, cfg).Chat(context.Background(), call(t, simpleRequest))
	if e := asAPIErr(t, err); e.Kind != apierr.KindUpstreamBadResponse {
		t.Errorf("error %v (kind %v), want an upstream bad response", e, e.Kind)
	}
}
