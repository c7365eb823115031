package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/catalog"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// fixtureUpstream answers every request with a recorded answer of one provider from
// testdata/usage: <name>.json for a non-streamed call, <name>.sse (or, for Bedrock's binary
// event stream, <name>.events.json encoded as eventstream frames) for a streamed one. A
// token exchange (Vertex's service account) gets a token. It stands in for every provider's
// public endpoint, without any network.
type fixtureUpstream struct {
	t    *testing.T
	name string
}

func (f fixtureUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	respond := func(ct string, b []byte) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {ct}},
			Body: io.NopCloser(bytes.NewReader(b)), Request: req}, nil
	}
	if strings.HasSuffix(req.URL.Path, "/token") {
		return respond("application/json", []byte(`{"access_token":"ya29.test","expires_in":3599,"token_type":"Bearer"}`))
	}
	stream := strings.Contains(strings.ToLower(req.URL.Path), "stream") || bytes.Contains(body, []byte(`"stream":true`))
	switch {
	case !stream:
		return respond("application/json", f.read(f.name+".json"))
	case f.name == "bedrock":
		return respond("application/vnd.amazon.eventstream", f.eventStream(f.name+".events.json"))
	default:
		return respond("text/event-stream", f.read(f.name+".sse"))
	}
}

func (f fixtureUpstream) read(name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "usage", name))
	if err != nil {
		f.t.Error(err)
	}
	return b
}

// eventStream encodes a list of {"type","payload"} events as Bedrock's eventstream frames.
func (f fixtureUpstream) eventStream(name string) []byte {
	var events []struct {
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(f.read(name), &events); err != nil {
		f.t.Fatal(err)
	}
	var out bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, e := range events {
		m := eventstream.Message{Payload: e.Payload}
		m.Headers.Set(":message-type", eventstream.StringValue("event"))
		m.Headers.Set(":event-type", eventstream.StringValue(e.Type))
		m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		if err := enc.Encode(&out, m); err != nil {
			f.t.Fatal(err)
		}
	}
	return out.Bytes()
}

// serviceAccount is a Vertex service-account key file with a fresh key.
func serviceAccount(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "acme-prod", "private_key_id": "k1",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "client_email": "gw@acme-prod.iam.gserviceaccount.com"})
	return string(b)
}

