package providergoogle

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/provider/provideranthropic"
	"github.com/llmgw/llmgw/gateway/rawjson"
	"github.com/llmgw/llmgw/gateway/sse"
)

const (
	// GeminiBaseURL is the Gemini API host used when provider.Config.BaseURL is empty.
	GeminiBaseURL = "https://generativelanguage.googleapis.com"
	// DefaultLocation is the Vertex AI location used when the location setting is empty.
	DefaultLocation = "us-central1"

	// maxErrorBody bounds how much of an error answer is read (for the log only).
	maxErrorBody = 64 << 10
	// maxResponseBody bounds a non-streaming answer; a longer one is a bad response.
	maxResponseBody = 16 << 20
)

// Settings keys the Vertex adapter reads; the Gemini adapter reads none.
const (
	// SettingProject is the Google Cloud project; it defaults to the key file's project_id.
	SettingProject = "project"
	// SettingLocation is the Vertex AI location, such as "us-central1" or "global"; it
	// defaults to [DefaultLocation].
	SettingLocation = "location"
)

var (
	// locationPattern and projectPattern keep settings from rewriting the host or the path.
	locationPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	projectPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9.:-]*$`)
)

// adapter is one Gemini model behind the Gemini API or Vertex AI. It holds no per-request
// state.
type adapter struct {
	name  string // "gemini" or "vertex", for error context
	model string // cfg.Model without a models/ prefix
	// modelURL is the model's resource URL; methods are appended as ":generateContent".
	modelURL string
	vertex   bool
	cred     credential
	client   *http.Client
	now      func() time.Time // the created time of answers; a field so tests can fix it
}

var (
	_ provider.Adapter  = (*adapter)(nil)
	_ provider.Embedder = (*adapter)(nil)
)

// NewGemini returns an adapter for the Gemini API model cfg.Model ("gemini-2.5-flash"; a
// "models/" prefix is accepted). cfg.APIKey is the Gemini API key, sent in the x-goog-api-key
// header. cfg.BaseURL replaces [GeminiBaseURL] (scheme and host; the /v1beta path is added).
// The kind has no settings; any key in cfg.Settings is refused. cfg.HTTPClient is required. The
// adapter implements provider.Embedder and is safe for concurrent use.
func NewGemini(cfg provider.Config) (provider.Adapter, error) {
	if err := checkCommon("gemini", cfg); err != nil {
		return nil, err
	}
	if err := checkSettings("gemini", cfg.Settings); err != nil {
		return nil, err
	}
	base, err := baseURL("gemini", cfg.BaseURL, GeminiBaseURL)
	if err != nil {
		return nil, err
	}
	model := modelName(cfg.Model)
	return &adapter{
		name:     "gemini",
		model:    model,
		modelURL: base + "/v1beta/models/" + url.PathEscape(model),
		cred:     apiKey(cfg.APIKey),
		client:   provider.NoRedirects(cfg.HTTPClient),
		now:      time.Now,
	}, nil
}

// NewVertex returns an adapter for the Vertex AI publisher model cfg.Model
// ("gemini-2.5-flash"). cfg.APIKey is a service-account key file (the JSON itself); the adapter
// signs a JWT with its key, exchanges it at its token_uri for an access token, and caches the
// token until five minutes before it expires. Settings: [SettingProject] (default: the key
// file's project_id) and [SettingLocation] (default [DefaultLocation]; "global" uses the
// aiplatform.googleapis.com host); any other key is refused. cfg.BaseURL replaces the
// https://{location}-aiplatform.googleapis.com host (the /v1/projects/... path is added).
// cfg.HTTPClient is required. The adapter implements provider.Embedder and is safe for
// concurrent use.
func NewVertex(cfg provider.Config) (provider.Adapter, error) {
	v, err := vertexPlace("vertex", cfg)
	if err != nil {
		return nil, err
	}
	model := modelName(cfg.Model)
	return &adapter{
		name:     "vertex",
		model:    model,
		modelURL: v.projectURL + "/publishers/google/models/" + url.PathEscape(model),
		vertex:   true,
		cred:     v.ts,
		client:   provider.NoRedirects(cfg.HTTPClient),
		now:      time.Now,
	}, nil
}

// vertex is where a Vertex AI account's models live and how requests are authorized.
type vertex struct {
	projectURL string // {host}/v1/projects/{project}/locations/{location}
	ts         *tokenSource
}

// vertexPlace checks a Vertex account's config and settings and builds its token source.
func vertexPlace(kind string, cfg provider.Config) (*vertex, error) {
	if err := checkCommon(kind, cfg); err != nil {
		return nil, err
	}
	if err := checkSettings(kind, cfg.Settings, SettingProject, SettingLocation); err != nil {
		return nil, err
	}
	ts, sa, err := newTokenSource(cfg.APIKey, cfg.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	// One token per service account, kept across rebuilds, whatever model or kind uses it.
	ts = provider.SharedCredential(cfg.Credentials, provider.CredentialKey("vertex", cfg.APIKey), func() *tokenSource { return ts })
	project := cfg.Settings[SettingProject]
	if project == "" {
		project = sa.ProjectID
	}
	if !projectPattern.MatchString(project) {
		return nil, fmt.Errorf("%s: setting %q must be a Google Cloud project id (got %q; the key file's project_id is the default)", kind, SettingProject, project)
	}
	location := cfg.Settings[SettingLocation]
	if location == "" {
		location = DefaultLocation
	}
	if !locationPattern.MatchString(location) {
		return nil, fmt.Errorf("%s: setting %q must be a location such as us-central1 or global (got %q)", kind, SettingLocation, location)
	}
	host := "https://" + location + "-aiplatform.googleapis.com"
	if location == "global" {
		host = "https://aiplatform.googleapis.com"
	}
	base, err := baseURL(kind, cfg.BaseURL, host)
	if err != nil {
		return nil, err
	}
	return &vertex{projectURL: base + "/v1/projects/" + url.PathEscape(project) + "/locations/" + location, ts: ts}, nil
}

// VertexAnthropicVersion is the anthropic_version Vertex AI requires in the body of Claude
// requests.
const VertexAnthropicVersion = "vertex-2023-10-16"

// NewVertexAnthropic returns an adapter for a Claude model on Vertex AI (kind
// "vertex-anthropic"), such as "claude-sonnet-4-5@20250929". Credentials, settings and host
// are as for [NewVertex]. Requests and answers are Anthropic's Messages format (the
// provideranthropic translation and native passthrough are reused), sent to the model's
// :rawPredict and :streamRawPredict methods with the model in the URL and anthropic_version in
// the body. Vertex has no count_tokens for Claude here: it is refused with a 400.
func NewVertexAnthropic(cfg provider.Config) (provider.Adapter, error) {
	v, err := vertexPlace("vertex-anthropic", cfg)
	if err != nil {
		return nil, err
	}
	modelURL := v.projectURL + "/publishers/anthropic/models/" + url.PathEscape(strings.TrimSpace(cfg.Model))
	return provideranthropic.NewForTarget(cfg, provideranthropic.Target{
		URL: func(stream bool) string {
			if stream {
				return modelURL + ":streamRawPredict"
			}
			return modelURL + ":rawPredict"
		},
		Authorize: v.ts.authorize,
		Body:      vertexAnthropicBody,
	})
}

var vertexVersion = []byte(`"` + VertexAnthropicVersion + `"`)

// vertexAnthropicBody moves a Messages body to Vertex's form: no model (it is in the URL),
// and anthropic_version in the body.
func vertexAnthropicBody(body []byte) ([]byte, error) {
	b, err := rawjson.Delete(body, "model")
	if err != nil {
		return nil, err
	}
	return rawjson.Set(b, "anthropic_version", vertexVersion)
}

// checkCommon checks the config fields both kinds require.
func checkCommon(kind string, cfg provider.Config) error {
	switch {
	case modelName(cfg.Model) == "":
		return fmt.Errorf("%s: model is required", kind)
	case cfg.APIKey == "":
		return fmt.Errorf("%s: api key is required", kind)
	case cfg.HTTPClient == nil:
		return fmt.Errorf("%s: http client is required", kind)
	}
	return nil
}

// checkSettings refuses a settings key the kind does not read, naming it.
func checkSettings(kind string, settings map[string]string, known ...string) error {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			if len(known) == 0 {
				return fmt.Errorf("%s: unknown setting %q; the kind has no settings", kind, k)
			}
			return fmt.Errorf("%s: unknown setting %q; known settings: %s", kind, k, strings.Join(known, ", "))
		}
	}
	return nil
}

// baseURL returns the configured base URL without a trailing slash, or def.
func baseURL(kind, configured, def string) (string, error) {
	if configured == "" {
		return def, nil
	}
	u, err := url.Parse(configured)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s: base url %q must be an absolute http or https url", kind, configured)
	}
	return strings.TrimRight(configured, "/"), nil
}

// modelName strips the "models/" prefix the Gemini API uses in resource names.
func modelName(m string) string { return strings.TrimPrefix(strings.TrimSpace(m), "models/") }

// Chat sends a generateContent request and returns the answer as a chat.completion.
func (a *adapter) Chat(ctx context.Context, c *provider.ChatCall) (*provider.ChatResult, error) {
	body, err := a.encode(c)
	if err != nil {
		return nil, err
	}
	b, err := a.roundTrip(ctx, ":generateContent", body)
	if err != nil {
		return nil, err
	}
	var r generateResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, provider.BadResponse(fmt.Errorf("decode generateContent answer: %w", err))
	}
	out, u, err := completion(&r, a.responseID(&r), a.responseModel(&r), a.now())
	if err != nil {
		return nil, err
	}
	return &provider.ChatResult{JSON: out, Usage: u}, nil
}

// ChatStream sends a streamGenerateContent request and returns its events as OpenAI chunks.
// The caller closes the stream.
func (a *adapter) ChatStream(ctx context.Context, c *provider.ChatCall) (provider.ChatStream, error) {
	body, err := a.encode(c)
	if err != nil {
		return nil, err
	}
	resp, err := a.post(ctx, ":streamGenerateContent?alt=sse", body)
	if err != nil {
		return nil, err
	}
	return &stream{
		ctx:     ctx,
		body:    resp.Body,
		events:  sse.NewReader(resp.Body),
		id:      newID(),
		model:   a.model,
		created: a.now().Unix(),
	}, nil
}

// encode translates the call's request into a generateContent body.
func (a *adapter) encode(c *provider.ChatCall) ([]byte, error) {
	if c == nil || c.Request == nil {
		return nil, fmt.Errorf("%s: chat call has no request", a.name)
	}
	r, err := translateRequest(c.Request)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", a.name, err)
	}
	return b, nil
}

// responseID is the upstream's response id, or a fresh one when it sent none.
func (a *adapter) responseID(r *generateResponse) string {
	if r.ResponseID != "" {
		return r.ResponseID
	}
	return newID()
}

// responseModel is the model version that answered, or the configured model.
func (a *adapter) responseModel(r *generateResponse) string {
	if r.ModelVersion != "" {
		return r.ModelVersion
	}
	return a.model
}

// newID returns a random chat completion id, for answers that carry none.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "chatcmpl-" + hex.EncodeToString(b[:])
}

// roundTrip posts body to the model's method and returns the whole answer.
func (a *adapter) roundTrip(ctx context.Context, method string, body []byte) ([]byte, error) {
	resp, err := a.post(ctx, method, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return provider.ReadAnswer(ctx, resp, maxResponseBody)
}

// post sends body to the model's method (":generateContent" and the like) and returns the
// response if its status is 2xx; the caller closes its body.
func (a *adapter) post(ctx context.Context, method string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.modelURL+method, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: build request: %w", a.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := a.cred.authorize(ctx, req); err != nil {
		return nil, err
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

// Embed returns the embeddings of the inputs: through :batchEmbedContents on the Gemini API,
// which reports no token count (usage is zero), and through :predict on Vertex AI, whose
// per-input token counts are summed into usage. dimensions becomes outputDimensionality;
// encoding_format base64 is honoured by encoding the floats here.
func (a *adapter) Embed(ctx context.Context, c *provider.EmbedCall) (*provider.EmbedResult, error) {
	if c == nil || c.Request == nil {
		return nil, fmt.Errorf("%s: embed call has no request", a.name)
	}
	r := c.Request
	if len(r.Input) == 0 {
		return nil, apierr.Invalid("input", "input must be a non-empty string or array of strings")
	}
	switch r.EncodingFormat {
	case "", "float", "base64":
	default:
		return nil, apierr.Invalid("encoding_format", "encoding_format must be float or base64")
	}
	if r.Dimensions != nil && *r.Dimensions < 1 {
		return nil, apierr.Invalid("dimensions", "dimensions must be at least 1")
	}
	var vectors [][]float32
	var tokens int64
	var err error
	if a.vertex {
		vectors, tokens, err = a.predict(ctx, r)
	} else {
		vectors, err = a.batchEmbed(ctx, r)
	}
	if err != nil {
		return nil, err
	}
	if len(vectors) != len(r.Input) {
		return nil, provider.BadResponse(fmt.Errorf("%d embeddings for %d inputs", len(vectors), len(r.Input)))
	}
	for i, v := range vectors {
		if len(v) == 0 {
			return nil, provider.BadResponse(fmt.Errorf("embedding %d has no values", i))
		}
	}
	u := chat.Usage{PromptTokens: tokens, TotalTokens: tokens}
	data := make([]embedding, len(vectors))
	for i, v := range vectors {
		data[i] = embedding{Object: "embedding", Index: int64(i), Embedding: v}
		if r.EncodingFormat == "base64" {
			data[i].Embedding = encodeFloats(v)
		}
	}
	out, err := json.Marshal(embeddingList{Object: "list", Data: data, Model: a.model, Usage: u})
	if err != nil {
		return nil, fmt.Errorf("%s: encode embeddings: %w", a.name, err)
	}
	return &provider.EmbedResult{JSON: out, Usage: u}, nil
}

// embeddingList is the OpenAI embeddings answer; Embedding is []float32 or a base64 string.
type embeddingList struct {
	Object string      `json:"object"`
	Data   []embedding `json:"data"`
	Model  string      `json:"model"`
	Usage  chat.Usage  `json:"usage"`
}

type embedding struct {
	Object    string `json:"object"`
	Index     int64  `json:"index"`
	Embedding any    `json:"embedding"`
}

// encodeFloats is OpenAI's base64 encoding: little-endian float32s.
func encodeFloats(v []float32) string {
	b := make([]byte, 0, 4*len(v))
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// batchEmbed calls the Gemini API's :batchEmbedContents.
func (a *adapter) batchEmbed(ctx context.Context, r *chat.EmbeddingRequest) ([][]float32, error) {
	req := batchEmbedRequest{Requests: make([]embedRequest, len(r.Input))}
	for i, in := range r.Input {
		req.Requests[i] = embedRequest{
			Model:                "models/" + a.model,
			Content:              content{Parts: []part{{Text: in}}},
			OutputDimensionality: r.Dimensions,
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("gemini: encode embeddings request: %w", err)
	}
	b, err := a.roundTrip(ctx, ":batchEmbedContents", body)
	if err != nil {
		return nil, err
	}
	var resp batchEmbedResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, provider.BadResponse(fmt.Errorf("decode batchEmbedContents answer: %w", err))
	}
	vectors := make([][]float32, len(resp.Embeddings))
	for i, e := range resp.Embeddings {
		vectors[i] = e.Values
	}
	return vectors, nil
}

// predict calls Vertex AI's :predict and sums the inputs' token counts.
func (a *adapter) predict(ctx context.Context, r *chat.EmbeddingRequest) ([][]float32, int64, error) {
	req := predictRequest{Instances: make([]predictInstance, len(r.Input))}
	for i, in := range r.Input {
		req.Instances[i] = predictInstance{Content: in}
	}
	if r.Dimensions != nil {
		req.Parameters = &predictParameters{OutputDimensionality: r.Dimensions}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, 0, fmt.Errorf("vertex: encode embeddings request: %w", err)
	}
	b, err := a.roundTrip(ctx, ":predict", body)
	if err != nil {
		return nil, 0, err
	}
	var resp predictResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, 0, provider.BadResponse(fmt.Errorf("decode predict answer: %w", err))
	}
	vectors := make([][]float32, len(resp.Predictions))
	var tokens int64
	for i, p := range resp.Predictions {
		vectors[i] = p.Embeddings.Values
		tokens += int64(p.Embeddings.Statistics.TokenCount)
	}
	return vectors, tokens, nil
}
