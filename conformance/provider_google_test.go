package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/configfile"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/provider/providergoogle"
)

// The tests of a fake drive the real adapter of its kind against it through every scenario,
// non-streamed and streamed, and check the adapter's OpenAI-shaped output: that proves the
// fake speaks what the adapter expects, so that a failing matrix cell is the gateway's fault.

func TestGeminiFake(t *testing.T) {
	p := Gemini()
	driveFake(t, fakeDriver{
		provider: p,
		build:    providergoogle.NewGemini,
		config: func(baseURL, scenario string) provider.Config {
			return provider.Config{Kind: p.Kind, BaseURL: baseURL, APIKey: p.Env[GeminiKeyEnv], Model: scenario}
		},
		wholeToolCalls: true,
		extra: []fakeCase{{
			// Gemini answers a wrong key with 400 API_KEY_INVALID, which is the gateway's
			// credential failing, not the client's request.
			name:     "wrong key",
			scenario: ScenarioText,
			body:     fakeBodyText,
			config:   func(c *provider.Config) { c.APIKey = "not-the-key" },
			wantErr:  &apierr.Error{Kind: apierr.KindUpstreamBadResponse, Code: "upstream_auth_failed"},
		}},
	})
}

func TestVertexFake(t *testing.T) {
	p := Vertex()
	settings := map[string]string{providergoogle.SettingProject: VertexProject, providergoogle.SettingLocation: VertexLocation}
	driveFake(t, fakeDriver{
		provider: p,
		build:    providergoogle.NewVertex,
		config: func(baseURL, scenario string) provider.Config {
			return provider.Config{Kind: p.Kind, BaseURL: baseURL, APIKey: p.Env[VertexKeyEnv], Model: scenario, Settings: settings}
		},
		wholeToolCalls: true,
		extra: []fakeCase{
			{
				// The token endpoint refuses an assertion that names another account.
				name:     "assertion for another account",
				scenario: ScenarioText,
				body:     fakeBodyText,
				config: func(c *provider.Config) {
					c.APIKey = strings.Replace(c.APIKey, vertexEmail, "intruder@example.iam.gserviceaccount.com", 1)
				},
				wantErr: &apierr.Error{Kind: apierr.KindUpstreamBadResponse, Code: "upstream_auth_failed"},
			},
			{
				// The fake serves only the configured project and location.
				name:     "another location",
				scenario: ScenarioText,
				body:     fakeBodyText,
				config: func(c *provider.Config) {
					c.Settings = map[string]string{providergoogle.SettingLocation: "us-east5"}
				},
				wantErr: &apierr.Error{Kind: apierr.KindUpstreamBadResponse, Code: "upstream_not_found"},
			},
		},
	})
}

// TestVertexFakeRefusesUnissuedToken checks that the fake's API accepts only tokens its token
// endpoint issued.
func TestVertexFakeRefusesUnissuedToken(t *testing.T) {
	srv := httptest.NewServer(Vertex().Handler(t))
	t.Cleanup(srv.Close)
	url := srv.URL + "/v1/projects/" + VertexProject + "/locations/" + VertexLocation + "/publishers/google/models/" + ScenarioText + ":generateContent"
	for _, auth := range []string{"", "Bearer ya29.forged"} {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), `"UNAUTHENTICATED"`) {
			t.Errorf("Authorization %q: status %d, body %s; want 401 UNAUTHENTICATED", auth, resp.StatusCode, b)
		}
	}
}

// fakeDriver is how one fake is driven through its provider's adapter.
type fakeDriver struct {
	provider Provider
	build    func(provider.Config) (provider.Adapter, error)
	// config is the adapter config for a scenario at the fake's base URL; the HTTP client is
	// added by driveFake.
	config func(baseURL, scenario string) provider.Config
	// wholeToolCalls is set when the provider sends a function call whole: a streamed tool
	// call then has one arguments delta instead of at least two.
	wholeToolCalls bool
	// extra are the provider's own cases, run after the shared ones.
	extra []fakeCase
}

