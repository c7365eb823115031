package pipeline

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
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
// embeddings; any for the others, and for an empty endpoint) and be at a provider with a
// batch API.
//
// It checks without calling anything, for validating a batch file's lines and reaching the
// objects a batch API holds; a call that creates one goes through Batch.
func (p *Pipeline) Batcher(c *Caller, model, endpoint string) (*snapshot.Endpoint, provider.Batcher, error) {
	rq, err := batchRequest("", model, endpoint)
	if err != nil {
		return nil, nil, err
	}
	m, err := c.Snapshot.Resolve(c.Principal, model, rq.typ)
	if err != nil {
		return nil, nil, err
	}
	if err := rq.need(m); err != nil {
		return nil, nil, err
	}
	return m, m.Adapter.(provider.Batcher), nil
}

// batchRequest is what a batch call for endpoint needs of a model: its type (chat for chat
// completions, responses and completions; embedding for embeddings; any for the others, and
// for an empty endpoint: an id's route, an upload) and a batch API.
func batchRequest(op, model, endpoint string) (*request, error) {
	rq := &request{op: op, need: func(m *snapshot.Endpoint) error {
		if _, ok := m.Adapter.(provider.Batcher); !ok {
			return apierr.Invalid("model", "the model %q is at a provider without a batch API", model)
		}
		return nil
	}}
	switch endpoint {
	case "/v1/chat/completions", "/v1/responses", "/v1/completions":
		rq.typ = snapshot.TypeChat
	case "/v1/embeddings":
		rq.typ = snapshot.TypeEmbedding
	case "":
	default:
		if !slices.Contains(batchEndpoints, endpoint) {
			return nil, apierr.Invalid("endpoint", "the endpoint %q cannot be batched; use one of %v", endpoint, batchEndpoints)
		}
	}
	return rq, nil
}

// Batch operations, the Operation of a Batch attempt.
const (
	OpBatch = "batch" // a batch's creation
	OpFile  = "file"  // a batch input file's upload
)

// Batch runs a call that creates an object at the batch API of model's provider (op OpBatch: a
// batch for endpoint; OpFile: its input file, endpoint "") as an attempt of the request's plan:
// routed, admitted by the guards (the model must be allowed to the caller and fit endpoint, as
// Batcher checks), then made by do against the target's batch API under the caller's context.
// It records no usage event (the edge records the request): a batch's usage is recorded when it
// ends (RecordBatch). The guards' tickets are settled, when do returns, with an event carrying
// its status and no usage.
func (p *Pipeline) Batch(ctx context.Context, c *Caller, op, model, endpoint string, do func(context.Context, provider.Batcher) error) error {
	rq, err := batchRequest(op, model, endpoint)
	if err != nil {
		return err
	}
	_, err = run(ctx, p, c, model, rq, p.newEvent(c, model, op, false), func(ctx context.Context, a *Attempt, e *usage.Event) (struct{}, error) {
		err := do(ctx, a.Target.Endpoint.Adapter.(provider.Batcher))
		p.settleUnrecorded(a, e, err)
		return struct{}{}, err
	})
	return err
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

// EndedBatch is a batch the gateway saw ended: completed, failed, expired or cancelled (a
// cancelled batch is billed for the requests it completed).
type EndedBatch struct {
	// Model is the FQN the batch was created for; Account is the model's account.
	Model, Account string
	// UpstreamID is the provider's id of the batch.
	UpstreamID string
	// Status is the batch's status.
	Status string
	// Ended is when it ended; the event's time.
	Ended time.Time
	// Usage returns the batch's usage, nil when the provider reported none (recorded as usage
	// missing), or an error when it could not be read now (nothing is recorded, so a later
	// observation tries again).
	Usage func() (*chat.Usage, error)
}

// RecordBatch records the usage of an ended batch as an event with operation "batch", priced
// at the model's price when the batch ended times the provider's batch price factor, and
// attributed to the caller, who is the batch's owner.
//
// The gateway keeps no state, so a batch is recorded when a client sees it ended (clients poll
// a batch to learn that its output is ready), once per process: the event's RequestID is
// BatchEventID and its Time the batch's end, so the records of the same batch by another
// replica, or after a restart, are identical and a sink keyed on the request id keeps one.
//
// Guards that are Chargers charge the batch's usage then, as it is recorded: a batch was
// admitted at its creation (an attempt like any other) and is paid for when it ends.
func (p *Pipeline) RecordBatch(ctx context.Context, c *Caller, b *EndedBatch) error {
	id := BatchEventID(b.Account, b.UpstreamID)
	if !p.batches.add(id) {
		return nil
	}
	u, err := b.Usage()
	if err != nil {
		p.batches.remove(id)
		return err
	}
	e := p.event(c, b.Model, OpBatch, false)
	e.RequestID, e.Time = id, b.Ended
	e.ClientRequestID = "" // the record is the batch's, the same from every poll
	if e.Time.IsZero() {
		e.Time = p.now()
	}
	if u != nil {
		e.Usage = *u
	} else {
		e.UsageMissing = true
	}
	e.Status, e.HTTPStatus = b.Status, 200
	if b.Status == "completed" {
		e.Status = "ok"
	}
	if m, ok := c.Snapshot.Model(b.Model); ok {
		if price, ok := m.PriceAt(e.Time); ok {
			factor := 1.0
			if bt, ok := m.Adapter.(provider.Batcher); ok {
				factor = bt.BatchPriceFactor()
			}
			e.CostUSD, e.Priced = price.Cost(e.Usage)*factor, true
		}
		for _, g := range p.guards {
			if ch, ok := g.(Charger); ok {
				ch.Charge(c, m, &e)
			}
		}
	}
	p.rec.Record(context.WithoutCancel(ctx), &e)
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

// remove forgets id. It scans the ring, so it is for the rare failure, not the common path.
func (s *seenSet) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, id)
	for i, v := range s.order {
		if v == id {
			s.order[i] = "" // evicting it later deletes nothing
		}
	}
}

// Charger is a Guard that charges usage it did not reserve: a batch's, recorded when the batch
// ends (RecordBatch). Charge may add to e.Counted and must not block.
type Charger interface {
	Charge(c *Caller, m *snapshot.Endpoint, e *usage.Event)
}
