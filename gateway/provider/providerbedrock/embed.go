package providerbedrock

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

const (
	// maxParallelInvokes bounds the concurrent InvokeModel calls of one Titan request, which
	// takes one call per input.
	maxParallelInvokes = 4
	// cohereBatch is the most texts Cohere embed takes in one call.
	cohereBatch = 96
	// cohereInputType is the input_type sent to Cohere: OpenAI's API has no such notion, and
	// embeddings stored for search are the common case.
	cohereInputType = "search_document"
)

// embedFamily is the request format of an embeddings model.
type embedFamily int

const (
	embedNone   embedFamily = iota // not an embeddings model
	embedTitan                     // Amazon Titan text embeddings
	embedCohere                    // Cohere embed
)

// embedFamilyOf tells the family from the model id, or from the last path segment of an ARN;
// a geographic inference profile prefix ("us.") is allowed.
func embedFamilyOf(model string) embedFamily {
	name := model[strings.LastIndexByte(model, '/')+1:]
	has := func(family string) bool {
		return strings.HasPrefix(name, family) || strings.Contains(name, "."+family)
	}
	switch {
	case has("amazon.titan-embed"):
		return embedTitan
	case has("cohere.embed"):
		return embedCohere
	}
	return embedNone
}

// embedAdapter is a Bedrock embeddings model: a chat adapter that can also embed.
type embedAdapter struct {
	*adapter
	family embedFamily
}

var _ provider.Embedder = (*embedAdapter)(nil)

// embeddingList is the OpenAI embeddings answer; an embedding is floats or, for
// encoding_format base64, the base64 of its little-endian float32s.
type embeddingList struct {
	Object string           `json:"object"`
	Data   []embeddingEntry `json:"data"`
	Model  string           `json:"model"`
	Usage  embeddingUsage   `json:"usage"`
}

type embeddingEntry struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

type embeddingUsage struct {
	PromptTokens int64 `json:"prompt_tokens"`
	TotalTokens  int64 `json:"total_tokens"`
}

// Embed returns the embeddings of the inputs with InvokeModel: one call per input for Titan,
// one call per 96 inputs for Cohere.
func (a *embedAdapter) Embed(ctx context.Context, c *provider.EmbedCall) (*provider.EmbedResult, error) {
	if c == nil || c.Request == nil {
		return nil, errors.New("bedrock: embed call has no request")
	}
	r := c.Request
	if len(r.Input) == 0 {
		return nil, apierr.Invalid("input", "input must not be empty")
	}
	if f := r.EncodingFormat; f != "" && f != "float" && f != "base64" {
		return nil, apierr.Invalid("encoding_format", `encoding_format must be "float" or "base64"`)
	}
	var vecs [][]float32
	var tokens int64
	var err error
	switch a.family {
	case embedTitan:
		vecs, tokens, err = a.embedTitan(ctx, r)
	default:
		vecs, tokens, err = a.embedCohere(ctx, r)
	}
	if err != nil {
		return nil, err
	}
	out := embeddingList{Object: "list", Data: make([]embeddingEntry, len(vecs)), Model: a.model, Usage: embeddingUsage{PromptTokens: tokens, TotalTokens: tokens}}
	for i, v := range vecs {
		var e any = v
		if r.EncodingFormat == "base64" {
			e = encodeBase64(v)
		}
		out.Data[i] = embeddingEntry{Object: "embedding", Index: i, Embedding: e}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("bedrock: encode embeddings: %w", err)
	}
	return &provider.EmbedResult{JSON: b, Usage: chat.Usage{PromptTokens: tokens, TotalTokens: tokens}}, nil
}

// embedTitan makes one InvokeModel call per input, at most maxParallelInvokes at a time. The
// first failure cancels the calls still running and is the error returned.
func (a *embedAdapter) embedTitan(ctx context.Context, r *chat.EmbeddingRequest) ([][]float32, int64, error) {
	vecs := make([][]float32, len(r.Input))
	counts := make([]int64, len(r.Input))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		slots    = make(chan struct{}, maxParallelInvokes)
	)
	for i, text := range r.Input {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			v, n, err := a.titanOne(ctx, text, r.Dimensions)
			if err != nil {
				once.Do(func() { firstErr = err; cancel() })
				return
			}
			vecs[i], counts[i] = v, n
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = provider.TransportError(ctx, ctx.Err())
	}
	if firstErr != nil {
		return nil, 0, firstErr
	}
	var total int64
	for _, n := range counts {
		total += n
	}
	return vecs, total, nil
}

