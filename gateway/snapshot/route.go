package snapshot

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// Plan is how a request for one model is served: the targets to attempt, in order, until one
// succeeds or fails for good. A real model's plan has one target, the model itself; a virtual
// model's plan has its targets in the order its routing strategy gives. Plans are never
// modified once made, and may be shared between requests.
type Plan struct {
	// Model is the name the client asked for.
	Model string
	// Targets are attempted in order; a plan has at least one.
	Targets []Target
	// Virtual is set when Model is a virtual model: a caller allowed to use it reaches its
	// targets through it (see AuthorizePlan), and Types are the model types it serves.
	Virtual bool
	Types   []string
}

// Target is one way to serve a plan's request: a model endpoint. How it is called (natively in
// the client's dialect, or translated) is a property of its adapter, discovered by the caller
// through the adapter's capabilities (provider.MessagesAdapter, provider.Embedder, ...).
type Target struct {
	Endpoint *Endpoint
	// Retry says how the target is retried; the zero value never retries it.
	Retry Retry
	// FallbackOn are the statuses after which the plan's next target is attempted; nil: none.
	FallbackOn []int
}

// virtual is a compiled virtual model. A priority plan is fixed; a weighted model has one plan
// per possible first target, drawn by weight, so routing allocates nothing.
type virtual struct {
	plans   []*Plan // by first target (weighted), or the one plan (priority)
	weights []int   // cumulative weights of plans (weighted); nil for priority
	err     error   // set when no target of the virtual model exists
}

// Draw returns a uniformly random integer in [0, n); the default is math/rand/v2's IntN.
type Draw func(n int) int

// Route returns the plan for a request naming fqn, drawing weighted targets with
// math/rand/v2; see RouteDraw.
func (s *Snapshot) Route(fqn string) (*Plan, error) { return s.RouteDraw(fqn, rand.IntN) }

// RouteDraw returns the plan for a request naming fqn, drawing a weighted virtual model's first
// target with draw. It does not authorize: whether a principal may use a target is checked on
// each attempt (see AuthorizePlan), and whether the target can serve the request by Check. An
// unknown model is a 404.
func (s *Snapshot) RouteDraw(fqn string, draw Draw) (*Plan, error) {
	if m, ok := s.models[fqn]; ok {
		return m.plan, nil
	}
	if v, ok := s.virtuals[fqn]; ok {
		if v.err != nil {
			return nil, v.err
		}
		if v.weights == nil {
			return v.plans[0], nil
		}
		r := draw(v.weights[len(v.weights)-1])
		i, _ := slices.BinarySearch(v.weights, r+1)
		return v.plans[i], nil
	}
	return nil, &apierr.Error{Kind: apierr.KindNotFound, Param: "model", Message: fmt.Sprintf("the model %q does not exist; models are named <provider-account>/<model>, see GET /v1/models", fqn)}
}

