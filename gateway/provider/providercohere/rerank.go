package providercohere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// Rerank ranks the documents through /v2/rerank. Cohere's v2 answer does not echo documents,
// so with ReturnDocuments each result's document is filled in from the call. Usage counts the
// billed search units as prompt tokens (see provider.RerankResult).
func (a *adapter) Rerank(ctx context.Context, c *provider.RerankCall) (*provider.RerankResult, error) {
	if c == nil {
		return nil, errors.New("cohere: rerank call has no request")
	}
	switch {
	case c.Query == "":
		return nil, apierr.Invalid("query", "query must be a non-empty string")
	case len(c.Documents) == 0:
		return nil, apierr.Invalid("documents", "documents must be a non-empty array")
	case c.TopN != nil && *c.TopN < 1:
		return nil, apierr.Invalid("top_n", "top_n must be at least 1")
	}
	body, err := json.Marshal(rerankRequest{Model: a.model, Query: c.Query, Documents: c.Documents, TopN: c.TopN})
	if err != nil {
		return nil, fmt.Errorf("cohere: encode rerank request: %w", err)
	}
	b, err := a.roundTrip(ctx, "/v2/rerank", body)
	if err != nil {
		return nil, err
	}
	var resp rerankResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, provider.BadResponse(fmt.Errorf("decode rerank answer: %w", err))
	}
	results := make([]rankedDocument, len(resp.Results))
	for i, r := range resp.Results {
		if r.Index < 0 || r.Index >= int64(len(c.Documents)) {
			return nil, provider.BadResponse(fmt.Errorf("rerank result %d has index %d of %d documents", i, r.Index, len(c.Documents)))
		}
		results[i] = rankedDocument{Index: r.Index, RelevanceScore: r.RelevanceScore}
		if c.ReturnDocuments {
			results[i].Document = &document{Text: c.Documents[r.Index]}
		}
	}
	// Cohere sorts already; sorting here makes the order the contract whatever the upstream.
	sort.SliceStable(results, func(i, j int) bool { return results[i].RelevanceScore > results[j].RelevanceScore })
	var searchUnits int64
	if resp.Meta != nil && resp.Meta.BilledUnits != nil {
		searchUnits = int64(resp.Meta.BilledUnits.SearchUnits)
	}
	u := chat.Usage{PromptTokens: searchUnits, TotalTokens: searchUnits}
	out, err := json.Marshal(rerankList{
		ID:      resp.ID,
		Model:   a.model,
		Results: results,
		Meta:    rerankMeta{BilledUnits: billedUnits{SearchUnits: searchUnits}},
		Usage:   rerankUsage{SearchUnits: searchUnits},
	})
	if err != nil {
		return nil, fmt.Errorf("cohere: encode rerank answer: %w", err)
	}
	return &provider.RerankResult{JSON: out, Usage: u}, nil
}

// rerankList is the rerank answer in the shape provider.RerankResult documents.
type rerankList struct {
	ID      string           `json:"id"`
	Model   string           `json:"model"`
	Results []rankedDocument `json:"results"`
	Meta    rerankMeta       `json:"meta"`
	Usage   rerankUsage      `json:"usage"`
}

// rankedDocument is one result: the document's index in the request and its score.
type rankedDocument struct {
	Index          int64     `json:"index"`
	RelevanceScore float64   `json:"relevance_score"`
	Document       *document `json:"document,omitempty"`
}

// document is a ranked document's text, present when the call asked for it.
type document struct {
	Text string `json:"text"`
}

// rerankMeta is Cohere's meta, kept for clients written against Cohere's SDKs.
type rerankMeta struct {
	BilledUnits billedUnits `json:"billed_units"`
}

// billedUnits is what Cohere billed the rerank.
type billedUnits struct {
	SearchUnits int64 `json:"search_units"`
}

// rerankUsage is the usage member rerank clients of other providers read.
type rerankUsage struct {
	SearchUnits int64 `json:"search_units"`
}
