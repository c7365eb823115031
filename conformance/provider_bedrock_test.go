package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/configfile"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/provider/providerbedrock"
)

// The OpenAI requests the fakes' tests send through the adapters.
const (
	textRequest  = `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}`
	toolsRequest = `{"model":"m","messages":[{"role":"user","content":"Weather in Paris?"}],
		"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`
	imageRequest = `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},
		{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="}}]}]}`
	jsonRequest = `{"model":"m","messages":[{"role":"user","content":"Where?"}],"response_format":{"type":"json_object"}}`
)

// adapterCase is one scenario driven through an adapter on a fake: the upstream model (the
// scenario), the OpenAI request, and what the adapter must answer.
type adapterCase struct {
	name    string
	model   string
	request string
	// want is the answer; ignored when wantErr is set.
	want adapterAnswer
	// wantErr is the error the adapter must return (its kind, code and retry-after count).
	wantErr *apierr.Error
	// partial is the text a broken stream must have delivered before its error.
	partial string
}

// adapterAnswer is an adapter's answer reduced to what the scenarios fix.
type adapterAnswer struct {
	Text     string
	ToolName string
	ToolArgs string
	Finish   string
	Usage    chat.Usage
}

// adapterHarness drives an adapter built on a fake through scenarios, non-streamed and
// streamed.
type adapterHarness struct {
	// newAdapter builds the adapter for an upstream model on the fake.
	newAdapter func(t *testing.T, model string) provider.Adapter
	// usage is the usage the adapter must report for every answer.
	usage chat.Usage
}

// scenarioCases are the cases every fake answers the same way, then the provider's extra
// cases; every answer's usage is the harness's.
func (h adapterHarness) scenarioCases(extra ...adapterCase) []adapterCase {
	cases := []adapterCase{
		{name: "text", model: ScenarioText, request: textRequest, want: adapterAnswer{Text: Text, Finish: "stop"}},
		{name: "tools", model: ScenarioTools, request: toolsRequest, want: adapterAnswer{ToolName: ToolName, ToolArgs: ToolArgs, Finish: "tool_calls"}},
		{name: "tools lost", model: ScenarioTools, request: textRequest, wantErr: &apierr.Error{Kind: apierr.KindInvalidRequest}},
		{name: "image", model: ScenarioImage, request: imageRequest, want: adapterAnswer{Text: ImageReply, Finish: "stop"}},
		{name: "image lost", model: ScenarioImage, request: textRequest, wantErr: &apierr.Error{Kind: apierr.KindInvalidRequest}},
		{name: "json not asked", model: ScenarioJSON, request: textRequest, wantErr: &apierr.Error{Kind: apierr.KindInvalidRequest}},
		{name: "hang", model: ScenarioHang, request: textRequest, wantErr: &apierr.Error{Kind: apierr.KindCanceled}},
		{name: "cut", model: ScenarioCut, request: textRequest, wantErr: &apierr.Error{Kind: apierr.KindUpstreamUnavailable}, partial: Text[:len(Text)/2]},
	}
	errs := map[int]*apierr.Error{
		400: {Kind: apierr.KindInvalidRequest},
		401: {Kind: apierr.KindUpstreamBadResponse, Code: "upstream_auth_failed"},
		403: {Kind: apierr.KindUpstreamBadResponse, Code: "upstream_auth_failed"},
		404: {Kind: apierr.KindUpstreamBadResponse, Code: "upstream_not_found"},
		429: {Kind: apierr.KindRateLimited, Code: "upstream_rate_limited", RetryAfter: RetryAfterSeconds * time.Second},
		500: {Kind: apierr.KindUpstreamBadResponse},
		503: {Kind: apierr.KindUpstreamUnavailable},
	}
	for _, status := range ErrorStatuses {
		want, ok := errs[status]
		if !ok {
			panic(fmt.Sprintf("no expected error for status %d", status))
		}
		cases = append(cases, adapterCase{name: fmt.Sprintf("error %d", status), model: fmt.Sprintf("%s%d", ScenarioErrorPrefix, status), request: textRequest, wantErr: want})
	}
	cases = append(cases, extra...)
	for i := range cases {
		cases[i].want.Usage = h.usage
	}
	return cases
}

