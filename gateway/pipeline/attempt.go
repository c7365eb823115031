package pipeline

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/breaker"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/sticky"
	"github.com/llmgw/llmgw/gateway/usage"
)

// Every request on every surface takes the same path through the pipeline:
//
//	admit key -> route (a plan of one or more targets) -> guards -> attempt(s) -> settle
//
// Admit authenticates the key (Admit, AdmitEdge). Route asks the caller's snapshot for the
// request's plan (snapshot.Route): an unknown model is a 404 and nothing more happens. Then each
// target of the plan is attempted in order: the guards admit the attempt (authorization first,
// then the target's fitness for the request, then the guards given WithGuards), the upstream
// is called, and every admitted ticket is settled with the attempt's usage event. The loop stops
// at the first success or at an error that is not retried: a routed plan's targets say when
// they are retried and when the next one is attempted (see route).

// Guard admits or refuses an attempt before its upstream call: authorization, and later rate
// limits and budgets. A refusal is an error for the client (an *apierr.Error: a 429 of kind
// apierr.KindRateLimited or KindBudgetExhausted, with RetryAfter); the upstream is then not
// called. An admitted attempt may hold a Ticket, settled once the attempt's usage is known.
// Implementations must be safe for concurrent use.
type Guard interface {
	// Admit admits a, returning the ticket to settle (nil when there is nothing to settle), or
	// refuses it with an error (any ticket returned with an error is ignored). It may add
	// response headers to a.Header (x-ratelimit-*), and must not keep a.
	Admit(ctx context.Context, a *Attempt) (Ticket, error)
}

// Ticket is what a guard reserved for an admitted attempt. The pipeline calls Settle exactly once
// with the attempt's final usage event: the event it records (for a stream, when the stream
// ends, maybe in the background after the client left: see Drain), or, for an attempt that
// failed before it reached the upstream (a later guard refused it, the target cannot serve it),
// an event with that failure's status and no usage, which is not recorded. Settle must not
// block, modify e or keep it, and may be called on any goroutine.
type Ticket interface {
	Settle(e *usage.Event)
}

// WithGuards adds guards run on every attempt, in order, after the pipeline's own
// (authorization and the target's fitness for the request).
func WithGuards(g ...Guard) Option {
	return func(p *Pipeline) { p.guards = append(p.guards, g...) }
}

// Attempt is one call of a request to one target of its plan. Guards read it; the pipeline owns
// it.
type Attempt struct {
	// Caller is who made the request.
	Caller *Caller
	// Plan is the request's plan; Target is the one attempted, its Index-th.
	Plan   *snapshot.Plan
	Target snapshot.Target
	Index  int
	// Try counts the attempts of Target in this request, from 1 (retries).
	Try int
	// Operation is what the request does: a model type for chat (snapshot.TypeChat), embeddings
	// and rerank; the endpoint for forwarded requests (provider.EndpointX); "batch" for a batch's
	// creation, "file" for an upload, "count_tokens".
	Operation string
	Stream    bool
	// Header holds the response headers guards add (x-ratelimit-*): the surface's response
	// headers when it set Caller.Header, so they are written with the answer or the refusal.
	// Guards write it only in Admit.
	Header http.Header
	// Size is what the request may consume, for guards that reserve before the call.
	Size Size
	// Counted names the rules the attempt is counted against ("rate_limit:<rule>",
	// "budget:<rule>"); guards append to it in Admit, and the request's usage event carries it.
	Counted []string
	// WouldBlock names the audit-mode rules that would have refused the attempt, as Counted
	// names them; the request's usage event carries it.
	WouldBlock []string

	p        *Pipeline
	req      *request
	tickets  []Ticket
	start    time.Time
	tr       *attemptSpan    // the attempt's client span; nil when the pipeline does not trace
	client   context.Context // the client's request, without the request's own deadline
	answered bool            // the upstream answered: the attempt is final, whatever its end
	broke    bool            // the upstream's answer broke after it began (a stream's read failed)
	refused  bool            // the guards refused the attempt: the upstream was not called
	called   time.Time       // when the guards admitted it and its upstream call began
	before   time.Duration   // the request's upstream time before this attempt (request.upstream)
}

