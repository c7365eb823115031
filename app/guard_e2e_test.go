package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/pipeline/pipelinetest"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	"github.com/llmgw/llmgw/gateway/sse"
	inferencev1 "github.com/llmgw/llmgw/gen/go/llmgw/inference/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/inference/v1/inferencev1connect"
)

// guardFixture is a gateway with a test guard on its pipeline, in front of fakes for every
// surface: OpenAI (chat, embeddings, completions), Anthropic (native Messages), an OpenAI batch
// API, and Cohere rerank. The guard refuses requests whose client id starts with "refuse-".
type guardFixture struct {
	g      *gateway
	guard  *pipelinetest.Guard
	oa     *providertest.OpenAI
	claude *providertest.Anthropic
	batch  *providertest.Batches
}

func newGuardFixture(t *testing.T) *guardFixture {
	t.Helper()
	f := &guardFixture{
		oa:     providertest.NewOpenAI(t),
		claude: providertest.NewAnthropicMessages(t, anthropicSecret),
		batch:  providertest.NewBatches(t, providertest.OpenAIBatchLayout("sk-oai-batch")),
	}
	cohere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"r1","results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.1}],"meta":{"billed_units":{"search_units":1}}}`)
	}))
	t.Cleanup(cohere.Close)
	f.guard = &pipelinetest.Guard{
		Name:    "test",
		Headers: map[string]string{"X-Ratelimit-Limit-Requests": "60"},
		Refuse: func(a *pipeline.Attempt) error {
			if a.Caller.Edge != nil && strings.HasPrefix(a.Caller.Edge.ClientID, "refuse-") {
				return &apierr.Error{Kind: apierr.KindRateLimited, Message: "rule test-rpm: 60 requests per minute", RetryAfter: 2 * time.Second}
			}
			return nil
		},
	}
	cfg := fmt.Sprintf(`
- name: fake
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://FAKE_OPENAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: gated, type: integration/model/openai, model_id: gpt-4o-fake-gated, model_types: [chat]}
    - {name: err503, type: integration/model/openai, model_id: fake-error-503, model_types: [chat]}
    - {name: emb, type: integration/model/openai, model_id: text-embedding-3-small, model_types: [embedding]}
    - {name: instruct, type: integration/model/openai, model_id: gpt-3.5-turbo-instruct, model_types: [chat]}
- name: claude
  type: provider-account/anthropic
  base_url: %q
  auth_data: {type: api-key, api_key: env://ANTHROPIC_TEST_KEY}
  integrations:
    - {name: sonnet, type: integration/model/anthropic, model_id: claude-sonnet-4-5}
- name: bat
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://BATCH_KEY}
  integrations:
    - {name: mini, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
- name: co
  type: provider-account/cohere
  base_url: %q
  auth_data: {type: api-key, api_key: env://COHERE_KEY}
  integrations:
    - {name: rerank, type: integration/model/cohere, model_id: rerank-v3.5, model_types: [rerank]}
`, f.oa.BaseURL(), f.claude.URL, f.batch.Root(), cohere.URL)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f.g = startGatewayWith(t, []pipeline.Guard{f.guard}, map[string]string{
		"FAKE_OPENAI_KEY": providerSecret, "ANTHROPIC_TEST_KEY": anthropicSecret, "BATCH_KEY": "sk-oai-batch", "COHERE_KEY": "co-key",
	}, "--config", path)
	return f
}