// Request bodies, in the OpenAI dialect the adapters take.
const (
	fakeBodyText  = `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello."}]}`
	fakeBodyTools = `{"model":"m","messages":[{"role":"user","content":"Weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]}`
	fakeBodyImage = `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="}}]}]}`
	fakeBodyJSON  = `{"model":"m","messages":[{"role":"user","content":"Where is the Eiffel tower? Answer in JSON."}],"response_format":{"type":"json_object"}}`
)

// fakeCase is one request to a fake and what the adapter must make of it.
type fakeCase struct {
	name     string
	scenario string
	body     string
	config   func(*provider.Config) // changes the adapter config; may be nil
	timeout  time.Duration          // bounds the call; 0 means a generous default
	// Exactly one of wantText, wantCall and wantErr is set.
	wantText string
	wantCall bool
	// wantErr is the error's kind and code (Code empty: any), and RetryAfter when set.
	wantErr *apierr.Error
	// wantCut: the answer breaks; streamed, after the first half of Text arrived.
	wantCut bool
}

// fakeCases are the cases every fake answers the same way.
func fakeCases() []fakeCase {
	invalid := &apierr.Error{Kind: apierr.KindInvalidRequest}
	cases := []fakeCase{
		{name: "text", scenario: ScenarioText, body: fakeBodyText, wantText: Text},
		{name: "tools", scenario: ScenarioTools, body: fakeBodyTools, wantCall: true},
		{name: "tools without tools", scenario: ScenarioTools, body: fakeBodyText, wantErr: invalid},
		{name: "image", scenario: ScenarioImage, body: fakeBodyImage, wantText: ImageReply},
		{name: "image without image", scenario: ScenarioImage, body: fakeBodyText, wantErr: invalid},
		{name: "json", scenario: ScenarioJSON, body: fakeBodyJSON, wantText: JSONReply},
		{name: "json without json mode", scenario: ScenarioJSON, body: fakeBodyText, wantErr: invalid},
		{name: "hang", scenario: ScenarioHang, body: fakeBodyText, timeout: 300 * time.Millisecond,
			wantErr: &apierr.Error{Kind: apierr.KindUpstreamTimeout}},
		{name: "cut", scenario: ScenarioCut, body: fakeBodyText, wantCut: true},
		{name: "unknown model", scenario: "conf-unknown", body: fakeBodyText,
			wantErr: &apierr.Error{Kind: apierr.KindUpstreamBadResponse, Code: "upstream_not_found"}},
	}
	kinds := map[int]*apierr.Error{
		400: invalid,
		401: {Kind: apierr.KindUpstreamBadResponse, Code: "upstream_auth_failed"},
		403: {Kind: apierr.KindUpstreamBadResponse, Code: "upstream_auth_failed"},
		404: {Kind: apierr.KindUpstreamBadResponse, Code: "upstream_not_found"},
		429: {Kind: apierr.KindRateLimited, Code: "upstream_rate_limited", RetryAfter: RetryAfterSeconds * time.Second},
		500: {Kind: apierr.KindUpstreamBadResponse},
		503: {Kind: apierr.KindUpstreamUnavailable},
	}
	for _, status := range ErrorStatuses {
		want, ok := kinds[status]
		if !ok {
			panic(fmt.Sprintf("no expected kind for error status %d", status))
		}
		cases = append(cases, fakeCase{
			name: "error " + strconv.Itoa(status), scenario: ScenarioErrorPrefix + strconv.Itoa(status),
			body: fakeBodyText, wantErr: want,
		})
	}
	return cases
}

// fakeOutcome is what the adapter made of an answer, streamed or not.
type fakeOutcome struct {
	text       string
	textDeltas int // non-empty content deltas (streamed)
	callName   string
	callArgs   string
	argDeltas  int // non-empty arguments deltas (streamed)
	finish     string
	usage      *chat.Usage
}

