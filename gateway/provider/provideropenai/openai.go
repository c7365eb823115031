package provideropenai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/httpheader"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/rawjson"
	"github.com/llmgw/llmgw/gateway/sse"
)

// DefaultBaseURL is OpenAI's API.
const DefaultBaseURL = "https://api.openai.com/v1"

// maxResponse bounds a non-streamed answer read into memory.
const maxResponse = 64 << 20

// Adapter calls one model on an OpenAI-compatible server. It is safe for concurrent use.
type Adapter struct {
	client      *http.Client
	base        string // the base URL the chat and embeddings URLs were derived from
	chatURL     string
	chatU       *url.URL // chatURL parsed, shared read-only by every chat request (nil: parse each)
	chatHost    string   // its Host header, as http.NewRequest derives it
	embedURL    string
	authHeader  string   // "Authorization", or a provider's own header such as Azure's "Api-Key"
	authValue   string   // "Bearer <key>"; empty when the server needs no key
	auth        []string // authValue as a header value, set once (never modified: see httpheader)
	model       string
	quotedModel []byte
}

var (
	_ provider.Adapter  = (*Adapter)(nil)
	_ provider.Embedder = (*Adapter)(nil)
)

// New returns an adapter for cfg. defaultBaseURL is used when cfg.BaseURL is empty; a preset
// without a usable default (self-hosted servers) passes "" and then cfg.BaseURL is required.
func New(cfg provider.Config, defaultBaseURL string) (*Adapter, error) {
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = defaultBaseURL
	}
	if base == "" {
		return nil, fmt.Errorf("%s: a base URL is required", cfg.Kind)
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("%s: base URL %q must start with http:// or https://", cfg.Kind, base)
	}
	if cfg.Model == "" {
		return nil, fmt.Errorf("%s: an upstream model name is required", cfg.Kind)
	}
	if cfg.HTTPClient == nil {
		return nil, fmt.Errorf("%s: an HTTP client is required", cfg.Kind)
	}
	a := &Adapter{
		client:      provider.NoRedirects(cfg.HTTPClient),
		base:        base,
		authHeader:  "Authorization",
		chatURL:     base + "/chat/completions",
		embedURL:    base + "/embeddings",
		model:       cfg.Model,
		quotedModel: strconv.AppendQuote(nil, cfg.Model),
	}
	if cfg.APIKey != "" {
		a.authValue = "Bearer " + cfg.APIKey
	}
	a.auth = []string{a.authValue}
	a.parseChatURL()
	return a, nil
}

var includeUsage = []byte(`{"include_usage":true}`)

// body returns the JSON to send: the client's raw body with the model patched, or the request
// encoded when it did not come as OpenAI JSON.
func (a *Adapter) body(c *provider.ChatCall, stream bool) ([]byte, error) {
	if c.Body == nil {
		r := *c.Request
		r.Model = a.model
		r.Stream = stream
		r.StreamOptions = nil
		if stream {
			r.StreamOptions = &chat.StreamOptions{IncludeUsage: true}
		}
		return json.Marshal(&r)
	}
	b, err := rawjson.Set(c.Body, "model", a.quotedModel)
	if err != nil {
		return nil, err
	}
	if stream {
		// Always ask for usage so a stream is never costed at zero; the client sees the
		// usage chunk only if it asked (see provider.Chunk.UsageOnly).
		return rawjson.Set(b, "stream_options", includeUsage)
	}
	return b, nil
}

func (a *Adapter) post(ctx context.Context, url string, body []byte, stream bool) (*http.Response, error) {
	accept := "application/json"
	if stream {
		accept = "text/event-stream"
	}
	return a.send(ctx, url, "application/json", accept, body)
}

// send posts body with the adapter's credential and maps a failure status to the client's
// error. accept may be empty (binary answers such as speech).
func (a *Adapter) send(ctx context.Context, url, contentType, accept string, body []byte) (*http.Response, error) {
	return a.do(ctx, http.MethodPost, url, contentType, accept, bytes.NewReader(body), int64(len(body)), nil)
}

