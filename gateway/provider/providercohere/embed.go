package providercohere

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// Embed returns the embeddings of the inputs through /v2/embed, with the adapter's input_type
// and float embeddings. dimensions becomes output_dimension; encoding_format base64 is honoured
// by encoding the floats here. Usage counts the billed input tokens.
func (a *adapter) Embed(ctx context.Context, c *provider.EmbedCall) (*provider.EmbedResult, error) {
	if c == nil || c.Request == nil {
		return nil, errors.New("cohere: embed call has no request")
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
	body, err := json.Marshal(embedRequest{
		Model:           a.model,
		Texts:           r.Input,
		InputType:       a.inputType,
		EmbeddingTypes:  []string{"float"},
		OutputDimension: r.Dimensions,
	})
	if err != nil {
		return nil, fmt.Errorf("cohere: encode embed request: %w", err)
	}
	b, err := a.roundTrip(ctx, "/v2/embed", body)
	if err != nil {
		return nil, err
	}
	var resp embedResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, provider.BadResponse(fmt.Errorf("decode embed answer: %w", err))
	}
	vectors := resp.Embeddings.Float
	if len(vectors) != len(r.Input) {
		return nil, provider.BadResponse(fmt.Errorf("%d embeddings for %d inputs", len(vectors), len(r.Input)))
	}
	data := make([]embedding, len(vectors))
	for i, v := range vectors {
		if len(v) == 0 {
			return nil, provider.BadResponse(fmt.Errorf("embedding %d has no values", i))
		}
		data[i] = embedding{Object: "embedding", Index: int64(i), Embedding: v}
		if r.EncodingFormat == "base64" {
			data[i].Embedding = encodeFloats(v)
		}
	}
	u := openAIUsage(resp.Meta)
	u.CompletionTokens, u.TotalTokens = 0, u.PromptTokens
	out, err := json.Marshal(embeddingList{Object: "list", Data: data, Model: a.model, Usage: u})
	if err != nil {
		return nil, fmt.Errorf("cohere: encode embeddings: %w", err)
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

// embedding is one vector of an OpenAI embeddings answer.
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