// run drives every case through Chat and ChatStream.
func (h adapterHarness) run(t *testing.T, cases []adapterCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Run("chat", func(t *testing.T) {
				got, err := h.chat(t, c)
				h.check(t, c, got, err, false)
			})
			t.Run("stream", func(t *testing.T) {
				got, pieces, err := h.stream(t, c)
				h.check(t, c, got, err, true)
				if c.wantErr == nil && pieces < 2 {
					t.Errorf("the answer came in %d deltas, want at least 2", pieces)
				}
			})
		})
	}
}

// ctx is the context of a case: canceled soon for ScenarioHang, whose answer never comes.
func (h adapterHarness) ctx(t *testing.T, c adapterCase) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if c.model == ScenarioHang {
		time.AfterFunc(100*time.Millisecond, cancel)
	}
	return ctx
}

// call decodes a case's request.
func (h adapterHarness) call(t *testing.T, c adapterCase, stream bool) *provider.ChatCall {
	t.Helper()
	js := c.request
	if stream {
		js = strings.Replace(js, `{"model":"m",`, `{"model":"m","stream":true,`, 1)
	}
	r, err := chat.DecodeRequest([]byte(js))
	if err != nil {
		t.Fatalf("DecodeRequest(%s): %v", js, err)
	}
	return &provider.ChatCall{Request: r}
}

// chat runs a case non-streamed and reduces the chat.completion.
func (h adapterHarness) chat(t *testing.T, c adapterCase) (adapterAnswer, error) {
	t.Helper()
	res, err := h.newAdapter(t, c.model).Chat(h.ctx(t, c), h.call(t, c, false))
	if err != nil {
		return adapterAnswer{}, err
	}
	var r chat.Response
	if err := json.Unmarshal(res.JSON, &r); err != nil {
		t.Fatalf("answer is not a chat.completion: %v\n%s", err, res.JSON)
	}
	if r.Object != "chat.completion" || len(r.Choices) != 1 || r.Usage == nil {
		t.Fatalf("answer is not a one-choice chat.completion with usage: %s", res.JSON)
	}
	if diff := cmp.Diff(*r.Usage, res.Usage); diff != "" {
		t.Errorf("ChatResult.Usage differs from the answer's usage (-answer +result):\n%s", diff)
	}
	ch := r.Choices[0]
	got := adapterAnswer{Text: ch.Message.Content.String(), Finish: ch.FinishReason, Usage: *r.Usage}
	for _, tc := range ch.Message.ToolCalls {
		if tc.ID == "" || tc.Type != "function" {
			t.Errorf("tool call %+v has no id or is not a function", tc)
		}
		got.ToolName, got.ToolArgs = got.ToolName+tc.Function.Name, got.ToolArgs+tc.Function.Arguments
	}
	return got, nil
}

// stream runs a case streamed and reassembles the chunks; pieces counts the text deltas and
// argument fragments. err is what ended the stream, nil for a clean io.EOF.
func (h adapterHarness) stream(t *testing.T, c adapterCase) (got adapterAnswer, pieces int, err error) {
	t.Helper()
	s, err := h.newAdapter(t, c.model).ChatStream(h.ctx(t, c), h.call(t, c, true))
	if err != nil {
		return adapterAnswer{}, 0, err
	}
	defer s.Close()
	sawUsage := false
	for range 1000 {
		ck, err := s.Recv()
		if errors.Is(err, io.EOF) {
			if !sawUsage {
				t.Error("the stream ended without a usage chunk")
			}
			return got, pieces, nil
		}
		if err != nil {
			return got, pieces, err
		}
		var chunk chat.Chunk
		if err := json.Unmarshal(ck.JSON, &chunk); err != nil {
			t.Fatalf("chunk is not a chat.completion.chunk: %v\n%s", err, ck.JSON)
		}
		if ck.UsageOnly {
			if ck.Usage == nil || chunk.Usage == nil || len(chunk.Choices) != 0 {
				t.Fatalf("usage-only chunk without usage or with choices: %s", ck.JSON)
			}
			sawUsage, got.Usage = true, *chunk.Usage
			continue
		}
		for _, ch := range chunk.Choices {
			if d := ch.Delta.Content; d != nil && *d != "" {
				got.Text += *d
				pieces++
			}
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index != 0 {
					t.Errorf("tool call delta index %d, want 0", tc.Index)
				}
				got.ToolName += tc.Function.Name
				if tc.Function.Arguments != "" {
					got.ToolArgs += tc.Function.Arguments
					pieces++
				}
			}
			if ch.FinishReason != nil {
				got.Finish = *ch.FinishReason
			}
		}
	}
	t.Fatal("the stream did not end")
	return got, pieces, nil
}

