package provider

import (
	"context"

	"github.com/llmgw/llmgw/gateway/chat"
)

// Reranker is a rerank model at a provider: it scores documents by their relevance to a query.
// Adapters implement it when the provider can; callers discover it with a type assertion on
// the Adapter, as they do Embedder. Implementations are safe for concurrent use.
type Reranker interface {
	// Rerank returns the documents' relevance to the query, most relevant first.
	Rerank(ctx context.Context, c *RerankCall) (*RerankResult, error)
}

// RerankCall is one rerank request to an adapter.
type RerankCall struct {
	// Model is the client's name for the model, as Request.Model is for chat: the pipeline
	// resolves it; adapters send Config.Model.
	Model string
	// Query is what the documents are ranked against; never empty.
	Query string
	// Documents are the texts to rank; never empty. Results refer to them by index.
	Documents []string
	// TopN limits the answer to the TopN most relevant documents; nil means all of them.
	TopN *int64
	// ReturnDocuments asks for each result to carry its document's text, which the adapter
	// fills in from Documents when the provider does not echo it.
	ReturnDocuments bool
}

// RerankResult is a rerank answer.
type RerankResult struct {
	// JSON is the answer in the rerank shape that Cohere, Jina, vLLM and most rerank clients
	// share: {"id","model","results":[{"index","relevance_score","document":{"text"}}],
	// "meta","usage"}, results sorted by relevance_score, most relevant first; "document" is
	// present only when the call asked for it.
	JSON []byte
	// Usage counts the provider's billing unit as prompt tokens (and total tokens), so that a
	// model's input price is the price of that unit: search units for providers that bill per
	// search (Cohere: one search is one query with up to 100 documents), input tokens for
	// providers that bill per token. Each adapter's doc says which it reports. Zero only when
	// the upstream reported nothing.
	Usage chat.Usage
}