// compileVirtual compiles vm over the snapshot's real models. Targets that do not name a real
// model are left out (they are logged by the caller through missing); a virtual model left
// without targets answers 503.
func (s *Snapshot) compileVirtual(vm *VirtualModel) (v *virtual, missing []string) {
	fqn := vm.Account + "/" + vm.Name
	types := vm.Types
	if len(types) == 0 {
		types = []string{TypeChat}
	}
	type cand struct {
		t        Target
		weight   int
		priority int
		fallback bool
	}
	var cs []cand
	for _, vt := range vm.Targets {
		m, ok := s.models[vt.Model]
		if !ok {
			missing = append(missing, vt.Model)
			continue
		}
		cs = append(cs, cand{t: Target{Endpoint: m, Retry: vt.Retry, FallbackOn: vt.FallbackStatus}, weight: vt.Weight, priority: vt.Priority, fallback: vt.FallbackCandidate})
	}
	v = &virtual{}
	if len(cs) == 0 {
		v.err = apierr.New(apierr.KindUpstreamUnavailable, "the virtual model %s has no target that exists; ask the gateway admin", fqn)
		return v, missing
	}
	// plan is first, then the other fallback candidates in order.
	plan := func(first int, order []cand) *Plan {
		p := &Plan{Model: fqn, Virtual: true, Types: types, Targets: []Target{order[first].t}}
		for i, c := range order {
			if i != first && c.fallback {
				p.Targets = append(p.Targets, c.t)
			}
		}
		return p
	}
	if vm.Strategy == RoutingPriority {
		slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(a.priority, b.priority) })
		v.plans = []*Plan{plan(0, cs)}
		return v, missing
	}
	// Weighted: fallbacks by weight, heaviest first; a zero weight is never drawn first.
	slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(b.weight, a.weight) })
	sum := 0
	for i, c := range cs {
		if c.weight == 0 {
			continue
		}
		sum += c.weight
		v.plans = append(v.plans, plan(i, cs))
		v.weights = append(v.weights, sum)
	}
	if sum == 0 {
		v.err = apierr.New(apierr.KindUpstreamUnavailable, "the virtual model %s has no weighted target that exists; ask the gateway admin", fqn)
	}
	return v, missing
}

// Authorize returns a 403 unless p may use m. Route answers 404 for unknown models first, so a
// caller learns that a model exists only when it does.
func (s *Snapshot) Authorize(p *Principal, m *Endpoint) error {
	if !s.Allowed(p, m) {
		return &apierr.Error{Kind: apierr.KindPermissionDenied, Param: "model", Message: fmt.Sprintf("you are not allowed to use the model %q", m.FQN)}
	}
	return nil
}

// AuthorizePlan returns a 403 unless p may use target m of plan: for a virtual model's plan,
// p must be allowed the virtual model, through which it reaches every target; otherwise p
// must be allowed m itself.
func (s *Snapshot) AuthorizePlan(p *Principal, plan *Plan, m *Endpoint) error {
	if plan == nil || !plan.Virtual {
		return s.Authorize(p, m)
	}
	if v, ok := s.virtualList[plan.Model]; ok && s.Allowed(p, v) {
		return nil
	}
	return &apierr.Error{Kind: apierr.KindPermissionDenied, Param: "model", Message: fmt.Sprintf("you are not allowed to use the model %q", plan.Model)}
}

// Check returns an error unless m can serve a request of type t (an empty t accepts any type):
// a 400 for the wrong type, a 503 when a secret it needs is missing or its config is invalid.
func (m *Endpoint) Check(t string) error {
	if t != "" && !m.HasType(t) {
		return apierr.Invalid("model", "the model %q is not a %s model", m.FQN, t)
	}
	if m.missing != "" {
		return apierr.New(apierr.KindUpstreamUnavailable, "%s", m.missing)
	}
	if m.Adapter == nil {
		return &apierr.Error{Kind: apierr.KindUpstreamUnavailable, Message: fmt.Sprintf("the model %q is misconfigured; ask the gateway admin", m.FQN), Cause: m.BuildErr}
	}
	return nil
}

// Resolve returns the model named fqn if p may use it for type t; an empty t accepts a model of
// any type. It is Route, Authorize and Check for a one-target plan, for callers that look a
// model up without calling it (validating a batch file's lines). Unknown models and models the
// caller may not see are both 404 unless the model exists, when a denial is 403.
func (s *Snapshot) Resolve(p *Principal, fqn, t string) (*Endpoint, error) {
	plan, err := s.Route(fqn)
	if err != nil {
		return nil, err
	}
	if plan.Virtual {
		return nil, apierr.Invalid("model", "the model %q is a virtual model, which cannot be used here (batches); name one of its targets", fqn)
	}
	m := plan.Targets[0].Endpoint
	if err := s.Authorize(p, m); err != nil {
		return nil, err
	}
	if err := m.Check(t); err != nil {
		return nil, err
	}
	return m, nil
}
