// Package pipeline is the inference request path shared by every client dialect: admit the
// caller's key against the current snapshot, route the request to a plan of targets, attempt
// them with guards (authorization first) around each attempt, call the adapter under a
// deadline, and record usage exactly once, streams included, settling every guard's ticket with
// it (see attempt.go).
//
// It makes no database or network call of its own; the adapter's upstream call is the only I/O.
package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/breaker"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/latency"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/sticky"
	"github.com/llmgw/llmgw/gateway/tokens"
	"github.com/llmgw/llmgw/gateway/usage"
)

// Recorder receives one usage event per request. It must not block: implementations queue.
type Recorder interface {
	Record(ctx context.Context, e *usage.Event)
}

// KeyUse is told which key was used when.
type KeyUse interface {
	Used(keyID string, at time.Time)
}

// Pipeline runs inference requests. It is safe for concurrent use.
type Pipeline struct {
	snaps   *snapshot.Holder
	rec     Recorder
	keys    KeyUse
	logger  *slog.Logger
	timeout time.Duration
	now     func() time.Time
	batches seenSet // batches whose usage was recorded
	tokens  *tokens.Counter
	drains  drains
	guards  []Guard                                                          // authz, fit, then WithGuards'
	retry   func(*Attempt, error) (next int, wait time.Duration, again bool) // the retry policy (route)
	draw    snapshot.Draw                                                    // draws weighted targets (rand.IntN)
	sleep   func(context.Context, time.Duration) error                       // waits before a retry (sleep)
	breaker *breaker.Breaker                                                 // skips failing targets (WithBreaker)
	stats   *latency.Stats                                                   // targets' live speed (WithLatency)
	pins    *sticky.Sessions                                                 // sticky sessions' targets (WithSessions)
	tracer  trace.Tracer                                                     // a client span per attempt (WithTracer); nil: none
}

// Option configures a Pipeline.
type Option func(*Pipeline)

// WithUpstreamTimeout bounds each upstream call, streams included (default 10 minutes).
func WithUpstreamTimeout(d time.Duration) Option { return func(p *Pipeline) { p.timeout = d } }

// WithKeyUse reports key uses to k.
func WithKeyUse(k KeyUse) Option { return func(p *Pipeline) { p.keys = k } }

// New returns a pipeline serving from snaps and recording to rec.
func New(snaps *snapshot.Holder, rec Recorder, logger *slog.Logger, opts ...Option) *Pipeline {
	p := &Pipeline{snaps: snaps, rec: rec, logger: logger, timeout: 10 * time.Minute, now: time.Now, batches: seenSet{max: 100_000},
		tokens: tokens.NewCounter(), drains: drains{cut: make(chan struct{})}, guards: []Guard{authz{}, fit{}}, retry: route, draw: rand.IntN, sleep: sleep}
	p.breaker = breaker.New(func() time.Time { return p.now() }, logger)
	p.stats = latency.New(func() time.Time { return p.now() })
	p.pins = sticky.New(func() time.Time { return p.now() }, sticky.DefaultMax)
	for _, o := range opts {
		o(p)
	}
	return p
}

// Caller is an admitted request: the snapshot it was admitted under and who made it.
type Caller struct {
	Snapshot  *snapshot.Snapshot
	Principal *snapshot.Principal
	// RequestID is set by the edge and carried into the usage event.
	RequestID string
	// Edge is the edge's record of the request (see AdmitEdge), or nil; the pipeline marks it
	// when it takes over recording the request's usage event.
	Edge *edge.Request
	// Header is where guards add response headers (x-ratelimit-*): a surface sets it to its
	// response's headers before calling the pipeline; nil gets a header map nobody writes.
	Header http.Header
	// Metadata is the request's metadata (edge.MetadataHeader), nil when it sent none.
	Metadata map[string]string
	start    time.Time
	timeout  time.Duration // the request's own deadline, from its arrival (edge.Request.Timeout); 0 for none
	ttft     time.Duration // each streamed attempt's time-to-first-token timeout (edge.Request.TTFTTimeout); 0 for none
	// logBodies: the request asked for its bodies to be logged (edge.Request.LogBodies).
	logBodies bool
	bodies    *bodyLog // the request's bodies while body logging is on for it; nil when off
}

// UpstreamTimeout is the limit on one upstream call (WithUpstreamTimeout).
func (p *Pipeline) UpstreamTimeout() time.Duration { return p.timeout }