// Size is what a request may consume, known before the call: its prompt's size in bytes (the
// guards estimate tokens from it) and the most output tokens it asked for (0: it set no
// bound).
type Size struct {
	PromptBytes int64
	MaxOutput   int64
}

// request is what a request's attempts share: what it needs of a target.
type request struct {
	op     string
	stream bool
	size   Size
	typ    string                           // the model type the request needs; "" for any
	need   func(m *snapshot.Endpoint) error // the capability it needs of a target's adapter; nil for none
	// tried lists the attempts so far (usage.Event.Attempts); the final attempt's event carries
	// it. Only the attempt loop and then the final attempt's recording append to it, in turn.
	tried []usage.Attempt
	one   [1]usage.Attempt // tried's first backing array: a request tried once allocates no list
	// upstream is the time the attempts spent calling upstreams (for a stream, until it opened).
	upstream time.Duration
	// session is the request's sticky session, when inSession says it has one (see stick).
	session   sticky.Session
	inSession bool
}

// run routes the request for model and attempts the plan's targets in order with the guards
// around each attempt, until one succeeds or fails with an error not retried. try calls a target
// and records base's copy e (see finish); an attempt the guards refuse is settled here, and its
// refusal is the client's error (the request's record is then the edge's, as for a 404).
func run[R any](ctx context.Context, p *Pipeline, c *Caller, model string, rq *request, base usage.Event, try func(context.Context, *Attempt, *usage.Event) (R, error)) (R, error) {
	plan, err := c.Snapshot.RouteFor(c.Principal, c.Metadata, model, p.draw)
	if err != nil {
		var zero R
		return zero, err // not an inference: no usage to record, the error is the client's
	}
	if plan.Sticky != nil {
		plan = p.stick(c, plan, rq)
	}
	if plan.Live {
		plan = p.order(plan)
	}
	return attempts(ctx, p, c, plan, rq, base, try)
}

// WithSessions makes the pipeline keep the targets of sticky sessions in s (default: sessions
// of its own, at most sticky.DefaultMax, on the pipeline's clock).
func WithSessions(s *sticky.Sessions) Option { return func(p *Pipeline) { p.pins = s } }

// stick returns the plan a request of a sticky plan (a weighted virtual model with
// sticky_routing) takes: the plan that starts with the target its session is pinned to, if it
// is pinned to one that may still be drawn first, else plan, drawn by weight. rq keeps the
// session, so that the target that answers pins it (see attempts): a session whose target
// failed, or was skipped for its open circuit, is pinned again to the one that answered in its
// place. A request without a value for every session identifier (a header, or a key of its
// metadata) has no session: it is routed by weight alone and pins nothing. Sessions are per
// caller (user or virtual account).
func (p *Pipeline) stick(c *Caller, plan *snapshot.Plan, rq *request) *snapshot.Plan {
	// A session is the caller's own: the same values sent by another user or virtual account
	// are another session.
	var buf [6]string
	values := append(buf[:0], plan.Rule, c.Principal.User, c.Principal.VirtualAccount)
	for _, id := range plan.Sticky.Identifiers {
		var v string
		switch id.Source {
		case snapshot.SessionHeaders:
			if c.Edge != nil {
				v = c.Edge.Header(id.Key)
			}
		case snapshot.SessionMetadata:
			v = c.Metadata[id.Key]
		}
		if v == "" {
			return plan
		}
		values = append(values, v)
	}
	rq.session, rq.inSession = p.pins.Session(plan.Model, values), true
	if fqn, ok := p.pins.Target(rq.session); ok {
		if pinned := plan.Pinned(fqn); pinned != nil {
			return pinned
		}
	}
	return plan
}