// TestGoldenUsageAndCost runs a recorded answer of every provider usage shape, non-streamed
// and streamed, through its adapter, and checks the usage in the gateway's terms (cache reads,
// cache writes and reasoning where the provider reports them) and its exact cost; a stream and
// a non-stream of the same answer must cost the same to 1e-9 USD.
func TestGoldenUsageAndCost(t *testing.T) {
	sa := serviceAccount(t)
	sonnet := catalog.Price{Input: 3, Output: 15, CachedInput: 0.30, CacheWrite: 3.75, CacheWrite1h: 6}
	tests := []struct {
		kind    string
		fixture string
		cfg     provider.Config
		price   catalog.Price
		want    chat.Usage
		cost    float64 // USD
	}{
		{
			// Cached reads and reasoning are parts of prompt and completion tokens.
			kind: "openai", fixture: "openai", cfg: provider.Config{APIKey: "k", Model: "o3-mini"},
			price: catalog.Price{Input: 1.10, Output: 4.40, CachedInput: 0.55},
			want: chat.Usage{PromptTokens: 2006, CompletionTokens: 300, TotalTokens: 2306,
				PromptTokensDetails:     &chat.PromptTokensDetails{CachedTokens: 1920},
				CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: 256}},
			cost: (86*1.10 + 1920*0.55 + 300*4.40) / 1e6,
		},
		{
			// Azure adds content filter results and a first chunk with no choices.
			kind: "azure-openai", fixture: "azure-openai", cfg: provider.Config{BaseURL: "https://acme.openai.azure.com", APIKey: "k", Model: "gpt-4o"},
			price: catalog.Price{Input: 2.50, Output: 10, CachedInput: 1.25},
			want: chat.Usage{PromptTokens: 1200, CompletionTokens: 50, TotalTokens: 1250,
				PromptTokensDetails:     &chat.PromptTokensDetails{CachedTokens: 1024},
				CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: 0}},
			cost: (176*2.50 + 1024*1.25 + 50*10) / 1e6,
		},
		{
			// input_tokens excludes the cache reads and writes; thinking is in output_tokens;
			// the writes are split by lifetime in cache_creation.
			kind: "anthropic", fixture: "anthropic", cfg: provider.Config{APIKey: "k", Model: "claude-sonnet-4-5"},
			price: sonnet,
			want: chat.Usage{PromptTokens: 12 + 4096 + 2048, CompletionTokens: 320, TotalTokens: 6476,
				PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 4096}, CacheWriteTokens: 2048, CacheWrite1hTokens: 512},
			cost: (12*3 + 4096*0.30 + 1536*3.75 + 512*6 + 320*15) / 1e6,
		},
		{
			kind: "vertex-anthropic", fixture: "anthropic", cfg: provider.Config{APIKey: sa, Model: "claude-sonnet-4-5@20250929"},
			price: sonnet,
			want: chat.Usage{PromptTokens: 6156, CompletionTokens: 320, TotalTokens: 6476,
				PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 4096}, CacheWriteTokens: 2048, CacheWrite1hTokens: 512},
			cost: (12*3 + 4096*0.30 + 1536*3.75 + 512*6 + 320*15) / 1e6,
		},
		{
			// inputTokens excludes the cache reads and writes, as Anthropic's does; cacheDetails
			// splits the writes by lifetime.
			kind: "bedrock", fixture: "bedrock", cfg: provider.Config{APIKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
				Settings: map[string]string{"region": "us-west-2", "access_key_id": "AKIAIOSFODNN7EXAMPLE"}},
			price: sonnet,
			want: chat.Usage{PromptTokens: 25 + 1024 + 512, CompletionTokens: 150, TotalTokens: 1711,
				PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 1024}, CacheWriteTokens: 512, CacheWrite1hTokens: 256},
			cost: (25*3 + 1024*0.30 + 256*3.75 + 256*6 + 150*15) / 1e6,
		},
		{
			// promptTokenCount includes the cached content; thoughts are billed as output and
			// tool-use prompts as input.
			kind: "gemini", fixture: "gemini", cfg: provider.Config{APIKey: "k", Model: "gemini-2.5-flash"},
			price: catalog.Price{Input: 0.30, Output: 2.50, CachedInput: 0.075},
			want: chat.Usage{PromptTokens: 5100, CompletionTokens: 300, TotalTokens: 5400,
				PromptTokensDetails:     &chat.PromptTokensDetails{CachedTokens: 4096},
				CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: 260}},
			cost: (1004*0.30 + 4096*0.075 + 300*2.50) / 1e6,
		},
		{
			// Vertex's stream reports usage on its last chunk only.
			kind: "vertex", fixture: "vertex", cfg: provider.Config{APIKey: sa, Model: "gemini-2.5-pro"},
			price: catalog.Price{Input: 1.25, Output: 10, CachedInput: 0.31},
			want: chat.Usage{PromptTokens: 3000, CompletionTokens: 500, TotalTokens: 3500,
				PromptTokensDetails:     &chat.PromptTokensDetails{CachedTokens: 2048},
				CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: 440}},
			cost: (952*1.25 + 2048*0.31 + 500*10) / 1e6,
		},
		{
			// Cohere bills billed_units, not tokens (which count its prompt template).
			kind: "cohere", fixture: "cohere", cfg: provider.Config{APIKey: "k", Model: "command-a-03-2025"},
			price: catalog.Price{Input: 2.50, Output: 10},
			want:  chat.Usage{PromptTokens: 20, CompletionTokens: 5, TotalTokens: 25},
			cost:  (20*2.50 + 5*10) / 1e6,
		},
		{
			// Usage comes on the finish chunk, which has choices.
			kind: "mistral", fixture: "mistral", cfg: provider.Config{APIKey: "k", Model: "mistral-large-latest"},
			price: catalog.Price{Input: 2, Output: 6},
			want:  chat.Usage{PromptTokens: 30, CompletionTokens: 10, TotalTokens: 40},
			cost:  (30*2 + 10*6) / 1e6,
		},
		{
			// A stream's usage is in x_groq.usage.
			kind: "groq", fixture: "groq", cfg: provider.Config{APIKey: "k", Model: "llama-3.3-70b-versatile"},
			price: catalog.Price{Input: 0.59, Output: 0.79},
			want:  chat.Usage{PromptTokens: 50, CompletionTokens: 20, TotalTokens: 70},
			cost:  (50*0.59 + 20*0.79) / 1e6,
		},
		{
			kind: "together", fixture: "together", cfg: provider.Config{APIKey: "k", Model: "meta-llama/Llama-3.3-70B-Instruct-Turbo"},
			price: catalog.Price{Input: 0.88, Output: 0.88},
			want:  chat.Usage{PromptTokens: 40, CompletionTokens: 12, TotalTokens: 52},
			cost:  (40*0.88 + 12*0.88) / 1e6,
		},
		{
			// DeepSeek reports cache hits as prompt_cache_hit_tokens.
			kind: "deepseek", fixture: "deepseek", cfg: provider.Config{APIKey: "k", Model: "deepseek-reasoner"},
			price: catalog.Price{Input: 0.56, Output: 1.68, CachedInput: 0.07},
			want: chat.Usage{PromptTokens: 1500, CompletionTokens: 400, TotalTokens: 1900,
				PromptTokensDetails:     &chat.PromptTokensDetails{CachedTokens: 1280},
				CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: 350}},
			cost: (220*0.56 + 1280*0.07 + 400*1.68) / 1e6,
		},
		{
			// xAI reports reasoning outside completion_tokens (its total counts it): billed as
			// output all the same.
			kind: "xai", fixture: "xai", cfg: provider.Config{APIKey: "k", Model: "grok-3-mini"},
			price: catalog.Price{Input: 0.30, Output: 0.50, CachedInput: 0.075},
			want: chat.Usage{PromptTokens: 32, CompletionTokens: 309, TotalTokens: 341,
				PromptTokensDetails:     &chat.PromptTokensDetails{CachedTokens: 6},
				CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: 300}},
			cost: (26*0.30 + 6*0.075 + 309*0.50) / 1e6,
		},
		{
			// OpenRouter reports cache writes as prompt_tokens_details.cache_write_tokens.
			kind: "openrouter", fixture: "openrouter", cfg: provider.Config{APIKey: "k", Model: "anthropic/claude-sonnet-4.5"},
			price: sonnet,
			want: chat.Usage{PromptTokens: 3000, CompletionTokens: 200, TotalTokens: 3200,
				PromptTokensDetails:     &chat.PromptTokensDetails{CachedTokens: 1000},
				CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: 120}, CacheWriteTokens: 1500},
			cost: (500*3 + 1000*0.30 + 1500*3.75 + 200*15) / 1e6,
		},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Kind = tt.kind
			a, err := New(&http.Client{Transport: fixtureUpstream{t: t, name: tt.fixture}}).Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			req, err := chat.DecodeRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"What is the capital of France?"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Chat(context.Background(), &provider.ChatCall{Request: req})
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if diff := cmp.Diff(tt.want, res.Usage); diff != "" {
				t.Errorf("non-stream usage (-want +got):\n%s", diff)
			}
			sreq := *req
			sreq.Stream = true
			streamed := streamUsage(t, a, &sreq)
			if diff := cmp.Diff(tt.want, streamed); diff != "" {
				t.Errorf("stream usage (-want +got):\n%s", diff)
			}
			cost, streamCost := tt.price.Cost(res.Usage), tt.price.Cost(streamed)
			if math.Abs(cost-tt.cost) > 1e-12 {
				t.Errorf("non-stream cost %.12f USD, want %.12f", cost, tt.cost)
			}
			if math.Abs(streamCost-cost) > 1e-9 {
				t.Errorf("stream cost %.12f USD, non-stream %.12f: they differ", streamCost, cost)
			}
			// The native Messages surface reads the same answers and must count them alike.
			if m, ok := a.(provider.MessagesAdapter); ok {
				body := []byte(`{"model":"m","max_tokens":1024,"messages":[{"role":"user","content":"What is the capital of France?"}]}`)
				mres, err := m.Messages(context.Background(), &provider.MessagesCall{Model: "m", Body: body})
				if err != nil {
					t.Fatalf("Messages: %v", err)
				}
				if diff := cmp.Diff(tt.want, mres.Usage); diff != "" {
					t.Errorf("Messages usage (-want +got):\n%s", diff)
				}
				mstreamed := messagesStreamUsage(t, m, &provider.MessagesCall{Model: "m", Body: bytes.Replace(body, []byte(`{`), []byte(`{"stream":true,`), 1)})
				if diff := cmp.Diff(tt.want, mstreamed); diff != "" {
					t.Errorf("Messages stream usage (-want +got):\n%s", diff)
				}
				if c := tt.price.Cost(mstreamed); math.Abs(c-cost) > 1e-9 {
					t.Errorf("Messages stream cost %.12f USD, chat %.12f: they differ", c, cost)
				}
			}
		})
	}
}

// messagesStreamUsage drains a Messages stream and returns the usage its events reported last.
func messagesStreamUsage(t *testing.T, m provider.MessagesAdapter, c *provider.MessagesCall) chat.Usage {
	t.Helper()
	st, err := m.MessagesStream(context.Background(), c)
	if err != nil {
		t.Fatalf("MessagesStream: %v", err)
	}
	defer st.Close()
	var u *chat.Usage
	for {
		e, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if e.Usage != nil {
			u = e.Usage
		}
	}
	if u == nil {
		t.Fatal("the Messages stream reported no usage")
	}
	return *u
}

// streamUsage drains a stream of req and returns the usage its chunks reported last.
func streamUsage(t *testing.T, a provider.Adapter, req *chat.Request) chat.Usage {
	t.Helper()
	st, err := a.ChatStream(context.Background(), &provider.ChatCall{Request: req})
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer st.Close()
	var u *chat.Usage
	for {
		c, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if c.Usage != nil {
			u = c.Usage
		}
	}
	if u == nil {
		t.Fatal("the stream reported no usage")
	}
	return *u
}