// Admit authenticates secret against the current snapshot, as an inference caller: a key
// without the inference scope is refused.
func (p *Pipeline) Admit(secret, requestID string) (*Caller, error) {
	snap := p.snaps.Load()
	if snap == nil {
		return nil, apierr.New(apierr.KindUnavailable, "the gateway is starting; retry shortly")
	}
	now := p.now()
	pr, err := snap.Authenticate(secret, now)
	if err != nil {
		return nil, err
	}
	if !pr.CanInference() {
		return nil, apierr.New(apierr.KindPermissionDenied, "this API key is scoped to the Admin API; inference needs a key with the inference scope")
	}
	if p.keys != nil && pr.KeyID != "" {
		p.keys.Used(pr.KeyID, now)
	}
	return &Caller{Snapshot: snap, Principal: pr, RequestID: requestID, start: now}, nil
}

// Models lists the models the caller may use.
func (p *Pipeline) Models(c *Caller) []*snapshot.Endpoint { return c.Snapshot.Models(c.Principal) }

// event returns the usage event of a request to model, and tells the edge the model asked for.
func (p *Pipeline) event(c *Caller, model, op string, stream bool) usage.Event {
	if c.Edge != nil {
		c.Edge.Asked(model)
	}
	return p.newEvent(c, model, op, stream)
}

// newEvent returns the usage event of a request to model.
func (p *Pipeline) newEvent(c *Caller, model, op string, stream bool) usage.Event {
	e := usage.Event{
		RequestID: c.RequestID, Time: c.start, KeyID: c.Principal.KeyID, Principal: c.Principal.Name(),
		User: c.Principal.User, VirtualAccount: c.Principal.VirtualAccount, Teams: c.Principal.Teams,
		Model: model, Operation: op, Stream: stream, Metadata: c.Metadata,
	}
	if c.Edge != nil {
		e.ClientRequestID, e.Surface = c.Edge.ClientID, c.Edge.Surface
	}
	return e
}

// owns notes that the pipeline records the request's usage event, so the edge records none.
func (c *Caller) owns() {
	if c.Edge != nil {
		c.Edge.MarkRecorded()
	}
}

// finish completes attempt a's usage event e, which ended with err, settles a's tickets with it
// and records it: the request's one event. An attempt that failed and is retried on the plan's
// next target settles its tickets but records nothing.
func (p *Pipeline) finish(ctx context.Context, a *Attempt, e *usage.Event, err error) {
	c := a.Caller
	if err != nil && !a.answered && ctx.Err() != nil && a.client != nil && a.client.Err() == nil && apierr.From(err).Kind == apierr.KindCanceled {
		// A deadline (the request's own, or the upstream timeout) cut the call short while
		// the client was still there: the adapter saw only its context canceled, but the
		// target timed out, and the breaker counts it (see note).
		err = apierr.Wrap(apierr.KindUpstreamTimeout, err, "the model did not answer in time")
	}
	now := p.now()
	e.Latency = now.Sub(c.start)
	// The upstream time: the earlier attempts' calls, and this one's from its call to now (a
	// stream's end).
	e.Upstream = a.before
	if !a.called.IsZero() {
		e.Upstream += now.Sub(a.called)
	}
	if price, ok := a.Target.Endpoint.PriceAt(e.Time); ok {
		e.CostUSD, e.Priced = price.Cost(e.Usage), true
	}
	if err == nil {
		setStatus(e, nil)
	} else {
		ae := apierr.From(err)
		setStatus(e, ae)
		if ae.Kind == apierr.KindInternal || ae.Kind == apierr.KindUpstreamBadResponse || ae.Kind == apierr.KindUpstreamUnavailable || ae.Kind == apierr.KindUpstreamTimeout {
			p.logFailure(ctx, c, e.Model, ae)
		}
	}
	a.note(e, err)
	if _, _, again := a.next(err); again {
		a.settle(e)
		return
	}
	e.Target, e.Attempts = a.Target.Endpoint.FQN, a.req.tried
	if c.bodies != nil {
		e.Bodies = c.bodies.result(c.Snapshot.Redactor())
	}
	c.owns()
	a.settle(e)
	p.rec.Record(context.WithoutCancel(ctx), e)
}