// attempts attempts plan's targets in order, as run says: each target up to its Retry.Attempts
// times for its retry statuses, then the next target for its fallback statuses (see
// Pipeline.next). A routed answer (a virtual model's) carries the target that answered, or
// failed last, in x-llmgw-resolved-model and the number of attempts in x-llmgw-attempts.
func attempts[R any](ctx context.Context, p *Pipeline, c *Caller, plan *snapshot.Plan, rq *request, base usage.Event, try func(context.Context, *Attempt, *usage.Event) (R, error)) (R, error) {
	var zero R
	if c.Header == nil {
		c.Header = http.Header{}
	}
	rq.tried = rq.one[:0]
	client := ctx
	if c.timeout > 0 {
		// The request's deadline bounds its attempts and the waits between them, until its
		// answer begins: the meter of a stream that began reads the client's context.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, c.start.Add(c.timeout))
		if rq.stream {
			context.AfterFunc(client, cancel) // a stream that began outlives this call
		} else {
			defer cancel()
		}
	}
	i, n := 0, 1 // the target, and which try of it
	for count := 1; ; count++ {
		// A target whose circuit is open is skipped when the plan has another to attempt
		// after it; the last one is attempted whatever its circuit says, so that no request
		// fails only because of the breaker.
		for n == 1 && i+1 < len(plan.Targets) && !p.breaker.Allow(plan.Targets[i].Endpoint.FQN) {
			rq.tried = append(rq.tried, usage.Attempt{Target: plan.Targets[i].Endpoint.FQN, Status: "skipped", ErrorClass: usage.ClassCircuitOpen})
			i++
		}
		t := plan.Targets[i]
		a, e := newAttempt(Attempt{Caller: c, Plan: plan, Target: t, Index: i, Try: n, Operation: rq.op, Stream: rq.stream, Header: c.Header, Size: rq.size, p: p, req: rq, start: p.now(), client: client}, base)
		var res R
		var err error
		actx := ctx
		if p.tracer != nil {
			actx = p.startSpan(ctx, a)
		}
		if err = p.admit(actx, a); err != nil {
			a.refused = true
			p.settleUnrecorded(a, e, err)
			a.note(nil, err)
		} else {
			e.Counted, e.WouldBlock = a.Counted, a.WouldBlock
			a.called, a.before = p.now(), rq.upstream
			// The target's headers_override reaches the adapter's upstream requests through
			// the context: the transport every adapter sends through applies it.
			res, err = try(provider.WithHeaderOverride(actx, t.Headers), a, e)
			rq.upstream += p.now().Sub(a.called)
		}
		if a.tr != nil && !a.answered {
			// An answer that streams ends its span when it is recorded (note); any other
			// attempt has ended here, recorded or not.
			a.endSpan(nil, err, "")
		}
		if err != nil && ctx.Err() != nil && client.Err() == nil {
			// The request's own deadline passed: no other attempt, the edge records it.
			c.Header.Set(HeaderServerTiming, serverTiming(p.now().Sub(c.start), rq.upstream))
			return zero, apierr.New(apierr.KindUpstreamTimeout, "the request took longer than its %s header allows", edge.HeaderRequestTimeout)
		}
		next, wait, again := a.next(err)
		if !again {
			// A caller refused the virtual model learns nothing of its targets.
			timing := serverTiming(p.now().Sub(c.start), rq.upstream)
			if plan.Routed() && !(a.refused && apierr.From(err).Kind == apierr.KindPermissionDenied) {
				// The three share one array of values (the header names are canonical).
				vals := []string{timing, t.Endpoint.FQN, strconv.Itoa(count)}
				c.Header[HeaderServerTiming], c.Header[HeaderResolvedModel], c.Header[HeaderAttempts] = vals[0:1:1], vals[1:2:2], vals[2:3:3]
			} else {
				c.Header[HeaderServerTiming] = []string{timing}
			}
			if err != nil {
				return zero, err
			}
			if rq.inSession && plan.Pinned(t.Endpoint.FQN) != nil {
				p.pins.Pin(rq.session, t.Endpoint.FQN, plan.Sticky.TTL)
			}
			return res, nil
		}
		if next == i {
			n++
		} else {
			i, n = next, 1
		}
		if wait > 0 {
			if serr := p.sleep(ctx, wait); serr != nil {
				if client.Err() == nil {
					return zero, apierr.New(apierr.KindUpstreamTimeout, "the request took longer than its %s header allows", edge.HeaderRequestTimeout)
				}
				return zero, apierr.From(serr) // the client went away: the edge records the request
			}
		}
	}
}

