package pipeline

import (
	"context"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

// Rerank runs a rerank request: call.Model must be a model of type rerank that the caller may
// use and whose adapter implements provider.Reranker. It records one usage event with operation
// "rerank", as Embed does; a result reporting zero usage is recorded as usage missing, never as
// free. A model the caller cannot use, or that cannot rerank, is the client's error and records
// nothing.
func (p *Pipeline) Rerank(ctx context.Context, c *Caller, call *provider.RerankCall) (*provider.RerankResult, error) {
	e := p.event(c, call.Model, snapshot.TypeRerank, false)
	c.startBodies(call.Model, nil, call)
	rq := &request{op: snapshot.TypeRerank, typ: snapshot.TypeRerank, need: func(m *snapshot.Endpoint) error {
		if _, ok := m.Adapter.(provider.Reranker); !ok {
			return apierr.Invalid("model", "the model %q does not support rerank", call.Model)
		}
		return nil
	}}
	rq.size.PromptBytes = int64(len(call.Query))
	for _, d := range call.Documents {
		rq.size.PromptBytes += int64(len(d))
	}
	return run(ctx, p, c, call.Model, rq, e, func(ctx context.Context, a *Attempt, e *usage.Event) (*provider.RerankResult, error) {
		rr := a.Target.Endpoint.Adapter.(provider.Reranker)
		return roundTrip(ctx, p, a, e, func(ctx context.Context) (*provider.RerankResult, chat.Usage, error) {
			res, err := rr.Rerank(ctx, call)
			if err != nil {
				return nil, chat.Usage{}, err
			}
			return res, res.Usage, nil
		}, nil) // rerank is billed in searches, not tokens: nothing to estimate
	})
}