// do sends one request with the adapter's credential and maps a failure status to the
// client's error. body may be nil (GET, DELETE); size is its Content-Length; again, when not
// nil, reopens the body for a retry (a *bytes.Reader body needs none: net/http reopens it).
func (a *Adapter) do(ctx context.Context, method, rawURL, contentType, accept string, body io.Reader, size int64, again func() (io.ReadCloser, error)) (*http.Response, error) {
	req, err := a.newRequest(ctx, method, rawURL, body)
	if err != nil {
		return nil, provider.TransportError(ctx, err)
	}
	if body != nil {
		req.ContentLength = size
		req.Header["Content-Type"] = httpheader.Value(contentType)
		if again != nil {
			req.GetBody = again
		}
	}
	if accept != "" {
		req.Header["Accept"] = httpheader.Value(accept)
	}
	if a.authValue != "" {
		req.Header[a.authHeader] = a.auth
	}
	resp, err := provider.Send(a.client, req)
	if err != nil {
		return nil, provider.TransportError(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, provider.StatusError(resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	return resp, nil
}

// newRequest is http.NewRequestWithContext, which parses rawURL, except for the chat URL,
// parsed once: a RoundTripper must not modify its request, so every chat request can point
// to the same URL (parsing it was 2 % of a request's CPU).
func (a *Adapter) newRequest(ctx context.Context, method, rawURL string, body io.Reader) (*http.Request, error) {
	if a.chatU == nil || rawURL != a.chatURL {
		return http.NewRequestWithContext(ctx, method, rawURL, body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "", body)
	if err != nil {
		return nil, err
	}
	req.URL, req.Host = a.chatU, a.chatHost
	return req, nil
}

// parseChatURL parses chatURL for newRequest, which parses it for each request when it cannot.
func (a *Adapter) parseChatURL() {
	a.chatU, a.chatHost = nil, ""
	if u, err := url.Parse(a.chatURL); err == nil {
		a.chatU, a.chatHost = u, strings.TrimSuffix(u.Host, ":") // "h:" is h (http.NewRequest)
	}
}

// readUsage reads the usage member of an answer without decoding the rest. A missing or
// null usage is zero usage (recorded as missing by the pipeline).
func readUsage(body []byte) (chat.Usage, error) {
	var u chat.Usage
	raw, ok, err := rawjson.Get(body, "usage")
	if err != nil {
		return u, provider.BadResponse(err)
	}
	if ok && !bytes.Equal(raw, nullJSON) {
		if err := decodeUsage(raw, &u); err != nil {
			return u, provider.BadResponse(err)
		}
	}
	return u, nil
}

// usageExtras are the members OpenAI-compatible providers add to OpenAI's usage to report
// their prompt cache: OpenRouter's (and Azure AI Foundry's) prompt_tokens_details
// .cache_write_tokens, and DeepSeek's prompt_cache_hit_tokens in place of cached_tokens. Both
// count prompt tokens, as cached_tokens does.
type usageExtras struct {
	PromptTokensDetails *struct {
		CacheWriteTokens int64 `json:"cache_write_tokens"`
	} `json:"prompt_tokens_details"`
	PromptCacheHitTokens int64 `json:"prompt_cache_hit_tokens"`
}

// decodeUsage decodes an OpenAI-shaped usage object into u, with the cache counts of
// usageExtras. Reasoning tokens reported outside completion_tokens (xAI's: its total_tokens is
// prompt + completion + reasoning, where OpenAI's completion_tokens hold the reasoning) are
// added to the completion tokens, so they are billed as the output they are.
func decodeUsage(raw []byte, u *chat.Usage) error {
	if q, ok := quickUsage(raw); ok {
		*u = q // OpenAI's own usage, read in one pass
	} else if err := json.Unmarshal(raw, u); err != nil {
		return err
	}
	if r := u.ReasoningTokens(); r > 0 && u.TotalTokens == u.PromptTokens+u.CompletionTokens+r {
		u.CompletionTokens += r
	}
	if !bytes.Contains(raw, cacheWriteMarker) && !bytes.Contains(raw, cacheHitMarker) {
		return nil // the common case: OpenAI's own usage, decoded once
	}
	var x usageExtras
	if err := json.Unmarshal(raw, &x); err != nil {
		return err
	}
	if x.PromptTokensDetails != nil {
		u.CacheWriteTokens = x.PromptTokensDetails.CacheWriteTokens
	}
	if u.CachedTokens() == 0 && x.PromptCacheHitTokens > 0 {
		if u.PromptTokensDetails == nil {
			u.PromptTokensDetails = &chat.PromptTokensDetails{}
		}
		u.PromptTokensDetails.CachedTokens = x.PromptCacheHitTokens
	}
	return nil
}

var (
	cacheWriteMarker = []byte(`"cache_write_tokens"`)
	cacheHitMarker   = []byte(`"prompt_cache_hit_tokens"`)
)

var nullJSON = []byte("null")

// chunkUsage reads the usage a stream chunk reports: its usage member, else Groq's
// x_groq.usage (Groq reports a stream's usage there, on its last chunk, in OpenAI's shape).
// ok is false when the chunk reports none.
func chunkUsage(data []byte) (u chat.Usage, ok bool, err error) {
	raw, ok, err := rawjson.Get(data, "usage")
	if err != nil {
		return u, false, provider.BadResponse(err)
	}
	if !ok || bytes.Equal(raw, nullJSON) {
		xg, found, err := rawjson.Get(data, "x_groq")
		if err != nil || !found {
			return u, false, nil
		}
		if raw, ok, err = rawjson.Get(xg, "usage"); err != nil || !ok || bytes.Equal(raw, nullJSON) {
			return u, false, nil
		}
	}
	if err := decodeUsage(raw, &u); err != nil {
		return u, false, provider.BadResponse(err)
	}
	return u, true, nil
}

// roundTrip posts a non-streamed request and returns the answer and its usage.
func (a *Adapter) roundTrip(ctx context.Context, url string, body []byte) ([]byte, chat.Usage, error) {
	resp, err := a.post(ctx, url, body, false)
	if err != nil {
		return nil, chat.Usage{}, err
	}
	defer resp.Body.Close()
	b, err := provider.ReadAnswer(ctx, resp, maxResponse)
	if err != nil {
		return nil, chat.Usage{}, err
	}
	u, err := readUsage(b)
	return b, u, err
}

// Chat implements provider.Adapter.
func (a *Adapter) Chat(ctx context.Context, c *provider.ChatCall) (*provider.ChatResult, error) {
	body, err := a.body(c, false)
	if err != nil {
		return nil, err
	}
	b, u, err := a.roundTrip(ctx, a.chatURL, body)
	if err != nil {
		return nil, err
	}
	return &provider.ChatResult{JSON: b, Usage: u}, nil
}

// ChatStream implements provider.Adapter.
func (a *Adapter) ChatStream(ctx context.Context, c *provider.ChatCall) (provider.ChatStream, error) {
	body, err := a.body(c, true)
	if err != nil {
		return nil, err
	}
	resp, err := a.post(ctx, a.chatURL, body, true)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return nil, provider.BadResponse(fmt.Errorf("stream answered with content type %q", ct))
	}
	return &stream{ctx: ctx, body: resp.Body, r: sse.NewReader(resp.Body)}, nil
}

type stream struct {
	ctx    context.Context
	body   io.ReadCloser
	r      *sse.Reader
	done   bool
	closed bool
}

var (
	doneMarker  = []byte("[DONE]")
	usageMarker = []byte(`"usage":{`)
	errorPrefix = []byte(`{"error"`)
)

func (s *stream) Recv() (provider.Chunk, error) {
	if s.done {
		return provider.Chunk{}, io.EOF
	}
	ev, err := s.r.Next()
	switch {
	case err == io.EOF:
		return provider.Chunk{}, provider.BadResponse(fmt.Errorf("stream ended without [DONE]"))
	case err != nil:
		return provider.Chunk{}, provider.TransportError(s.ctx, err)
	}
	data := bytes.TrimSpace(ev.Data)
	if bytes.Equal(data, doneMarker) {
		s.done = true
		return provider.Chunk{}, io.EOF
	}
	if bytes.HasPrefix(data, errorPrefix) || ev.Name == "error" {
		return provider.Chunk{}, provider.StatusError(http.StatusBadGateway, "", data)
	}
	// A chunk is passed to the client as it is, so one that is not JSON (a broken upstream,
	// which may be quoting anything) ends the stream instead, its text unsent.
	if !rawjson.Valid(data) {
		return provider.Chunk{}, provider.BadResponse(errors.New("stream event is not JSON"))
	}
	ch := provider.Chunk{JSON: data}
	// Usage appears as "usage":{ only on the chunk that reports it ("usage":null elsewhere); a
	// JSON string cannot contain that byte sequence unescaped, so the scan is exact.
	if bytes.Contains(data, usageMarker) {
		u, ok, err := chunkUsage(data)
		if err != nil {
			return provider.Chunk{}, err
		}
		if !ok {
			return ch, nil
		}
		ch.Usage = &u
		choices, _, err := rawjson.Get(data, "choices")
		if err != nil {
			return provider.Chunk{}, provider.BadResponse(err)
		}
		ch.UsageOnly = len(bytes.TrimSpace(bytes.Trim(bytes.TrimSpace(choices), "[]"))) == 0
	}
	return ch, nil
}

// Ready implements provider.Readier: every upstream event with data is one Recv, so the
// next Recv returns at once when the reader holds a whole event (or the stream has ended).
func (s *stream) Ready() bool { return s.done || s.r.Ready() }

// Close closes the upstream body, read to its end first when [DONE] was read so its
// connection is reused (provider.CloseStream); it is safe to call more than once.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return provider.CloseStream(s.body, s.done)
}

// Embed implements provider.Embedder.
func (a *Adapter) Embed(ctx context.Context, c *provider.EmbedCall) (*provider.EmbedResult, error) {
	var body []byte
	var err error
	if c.Body != nil {
		body, err = rawjson.Set(c.Body, "model", a.quotedModel)
	} else {
		r := *c.Request
		r.Model = a.model
		body, err = json.Marshal(&r)
	}
	if err != nil {
		return nil, err
	}
	b, u, err := a.roundTrip(ctx, a.embedURL, body)
	if err != nil {
		return nil, err
	}
	return &provider.EmbedResult{JSON: b, Usage: u}, nil
}