// WithBreaker makes the pipeline skip the targets whose circuit b holds open, and report every
// attempt's end to it (default: a breaker of its own, on the pipeline's clock).
func WithBreaker(b *breaker.Breaker) Option { return func(p *Pipeline) { p.breaker = b } }

// Breaker is the circuit breaker of the pipeline's targets (WithBreaker): its States are
// what the Admin API lists.
func (p *Pipeline) Breaker() *breaker.Breaker { return p.breaker }

// Response headers of a routed answer.
const (
	// HeaderResolvedModel names the target that answered (or failed last).
	HeaderResolvedModel = "X-Llmgw-Resolved-Model"
	// HeaderAttempts is how many attempts the request took, retries and fallbacks included.
	HeaderAttempts = "X-Llmgw-Attempts"
	// HeaderServerTiming is on every answer that reached the attempts (see serverTiming).
	HeaderServerTiming = "Server-Timing"
)

// attemptEvent is an attempt and the usage event it fills.
type attemptEvent struct {
	a Attempt
	e usage.Event
}

// newAttempt returns a and the usage event it fills, base's copy: in one allocation, but for a
// stream, whose meter keeps the attempt for the stream's life and copies the event.
func newAttempt(a Attempt, base usage.Event) (*Attempt, *usage.Event) {
	if a.Stream {
		pa, pe := new(Attempt), new(usage.Event)
		*pa, *pe = a, base
		return pa, pe
	}
	ae := &attemptEvent{a: a, e: base}
	return &ae.a, &ae.e
}

// serverTiming is the Server-Timing header (W3C Server Timing) of a request answered after
// total, of which upstream was spent calling upstreams: "gateway;dur=<ms>, upstream;dur=<ms>",
// where gateway is the gateway's own time (total less upstream: routing, guards, retry waits)
// and upstream the time its attempts waited for upstreams, summed over retries and fallbacks;
// for a stream, until the upstream's answer began (its first byte), not to its end.
func serverTiming(total, upstream time.Duration) string {
	own := max(total-upstream, 0)
	b := make([]byte, 0, 48)
	b = append(b, "gateway;dur="...)
	b = strconv.AppendFloat(b, float64(own.Microseconds())/1000, 'f', -1, 64)
	b = append(b, ", upstream;dur="...)
	b = strconv.AppendFloat(b, float64(upstream.Microseconds())/1000, 'f', -1, 64)
	return string(b)
}

// note adds attempt a, which ended with err, to its request's attempts (usage.Event.Attempts),
// and reports its end to the circuit breaker: an answer (a success, another 4xx, an unusable
// whole answer) closes the target's circuit; a 5xx, a 429, a transport failure or a timeout
// (the request's own deadline passing during the attempt included: see finish) counts towards
// opening it, and so does a stream the target broke after its first byte, whatever the
// failure. A refused attempt or a client that went away counts for nothing. A
// success with output tokens reports the target's speed, from its usage event e, to the
// latency statistics (e is nil for an attempt that never reached its upstream).
func (a *Attempt) note(e *usage.Event, err error) {
	at := usage.Attempt{Target: a.Target.Endpoint.FQN, Latency: a.p.now().Sub(a.start), Status: "ok", HTTPStatus: http.StatusOK}
	if err != nil {
		ae := apierr.From(err)
		at.Status, at.HTTPStatus, at.ErrorClass = statusName(ae), ae.Kind.HTTPStatus(), errorClass(ae, a.refused)
		if ae.UpstreamStatus != 0 {
			at.HTTPStatus = ae.UpstreamStatus
		}
	}
	a.req.tried = append(a.req.tried, at)
	if a.tr != nil {
		a.endSpan(e, err, at.ErrorClass)
	}
	if a.refused {
		return
	}
	if err == nil && e != nil {
		var ttft time.Duration // the attempt's own, not the request's
		if e.TimeToFirstToken > 0 {
			ttft = max(e.TimeToFirstToken-a.start.Sub(a.Caller.start), 0)
		}
		a.p.stats.Observe(at.Target, at.Latency, ttft, e.Usage.CompletionTokens)
	}
	switch at.ErrorClass {
	case usage.ClassBadResponse:
		if a.broke { // a stream the target broke after its first byte, however it broke
			a.p.breaker.Failure(at.Target)
		} else { // a whole answer the gateway could not use, or a chunk a surface could not translate
			a.p.breaker.Success(at.Target)
		}
	case "", usage.ClassUpstream4xx: // the target answered
		a.p.breaker.Success(at.Target)
	case usage.ClassUpstream5xx, usage.ClassUpstream429, usage.ClassTimeout, usage.ClassTransport:
		a.p.breaker.Failure(at.Target)
	}
}