// TestGuardsAroundEveryAttempt: on every surface and verb, the pipeline's guards admit each
// attempt once and each admitted ticket is settled exactly once, with the usage of the request's
// one record: streams included, when the client leaves early and when the upstream fails. The
// guard's response headers reach the client.
func TestGuardsAroundEveryAttempt(t *testing.T) {
	f := newGuardFixture(t)
	g := f.g
	// A batch needs an input file uploaded through the gateway (its upload is an attempt too).
	oc := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.Token), option.WithMaxRetries(0))
	file, err := oc.Files.New(context.Background(), openai.FileNewParams{
		File:    openai.File(bytes.NewReader(batchInput("bat/mini", "/v1/chat/completions", 2)), "in.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeBatch,
	})
	if err != nil {
		t.Fatal(err)
	}
	chatBody := func(model string, stream bool) string {
		return fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"user","content":%q}]}`, model, stream, words)
	}
	messagesBody := func(model string, stream bool) string {
		return fmt.Sprintf(`{"model":%q,"stream":%v,"max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`, model, stream)
	}
	const connectPath = "/llmgw.inference.v1.InferenceService/ChatCompletion"
	tests := []struct {
		name, path, body string
		op               string // the admitted attempt's operation
		stream           bool
		status           int
		leave            bool // leave after the first event; the upstream is then let finish
	}{
		{name: "chat", path: "/v1/chat/completions", body: chatBody("fake/gpt", false), op: "chat", status: 200},
		{name: "chat stream", path: "/v1/chat/completions", body: chatBody("fake/gpt", true), op: "chat", stream: true, status: 200},
		{name: "chat stream the client leaves", path: "/v1/chat/completions", body: chatBody("fake/gated", true), op: "chat", stream: true, status: 200, leave: true},
		{name: "chat upstream error", path: "/v1/chat/completions", body: chatBody("fake/err503", false), op: "chat", status: 503},
		{name: "responses", path: "/v1/responses", body: `{"model":"fake/gpt","input":"hi"}`, op: "chat", status: 200},
		{name: "responses stream", path: "/v1/responses", body: `{"model":"fake/gpt","input":"hi","stream":true}`, op: "chat", stream: true, status: 200},
		{name: "embeddings", path: "/v1/embeddings", body: `{"model":"fake/emb","input":"hi"}`, op: "embedding", status: 200},
		{name: "rerank", path: "/v1/rerank", body: `{"model":"co/rerank","query":"q","documents":["a","b"]}`, op: "rerank", status: 200},
		{name: "forwarded completions", path: "/v1/completions", body: `{"model":"fake/instruct","prompt":"hi"}`, op: "completions", status: 200},
		{name: "messages native", path: "/v1/messages", body: messagesBody("claude/sonnet", false), op: "chat", status: 200},
		{name: "messages native stream", path: "/v1/messages", body: messagesBody("claude/sonnet", true), op: "chat", stream: true, status: 200},
		{name: "messages translated", path: "/v1/messages", body: messagesBody("fake/gpt", false), op: "chat", status: 200},
		{name: "messages translated stream", path: "/v1/messages", body: messagesBody("fake/gpt", true), op: "chat", stream: true, status: 200},
		{name: "batch create", path: "/v1/batches", body: fmt.Sprintf(`{"input_file_id":%q,"endpoint":"/v1/chat/completions","completion_window":"24h"}`, file.ID), op: pipeline.OpBatch, status: 200},
		{name: "connect chat", path: connectPath, body: `{"model":"fake/gpt","messages":[{"role":"ROLE_USER","content":[{"text":"hi"}]}]}`, op: "chat", status: 200},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, leave := context.WithCancel(context.Background())
			defer leave()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+g.Token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("anthropic-version", providertest.AnthropicVersion)
			req.Header.Set("X-Request-Id", fmt.Sprintf("guard-%d", i))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				out, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, out)
			}
			if got := resp.Header.Get("X-Ratelimit-Limit-Requests"); got != "60" {
				t.Errorf("X-Ratelimit-Limit-Requests %q, want the guard's 60", got)
			}
			if tt.leave {
				if _, err := sse.NewReader(resp.Body).Next(); err != nil {
					t.Fatal(err)
				}
				leave()
				resp.Body.Close()
				select {
				case f.oa.Gate <- struct{}{}: // the stream is read on in the background: let it finish
				case <-time.After(10 * time.Second):
					t.Fatal("the upstream stream was not read on after the client left")
				}
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
			}
			id := resp.Header.Get("X-Request-Id")
			ev := g.Events.waitFor(t, id)

			var admits []pipelinetest.Admit
			for _, a := range f.guard.Admits() {
				if a.RequestID == id {
					admits = append(admits, a)
				}
			}
			if len(admits) != 1 || admits[0].Refused != nil || admits[0].Operation != tt.op || admits[0].Stream != tt.stream {
				t.Fatalf("admits %+v, want one admitted %s attempt (stream %v)", admits, tt.op, tt.stream)
			}
			settled := func(_ []pipelinetest.Admit, ss []pipelinetest.Settle) bool {
				for _, s := range ss {
					if s.Ticket == admits[0].Ticket {
						return true
					}
				}
				return false
			}
			wctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if !f.guard.Wait(wctx, settled) {
				t.Fatal("the ticket was never settled")
			}
			time.Sleep(50 * time.Millisecond) // a second settle would show up here
			var settles []pipelinetest.Settle
			for _, s := range f.guard.Settles() {
				if s.Ticket == admits[0].Ticket {
					settles = append(settles, s)
				}
			}
			if len(settles) != 1 {
				t.Fatalf("ticket settled %d times, want once", len(settles))
			}
			se := settles[0].Event
			if ev.Operation == "" { // the edge's record (a batch's creation): no usage either way
				if se.Usage != ev.Usage || se.UsageMissing || se.HTTPStatus != ev.HTTPStatus {
					t.Errorf("settled with %+v, want the record's usage and status: %+v", se, ev)
				}
				return
			}
			if diff := cmp.Diff(ev, se); diff != "" {
				t.Errorf("settled with another event than the one recorded (-recorded +settled):\n%s", diff)
			}
		})
	}
}

