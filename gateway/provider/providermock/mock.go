// Package providermock is the built-in provider that needs no network and no key, so the
// quickstart works on a fresh machine. Its chat model answers with the last user message
// (streamed word by word when asked) and reports token usage; its embedding model returns
// deterministic unit vectors derived from the input text.
//
// Tokens are counted as whitespace-separated words: an approximation that is stable and
// documented, not any provider's tokenizer.
package providermock

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// DefaultDimensions is the embedding size when the request does not ask for one.
const DefaultDimensions = 16

// Adapter is the mock model. It is safe for concurrent use.
type Adapter struct {
	model string
	seq   atomic.Uint64
}

var (
	_ provider.Adapter  = (*Adapter)(nil)
	_ provider.Embedder = (*Adapter)(nil)
)

// New returns the mock adapter for cfg.Model (any name; "echo" and "embed" by convention).
func New(cfg provider.Config) (*Adapter, error) {
	if cfg.Model == "" {
		return nil, fmt.Errorf("mock: a model name is required")
	}
	return &Adapter{model: cfg.Model}, nil
}

func countTokens(s string) int64 { return int64(len(strings.Fields(s))) }

func promptTokens(r *chat.Request) int64 {
	var n int64
	for i := range r.Messages {
		n += countTokens(r.Messages[i].Content.String())
	}
	return n
}

func lastUserMessage(r *chat.Request) string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == chat.RoleUser {
			return r.Messages[i].Content.String()
		}
	}
	return ""
}

func (a *Adapter) id() string { return fmt.Sprintf("chatcmpl-mock-%d", a.seq.Add(1)) }

func usage(prompt, completion int64) chat.Usage {
	return chat.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// Chat implements provider.Adapter.
func (a *Adapter) Chat(ctx context.Context, c *provider.ChatCall) (*provider.ChatResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, provider.TransportError(ctx, err)
	}
	answer := lastUserMessage(c.Request)
	n := int64(1)
	if c.Request.N != nil {
		n = *c.Request.N
	}
	u := usage(promptTokens(c.Request), countTokens(answer)*n)
	resp := chat.Response{
		ID: a.id(), Object: "chat.completion", Created: time.Now().Unix(), Model: a.model, Usage: &u,
	}
	for i := range n {
		resp.Choices = append(resp.Choices, chat.Choice{
			Index:        i,
			Message:      chat.Message{Role: chat.RoleAssistant, Content: chat.TextContent(answer)},
			FinishReason: chat.FinishStop,
		})
	}
	b, err := json.Marshal(&resp)
	if err != nil {
		return nil, err
	}
	return &provider.ChatResult{JSON: b, Usage: u}, nil
}

// ChatStream implements provider.Adapter: a role chunk, one chunk per word, a finish chunk and
// a usage-only chunk.
func (a *Adapter) ChatStream(ctx context.Context, c *provider.ChatCall) (provider.ChatStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, provider.TransportError(ctx, err)
	}
	answer := lastUserMessage(c.Request)
	words := strings.Fields(answer)
	s := &stream{ctx: ctx, words: words, base: chat.Chunk{
		ID: a.id(), Object: "chat.completion.chunk", Created: time.Now().Unix(), Model: a.model,
	}}
	s.usage = usage(promptTokens(c.Request), int64(len(words)))
	return s, nil
}

type stream struct {
	ctx   context.Context
	words []string
	base  chat.Chunk
	usage chat.Usage
	step  int
}

func (s *stream) Recv() (provider.Chunk, error) {
	if err := s.ctx.Err(); err != nil {
		return provider.Chunk{}, provider.TransportError(s.ctx, err)
	}
	ch := s.base
	step := s.step
	s.step++
	stop := chat.FinishStop
	var out provider.Chunk
	switch {
	case step == 0:
		empty := ""
		ch.Choices = []chat.ChunkChoice{{Delta: chat.Delta{Role: chat.RoleAssistant, Content: &empty}}}
	case step <= len(s.words):
		w := s.words[step-1]
		if step > 1 {
			w = " " + w
		}
		ch.Choices = []chat.ChunkChoice{{Delta: chat.Delta{Content: &w}}}
	case step == len(s.words)+1:
		ch.Choices = []chat.ChunkChoice{{FinishReason: &stop}}
	case step == len(s.words)+2:
		ch.Choices = []chat.ChunkChoice{}
		u := s.usage
		ch.Usage = &u
		out.Usage, out.UsageOnly = &u, true
	default:
		return provider.Chunk{}, io.EOF
	}
	b, err := json.Marshal(&ch)
	if err != nil {
		return provider.Chunk{}, err
	}
	out.JSON = b
	return out, nil
}

func (s *stream) Close() error { return nil }

// Embed implements provider.Embedder.
func (a *Adapter) Embed(ctx context.Context, c *provider.EmbedCall) (*provider.EmbedResult, error) {
	dims := int64(DefaultDimensions)
	if d := c.Request.Dimensions; d != nil {
		if *d < 1 || *d > 4096 {
			return nil, fmt.Errorf("mock: dimensions %d out of range", *d)
		}
		dims = *d
	}
	resp := chat.EmbeddingResponse{Object: "list", Model: a.model}
	var tokens int64
	for i, text := range c.Request.Input {
		tokens += countTokens(text)
		resp.Data = append(resp.Data, chat.Embedding{Object: "embedding", Index: int64(i), Embedding: Vector(text, int(dims))})
	}
	u := chat.Usage{PromptTokens: tokens, TotalTokens: tokens}
	resp.Usage = &u
	b, err := json.Marshal(&resp)
	if err != nil {
		return nil, err
	}
	return &provider.EmbedResult{JSON: b, Usage: u}, nil
}

// Vector is the deterministic unit vector the mock returns for text.
func Vector(text string, dims int) []float32 {
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		h := sha256.Sum256(fmt.Appendf(nil, "%d:%s", i, text))
		x := float64(binary.BigEndian.Uint32(h[:4]))/math.MaxUint32*2 - 1
		v[i] = float32(x)
		norm += x * x
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) / norm)
	}
	return v
}