// check compares an answer or error with the case's.
func (h adapterHarness) check(t *testing.T, c adapterCase, got adapterAnswer, err error, streamed bool) {
	t.Helper()
	if c.wantErr == nil {
		if err != nil {
			t.Fatalf("error %v, want an answer", err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("answer mismatch (-want +got):\n%s", diff)
		}
		return
	}
	if err == nil {
		t.Fatalf("answer %+v, want error kind %d", got, c.wantErr.Kind)
	}
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *apierr.Error", err, err)
	}
	if e.Kind != c.wantErr.Kind || e.Code != c.wantErr.Code || e.RetryAfter != c.wantErr.RetryAfter {
		t.Errorf("error kind %d code %q retry-after %v, want kind %d code %q retry-after %v (%v)",
			e.Kind, e.Code, e.RetryAfter, c.wantErr.Kind, c.wantErr.Code, c.wantErr.RetryAfter, err)
	}
	if strings.Contains(e.Message, UpstreamMessage) {
		t.Errorf("the public message quotes the upstream: %q", e.Message)
	}
	if streamed && got.Text != c.partial {
		t.Errorf("the stream delivered %q before failing, want %q", got.Text, c.partial)
	}
}

// serve starts p's fake for the test.
func serve(t *testing.T, p Provider) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(p.Handler(t))
	t.Cleanup(srv.Close)
	return srv
}

// bedrockHarness drives providerbedrock on the fake at srv, signing with secret.
func bedrockHarness(srv *httptest.Server, secret string) adapterHarness {
	return adapterHarness{
		newAdapter: func(t *testing.T, model string) provider.Adapter {
			t.Helper()
			a, err := providerbedrock.New(provider.Config{
				Kind:       "bedrock",
				BaseURL:    srv.URL,
				APIKey:     secret,
				Model:      model,
				Settings:   map[string]string{providerbedrock.SettingRegion: BedrockRegion, providerbedrock.SettingAccessKeyID: BedrockAccessKeyID},
				HTTPClient: srv.Client(),
			})
			if err != nil {
				t.Fatalf("providerbedrock.New: %v", err)
			}
			return a
		},
		usage: chat.Usage{
			PromptTokens: Usage.InputTokens, CompletionTokens: Usage.OutputTokens, TotalTokens: Usage.InputTokens + Usage.OutputTokens,
			PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: Usage.CachedTokens},
		},
	}
}

// TestBedrockScenarios drives providerbedrock through every scenario of the Bedrock fake.
func TestBedrockScenarios(t *testing.T) {
	p := Bedrock()
	srv := serve(t, p)
	h := bedrockHarness(srv, p.Env[BedrockSecretEnv])
	h.run(t, h.scenarioCases(
		// Converse has no JSON mode: the adapter refuses response_format, naming it, before
		// it calls Bedrock.
		adapterCase{name: "json", model: ScenarioJSON, request: jsonRequest, wantErr: &apierr.Error{Kind: apierr.KindInvalidRequest}},
		// Bedrock answers a model id it does not know with a ValidationException.
		adapterCase{name: "unknown model", model: "conf-unknown", request: textRequest, wantErr: &apierr.Error{Kind: apierr.KindInvalidRequest}},
	))
}

