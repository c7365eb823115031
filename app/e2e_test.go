package app

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/gateway/provider/providermock"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
	inferencev1 "github.com/llmgw/llmgw/gen/go/llmgw/inference/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/inference/v1/inferencev1connect"
)

const providerSecret = "sk-test-provider-secret-9f8e7d"

// configFor is a config file in the documented shape: an OpenAI account pointed at the fake
// upstream, the self-hosted document from the docs (pointed at the fake too), and a rule.
func configFor(upstream string) string {
	return fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %[1]q
  auth_data:
    type: api-key
    api_key: env://FAKE_OPENAI_KEY
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: cut, type: integration/model/openai, model_id: fake-cut}
    - {name: hang, type: integration/model/openai, model_id: fake-hang}
    - {name: leaky, type: integration/model/openai, model_id: fake-leaky}
    - {name: mid-error, type: integration/model/openai, model_id: fake-mid-error}
    - {name: err429, type: integration/model/openai, model_id: fake-error-429}
    - {name: err500, type: integration/model/openai, model_id: fake-error-500}
    - {name: err503, type: integration/model/openai, model_id: fake-error-503}
    - {name: emb, type: integration/model/openai, model_id: text-embedding-3-small, model_types: [embedding]}
- name: nvidia-external
  type: provider-account/self-hosted-model
  integrations:
    - name: nemotron-nano
      type: integration/model/self-hosted-model
      hosted_model_name: nvidia/nemotron-3-nano-30b-a3b
      url: %[1]q
      model_server: "openai-compatible"
      model_types: ["chat"]
      auth_data:
        type: bearer-auth
        bearer_token: "env://NVIDIA_API_KEY"
- authz_rules:
    - models: [fake/gpt, nvidia-external/nemotron-nano, fake/emb]
      users: [alice]
