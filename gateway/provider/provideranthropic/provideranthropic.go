package provideranthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/sse"
)

const (
	// DefaultBaseURL is the API base URL used when provider.Config.BaseURL is empty.
	DefaultBaseURL = "https://api.anthropic.com"
	// APIVersion is the anthropic-version header the adapter sends; the wire types follow it.
	APIVersion = "2023-06-01"
	// DefaultMaxTokens is the max_tokens sent when the client set neither
	// max_completion_tokens nor max_tokens: Anthropic requires the field.
	DefaultMaxTokens = 4096

	// maxErrorBody bounds how much of an error answer is read (for the log only).
	maxErrorBody = 64 << 10
	// maxResponseBody bounds a non-streaming answer; a longer one is a bad response.
	maxResponseBody = 16 << 20
)

// Target says where an adapter sends Messages requests and how it authenticates: Anthropic's
// own API (what New builds), or a platform that hosts Claude models with the same request and
// answer format, such as Vertex AI.
type Target struct {
	// URL is the Messages URL for a streamed or non-streamed request.
	URL func(stream bool) string
	// CountTokensURL is the count_tokens URL; empty when the platform has none (count_tokens
	// is then refused with a 400).
	CountTokensURL string
	// Authorize sets the credential (and any version header) on a request.
	Authorize func(ctx context.Context, req *http.Request) error
	// Body rewrites an encoded Messages body for the platform; nil keeps it. Vertex moves the
	// model into the URL and the API version into the body.
	Body func(body []byte) ([]byte, error)
}

// adapter is one Anthropic model. It holds no per-request state.
type adapter struct {
	target Target
	model  string
	client *http.Client
	now    func() time.Time // the created time of answers; a field so tests can fix it
}

var _ provider.Adapter = (*adapter)(nil)

// New returns an adapter for the Anthropic model cfg.Model. cfg.BaseURL defaults to
// [DefaultBaseURL] and may be given with or without a trailing /v1. cfg.APIKey and
// cfg.HTTPClient are required. The adapter is safe for concurrent use.
func New(cfg provider.Config) (provider.Adapter, error) {
	if cfg.Model == "" {
		return nil, errors.New("anthropic: model is required")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("anthropic: api key is required")
	}
	if cfg.HTTPClient == nil {
		return nil, errors.New("anthropic: http client is required")
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("anthropic: base url %q must be an absolute http or https url", base)
	}
	base = strings.TrimSuffix(strings.TrimRight(base, "/"), "/v1")
	key := cfg.APIKey
	return NewForTarget(cfg, Target{
		URL:            func(bool) string { return base + "/v1/messages" },
		CountTokensURL: base + "/v1/messages/count_tokens",
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("x-api-key", key)
			req.Header.Set("anthropic-version", APIVersion)
			return nil
		},
	})
}

// NewForTarget returns an adapter for the Claude model cfg.Model served at t, for platforms
// that host Claude models (Vertex AI). cfg.Model and cfg.HTTPClient are required; cfg.BaseURL
// and cfg.APIKey are the target's business. Redirects are never followed. The adapter is
// safe for concurrent use.
func NewForTarget(cfg provider.Config, t Target) (provider.Adapter, error) {
	if cfg.Model == "" {
		return nil, errors.New("anthropic: model is required")
	}
	if cfg.HTTPClient == nil {
		return nil, errors.New("anthropic: http client is required")
	}
	if t.URL == nil || t.Authorize == nil {
		return nil, errors.New("anthropic: a target needs a URL and an authorizer")
	}
	return &adapter{target: t, model: cfg.Model, client: provider.NoRedirects(cfg.HTTPClient), now: time.Now}, nil
}

// Chat sends a non-streaming Messages request and returns the answer as a chat.completion.
func (a *adapter) Chat(ctx context.Context, c *provider.ChatCall) (*provider.ChatResult, error) {
	body, err := a.encode(c, false)
	if err != nil {
		return nil, err
	}
	resp, err := a.post(ctx, body, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := provider.ReadAnswer(ctx, resp, maxResponseBody)
	if err != nil {
		return nil, err
	}
	var m messageResponse
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, provider.BadResponse(fmt.Errorf("decode message: %w", err))
	}
	if m.Type != "message" {
		return nil, provider.BadResponse(fmt.Errorf("answer has type %q, want message", m.Type))
	}
	out, u, err := completion(&m, a.now())
	if err != nil {
		return nil, err
	}
	return &provider.ChatResult{JSON: out, Usage: u}, nil
}

// ChatStream sends a streaming Messages request and returns its events as OpenAI chunks. The
// caller closes the stream.
func (a *adapter) ChatStream(ctx context.Context, c *provider.ChatCall) (provider.ChatStream, error) {
	body, err := a.encode(c, true)
	if err != nil {
		return nil, err
	}
	resp, err := a.post(ctx, body, true)
	if err != nil {
		return nil, err
	}
	return &stream{ctx: ctx, body: resp.Body, events: sse.NewReader(resp.Body), created: a.now().Unix()}, nil
}

// encode translates the call's request into a Messages request body.
func (a *adapter) encode(c *provider.ChatCall, stream bool) ([]byte, error) {
	if c == nil || c.Request == nil {
		return nil, errors.New("anthropic: chat call has no request")
	}
	r, err := translateRequest(c.Request, a.model)
	if err != nil {
		return nil, err
	}
	r.Stream = stream
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("anthropic: encode request: %w", err)
	}
	return b, nil
}

// post sends body to the Messages endpoint and returns the response if its status is 2xx; the
// caller closes its body.
func (a *adapter) post(ctx context.Context, body []byte, stream bool) (*http.Response, error) {
	return a.postTo(ctx, a.target.URL(stream), body, nil)
}

// postTo is post to any endpoint, with the client's anthropic-beta values. The target's body
// rewrite applies here, once, for every request.
func (a *adapter) postTo(ctx context.Context, endpoint string, body []byte, beta []string) (*http.Response, error) {
	if a.target.Body != nil {
		var err error
		if body, err = a.target.Body(body); err != nil {
			return nil, fmt.Errorf("anthropic: rewrite body for the platform: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("anthropic: build request: %w", err)
	}
	if err := a.target.Authorize(ctx, req); err != nil {
		return nil, err
	}
	req.Header.Set("content-type", "application/json")
	for _, b := range beta {
		req.Header.Add("anthropic-beta", b)
	}
	resp, err := provider.Send(a.client, req)
	if err != nil {
		return nil, provider.TransportError(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, provider.StatusError(resp.StatusCode, resp.Header.Get("retry-after"), b)
	}
	return resp, nil
}