// driveFake runs every case against a fresh server of the fake, non-streamed and streamed.
func driveFake(t *testing.T, d fakeDriver) {
	srv := httptest.NewServer(d.provider.Handler(t))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(client.CloseIdleConnections)

	t.Run("document", func(t *testing.T) { checkDocument(t, d.provider, srv.URL) })
	for _, c := range append(fakeCases(), d.extra...) {
		for _, streamed := range []bool{false, true} {
			name := c.name
			if streamed {
				name += "/streamed"
			}
			t.Run(name, func(t *testing.T) {
				cfg := d.config(srv.URL, c.scenario)
				cfg.HTTPClient = client
				if c.config != nil {
					c.config(&cfg)
				}
				a, err := d.build(cfg)
				if err != nil {
					t.Fatalf("build the adapter: %v", err)
				}
				timeout := c.timeout
				if timeout == 0 {
					timeout = 20 * time.Second
				}
				ctx, cancel := context.WithTimeout(t.Context(), timeout)
				defer cancel()
				body := c.body
				if streamed {
					// A client's streamed request says so in its body, which OpenAI-shaped
					// adapters forward.
					body = `{"stream":true,` + strings.TrimPrefix(body, "{")
				}
				r, err := chat.DecodeRequest([]byte(body))
				if err != nil {
					t.Fatal(err)
				}
				call := &provider.ChatCall{Request: r, Body: []byte(body)}
				var got fakeOutcome
				if streamed {
					got, err = fakeStream(ctx, a, call)
				} else {
					got, err = fakeChat(ctx, a, call)
				}
				checkOutcome(t, d, c, streamed, got, err)
			})
		}
	}
}

// checkOutcome compares what the adapter made of an answer with the case's expectation.
func checkOutcome(t *testing.T, d fakeDriver, c fakeCase, streamed bool, got fakeOutcome, err error) {
	t.Helper()
	switch {
	case c.wantErr != nil:
		checkFakeError(t, err, c.wantErr)
		return
	case c.wantCut:
		if err == nil {
			t.Fatalf("a cut answer succeeded: %+v", got)
		}
		if streamed {
			// The first text delta arrived; then the stream broke, not cleanly ended.
			first := splitText(Text)[0]
			if got.text != first {
				t.Errorf("streamed text before the cut = %q, want %q", got.text, first)
			}
		}
		checkFakeError(t, err, &apierr.Error{Kind: apierr.KindUpstreamUnavailable})
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	want := fakeOutcome{text: c.wantText, finish: "stop"}
	if c.wantCall {
		want = fakeOutcome{callName: ToolName, callArgs: ToolArgs, finish: "tool_calls"}
	}
	if streamed {
		switch {
		case c.wantCall && d.wholeToolCalls:
			want.argDeltas = 1
		case c.wantCall:
			if got.argDeltas < 2 {
				t.Errorf("arguments came in %d deltas, want at least 2", got.argDeltas)
			}
			want.argDeltas = got.argDeltas
		default:
			if got.textDeltas < 2 {
				t.Errorf("text came in %d deltas, want at least 2", got.textDeltas)
			}
			want.textDeltas = got.textDeltas
		}
	}
	u := got.usage
	got.usage = nil
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(fakeOutcome{})); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	if u == nil {
		t.Fatal("no usage")
	}
	var cached int64
	if u.PromptTokensDetails != nil {
		cached = u.PromptTokensDetails.CachedTokens
	}
	gotUsage := [4]int64{u.PromptTokens, cached, u.CompletionTokens, u.TotalTokens}
	wantUsage := [4]int64{Usage.InputTokens, Usage.CachedTokens, Usage.OutputTokens, Usage.InputTokens + Usage.OutputTokens}
	if gotUsage != wantUsage {
		t.Errorf("usage [prompt cached completion total] = %v, want %v", gotUsage, wantUsage)
	}
}

// checkFakeError checks an adapter error's kind, code and retry delay, and that the upstream's
// text stayed out of its public message.
func checkFakeError(t *testing.T, err error, want *apierr.Error) {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *apierr.Error of kind %v", err, err, want.Kind)
	}
	if e.Kind != want.Kind || (want.Code != "" && e.Code != want.Code) {
		t.Errorf("error kind %v code %q, want kind %v code %q (error: %v)", e.Kind, e.Code, want.Kind, want.Code, err)
	}
	if want.RetryAfter != 0 && e.RetryAfter != want.RetryAfter {
		t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, want.RetryAfter)
	}
	if strings.Contains(e.Message, UpstreamMessage) {
		t.Errorf("public message %q carries the upstream's text", e.Message)
	}
}

