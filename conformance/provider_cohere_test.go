package conformance

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/provider/providercohere"
)

// cohereHarness drives providercohere on the fake at srv with the API key key.
func cohereHarness(srv *httptest.Server, key string) adapterHarness {
	return adapterHarness{
		newAdapter: func(t *testing.T, model string) provider.Adapter {
			t.Helper()
			a, err := providercohere.New(provider.Config{Kind: "cohere", BaseURL: srv.URL, APIKey: key, Model: model, HTTPClient: srv.Client()})
			if err != nil {
				t.Fatalf("providercohere.New: %v", err)
			}
			return a
		},
		// Cohere has no prompt cache: the adapter reports no cached tokens.
		usage: chat.Usage{PromptTokens: Usage.InputTokens, CompletionTokens: Usage.OutputTokens, TotalTokens: Usage.InputTokens + Usage.OutputTokens},
	}
}

// TestCohereScenarios drives providercohere through every scenario of the Cohere fake.
func TestCohereScenarios(t *testing.T) {
	p := Cohere()
	h := cohereHarness(serve(t, p), p.Env[CohereKeyEnv])
	jsonSchemaRequest := `{"model":"m","messages":[{"role":"user","content":"Where?"}],
		"response_format":{"type":"json_schema","json_schema":{"name":"city","schema":{"type":"object","properties":{"city":{"type":"string"}}}}}}`
	h.run(t, h.scenarioCases(
		adapterCase{name: "json", model: ScenarioJSON, request: jsonRequest, want: adapterAnswer{Text: JSONReply, Finish: "stop"}},
		adapterCase{name: "json schema", model: ScenarioJSON, request: jsonSchemaRequest, want: adapterAnswer{Text: JSONReply, Finish: "stop"}},
		// Cohere answers a model it does not know with a 404.
		adapterCase{name: "unknown model", model: "conf-unknown", request: textRequest, wantErr: &apierr.Error{Kind: apierr.KindUpstreamBadResponse, Code: "upstream_not_found"}},
	))
}

// TestCohereRefusesBadKeys checks that the fake refuses requests without the account's key.
func TestCohereRefusesBadKeys(t *testing.T) {
	p := Cohere()
	srv := serve(t, p)
	h := cohereHarness(srv, "another-key")
	h.run(t, []adapterCase{{name: "wrong key", model: ScenarioText, request: textRequest, wantErr: &apierr.Error{Kind: apierr.KindUpstreamBadResponse, Code: "upstream_auth_failed"}}})

	resp, err := srv.Client().Post(srv.URL+"/v2/chat", "application/json", strings.NewReader(`{"model":"conf-text","messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"message"`) {
		t.Errorf("no key: status %d, body %s; want 401 with a message", resp.StatusCode, body)
	}
}

// TestCohereRefusesWhatCohereRefuses checks the fake's request validation.
func TestCohereRefusesWhatCohereRefuses(t *testing.T) {
	for _, body := range []string{
		`[]`,
		`{"messages":[{"role":"user","content":"Hi"}]}`,
		`{"model":"conf-text","messages":[]}`,
		`{"model":"conf-text","messages":[{"role":"developer","content":"Hi"}]}`,
		`{"model":"conf-text","messages":[{"role":"user","content":"Hi"}],"n":2}`,
	} {
		if _, err := cohereDecode([]byte(body)); err == nil {
			t.Errorf("cohereDecode(%s) accepted it", body)
		}
	}
	if _, err := cohereDecode([]byte(`{"model":"conf-text","messages":[{"role":"user","content":"Hi"}],"stream":true,"max_tokens":5}`)); err != nil {
		t.Errorf("cohereDecode refused a valid request: %v", err)
	}
}

// TestCohereDocument checks that the Cohere document parses as the config file parses it and
// that an adapter built from it answers on the fake.
func TestCohereDocument(t *testing.T) {
	p := Cohere()
	srv := serve(t, p)
	acct := parseDocument(t, p, srv.URL)
	if len(acct.Account.Settings) != 0 {
		t.Errorf("settings %v, want none", acct.Account.Settings)
	}
	a, err := providercohere.New(provider.Config{
		Kind: acct.Account.Provider, BaseURL: acct.Account.BaseUrl, APIKey: acct.Account.ApiKey,
		Model: acct.Models[0].UpstreamModel, Settings: acct.Account.Settings, HTTPClient: srv.Client(),
	})
	if err != nil {
		t.Fatalf("providercohere.New from the document: %v", err)
	}
	if _, err := a.Chat(context.Background(), adapterHarness{}.call(t, adapterCase{request: textRequest}, false)); err != nil {
		t.Errorf("Chat with the document's account: %v", err)
	}
}