// TestGuardRefusalInEveryDialect: a guard's refusal reaches the client in its own dialect (the
// official SDKs' error types and status), the upstream is not called, and the request still
// leaves exactly one record.
func TestGuardRefusalInEveryDialect(t *testing.T) {
	f := newGuardFixture(t)
	g := f.g
	ctx := context.Background()
	before := len(f.oa.Requests()) + len(f.claude.Requests())
	tests := []struct {
		name string
		call func(t *testing.T, id string)
	}{
		{"openai chat", func(t *testing.T, id string) {
			c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.Token), option.WithMaxRetries(0), option.WithHeader("X-Request-Id", id))
			_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "fake/gpt", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
			e := apiError(t, err)
			if e.StatusCode != 429 || e.Code != "rate_limit_exceeded" || e.Type != "requests" || !strings.Contains(e.Message, "test-rpm") {
				t.Errorf("error %d %q %q %q", e.StatusCode, e.Type, e.Code, e.Message)
			}
			if got := e.Response.Header.Get("Retry-After"); got != "2" {
				t.Errorf("Retry-After %q, want 2", got)
			}
			if got := e.Response.Header.Get("X-Ratelimit-Limit-Requests"); got != "" {
				t.Errorf("a refusing guard's attempt got another guard's header %q", got)
			}
		}},
		{"openai embeddings", func(t *testing.T, id string) {
			c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.Token), option.WithMaxRetries(0), option.WithHeader("X-Request-Id", id))
			_, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "fake/emb", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}})
			if e := apiError(t, err); e.StatusCode != 429 || e.Code != "rate_limit_exceeded" {
				t.Errorf("error %d %q", e.StatusCode, e.Code)
			}
		}},
		{"anthropic messages native", func(t *testing.T, id string) {
			c := anthropic.NewClient(anthropicoption.WithBaseURL(g.URL), anthropicoption.WithAPIKey(g.Token), anthropicoption.WithMaxRetries(0), anthropicoption.WithHeader("X-Request-Id", id))
			_, err := c.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude/sonnet", MaxTokens: 50, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
			e := anthropicErr(t, err)
			if e.StatusCode != 429 || string(e.Type()) != "rate_limit_error" {
				t.Errorf("error %d %q: %s", e.StatusCode, e.Type(), e.RawJSON())
			}
		}},
		{"anthropic messages translated", func(t *testing.T, id string) {
			c := anthropic.NewClient(anthropicoption.WithBaseURL(g.URL), anthropicoption.WithAPIKey(g.Token), anthropicoption.WithMaxRetries(0), anthropicoption.WithHeader("X-Request-Id", id))
			_, err := c.Messages.New(ctx, anthropic.MessageNewParams{Model: "fake/gpt", MaxTokens: 50, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
			if e := anthropicErr(t, err); e.StatusCode != 429 || string(e.Type()) != "rate_limit_error" {
				t.Errorf("error %d %q: %s", e.StatusCode, e.Type(), e.RawJSON())
			}
		}},
		{"connect", func(t *testing.T, id string) {
			withID := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
				return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
					req.Header().Set("X-Request-Id", id)
					return next(ctx, req)
				}
			})
			c := inferencev1connect.NewInferenceServiceClient(http.DefaultClient, g.URL, connect.WithInterceptors(bearer(g.Token), withID))
			_, err := c.ChatCompletion(ctx, &inferencev1.ChatCompletionRequest{Model: "fake/gpt", Messages: []*inferencev1.Message{{Role: inferencev1.Role_ROLE_USER, Content: []*inferencev1.ContentPart{{Part: &inferencev1.ContentPart_Text{Text: "hi"}}}}}})
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted {
				t.Errorf("error %v, want ResourceExhausted", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "refuse-" + strings.ReplaceAll(tt.name, " ", "-")
			tt.call(t, id)
			ev := g.Events.waitFor(t, id) // exactly one record
			if ev.HTTPStatus != 429 || ev.Status != "rate_limit_exceeded" || ev.Principal != "admin" {
				t.Errorf("record %+v, want the 429 refusal", ev)
			}
		})
	}
	if after := len(f.oa.Requests()) + len(f.claude.Requests()); after != before {
		t.Errorf("the upstreams got %d requests, want none: a refused attempt is never sent", after-before)
	}
	for _, a := range f.guard.Admits() {
		if a.Refused == nil {
			t.Errorf("admitted %+v, want every attempt refused", a)
		}
	}
	if s := f.guard.Settles(); len(s) != 0 {
		t.Errorf("settled %+v: a refused attempt holds no ticket of the refusing guard", s)
	}
}