// TestBedrockRefusesBadSignatures checks that the fake refuses requests not signed with the
// account's secret, as AWS does.
func TestBedrockRefusesBadSignatures(t *testing.T) {
	p := Bedrock()
	h := bedrockHarness(serve(t, p), "another/secret/access/key")
	h.run(t, []adapterCase{{name: "wrong secret", model: ScenarioText, request: textRequest, wantErr: &apierr.Error{Kind: apierr.KindUpstreamBadResponse, Code: "upstream_auth_failed"}}})

	srv := serve(t, p)
	for _, auth := range []string{"", "Bearer x", "AWS4-HMAC-SHA256 Credential=AKIAOTHER/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64)} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/model/"+ScenarioText+"/converse", strings.NewReader(`{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("X-Amz-Date", "20240101T000000Z")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") == "" || !json.Valid(body) {
			t.Errorf("Authorization %q: status %d, error type %q, body %s; want 403 with an error type and a JSON body", auth, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
		}
	}
}

// TestBedrockRefusesWhatConverseRefuses checks the fake's request validation.
func TestBedrockRefusesWhatConverseRefuses(t *testing.T) {
	for _, body := range []string{
		`[]`,
		`{"messages":[]}`,
		`{"messages":[{"role":"assistant","content":[{"text":"Hi"}]}]}`,
		`{"messages":[{"role":"user","content":[{"text":"Hi"}]},{"role":"user","content":[{"text":"Hi"}]}]}`,
		`{"messages":[{"role":"user","content":[]}]}`,
		`{"messages":[{"role":"user","content":[{"text":""}]}]}`,
		`{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"response_format":{"type":"json_object"}}`,
	} {
		if _, err := bedrockDecode([]byte(body)); err == nil {
			t.Errorf("bedrockDecode(%s) accepted it", body)
		}
	}
	if _, err := bedrockDecode([]byte(`{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"maxTokens":5}}`)); err != nil {
		t.Errorf("bedrockDecode refused a valid request: %v", err)
	}
}

// TestBedrockDocument checks that the Bedrock document parses as the config file parses it
// and that an adapter built from it answers on the fake.
func TestBedrockDocument(t *testing.T) {
	p := Bedrock()
	srv := serve(t, p)
	acct := parseDocument(t, p, srv.URL)
	if diff := cmp.Diff(map[string]string{"region": BedrockRegion, "access_key_id": BedrockAccessKeyID}, acct.Account.Settings); diff != "" {
		t.Errorf("settings mismatch (-want +got):\n%s", diff)
	}
	a, err := providerbedrock.New(provider.Config{
		Kind: acct.Account.Provider, BaseURL: acct.Account.BaseUrl, APIKey: acct.Account.ApiKey,
		Model: acct.Models[0].UpstreamModel, Settings: acct.Account.Settings, HTTPClient: srv.Client(),
	})
	if err != nil {
		t.Fatalf("providerbedrock.New from the document: %v", err)
	}
	if _, err := a.Chat(context.Background(), adapterHarness{}.call(t, adapterCase{request: textRequest}, false)); err != nil {
		t.Errorf("Chat with the document's account: %v", err)
	}
}

// parseDocument parses p's document for two scenarios with the config file parser, resolving
// secrets from p.Env, and checks what every provider's document must say.
func parseDocument(t *testing.T, p Provider, baseURL string) configfile.Account {
	t.Helper()
	doc := p.Document("conf-"+p.Kind, baseURL, []string{ScenarioText, ScenarioErrorPrefix + "429"})
	f, err := configfile.Parse([]byte(doc), configfile.EnvFileResolver(func(k string) string { return p.Env[k] }))
	if err != nil {
		t.Fatalf("configfile.Parse: %v\n%s", err, doc)
	}
	if len(f.Accounts) != 1 {
		t.Fatalf("document has %d accounts, want 1:\n%s", len(f.Accounts), doc)
	}
	acct := f.Accounts[0]
	if a := acct.Account; a.Name != "conf-"+p.Kind || a.Provider != p.Kind || a.BaseUrl != baseURL || a.ApiKey == "" {
		t.Errorf("account %s kind %s base url %s key set %v, want conf-%s, %s, %s, a key", a.Name, a.Provider, a.BaseUrl, a.ApiKey != "", p.Kind, p.Kind, baseURL)
	}
	var models []string
	for _, m := range acct.Models {
		if m.Name != m.UpstreamModel || len(m.Types) != 1 || m.Types[0] != "chat" {
			t.Errorf("model %s: upstream %s, types %v; want the scenario as both, a chat model", m.Name, m.UpstreamModel, m.Types)
		}
		models = append(models, m.UpstreamModel)
	}
	if diff := cmp.Diff([]string{ScenarioText, ScenarioErrorPrefix + "429"}, models); diff != "" {
		t.Errorf("models mismatch (-want +got):\n%s", diff)
	}
	return acct
}
