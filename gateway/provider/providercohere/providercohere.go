package providercohere

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/sse"
)

const (
	// DefaultBaseURL is the API base URL used when provider.Config.BaseURL is empty.
	DefaultBaseURL = "https://api.cohere.com"

	// SettingInputType is the settings key of the input_type sent with embeddings requests.
	SettingInputType = "input_type"
	// DefaultInputType is the input_type sent when the setting is absent: embeddings of
	// documents to be searched, the usual reason to call an embeddings endpoint.
	DefaultInputType = "search_document"

	// maxErrorBody bounds how much of an error answer is read (for the log only).
	maxErrorBody = 64 << 10
	// maxResponseBody bounds a non-streaming answer; a longer one is a bad response.
	maxResponseBody = 64 << 20
)

// inputTypes are the input_type values of text embeddings. Cohere's "image" type needs image
// inputs, which the OpenAI embeddings request cannot carry.
var inputTypes = []string{"search_document", "search_query", "classification", "clustering"}

// adapter is one Cohere model. It holds no per-request state.
type adapter struct {
	base      string // scheme://host[/path], without /v2
	auth      string // "Bearer <key>"
	model     string
	inputType string
	client    *http.Client
	now       func() time.Time // the created time of answers; a field so tests can fix it
}

var (
	_ provider.Adapter  = (*adapter)(nil)
	_ provider.Embedder = (*adapter)(nil)
	_ provider.Reranker = (*adapter)(nil)
)

// New returns an adapter for the Cohere model cfg.Model: a chat model, an embedding model and a
// rerank model, whichever the model's types say it is. cfg.BaseURL defaults to
// [DefaultBaseURL] and may be given with or without a trailing /v2. cfg.APIKey and
// cfg.HTTPClient are required. The one setting is [SettingInputType] (default
// [DefaultInputType]); any other key is refused. The adapter never follows redirects and is
// safe for concurrent use.
func New(cfg provider.Config) (provider.Adapter, error) {
	switch {
	case cfg.Model == "":
		return nil, errors.New("cohere: model is required")
	case cfg.APIKey == "":
		return nil, errors.New("cohere: api key is required")
	case cfg.HTTPClient == nil:
		return nil, errors.New("cohere: http client is required")
	}
	inputType := DefaultInputType
	keys := make([]string, 0, len(cfg.Settings))
	for k := range cfg.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != SettingInputType {
			return nil, fmt.Errorf("cohere: unknown setting %q; known settings: %s", k, SettingInputType)
		}
		inputType = cfg.Settings[k]
		if !slices.Contains(inputTypes, inputType) {
			return nil, fmt.Errorf("cohere: setting %s %q must be one of %s", SettingInputType, inputType, strings.Join(inputTypes, ", "))
		}
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cohere: base url %q must be an absolute http or https url", base)
	}
	return &adapter{
		base:      strings.TrimSuffix(strings.TrimRight(base, "/"), "/v2"),
		auth:      "Bearer " + cfg.APIKey,
		model:     cfg.Model,
		inputType: inputType,
		client:    provider.NoRedirects(cfg.HTTPClient),
		now:       time.Now,
	}, nil
}

// Chat sends a non-streaming chat request and returns the answer as a chat.completion.
func (a *adapter) Chat(ctx context.Context, c *provider.ChatCall) (*provider.ChatResult, error) {
	body, err := a.encodeChat(c, false)
	if err != nil {
		return nil, err
	}
	b, err := a.roundTrip(ctx, "/v2/chat", body)
	if err != nil {
		return nil, err
	}
	var r chatResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, provider.BadResponse(fmt.Errorf("decode chat answer: %w", err))
	}
	out, u, err := completion(&r, a.model, a.now())
	if err != nil {
		return nil, err
	}
	return &provider.ChatResult{JSON: out, Usage: u}, nil
}

// ChatStream sends a streaming chat request and returns its events as OpenAI chunks. The caller
// closes the stream.
func (a *adapter) ChatStream(ctx context.Context, c *provider.ChatCall) (provider.ChatStream, error) {
	body, err := a.encodeChat(c, true)
	if err != nil {
		return nil, err
	}
	resp, err := a.post(ctx, "/v2/chat", body, true)
	if err != nil {
		return nil, err
	}
	return &stream{ctx: ctx, body: resp.Body, events: sse.NewReader(resp.Body), model: a.model, created: a.now().Unix()}, nil
}

// encodeChat translates the call's request into a /v2/chat body.
func (a *adapter) encodeChat(c *provider.ChatCall, stream bool) ([]byte, error) {
	if c == nil || c.Request == nil {
		return nil, errors.New("cohere: chat call has no request")
	}
	r, err := translateRequest(c.Request, a.model)
	if err != nil {
		return nil, err
	}
	r.Stream = stream
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("cohere: encode request: %w", err)
	}
	return b, nil
}

// post sends body to path and returns the response if its status is 2xx; the caller closes its
// body.
func (a *adapter) post(ctx context.Context, path string, body []byte, stream bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("cohere: build request: %w", err)
	}
	req.Header.Set("Authorization", a.auth)
	req.Header.Set("Content-Type", "application/json")
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := provider.Send(a.client, req)
	if err != nil {
		return nil, provider.TransportError(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, statusError(resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	return resp, nil
}

// roundTrip posts a non-streaming request and returns the whole answer.
func (a *adapter) roundTrip(ctx context.Context, path string, body []byte) ([]byte, error) {
	resp, err := a.post(ctx, path, body, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return provider.ReadAnswer(ctx, resp, maxResponseBody)
}
