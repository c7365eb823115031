package snapshot

import (
	"cmp"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/provider"
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
	// Rule is the id of the routing config's load-balancing rule that made the plan, or empty:
	// a caller allowed the model it named (real or virtual) reaches the rule's targets through it.
	Rule string
	// Live is set when the order of Targets is decided per request from the targets' live
	// speed (RoutingLatency, or RoutingPriority with an SLA cutoff): Targets then holds every
	// target, fallback candidates or not (Target.Fallback), in configuration order (by
	// priority for RoutingPriority), and Strategy says how to order them.
	Live     bool
	Strategy string
	// Sticky is the plan's sticky_routing (a weighted virtual model's), nil when it has none:
	// its identifiers' header keys are canonical (http.CanonicalHeaderKey). Pinned finds the
	// plan a pinned session takes instead.
	Sticky *Sticky
	// alts are the plans of the same routing, one per target that may be drawn first (the
	// plan itself among them); set only with Sticky.
	alts []*Plan
}

// Pinned returns the plan of the same routing as p whose first target is fqn, for a session
// pinned to fqn (see Sticky), or nil when fqn may not be drawn first (it is not a target, or
// its weight is 0) or p is not sticky. It allocates nothing.
func (p *Plan) Pinned(fqn string) *Plan {
	for _, alt := range p.alts {
		if alt.Targets[0].Endpoint.FQN == fqn {
			return alt
		}
	}
	return nil
}

// Routed reports whether the plan is a routing decision (a virtual model's, or a load-balancing
// rule's) rather than the named model itself: its answers name the target that served them.
func (p *Plan) Routed() bool { return p.Virtual || p.Rule != "" }

// Target is one way to serve a plan's request: a model endpoint. How it is called (natively in
// the client's dialect, or translated) is a property of its adapter, discovered by the caller
// through the adapter's capabilities (provider.MessagesAdapter, provider.Embedder, ...).
type Target struct {
	Endpoint *Endpoint
	// Retry says how the target is retried; the zero value never retries it.
	Retry Retry
	// FallbackOn are the statuses after which the plan's next target is attempted; nil: none.
	FallbackOn []int
	// Fallback: the target may be attempted after another (fallback_candidate); read only for
	// a Live plan, whose order is decided per request.
	Fallback bool
	// SLA is the target's sla_cutoff (a Live RoutingPriority plan).
	SLA SLA
	// Params are the request parameters set on the requests sent to this target, replacing
	// the client's (a virtual model's override_params); nil: none.
	Params []chat.Param
	// Headers changes the headers of the upstream requests sent to this target (a virtual
	// model's headers_override); nil: none.
	Headers *provider.HeaderOverride
}

// virtual is a compiled virtual model. A priority plan is fixed; a weighted model has one plan
// per possible first target, drawn by weight, so routing allocates nothing.
type virtual struct {
	plans   []*Plan // by first target (weighted), or the one plan (priority)
	weights []int   // cumulative weights of plans (weighted); nil for priority
	err     error   // set when no target of the virtual model exists
}

// routeRule is a compiled load-balancing rule for one model it names.
type routeRule struct {
	when *governance.Matcher // subjects and metadata; the model is the map key
	v    *virtual
}

// Draw returns a uniformly random integer in [0, n); the default is math/rand/v2's IntN.
type Draw func(n int) int

// Route returns the plan for a request naming fqn, drawing weighted targets with
// math/rand/v2; see RouteDraw.
func (s *Snapshot) Route(fqn string) (*Plan, error) { return s.RouteDraw(fqn, rand.IntN) }

// RouteFor returns the plan for a request of p (nil: nobody) with metadata md naming fqn: the
// plan of the first load-balancing rule of the routing config that names fqn and whose
// subjects and metadata match, else RouteDraw's. It allocates nothing.
func (s *Snapshot) RouteFor(p *Principal, md map[string]string, fqn string, draw Draw) (*Plan, error) {
	if rules := s.routing[fqn]; len(rules) > 0 {
		req := governance.Request{Model: fqn, Metadata: md}
		if p != nil {
			req.User, req.Teams, req.VirtualAccount = p.User, p.Teams, p.VirtualAccount
		}
		for i := range rules {
			if rules[i].when.Match(&req) {
				return rules[i].v.pick(draw)
			}
		}
	}
	return s.RouteDraw(fqn, draw)
}

// RouteDraw returns the plan for a request naming fqn, drawing a weighted virtual model's first
// target with draw; it ignores the load-balancing rules, which depend on the caller (RouteFor).
// It does not authorize: whether a principal may use a target is checked on each attempt (see
// AuthorizePlan), and whether the target can serve the request by Check. An unknown model is a
// 404.
func (s *Snapshot) RouteDraw(fqn string, draw Draw) (*Plan, error) {
	if m, ok := s.models[fqn]; ok {
		return m.plan, nil
	}
	if v, ok := s.virtuals[fqn]; ok {
		return v.pick(draw)
	}
	return nil, &apierr.Error{Kind: apierr.KindNotFound, Param: "model", Message: fmt.Sprintf("the model %q does not exist; models are named <provider-account>/<model>, see GET /v1/models", fqn)}
}