// errorClass is why an attempt failed with ae (usage.Attempt.ErrorClass); refused says the
// guards refused it.
func errorClass(ae *apierr.Error, refused bool) string {
	switch s := ae.UpstreamStatus; {
	case refused:
		return usage.ClassRefused
	case s == http.StatusTooManyRequests:
		return usage.ClassUpstream429
	case s >= 500:
		return usage.ClassUpstream5xx
	case s >= 400:
		return usage.ClassUpstream4xx
	case ae.Kind == apierr.KindUpstreamTimeout:
		return usage.ClassTimeout
	case ae.Kind == apierr.KindUpstreamUnavailable:
		return usage.ClassTransport
	case ae.Kind == apierr.KindUpstreamBadResponse:
		return usage.ClassBadResponse
	case ae.Kind == apierr.KindCanceled:
		return usage.ClassCanceled
	default:
		return usage.ClassGateway
	}
}

// maxRetryAfter caps how long a retry waits for an upstream's Retry-After.
const maxRetryAfter = 5 * time.Second

// sleep waits d or until ctx is done, returning ctx's error then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// admit runs the guards on a, keeping the tickets of those that admitted it.
func (p *Pipeline) admit(ctx context.Context, a *Attempt) error {
	for _, g := range p.guards {
		t, err := g.Admit(ctx, a)
		if err != nil {
			return err
		}
		if t != nil {
			a.tickets = append(a.tickets, t)
		}
	}
	return nil
}

// settle settles a's tickets with e, once.
func (a *Attempt) settle(e *usage.Event) {
	ts := a.tickets
	a.tickets = nil
	for _, t := range ts {
		t.Settle(e)
	}
}

// Canceler is a Ticket that can take back what it reserved: the pipeline calls Cancel instead
// of Settle for an attempt that failed before it reached the upstream (a later guard refused
// it, the target cannot serve it), so such an attempt counts against nothing.
type Canceler interface {
	Cancel()
}

// cancel cancels a's tickets (see Canceler), once; a ticket that cannot cancel is settled
// with e.
func (a *Attempt) cancel(e *usage.Event) {
	ts := a.tickets
	a.tickets = nil
	for _, t := range ts {
		if c, ok := t.(Canceler); ok {
			c.Cancel()
		} else {
			t.Settle(e)
		}
	}
}

// settleUnrecorded settles the tickets of an attempt whose event the pipeline does not record:
// one that failed with err before it reached the upstream, or one that is not inference
// (count_tokens, a batch's creation, whose usage RecordBatch records when it ends). e carries
// err's status (ok when nil) and the usage set on it (none before the upstream).
func (p *Pipeline) settleUnrecorded(a *Attempt, e *usage.Event, err error) {
	if len(a.tickets) == 0 {
		return
	}
	e.Latency = p.now().Sub(a.Caller.start)
	if err != nil {
		setStatus(e, apierr.From(err))
		a.cancel(e)
		return
	}
	setStatus(e, nil)
	a.settle(e)
}