`, upstream)
}

type fixture struct {
	g       *gateway
	up      *providertest.OpenAI
	admin   adminv1connect.AdminServiceClient
	alice   string // alice's API key
	bob     string // bob's API key
	aliceID string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	up := providertest.NewOpenAI(t)
	cfgPath := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(configFor(up.BaseURL())), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, map[string]string{"FAKE_OPENAI_KEY": providerSecret, "NVIDIA_API_KEY": "nvapi-test"}, "--config", cfgPath, "--max-body", "65536")
	f := &fixture{g: g, up: up}
	f.admin = adminv1connect.NewAdminServiceClient(http.DefaultClient, g.URL, connect.WithInterceptors(bearer(g.Token)))
	ctx := context.Background()
	for _, name := range []string{"alice", "bob"} {
		if _, err := f.admin.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: name}}); err != nil {
			t.Fatalf("create user %s: %v", name, err)
		}
		k, err := f.admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: name + "-laptop", Owner: &adminv1.ApiKey_User{User: name}}})
		if err != nil {
			t.Fatalf("create key for %s: %v", name, err)
		}
		if name == "alice" {
			f.alice, f.aliceID = k.GetSecret(), k.GetApiKey().GetId()
		} else {
			f.bob = k.GetSecret()
		}
	}
	return f
}

// bearer adds the Authorization header to every Connect call, unary and streaming.
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func (f *fixture) client(key string) *openai.Client {
	c := openai.NewClient(option.WithBaseURL(f.g.URL+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
	return &c
}

func apiError(t *testing.T, err error) *openai.Error {
	t.Helper()
	var e *openai.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *openai.Error", err, err)
	}
	return e
}

func TestOpenAISurfaceWithOfficialSDK(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.client(f.g.Token)

	t.Run("quickstart mock echo", func(t *testing.T) {
		resp, err := admin.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "mock/echo",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hello from the quickstart")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Choices[0].Message.Content; got != "hello from the quickstart" {
			t.Errorf("content = %q", got)
		}
		if resp.Usage.CompletionTokens != 4 || resp.Usage.PromptTokens != 6 || resp.Choices[0].FinishReason != "stop" {
			t.Errorf("usage = %+v, finish = %q", resp.Usage, resp.Choices[0].FinishReason)
		}
	})

	t.Run("quickstart mock echo streamed word by word with usage", func(t *testing.T) {
		stream := admin.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:         "mock/echo",
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("one two three")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var text strings.Builder
		chunks, usageChunks := 0, 0
		var total int64
		for stream.Next() {
			c := stream.Current()
			chunks++
			if len(c.Choices) > 0 {
				text.WriteString(c.Choices[0].Delta.Content)
			}
			if c.Usage.TotalTokens > 0 {
				usageChunks++
				total = c.Usage.TotalTokens
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != "one two three" || chunks != 6 || usageChunks != 1 || total != 6 {
			t.Errorf("text %q, %d chunks, %d usage chunks, total %d", text.String(), chunks, usageChunks, total)
		}
	})

	t.Run("mock embeddings are deterministic", func(t *testing.T) {
		resp, err := admin.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "mock/embed",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"alpha", "beta", "alpha"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 3 || len(resp.Data[0].Embedding) != providermock.DefaultDimensions {
			t.Fatalf("got %d embeddings of %d dims", len(resp.Data), len(resp.Data[0].Embedding))
		}
		want := providermock.Vector("alpha", providermock.DefaultDimensions)
		for i, v := range resp.Data[2].Embedding {
			if float32(v) != want[i] || resp.Data[0].Embedding[i] != v {
				t.Fatalf("embedding of alpha differs at %d: %v vs %v", i, v, want[i])
			}
		}
		if resp.Data[1].Embedding[0] == resp.Data[0].Embedding[0] {
			t.Error("different inputs gave the same vector")
		}
	})

	t.Run("mock embeddings in base64, as the Python SDK asks", func(t *testing.T) {
		resp, body := f.g.do(t, "POST", "/v1/embeddings", f.g.Token, `{"model":"mock/embed","input":"alpha","encoding_format":"base64"}`)
		var got struct {
			Data []struct {
				Embedding string `json:"embedding"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 200 || len(got.Data) != 1 {
			t.Fatalf("%d %s (%v)", resp.StatusCode, body, err)
		}
		raw, err := base64.StdEncoding.DecodeString(got.Data[0].Embedding)
		if err != nil || len(raw) != 4*providermock.DefaultDimensions {
			t.Fatalf("%d bytes, %v", len(raw), err)
		}
		want := providermock.Vector("alpha", providermock.DefaultDimensions)
		for i := range want {
			if v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); v != want[i] {
				t.Fatalf("component %d = %v, want %v", i, v, want[i])
			}
		}
	})

	t.Run("models list follows authz", func(t *testing.T) {
		ids := func(c *openai.Client) []string {
			page, err := c.Models.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range page.Data {
				out = append(out, m.ID)
			}
			return out
		}
		if got := strings.Join(ids(f.client(f.alice)), ","); got != "fake/emb,fake/gpt,nvidia-external/nemotron-nano" {
			t.Errorf("alice sees %s", got)
		}
		if got := ids(f.client(f.bob)); len(got) != 0 {
			t.Errorf("bob sees %v, want nothing", got)
		}
		all := strings.Join(ids(admin), ",")
		for _, want := range []string{"mock/echo", "mock/embed", "fake/gpt", "nvidia-external/nemotron-nano"} {
			if !strings.Contains(all, want) {
				t.Errorf("admin list %s lacks %s", all, want)
			}
		}
		alice := f.client(f.alice)
		m, err := alice.Models.Get(ctx, "fake/gpt")
		if err != nil || m.ID != "fake/gpt" || m.OwnedBy != "fake" {
			t.Errorf("get model: %+v, %v", m, err)
		}
	})

	t.Run("passthrough patches only the model and uses the central key", func(t *testing.T) {
		resp, err := f.client(f.alice).Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:       "fake/gpt",
			Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi there")},
			Temperature: openai.Float(0.3),
			Seed:        openai.Int(42),
		})
		if err != nil {
			t.Fatal(err)
		}
		got := f.up.LastRequest()
		if got.Body["model"] != "gpt-4o-mini" || got.Authorization != "Bearer "+providerSecret {
			t.Errorf("upstream got model %v, auth %q", got.Body["model"], got.Authorization)
		}
		if got.Body["temperature"] != 0.3 || got.Body["seed"] != float64(42) {
			t.Errorf("upstream body lost parameters: %s", got.Raw)
		}
		if resp.Choices[0].Message.Content != "echo: hi there" || resp.Usage.PromptTokensDetails.CachedTokens != 3 {
			t.Errorf("response %+v", resp)
		}
		if resp.SystemFingerprint != "fp_fake" {
			t.Errorf("the upstream's response was not forwarded as is: %+v", resp)
		}
	})

	t.Run("the documented self-hosted document serves its model", func(t *testing.T) {
		resp, err := f.client(f.alice).Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "nvidia-external/nemotron-nano",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello nvidia")},
		})
		if err != nil {
			t.Fatal(err)
		}
		got := f.up.LastRequest()
		if got.Body["model"] != "nvidia/nemotron-3-nano-30b-a3b" || got.Authorization != "Bearer nvapi-test" {
			t.Errorf("upstream got model %v auth %q", got.Body["model"], got.Authorization)
		}
		if resp.Choices[0].Message.Content != "echo: hello nvidia" {
			t.Errorf("content %q", resp.Choices[0].Message.Content)
		}
	})

	t.Run("stream always asks upstream for usage and hides it when not asked", func(t *testing.T) {
		stream := f.client(f.alice).Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    "fake/gpt",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream me please")},
		}, option.WithHeader("X-Request-Id", "req-stream-hidden-usage"))
		var text strings.Builder
		for stream.Next() {
			c := stream.Current()
			if c.JSON.Usage.Valid() && c.Usage.TotalTokens > 0 {
				t.Errorf("client got a usage chunk it did not ask for: %s", c.RawJSON())
			}
			if len(c.Choices) > 0 {
				text.WriteString(c.Choices[0].Delta.Content)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != "echo: stream me please" {
			t.Errorf("text %q", text.String())
		}
		so, _ := f.up.LastRequest().Body["stream_options"].(map[string]any)
		if so["include_usage"] != true {
			t.Errorf("upstream was not asked for usage: %s", f.up.LastRequest().Raw)
		}
		ev := f.g.Events.waitFor(t, "req-stream-hidden-usage")
		if ev.Usage.TotalTokens != 18 || ev.Usage.CachedTokens() != 3 || ev.UsageMissing || !ev.Stream || ev.User != "alice" || ev.Status != "ok" {
			t.Errorf("usage event %+v", ev)
		}
		// gpt-4o-mini at the catalog's price: 8 uncached and 3 cached prompt tokens, 7 completion.
		if want := (8*0.15 + 3*0.075 + 7*0.60) / 1e6; !ev.Priced || math.Abs(ev.CostUSD-want) > 1e-12 {
			t.Errorf("cost %v (priced %v), want %v", ev.CostUSD, ev.Priced, want)
		}
	})

	t.Run("stream with usage asked shows it once", func(t *testing.T) {
		stream := f.client(f.alice).Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:         "fake/gpt",
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		n := 0
		for stream.Next() {
			if stream.Current().Usage.TotalTokens == 18 {
				n++
			}
		}
		if err := stream.Err(); err != nil || n != 1 {
			t.Errorf("usage chunks %d, err %v", n, err)
		}
	})

	t.Run("embeddings passthrough", func(t *testing.T) {
		resp, err := f.client(f.alice).Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "fake/emb",
			Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("embed me")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 1 || resp.Usage.PromptTokens != 5 || f.up.LastRequest().Body["model"] != "text-embedding-3-small" {
			t.Errorf("resp %+v upstream %s", resp, f.up.LastRequest().Raw)
		}
	})

	t.Run("errors in the OpenAI shape", func(t *testing.T) {
		msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
		tests := []struct {
			name       string
			key, model string
			status     int
			code       string
		}{
			{"missing key", "", "fake/gpt", 401, "invalid_api_key"},
			{"wrong key", "llmgw-not-a-key", "fake/gpt", 401, "invalid_api_key"},
			{"model not allowed", f.bob, "fake/gpt", 403, "model_not_allowed"},
			{"unknown model", f.alice, "nope/nothing", 404, "model_not_found"},
			{"chat on an embedding model", f.alice, "fake/emb", 400, ""},
			{"upstream 429 keeps Retry-After", f.g.Token, "fake/err429", 429, "upstream_rate_limited"},
			{"upstream 500 is a bad gateway", f.g.Token, "fake/err500", 502, "upstream_error"},
			{"upstream 503", f.g.Token, "fake/err503", 503, "upstream_unavailable"},
			{"upstream auth failure hides the upstream message", f.g.Token, "fake/leaky", 502, "upstream_auth_failed"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var resp *http.Response
				_, err := f.client(tt.key).Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: tt.model, Messages: msgs}, option.WithResponseInto(&resp))
				e := apiError(t, err)
				if e.StatusCode != tt.status || e.Code != tt.code {
					t.Errorf("status %d code %q, want %d %q (%s)", e.StatusCode, e.Code, tt.status, tt.code, e.RawJSON())
				}
				if strings.Contains(e.RawJSON(), providertest.LeakedKey) || strings.Contains(e.RawJSON(), "upstream says no") {
					t.Errorf("upstream text leaked: %s", e.RawJSON())
				}
				if tt.status == 429 && resp.Header.Get("Retry-After") != "7" {
					t.Errorf("Retry-After %q, want 7", resp.Header.Get("Retry-After"))
				}
			})
		}
	})

	t.Run("bad input is a 400 naming the field", func(t *testing.T) {
		tests := []struct {
			name, body, param string
			status            int
		}{
			{"malformed JSON", `{"model": "mock/echo", "messages": [`, "", 400},
			{"not an object", `[1,2]`, "", 400},
			{"empty body", ``, "", 400},
			{"missing model", `{"messages":[{"role":"user","content":"x"}]}`, "model", 400},
			{"missing messages", `{"model":"mock/echo"}`, "messages", 400},
			{"messages wrong type", `{"model":"mock/echo","messages":"hi"}`, "messages", 400},
			{"temperature wrong type", `{"model":"mock/echo","messages":[{"role":"user","content":"x"}],"temperature":"hot"}`, "temperature", 400},
			{"unknown role", `{"model":"mock/echo","messages":[{"role":"wizard","content":"x"}]}`, "messages[0].role", 400},
			{"content wrong type", `{"model":"mock/echo","messages":[{"role":"user","content":5}]}`, "", 400},
			{"tool message without id", `{"model":"mock/echo","messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id", 400},
			{"body too large", `{"model":"mock/echo","messages":[{"role":"user","content":"` + strings.Repeat("a", 70000) + `"}]}`, "", 413},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp, body := f.g.do(t, "POST", "/v1/chat/completions", f.g.Token, tt.body)
				var e struct {
					Error struct {
						Message string  `json:"message"`
						Type    string  `json:"type"`
						Param   *string `json:"param"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(body), &e); err != nil {
					t.Fatalf("body %q is not OpenAI error JSON: %v", body, err)
				}
				if resp.StatusCode != tt.status || e.Error.Type != "invalid_request_error" || e.Error.Message == "" {
					t.Errorf("status %d body %s", resp.StatusCode, body)
				}
				if tt.param != "" && (e.Error.Param == nil || *e.Error.Param != tt.param) {
					t.Errorf("param %v, want %q (%s)", e.Error.Param, tt.param, body)
				}
			})
		}
		resp, _ := f.g.do(t, "GET", "/v1/chat/completions", f.g.Token, "")
		if resp.StatusCode != 405 {
			t.Errorf("GET chat completions: %d, want 405", resp.StatusCode)
		}
		resp, body := f.g.do(t, "POST", "/v1/nothing-here", f.g.Token, "{}")
		if resp.StatusCode != 404 || !strings.Contains(body, "unknown_url") {
			t.Errorf("unknown route: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("a stream cut by the upstream ends with an error, not a clean end", func(t *testing.T) {
		for _, model := range []string{"fake/cut", "fake/mid-error"} {
			stream := f.client(f.g.Token).Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model:    model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("a b c d e f")},
			}, option.WithHeader("X-Request-Id", "req-"+model))
			n := 0
			for stream.Next() {
				n++
			}
			err := stream.Err()
			if err == nil || n == 0 {
				t.Fatalf("%s: %d chunks then err %v; want chunks then an error", model, n, err)
			}
			if strings.Contains(err.Error(), providertest.LeakedKey) {
				t.Errorf("%s: upstream text leaked into the stream error: %v", model, err)
			}
			ev := f.g.Events.waitFor(t, "req-"+model)
			if ev.Status == "ok" || ev.UsageMissing || !ev.UsageEstimated || ev.Usage.PromptTokens == 0 || ev.Usage.CompletionTokens == 0 {
				t.Errorf("%s: event %+v should record a failed stream with the usage the gateway counted", model, ev)
			}
		}
	})

	t.Run("a client that disconnects before the stream opens cancels the upstream call", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			time.Sleep(300 * time.Millisecond)
			cancel()
		}()
		stream := f.client(f.g.Token).Chat.Completions.NewStreaming(cctx, openai.ChatCompletionNewParams{
			Model:    "fake/hang",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("wait")},
		})
		for stream.Next() {
		}
		select {
		case m := <-f.up.Canceled:
			if m != providertest.ModelHang {
				t.Errorf("canceled %q", m)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the upstream call was not canceled after the client left")
		}
	})

	t.Run("a revoked key stops working at once", func(t *testing.T) {
		k, err := f.admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: "temp", Owner: &adminv1.ApiKey_User{User: "alice"}}})
		if err != nil {
			t.Fatal(err)
		}
		c := f.client(k.GetSecret())
		msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}
		if _, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "fake/gpt", Messages: msgs}); err != nil {
			t.Fatalf("fresh key refused: %v", err)
		}
		if _, err := f.admin.RevokeApiKey(ctx, &adminv1.RevokeApiKeyRequest{Id: k.GetApiKey().GetId()}); err != nil {
			t.Fatal(err)
		}
		_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "fake/gpt", Messages: msgs})
		if e := apiError(t, err); e.StatusCode != 401 {
			t.Errorf("revoked key: status %d", e.StatusCode)
		}
	})

	t.Run("x-api-key works like Bearer", func(t *testing.T) {
		req, _ := http.NewRequest("GET", f.g.URL+"/v1/models", nil)
		req.Header.Set("x-api-key", f.alice)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})

	t.Run("provider keys never leave the gateway", func(t *testing.T) {
		_, body := f.g.do(t, "GET", "/api/v1/provider-accounts", f.g.Token, "")
		_, models := f.g.do(t, "GET", "/api/v1/models", f.g.Token, "")
		for _, s := range []string{body, models, f.g.Logs.String()} {
			if strings.Contains(s, providerSecret) || strings.Contains(s, "nvapi-test") {
				t.Errorf("a provider key appears in %.300s", s)
			}
		}
		if !strings.Contains(body, `"hasApiKey":true`) {
			t.Errorf("provider account listing should say a key is stored: %s", body)
		}
	})
}