// pick returns one of v's plans, drawing by weight when v is weighted.
func (v *virtual) pick(draw Draw) (*Plan, error) {
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

// compileVirtual compiles vm over the snapshot's real models. Targets that do not name a real
// model are left out (they are logged by the caller through missing); a virtual model left
// without targets answers 503.
func (s *Snapshot) compileVirtual(vm *VirtualModel) (v *virtual, missing []string) {
	types := vm.Types
	if len(types) == 0 {
		types = []string{TypeChat}
	}
	return s.compilePlans(Plan{Model: vm.Account + "/" + vm.Name, Virtual: true, Types: types, Sticky: stickyPlan(vm)}, vm.Strategy, vm.Targets)
}

// stickyPlan is vm's sticky_routing as its plans carry it, header keys canonical; nil when it
// has none or is not weighted.
func stickyPlan(vm *VirtualModel) *Sticky {
	if vm.Sticky == nil || vm.Strategy != RoutingWeight || len(vm.Sticky.Identifiers) == 0 {
		return nil
	}
	st := &Sticky{TTL: vm.Sticky.TTL, Identifiers: slices.Clone(vm.Sticky.Identifiers)}
	for i, id := range st.Identifiers {
		if id.Source == SessionHeaders {
			st.Identifiers[i].Key = http.CanonicalHeaderKey(id.Key)
		}
	}
	return st
}

// compilePlans compiles targets under strategy into plans like tmpl (its Model, Virtual, Types,
// Rule and, for a weighted one, Sticky), as compileVirtual says.
func (s *Snapshot) compilePlans(tmpl Plan, strategy string, targets []VirtualTarget) (v *virtual, missing []string) {
	fqn := tmpl.Model
	type cand struct {
		t        Target
		weight   int
		priority int
		fallback bool
	}
	var cs []cand
	for _, vt := range targets {
		m, ok := s.models[vt.Model]
		if !ok {
			missing = append(missing, vt.Model)
			continue
		}
		cs = append(cs, cand{t: Target{Endpoint: m, Retry: vt.Retry, FallbackOn: vt.FallbackStatus, Fallback: vt.FallbackCandidate, SLA: vt.SLA, Params: vt.Params, Headers: vt.Headers}, weight: vt.Weight, priority: vt.Priority, fallback: vt.FallbackCandidate})
	}
	v = &virtual{}
	if len(cs) == 0 {
		v.err = apierr.New(apierr.KindUpstreamUnavailable, "the model %s routes to no target that exists; ask the gateway admin", fqn)
		return v, missing
	}
	// plan is first, then the other fallback candidates in order.
	plan := func(first int, order []cand) *Plan {
		p := &Plan{Model: fqn, Virtual: tmpl.Virtual, Types: tmpl.Types, Rule: tmpl.Rule, Targets: []Target{order[first].t}}
		for i, c := range order {
			if i != first && c.fallback {
				p.Targets = append(p.Targets, c.t)
			}
		}
		return p
	}
	if strategy == RoutingPriority {
		slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(a.priority, b.priority) })
	}
	// live is the one plan of every target, ordered per request from the targets' live speed.
	live := func() []*Plan {
		p := &Plan{Model: fqn, Virtual: tmpl.Virtual, Types: tmpl.Types, Rule: tmpl.Rule, Live: true, Strategy: strategy}
		for _, c := range cs {
			p.Targets = append(p.Targets, c.t)
		}
		return []*Plan{p}
	}
	switch {
	case strategy == RoutingLatency:
		v.plans = live()
		return v, missing
	case strategy == RoutingPriority && slices.ContainsFunc(cs, func(c cand) bool { return c.t.SLA.Set() }):
		v.plans = live()
		return v, missing
	case strategy == RoutingPriority:
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
		v.err = apierr.New(apierr.KindUpstreamUnavailable, "the model %s routes to no weighted target that exists; ask the gateway admin", fqn)
	}
	if tmpl.Sticky != nil {
		for _, p := range v.plans {
			p.Sticky, p.alts = tmpl.Sticky, v.plans
		}
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

// AuthorizePlan returns a 403 unless p may use target m of plan: for a routed plan (a virtual
// model's, or a load-balancing rule's), p must be allowed the model the plan is for, through
// which it reaches every target; otherwise p must be allowed m itself.
func (s *Snapshot) AuthorizePlan(p *Principal, plan *Plan, m *Endpoint) error {
	if plan == nil || !plan.Routed() {
		return s.Authorize(p, m)
	}
	named, ok := s.virtualList[plan.Model]
	if !plan.Virtual {
		named, ok = s.models[plan.Model]
	}
	if ok && s.Allowed(p, named) {
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

// compileRouting compiles the load-balancing rules. A rule whose subjects or metadata can never
// match is left out, and so is a model it names that does not exist, with a warning; a target
// that does not exist is left out as a virtual model's is.
func (s *Snapshot) compileRouting(rules []RoutingRule, logger *slog.Logger) {
	for _, r := range rules {
		when, err := governance.NewMatcher(governance.Condition{Subjects: r.When.Subjects, Metadata: r.When.Metadata})
		if err != nil {
			logger.Warn("routing rule left out", "rule", r.ID, "error", err)
			continue
		}
		for _, fqn := range r.When.Models {
			tmpl := Plan{Model: fqn, Rule: r.ID}
			if m, ok := s.models[fqn]; ok {
				tmpl.Types = m.Types
			} else if m, ok := s.virtualList[fqn]; ok {
				tmpl.Virtual, tmpl.Types = true, m.Types
			} else {
				logger.Warn("routing rule model left out: no such model", "rule", r.ID, "model", fqn)
				continue
			}
			v, missing := s.compilePlans(tmpl, r.Strategy, r.Targets)
			if len(missing) > 0 {
				logger.Warn("routing rule targets left out: no such model", "rule", r.ID, "model", fqn, "targets", missing)
			}
			if s.routing == nil {
				s.routing = map[string][]routeRule{}
			}
			s.routing[fqn] = append(s.routing[fqn], routeRule{when: when, v: v})
		}
	}
}