// setStatus sets e's status for an attempt that ended with ae (nil: ok).
func setStatus(e *usage.Event, ae *apierr.Error) {
	if ae == nil {
		e.Status, e.HTTPStatus = "ok", 200
		return
	}
	e.HTTPStatus = ae.Kind.HTTPStatus()
	e.Status = statusName(ae)
}

// logFailure logs a failed request once. An upstream's answer is logged as its status, the
// provider's error type and code, and an excerpt of its message (provider.UpstreamError), with
// key-shaped text and the secrets of the caller's snapshot masked: the snapshot the request
// used holds the key the upstream may quote, even when a newer one has rotated it out.
func (p *Pipeline) logFailure(ctx context.Context, c *Caller, model string, ae *apierr.Error) {
	r := c.Snapshot.Redactor()
	attrs := []slog.Attr{slog.String("request_id", c.RequestID), slog.String("model", model), slog.String("error", r.Redact(ae.Error()))}
	var ue *provider.UpstreamError
	if errors.As(ae, &ue) {
		if ue.Status != 0 {
			attrs = append(attrs, slog.Int("upstream_status", ue.Status))
		}
		if ue.Type != "" {
			attrs = append(attrs, slog.String("upstream_type", r.Redact(ue.Type)))
		}
		if ue.Code != "" {
			attrs = append(attrs, slog.String("upstream_code", r.Redact(ue.Code)))
		}
	}
	p.logger.LogAttrs(ctx, slog.LevelWarn, "request failed", attrs...)
}

func statusName(e *apierr.Error) string {
	if e.Kind == apierr.KindCanceled {
		return "canceled"
	}
	b := e.OpenAI()
	if b.Error.Code != nil {
		return *b.Error.Code
	}
	return b.Error.Type
}

// Chat runs a non-streamed chat request.
func (p *Pipeline) Chat(ctx context.Context, c *Caller, call *provider.ChatCall) (*provider.ChatResult, error) {
	return p.ChatTranslated(ctx, c, call, nil)
}

// ChatTranslated runs a non-streamed chat request as Chat does, for a surface that answers in
// another dialect: translate (nil: none) turns the chat answer (its chat.completion JSON and
// usage) into the answer, and the result's JSON is what it returned. An answer translate refuses is the upstream's bad
// answer: it is recorded as failed with the error translate returned (pass
// provider.BadResponse), and with the usage the answer reported, not as ok.
func (p *Pipeline) ChatTranslated(ctx context.Context, c *Caller, call *provider.ChatCall, translate func(*provider.ChatResult) ([]byte, error)) (*provider.ChatResult, error) {
	e := p.event(c, call.Request.Model, snapshot.TypeChat, false)
	c.startBodies(call.Request.Model, call.Body, call.Request)
	return run(ctx, p, c, call.Request.Model, &request{op: snapshot.TypeChat, typ: snapshot.TypeChat, size: chatSize(call)}, e, func(ctx context.Context, a *Attempt, e *usage.Event) (*provider.ChatResult, error) {
		return p.chat(ctx, a, e, call, translate)
	})
}

// chat calls a's target with a non-streamed chat request.
func (p *Pipeline) chat(ctx context.Context, a *Attempt, e *usage.Event, call *provider.ChatCall, translate func(*provider.ChatResult) ([]byte, error)) (*provider.ChatResult, error) {
	m := a.Target.Endpoint
	call, err := overrideChat(call, a.Target)
	if err != nil {
		p.settleUnrecorded(a, e, err)
		return nil, err
	}
	a.traceChat(call.Request)
	return roundTrip(ctx, p, a, e, func(ctx context.Context) (*provider.ChatResult, chat.Usage, error) {
		res, err := m.Adapter.Chat(ctx, call)
		if err != nil {
			return nil, chat.Usage{}, err
		}
		// The result is ours (provider.Adapter): stamp it in place.
		if res.JSON, e.UpstreamModel, err = newAnswerModel(call.Request.Model).stamp(res.JSON); err != nil {
			return nil, res.Usage, err
		}
		if translate != nil {
			out, err := translate(res)
			if err != nil {
				return nil, res.Usage, err
			}
			res = &provider.ChatResult{JSON: out, Usage: res.Usage}
		}
		return res, res.Usage, nil
	}, func(res *provider.ChatResult) chat.Usage {
		return p.estimate(m, chatPrompt(call.Request), res.JSON)
	})
}