// titanOne embeds one text with a Titan model.
func (a *embedAdapter) titanOne(ctx context.Context, text string, dims *int64) ([]float32, int64, error) {
	body, err := json.Marshal(titanEmbedRequest{InputText: text, Dimensions: dims})
	if err != nil {
		return nil, 0, fmt.Errorf("bedrock: encode titan request: %w", err)
	}
	b, h, err := a.invoke(ctx, body)
	if err != nil {
		return nil, 0, err
	}
	var out titanEmbedResponse
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, 0, provider.BadResponse(fmt.Errorf("decode titan embedding: %w", err))
	}
	if len(out.Embedding) == 0 {
		return nil, 0, provider.BadResponse(errors.New("titan answer has no embedding"))
	}
	n := out.InputTextTokenCount
	if n == 0 {
		n = inputTokenHeader(h)
	}
	return out.Embedding, n, nil
}

// embedCohere embeds the inputs with a Cohere model, cohereBatch texts per call, in order.
// Cohere reports no token count in its body; Bedrock's X-Amzn-Bedrock-Input-Token-Count header
// is the usage.
func (a *embedAdapter) embedCohere(ctx context.Context, r *chat.EmbeddingRequest) ([][]float32, int64, error) {
	if r.Dimensions != nil {
		return nil, 0, provider.NotSupported("dimensions", "bedrock")
	}
	vecs := make([][]float32, 0, len(r.Input))
	var tokens int64
	for start := 0; start < len(r.Input); start += cohereBatch {
		texts := r.Input[start:min(start+cohereBatch, len(r.Input))]
		body, err := json.Marshal(cohereEmbedRequest{Texts: texts, InputType: cohereInputType})
		if err != nil {
			return nil, 0, fmt.Errorf("bedrock: encode cohere request: %w", err)
		}
		b, h, err := a.invoke(ctx, body)
		if err != nil {
			return nil, 0, err
		}
		got, err := cohereVectors(b)
		if err != nil {
			return nil, 0, err
		}
		if len(got) != len(texts) {
			return nil, 0, provider.BadResponse(fmt.Errorf("cohere answered %d embeddings for %d texts", len(got), len(texts)))
		}
		vecs = append(vecs, got...)
		tokens += inputTokenHeader(h)
	}
	return vecs, tokens, nil
}

// cohereVectors reads the embeddings of a Cohere answer: an array of vectors, or the float
// vectors of an answer by embedding type.
func cohereVectors(b []byte) ([][]float32, error) {
	var out cohereEmbedResponse
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, provider.BadResponse(fmt.Errorf("decode cohere embeddings: %w", err))
	}
	raw := bytes.TrimSpace(out.Embeddings)
	var vecs [][]float32
	var err error
	switch {
	case len(raw) > 0 && raw[0] == '[':
		err = json.Unmarshal(raw, &vecs)
	case len(raw) > 0 && raw[0] == '{':
		var byType struct {
			Float [][]float32 `json:"float"`
		}
		err = json.Unmarshal(raw, &byType)
		vecs = byType.Float
	default:
		err = errors.New("no embeddings")
	}
	if err != nil {
		return nil, provider.BadResponse(fmt.Errorf("decode cohere embeddings: %w", err))
	}
	return vecs, nil
}

// invoke calls InvokeModel with body and returns the answer's body and headers.
func (a *embedAdapter) invoke(ctx context.Context, body []byte) ([]byte, http.Header, error) {
	resp, err := a.post(ctx, "invoke", "application/json", body)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := provider.ReadAnswer(ctx, resp, maxResponseBody)
	if err != nil {
		return nil, nil, err
	}
	return b, resp.Header, nil
}

// inputTokenHeader is Bedrock's count of the input tokens of an InvokeModel call, or 0.
func inputTokenHeader(h http.Header) int64 {
	n, _ := strconv.ParseInt(h.Get("X-Amzn-Bedrock-Input-Token-Count"), 10, 64)
	return n
}

// encodeBase64 renders a vector as OpenAI's base64 encoding_format: little-endian float32s.
func encodeBase64(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}