func TestGRPCAndConnectClients(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, proto := range []struct {
		name string
		opts []connect.ClientOption
	}{
		{"grpc", []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
		{"connect", nil},
	} {
		t.Run(proto.name, func(t *testing.T) {
			client := inferencev1connect.NewInferenceServiceClient(h2cClient(), f.g.URL, append(proto.opts, connect.WithInterceptors(bearer(f.alice)))...)
			req := &inferencev1.ChatCompletionRequest{Model: "fake/gpt", Messages: []*inferencev1.Message{
				{Role: inferencev1.Role_ROLE_USER, Content: []*inferencev1.ContentPart{{Part: &inferencev1.ContentPart_Text{Text: "over grpc"}}}},
			}}
			resp, err := client.ChatCompletion(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.GetChoices()[0].GetMessage().GetContent()[0].GetText(); got != "echo: over grpc" {
				t.Errorf("content %q", got)
			}
			if resp.GetUsage().GetCachedTokens() != 3 || resp.GetChoices()[0].GetFinishReason() != inferencev1.FinishReason_FINISH_REASON_STOP {
				t.Errorf("response %v", resp)
			}
			stream, err := client.StreamChatCompletion(ctx, &inferencev1.StreamChatCompletionRequest{Request: req, IncludeUsage: true})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			var usageTotal int64
			for stream.Receive() {
				m := stream.Msg()
				for _, c := range m.GetChoices() {
					text.WriteString(c.GetDelta().GetContent())
				}
				usageTotal += m.GetUsage().GetTotalTokens()
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if text.String() != "echo: over grpc" || usageTotal != 18 {
				t.Errorf("stream text %q usage %d", text.String(), usageTotal)
			}
			emb, err := client.Embed(ctx, &inferencev1.EmbedRequest{Model: "fake/emb", Input: []string{"a", "b"}})
			if err != nil || len(emb.GetEmbeddings()) != 2 || len(emb.GetEmbeddings()[1].GetVector()) != 3 {
				t.Errorf("embed %v %v", emb, err)
			}
			models, err := client.ListModels(ctx, &inferencev1.ListModelsRequest{})
			if err != nil || len(models.GetModels()) != 3 {
				t.Errorf("models %v %v", models, err)
			}
			_, err = client.ChatCompletion(ctx, &inferencev1.ChatCompletionRequest{Model: "mock/echo", Messages: req.Messages})
			if connect.CodeOf(err) != connect.CodePermissionDenied {
				t.Errorf("mock/echo for alice: %v, want permission denied", err)
			}
			_, err = client.ChatCompletion(ctx, &inferencev1.ChatCompletionRequest{Model: "fake/gpt"})
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Errorf("no messages: %v, want invalid argument", err)
			}
			n, zero := int32(1000), int32(0)
			_, err = client.ChatCompletion(ctx, &inferencev1.ChatCompletionRequest{Model: "fake/gpt", Messages: req.Messages, N: &n})
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "Invalid 'n'") {
				t.Errorf("n 1000: %v, want invalid argument", err)
			}
			_, err = client.Embed(ctx, &inferencev1.EmbedRequest{Model: "fake/emb", Input: []string{"a"}, Dimensions: &zero})
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "Invalid 'dimensions'") {
				t.Errorf("dimensions 0: %v, want invalid argument", err)
			}
			anon := inferencev1connect.NewInferenceServiceClient(h2cClient(), f.g.URL, proto.opts...)
			_, err = anon.ListModels(ctx, &inferencev1.ListModelsRequest{})
			if connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Errorf("no key: %v, want unauthenticated", err)
			}
		})
	}

	t.Run("admin needs the admin token", func(t *testing.T) {
		asAlice := adminv1connect.NewAdminServiceClient(http.DefaultClient, f.g.URL, connect.WithInterceptors(bearer(f.alice)))
		_, err := asAlice.ListUsers(ctx, &adminv1.ListUsersRequest{})
		if connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("alice on admin: %v", err)
		}
		anon := adminv1connect.NewAdminServiceClient(http.DefaultClient, f.g.URL)
		_, err = anon.ListUsers(ctx, &adminv1.ListUsersRequest{})
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("anonymous on admin: %v", err)
		}
	})

	t.Run("REST through grpc-gateway", func(t *testing.T) {
		resp, body := f.g.do(t, "POST", "/api/v1/users", f.g.Token, `{"name":"carol","email":"carol@example.com"}`)
		if resp.StatusCode != 200 || !strings.Contains(body, `"carol"`) {
			t.Fatalf("create user over REST: %d %s", resp.StatusCode, body)
		}
		resp, body = f.g.do(t, "GET", "/api/v1/users/carol", f.g.Token, "")
		if resp.StatusCode != 200 || !strings.Contains(body, "carol@example.com") {
			t.Errorf("get user over REST: %d %s", resp.StatusCode, body)
		}
		resp, _ = f.g.do(t, "GET", "/api/v1/users/nobody", f.g.Token, "")
		if resp.StatusCode != 404 {
			t.Errorf("missing user over REST: %d", resp.StatusCode)
		}
		resp, _ = f.g.do(t, "GET", "/api/v1/users", "", "")
		if resp.StatusCode != 401 {
			t.Errorf("REST without token: %d", resp.StatusCode)
		}
		resp, body = f.g.do(t, "POST", "/api/v1/api-keys", f.g.Token, `{"name":"ci","user":"carol"}`)
		if resp.StatusCode != 200 || !strings.Contains(body, `"secret":"llmgw-`) {
			t.Fatalf("create key over REST: %d %s", resp.StatusCode, body)
		}
		resp, body = f.g.do(t, "POST", "/api/v1/inference/chat-completions", f.g.Token, `{"model":"mock/echo","messages":[{"role":"ROLE_USER","content":[{"text":"rest hello"}]}]}`)
		if resp.StatusCode != 200 || !strings.Contains(body, "rest hello") {
			t.Errorf("inference over REST: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("health", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			resp, body := f.g.do(t, "GET", p, "", "")
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d %s", p, resp.StatusCode, body)
			}
		}
	})
}

// h2cClient speaks HTTP/2 without TLS, as gRPC needs.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}
