package pipeline

import (
	"context"
	"slices"
	"sync"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// Batch endpoints: the paths a batch (and each line of its input file) may name, as OpenAI
// names them.
var batchEndpoints = []string{
	"/v1/chat/completions", "/v1/responses", "/v1/completions", "/v1/embeddings",
	"/v1/moderations", "/v1/images/generations", "/v1/images/edits",
}

// Batcher resolves the model a batch (or a line of its input file) names for endpoint, as a
// request to that endpoint would be: the model must exist, be allowed to the caller, have the
// endpoint's type (chat for chat completions, responses and completions; embedding for
// embeddings; any for the others) and be at a provider with a batch API.
func (p *Pipeline) Batcher(c *Caller, model, endpoint string) (*snapshot.Endpoint, provider.Batcher, error) {
	var m *snapshot.Endpoint
	var err error
	switch endpoint {
	case "/v1/chat/completions", "/v1/responses", "/v1/completions":
		m, err = c.Snapshot.Resolve(c.Principal, model, snapshot.TypeChat)
	case "/v1/embeddings":
		m, err = c.Snapshot.Resolve(c.Principal, model, snapshot.TypeEmbedding)
	case "":
		m, err = resolveForward(c, model, "")
	default:
		if !slices.Contains(batchEndpoints, endpoint) {
			return nil, nil, apierr.Invalid("endpoint", "the endpoint %q cannot be batched; use one of %v", endpoint, batchEndpoints)
		}
		m, err = resolveForward(c, model, "")
	}
	if err != nil {
		return nil, nil, err
	}
	b, ok := m.Adapter.(provider.Batcher)
	if !ok {
		return nil, nil, apierr.Invalid("model", "the model %q is at a provider without a batch API (batches go to OpenAI and Azure OpenAI models)", model)
	}
	return m, b, nil
}

// AccountBatcher returns a batch API of account that the caller may reach: that of any model
// of the account allowed to the caller, as files and batches belong to the account, not to
// one model.
func (p *Pipeline) AccountBatcher(c *Caller, account string) (provider.Batcher, error) {
	for _, m := range c.Snapshot.Models(c.Principal) {
		if b, ok := m.Adapter.(provider.Batcher); ok && m.Account == account {
			return b, nil
		}
	}
	return nil, &apierr.Error{Kind: apierr.KindNotFound, Param: "account", Message: "no provider account named " + account + " has a batch API you may use"}
}

// BatchAccounts lists the provider accounts whose batch APIs the caller may reach, sorted.
func (p *Pipeline) BatchAccounts(c *Caller) []string {
	var out []string
	for _, m := range c.Snapshot.Models(c.Principal) {
		if _, ok := m.Adapter.(provider.Batcher); ok && !slices.Contains(out, m.Account) {
			out = append(out, m.Account)
		}
	}
	slices.Sort(out)
	return out
}

// BatchEventID is the request id of a batch's usage event: the same for every observation of
// the batch, on every replica, so that a usage sink can drop a repeated one.
func BatchEventID(account, upstreamID string) string {
	return "batch:" + account + ":" + upstreamID
}

// RecordBatch records the usage of a batch that has ended (completed, failed, expired or
// cancelled: a cancelled batch is billed for the requests it completed), as an event with
// operation "batch" priced at the provider's batch price. usage is called only for a batch
// not yet recorded; it returns nil when the upstream reported no usage, recorded as usage
// missing.
//
// A batch is recorded once per process: the gateway keeps no state, so it records a batch
// when a client first sees it ended (clients poll a batch to fetch its output). The event's
// RequestID is BatchEventID, so that another replica's, or a restarted one's, record of the
// same batch is recognisably the same event.
func (p *Pipeline) RecordBatch(ctx context.Context, c *Caller, model, upstreamID, status string, usage func() *chat.Usage) {
	m := findModel(c, model)
	account := ""
	if m != nil {
		account = m.Account
	}
	id := BatchEventID(account, upstreamID)
	if !p.batches.add(id) {
		return
	}
	e := p.event(c, model, "batch", false)
	e.RequestID, e.Time = id, p.now()
	if u := usage(); u != nil {
		e.Usage = *u
	} else {
		e.UsageMissing = true
	}
	e.Status, e.HTTPStatus = status, 200
	if status == "completed" {
		e.Status = "ok"
	}
	if m != nil {
		if price, ok := m.PriceAt(e.Time); ok {
			factor := 1.0
			if b, ok := m.Adapter.(provider.Batcher); ok {
				factor = b.BatchPriceFactor()
			}
			e.CostUSD, e.Priced = price.Cost(e.Usage)*factor, true
		}
	}
	p.rec.Record(context.WithoutCancel(ctx), &e)
}

// findModel returns the caller's model named fqn, or nil.
func findModel(c *Caller, fqn string) *snapshot.Endpoint {
	for _, m := range c.Snapshot.Models(c.Principal) {
		if m.FQN == fqn {
			return m
		}
	}
	return nil
}

// seenSet remembers the last max ids added. It is safe for concurrent use.
type seenSet struct {
	mu    sync.Mutex
	max   int
	ids   map[string]struct{}
	order []string // ring of ids, oldest at next
	next  int
}

// add reports whether id is new, remembering it.
func (s *seenSet) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false
	}
	if s.ids == nil {
		s.ids = map[string]struct{}{}
	}
	if len(s.order) < s.max {
		s.order = append(s.order, id)
	} else {
		delete(s.ids, s.order[s.next])
		s.order[s.next] = id
		s.next = (s.next + 1) % s.max
	}
	s.ids[id] = struct{}{}
	return true
}