// next says what follows attempt a, which ended with err: another try of target next (its
// own index for a retry) after wait, when again; never after success or once the upstream
// answered (a stream's first byte may have reached the client); else as the policy says.
func (a *Attempt) next(err error) (next int, wait time.Duration, again bool) {
	if err == nil || a.answered {
		return 0, 0, false
	}
	return a.p.retry(a, err)
}

// route is the retry policy of routed plans: a target is tried again, up to its
// Retry.Attempts tries, after its Retry.Delay (or the upstream's Retry-After, when longer, up
// to maxRetryAfter) for its Retry.OnStatus; then the plan's next target is attempted for the
// target's FallbackOn statuses. The status is the upstream's; a transport failure or timeout
// counts as 503. A stream that sent nothing within the request's time-to-first-token timeout
// is not retried: the next target is attempted, whatever the fallback statuses. An attempt
// the guards refused is not tried again on its target, and a refused authorization, a client
// that went away, or the gateway's own invalid-request answer end the request at once.
func route(a *Attempt, err error) (int, time.Duration, bool) {
	ae := apierr.From(err)
	status := ae.UpstreamStatus
	switch {
	case ae.Kind == apierr.KindCanceled || ae.Kind == apierr.KindPermissionDenied && status == 0:
		return 0, 0, false
	case status != 0:
	case ae.Kind == apierr.KindUpstreamUnavailable || ae.Kind == apierr.KindUpstreamTimeout:
		status = http.StatusServiceUnavailable
	case ae.Kind == apierr.KindUpstreamBadResponse:
		status = http.StatusBadGateway
	default:
		status = ae.Kind.HTTPStatus()
	}
	t := a.Target
	if errors.Is(err, errFirstToken) {
		// A target slow to its first token is not tried again: the next one is, if any
		// (TrueFoundry's x-tfy-ttft-timeout-ms falls back the same way).
		return a.Index + 1, 0, a.Index+1 < len(a.Plan.Targets)
	}
	if !a.refused && a.Try < t.Retry.Attempts && slices.Contains(t.Retry.OnStatus, status) {
		wait := t.Retry.Delay
		if ae.RetryAfter > wait {
			wait = min(ae.RetryAfter, maxRetryAfter)
		}
		return a.Index, wait, true
	}
	if a.Index+1 < len(a.Plan.Targets) && slices.Contains(t.FallbackOn, status) {
		return a.Index + 1, 0, true
	}
	return 0, 0, false
}

// authz is the first guard: the caller must be allowed to use the target, or the virtual
// model it is reached through (403).
type authz struct{}

func (authz) Admit(_ context.Context, a *Attempt) (Ticket, error) {
	return nil, a.Caller.Snapshot.AuthorizePlan(a.Caller.Principal, a.Plan, a.Target.Endpoint)
}

// fit is the second guard: the target must be able to serve the request (its type, its
// adapter, the capability the request needs).
type fit struct{}

func (fit) Admit(_ context.Context, a *Attempt) (Ticket, error) {
	m := a.Target.Endpoint
	if t := a.req.typ; a.Plan.Virtual && t != "" && !slices.Contains(a.Plan.Types, t) {
		return nil, apierr.Invalid("model", "the model %q is not a %s model", a.Plan.Model, t)
	}
	if err := m.Check(a.req.typ); err != nil {
		return nil, err
	}
	if a.req.need != nil {
		return nil, a.req.need(m)
	}
	return nil, nil
}

// chatSize is a chat request's Size: the body's length when the surface has it, else the
// length of its messages' text.
func chatSize(call *provider.ChatCall) Size {
	s := Size{PromptBytes: int64(len(call.Body))}
	if s.PromptBytes == 0 {
		for _, m := range call.Request.Messages {
			s.PromptBytes += int64(len(m.Content.String())) + 8
			for _, tc := range m.ToolCalls {
				s.PromptBytes += int64(len(tc.Function.Name) + len(tc.Function.Arguments))
			}
		}
	}
	switch r := call.Request; {
	case r.MaxCompletionTokens != nil:
		s.MaxOutput = *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		s.MaxOutput = *r.MaxTokens
	}
	return s
}