// roundTrip runs one non-streamed call to a's target within the upstream timeout and records
// its usage event e once: the usage the answer reported; or, when the answer reported none,
// estimate's count (usage estimated), or usage missing when estimate is nil (so it is never
// costed as free). A call that failed is recorded with the usage do returned with its error
// (an answer that came but could not be translated), else as usage missing: a call that
// failed upstream is not billed.
func roundTrip[R any](ctx context.Context, p *Pipeline, a *Attempt, e *usage.Event, do func(context.Context) (R, chat.Usage, error), estimate func(R) chat.Usage) (R, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	res, u, err := do(ctx)
	if err == nil && a.Caller.bodies != nil {
		a.Caller.bodies.answer(answerJSON(res))
	}
	switch {
	case err != nil:
		e.Usage, e.UsageMissing = u, noUsage(u)
	case !noUsage(u):
		e.Usage = u
	case estimate != nil:
		setEstimate(e, estimate(res))
	default:
		e.UsageMissing = true
	}
	p.finish(ctx, a, e, err)
	return res, err
}

// noUsage reports whether an answer reported no usage.
func noUsage(u chat.Usage) bool { return u.TotalTokens == 0 && u.PromptTokens == 0 }

// ChatStream starts a streamed chat request. The returned stream records usage once, when it
// ends, breaks or is closed early (see meter: a stream closed early is read on to its end in
// the background); the caller must Close it.
func (p *Pipeline) ChatStream(ctx context.Context, c *Caller, call *provider.ChatCall) (provider.ChatStream, error) {
	e := p.event(c, call.Request.Model, snapshot.TypeChat, true)
	c.startBodies(call.Request.Model, call.Body, call.Request)
	return run(ctx, p, c, call.Request.Model, &request{op: snapshot.TypeChat, stream: true, typ: snapshot.TypeChat, size: chatSize(call)}, e, func(ctx context.Context, a *Attempt, e *usage.Event) (provider.ChatStream, error) {
		return p.chatStream(ctx, a, *e, call)
	})
}

// chatStream starts a streamed chat request at a's target.
func (p *Pipeline) chatStream(ctx context.Context, a *Attempt, e usage.Event, call *provider.ChatCall) (provider.ChatStream, error) {
	call, err := overrideChat(call, a.Target)
	if err != nil {
		p.settleUnrecorded(a, &e, err)
		return nil, err
	}
	a.traceChat(call.Request)
	st, mt, err := openStream(p, ctx, a, e, func(sctx context.Context) (provider.ChatStream, error) {
		return a.Target.Endpoint.Adapter.ChatStream(sctx, call)
	}, peekChat)
	if err != nil {
		return nil, err
	}
	mt.prompt = chatPrompt(call.Request)
	return &recordingStream{ChatStream: st, meter: mt, model: newAnswerModel(call.Request.Model)}, nil
}

// Embed runs an embeddings request. An answer that reports no usage is recorded with the
// inputs' tokens counted by the gateway (usage estimated).
func (p *Pipeline) Embed(ctx context.Context, c *Caller, call *provider.EmbedCall) (*provider.EmbedResult, error) {
	model := call.Request.Model
	e := p.event(c, model, snapshot.TypeEmbedding, false)
	c.startBodies(model, call.Body, call.Request)
	rq := &request{op: snapshot.TypeEmbedding, typ: snapshot.TypeEmbedding, need: func(m *snapshot.Endpoint) error {
		if _, ok := m.Adapter.(provider.Embedder); !ok {
			return apierr.Invalid("model", "the model %q does not support embeddings", model)
		}
		return nil
	}}
	for _, in := range call.Request.Input {
		rq.size.PromptBytes += int64(len(in))
	}
	return run(ctx, p, c, model, rq, e, func(ctx context.Context, a *Attempt, e *usage.Event) (*provider.EmbedResult, error) {
		m := a.Target.Endpoint
		return roundTrip(ctx, p, a, e, func(ctx context.Context) (*provider.EmbedResult, chat.Usage, error) {
			res, err := m.Adapter.(provider.Embedder).Embed(ctx, call)
			if err != nil {
				return nil, chat.Usage{}, err
			}
			out := *res
			if out.JSON, e.UpstreamModel, err = newAnswerModel(model).stamp(res.JSON); err != nil {
				return nil, res.Usage, err
			}
			return &out, res.Usage, nil
		}, func(*provider.EmbedResult) chat.Usage {
			return p.estimate(m, embedPrompt(call.Request.Input), nil)
		})
	})
}