// fakeChat calls Chat and reads the chat.completion.
func fakeChat(ctx context.Context, a provider.Adapter, call *provider.ChatCall) (fakeOutcome, error) {
	res, err := a.Chat(ctx, call)
	if err != nil {
		return fakeOutcome{}, err
	}
	var resp struct {
		Choices []struct {
			Message struct {
				Content   *string `json:"content"`
				ToolCalls []struct {
					Function struct{ Name, Arguments string } `json:"function"`
				} `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage *chat.Usage `json:"usage"`
	}
	if err := json.Unmarshal(res.JSON, &resp); err != nil {
		return fakeOutcome{}, fmt.Errorf("decode the completion: %w", err)
	}
	if len(resp.Choices) != 1 {
		return fakeOutcome{}, fmt.Errorf("%d choices, want 1: %s", len(resp.Choices), res.JSON)
	}
	ch := resp.Choices[0]
	out := fakeOutcome{finish: ch.FinishReason, usage: &res.Usage}
	if ch.Message.Content != nil {
		out.text = *ch.Message.Content
	}
	for _, tc := range ch.Message.ToolCalls {
		out.callName += tc.Function.Name
		out.callArgs += tc.Function.Arguments
	}
	if resp.Usage == nil {
		return fakeOutcome{}, fmt.Errorf("the completion has no usage: %s", res.JSON)
	}
	if diff := cmp.Diff(res.Usage, *resp.Usage); diff != "" {
		return fakeOutcome{}, fmt.Errorf("the completion's usage differs from the result's (-result +completion):\n%s", diff)
	}
	return out, nil
}

// fakeStream calls ChatStream and reads its chunks to io.EOF or the error that broke it; the
// outcome holds what arrived before an error.
func fakeStream(ctx context.Context, a provider.Adapter, call *provider.ChatCall) (fakeOutcome, error) {
	s, err := a.ChatStream(ctx, call)
	if err != nil {
		return fakeOutcome{}, err
	}
	defer s.Close()
	var out fakeOutcome
	for {
		c, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if c.Usage != nil {
			u := *c.Usage
			out.usage = &u
		}
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content   *string `json:"content"`
					ToolCalls []struct {
						Function struct{ Name, Arguments string } `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(c.JSON, &chunk); err != nil {
			return out, fmt.Errorf("decode chunk %s: %w", c.JSON, err)
		}
		for _, ch := range chunk.Choices {
			if d := ch.Delta.Content; d != nil && *d != "" {
				out.text += *d
				out.textDeltas++
			}
			for _, tc := range ch.Delta.ToolCalls {
				out.callName += tc.Function.Name
				if tc.Function.Arguments != "" {
					out.callArgs += tc.Function.Arguments
					out.argDeltas++
				}
			}
			if ch.FinishReason != nil {
				out.finish = *ch.FinishReason
			}
		}
	}
}

// checkDocument parses the provider's document as the gateway does, with its secrets from Env,
// and checks the account and one model per scenario.
func checkDocument(t *testing.T, p Provider, baseURL string) {
	t.Helper()
	scenarios := []string{ScenarioText, ScenarioTools, ScenarioErrorPrefix + "429"}
	f, err := configfile.Parse([]byte(p.Document("conf-account", baseURL, scenarios)),
		configfile.EnvFileResolver(func(k string) string { return p.Env[k] }))
	if err != nil {
		t.Fatalf("parse the document: %v", err)
	}
	if len(f.Accounts) != 1 {
		t.Fatalf("%d accounts, want 1", len(f.Accounts))
	}
	acct := f.Accounts[0]
	if acct.Account.GetProvider() != p.Kind || acct.Account.GetBaseUrl() != baseURL || acct.Account.GetApiKey() == "" {
		t.Errorf("account = %v, want provider %q, base URL %q and the key from Env", acct.Account, p.Kind, baseURL)
	}
	var models []string
	for _, m := range acct.Models {
		if m.GetName() != m.GetUpstreamModel() {
			t.Errorf("model %q has upstream model %q, want the scenario name", m.GetName(), m.GetUpstreamModel())
		}
		models = append(models, m.GetUpstreamModel())
	}
	if diff := cmp.Diff(scenarios, models); diff != "" {
		t.Errorf("models (-want +got):\n%s", diff)
	}
}
