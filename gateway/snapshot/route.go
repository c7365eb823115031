package snapshot

import (
	"fmt"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// Plan is how a request for one model is served: the targets to attempt, in order, until one
// succeeds or fails for good. A snapshot's plans have one target, the model itself; routing
// (issue 9) adds fallbacks and retries as more targets. Plans are never modified once made.
type Plan struct {
	// Model is the name the client asked for.
	Model string
	// Targets are attempted in order; a plan has at least one.
	Targets []Target
}

// Target is one way to serve a plan's request: a model endpoint. How it is called (natively in
// the client's dialect, or translated) is a property of its adapter, discovered by the caller
// through the adapter's capabilities (provider.MessagesAdapter, provider.Embedder, ...).
type Target struct {
	Endpoint *Endpoint
}

// Route returns the plan for a request naming fqn. It does not authorize: whether a principal
// may use a target is checked on each attempt (see Allowed), and whether the target can serve
// the request by Check. An unknown model is a 404.
func (s *Snapshot) Route(fqn string) (*Plan, error) {
	m, ok := s.models[fqn]
	if !ok {
		return nil, &apierr.Error{Kind: apierr.KindNotFound, Param: "model", Message: fmt.Sprintf("the model %q does not exist; models are named <provider-account>/<model>, see GET /v1/models", fqn)}
	}
	return &Plan{Model: fqn, Targets: []Target{{Endpoint: m}}}, nil
}

// Authorize returns a 403 unless p may use m. Route answers 404 for unknown models first, so a
// caller learns that a model exists only when it does.
func (s *Snapshot) Authorize(p *Principal, m *Endpoint) error {
	if !s.Allowed(p, m) {
		return &apierr.Error{Kind: apierr.KindPermissionDenied, Param: "model", Message: fmt.Sprintf("you are not allowed to use the model %q", m.FQN)}
	}
	return nil
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
	m := plan.Targets[0].Endpoint
	if err := s.Authorize(p, m); err != nil {
		return nil, err
	}
	if err := m.Check(t); err != nil {
		return nil, err
	}
	return m, nil
}
