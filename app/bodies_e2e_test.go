package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	"github.com/llmgw/llmgw/gateway/redact"
	"github.com/llmgw/llmgw/gateway/usage"
)

// plainProviderKey is the fake upstream's key: not shaped like a key, so only the snapshot's
// configured secrets can mask it.
const plainProviderKey = "plain-provider-credential-42"

// send posts body to path with the admin token and headers, and returns the answer, its body
// and the server's request id.
func (g *gateway) send(t *testing.T, path, body string, headers map[string]string) (*http.Response, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.Token)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp, b.String(), resp.Header.Get("X-Request-Id")
}

// TestBodyLogging: a request with X-LLMGW-Logging-Config {"enabled": true} (or TrueFoundry's
// X-TFY-LOGGING-CONFIG), whole or streamed, has its request and answer in its usage event,
// with the provider's key and key-shaped text masked; one without the header has none; a
// model a gateway-logging-config rule names has its bodies logged without the header; bodies
// past 64 KiB are cut and flagged; a malformed header is a 400 naming it, in each dialect.
func TestBodyLogging(t *testing.T) {
	oai := providertest.NewOpenAI(t)
	cfg := writeConfig(t, fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: audited, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
---
name: bodies
type: gateway-logging-config
rules:
  - id: audited-model
    when: {models: [fake/audited]}
`, oai.BaseURL()))
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": plainProviderKey}, "--config", cfg)
	on := map[string]string{edge.HeaderLoggingConfig: `{"enabled": true}`}
	// The prompt quotes the provider's key and an OpenAI-shaped key: the fake echoes it, so
	// both bodies hold both.
	const leaky = "my keys are " + plainProviderKey + " and sk-proj-ABCdef0123456789xyz"
	chatBody := func(model, text string, stream bool) string {
		b, _ := json.Marshal(map[string]any{"model": model, "stream": stream, "messages": []any{map[string]any{"role": "user", "content": text}}})
		return string(b)
	}
	logged := func(t *testing.T, id string) *usage.Bodies {
		t.Helper()
		ev := g.Events.waitFor(t, id)
		if ev.Bodies == nil {
			t.Fatalf("event %s has no bodies", id)
		}
		return ev.Bodies
	}
	noSecrets := func(t *testing.T, what string, b []byte) {
		t.Helper()
		if bytes.Contains(b, []byte(plainProviderKey)) || bytes.Contains(b, []byte("sk-proj-")) || !bytes.Contains(b, []byte(redact.Mask)) {
			t.Errorf("%s %s: a secret is not masked", what, b)
		}
	}

	t.Run("whole answer", func(t *testing.T) {
		resp, answer, id := g.send(t, "/v1/chat/completions", chatBody("fake/gpt", leaky, false), on)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, answer)
		}
		b := logged(t, id)
		if !bytes.Contains(b.Request, []byte(`"model":"fake/gpt"`)) || !bytes.Contains(b.Response, []byte(`"object":"chat.completion"`)) || !bytes.Contains(b.Response, []byte("echo: my keys are")) {
			t.Errorf("bodies %s / %s, want the request and the answer", b.Request, b.Response)
		}
		noSecrets(t, "request", b.Request)
		noSecrets(t, "response", b.Response)
		if b.RequestTruncated || b.ResponseTruncated {
			t.Error("small bodies flagged truncated")
		}
	})

	t.Run("stream, TrueFoundry's header", func(t *testing.T) {
		resp, answer, id := g.send(t, "/v1/chat/completions", chatBody("fake/gpt", leaky, true), map[string]string{edge.HeaderTFYLoggingConfig: `{"enabled":true,"tracing_project_fqn":"acme:tracing-project:gw"}`})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, answer)
		}
		b := logged(t, id)
		if !bytes.HasPrefix(b.Response, []byte("data: {")) || !bytes.Contains(b.Response, []byte(`"object":"chat.completion.chunk"`)) || !bytes.Contains(b.Response, []byte(`"content":"echo:"`)) || !bytes.Contains(b.Response, []byte(`"usage":{`)) {
			t.Errorf("stream response %s, want its events, usage included", b.Response)
		}
		noSecrets(t, "request", b.Request)
		noSecrets(t, "response", b.Response)
	})

	t.Run("without the header", func(t *testing.T) {
		_, _, id := g.send(t, "/v1/chat/completions", chatBody("fake/gpt", "hello", false), nil)
		if ev := g.Events.waitFor(t, id); ev.Bodies != nil {
			t.Errorf("bodies %+v logged without being asked for", ev.Bodies)
		}
		_, _, id = g.send(t, "/v1/chat/completions", chatBody("fake/gpt", "hello", false), map[string]string{edge.HeaderLoggingConfig: `{"enabled":false}`})
		if ev := g.Events.waitFor(t, id); ev.Bodies != nil {
			t.Errorf("bodies %+v logged with enabled false", ev.Bodies)
		}
	})

	t.Run("a rule of the config file", func(t *testing.T) {
		_, _, id := g.send(t, "/v1/chat/completions", chatBody("fake/audited", "hello", false), nil)
		if b := logged(t, id); !bytes.Contains(b.Response, []byte("echo: hello")) {
			t.Errorf("response %s, want the answer", b.Response)
		}
	})

	t.Run("capped", func(t *testing.T) {
		big := strings.Repeat("lorem ipsum ", 10_000) // 120 KB, echoed back
		resp, answer, id := g.send(t, "/v1/chat/completions", chatBody("fake/gpt", big, false), on)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, answer)
		}
		b := logged(t, id)
		if !b.RequestTruncated || !b.ResponseTruncated || len(b.Request) > pipeline.MaxLoggedBody || len(b.Response) > pipeline.MaxLoggedBody ||
			len(b.Request) < pipeline.MaxLoggedBody-100 || !bytes.HasSuffix(b.Response, []byte("...")) {
			t.Errorf("bodies of %d and %d bytes (truncated %v, %v), want both cut to at most %d", len(b.Request), len(b.Response), b.RequestTruncated, b.ResponseTruncated, pipeline.MaxLoggedBody)
		}
	})

	t.Run("malformed header", func(t *testing.T) {
		for _, tc := range []struct{ path, body, header string }{
			{"/v1/chat/completions", chatBody("fake/gpt", "hi", false), edge.HeaderLoggingConfig},
			{"/v1/messages", `{"model":"fake/gpt","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, edge.HeaderTFYLoggingConfig},
		} {
			resp, answer, _ := g.send(t, tc.path, tc.body, map[string]string{tc.header: `{"enabled":"yes"}`})
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(strings.ToLower(answer), strings.ToLower(tc.header)) {
				t.Errorf("%s: status %d %s, want a 400 naming %s", tc.path, resp.StatusCode, answer, tc.header)
			}
			if tc.path == "/v1/messages" && !strings.Contains(answer, `"type":"error"`) {
				t.Errorf("Messages answer %s is not in Anthropic's error shape", answer)
			}
			if tc.path == "/v1/chat/completions" && !strings.Contains(answer, `"invalid_request_error"`) {
				t.Errorf("chat answer %s is not in OpenAI's error shape", answer)
			}
		}
	})
}
