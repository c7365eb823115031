// Package pipeline is the inference request path shared by every client dialect: admit the
// caller's key against the current snapshot, resolve and authorize the model, call the adapter
// under a deadline, and record usage exactly once, streams included.
//
// It makes no database or network call of its own; the adapter's upstream call is the only I/O.
package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
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
}

// Option configures a Pipeline.
type Option func(*Pipeline)

// WithUpstreamTimeout bounds each upstream call, streams included (default 10 minutes).
func WithUpstreamTimeout(d time.Duration) Option { return func(p *Pipeline) { p.timeout = d } }

// WithKeyUse reports key uses to k.
func WithKeyUse(k KeyUse) Option { return func(p *Pipeline) { p.keys = k } }

// New returns a pipeline serving from snaps and recording to rec.
func New(snaps *snapshot.Holder, rec Recorder, logger *slog.Logger, opts ...Option) *Pipeline {
	p := &Pipeline{snaps: snaps, rec: rec, logger: logger, timeout: 10 * time.Minute, now: time.Now, batches: seenSet{max: 100_000}}
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
	start     time.Time
}

// UpstreamTimeout is the limit on one upstream call (WithUpstreamTimeout).
func (p *Pipeline) UpstreamTimeout() time.Duration { return p.timeout }

// Admit authenticates secret against the current snapshot.
func (p *Pipeline) Admit(secret, requestID string) (*Caller, error) {
	snap := p.snaps.Load()
	if snap == nil {
		return nil, apierr.New(apierr.KindUpstreamUnavailable, "the gateway is starting; retry shortly")
	}
	now := p.now()
	pr, err := snap.Authenticate(secret, now)
	if err != nil {
		return nil, err
	}
	if p.keys != nil && pr.KeyID != "" {
		p.keys.Used(pr.KeyID, now)
	}
	return &Caller{Snapshot: snap, Principal: pr, RequestID: requestID, start: now}, nil
}

// Models lists the models the caller may use.
func (p *Pipeline) Models(c *Caller) []*snapshot.Endpoint { return c.Snapshot.Models(c.Principal) }

func (p *Pipeline) event(c *Caller, model, op string, stream bool) usage.Event {
	return usage.Event{
		RequestID: c.RequestID, Time: c.start, KeyID: c.Principal.KeyID,
		User: c.Principal.User, VirtualAccount: c.Principal.VirtualAccount, Teams: c.Principal.Teams,
		Model: model, Operation: op, Stream: stream,
	}
}

func (p *Pipeline) finish(ctx context.Context, c *Caller, m *snapshot.Endpoint, e *usage.Event, err error) {
	e.Latency = p.now().Sub(c.start)
	if price, ok := m.PriceAt(e.Time); ok {
		e.CostUSD, e.Priced = price.Cost(e.Usage), true
	}
	if err == nil {
		e.Status, e.HTTPStatus = "ok", 200
	} else {
		ae := apierr.From(err)
		e.HTTPStatus = ae.Kind.HTTPStatus()
		e.Status = statusName(ae)
		if ae.Kind == apierr.KindInternal || ae.Kind == apierr.KindUpstreamBadResponse || ae.Kind == apierr.KindUpstreamUnavailable || ae.Kind == apierr.KindUpstreamTimeout {
			p.logger.LogAttrs(ctx, slog.LevelWarn, "request failed", slog.String("request_id", c.RequestID), slog.String("model", e.Model), slog.String("error", ae.Error()))
		}
	}
	p.rec.Record(context.WithoutCancel(ctx), e)
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
	e := p.event(c, call.Request.Model, snapshot.TypeChat, false)
	m, err := c.Snapshot.Resolve(c.Principal, call.Request.Model, snapshot.TypeChat)
	if err != nil {
		return nil, err // not an inference: no usage to record, the error is the client's
	}
	return roundTrip(ctx, p, c, m, &e, func(ctx context.Context) (*provider.ChatResult, chat.Usage, error) {
		res, err := m.Adapter.Chat(ctx, call)
		if err != nil {
			return nil, chat.Usage{}, err
		}
		out := *res
		if out.JSON, e.UpstreamModel, err = newAnswerModel(call.Request.Model).stamp(res.JSON); err != nil {
			return nil, chat.Usage{}, err
		}
		return &out, res.Usage, nil
	}, true)
}

// roundTrip runs one non-streamed call to m's adapter within the upstream timeout and records
// its usage event e once: the usage the answer reported, or usage missing when the call failed
// (or, with zeroMissing, when the answer reported none, so it is never costed as free).
func roundTrip[R any](ctx context.Context, p *Pipeline, c *Caller, m *snapshot.Endpoint, e *usage.Event, do func(context.Context) (R, chat.Usage, error), zeroMissing bool) (R, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	res, u, err := do(ctx)
	if err == nil {
		e.Usage = u
		e.UsageMissing = zeroMissing && noUsage(u)
	} else {
		e.UsageMissing = true
	}
	p.finish(ctx, c, m, e, err)
	return res, err
}

// noUsage reports whether an answer reported no usage.
func noUsage(u chat.Usage) bool { return u.TotalTokens == 0 && u.PromptTokens == 0 }

// ChatStream starts a streamed chat request. The returned stream records usage once, when it
// ends, breaks or is closed early; the caller must Close it.
func (p *Pipeline) ChatStream(ctx context.Context, c *Caller, call *provider.ChatCall) (provider.ChatStream, error) {
	e := p.event(c, call.Request.Model, snapshot.TypeChat, true)
	m, err := c.Snapshot.Resolve(c.Principal, call.Request.Model, snapshot.TypeChat)
	if err != nil {
		return nil, err
	}
	st, mt, err := openStream(p, ctx, c, m, e, func(sctx context.Context) (provider.ChatStream, error) {
		return m.Adapter.ChatStream(sctx, call)
	})
	if err != nil {
		return nil, err
	}
	return &recordingStream{ChatStream: st, meter: mt, model: newAnswerModel(call.Request.Model)}, nil
}

// openStream starts an upstream stream (or a forwarded answer's body) under the pipeline's
// deadline and returns it with the meter that will record its usage event. A stream that fails
// to start is recorded here, as a failure without usage.
func openStream[S any](p *Pipeline, ctx context.Context, c *Caller, m *snapshot.Endpoint, e usage.Event, start func(context.Context) (S, error)) (S, meter, error) {
	sctx, cancel := context.WithTimeout(ctx, p.timeout)
	st, err := start(sctx)
	if err != nil {
		e.UsageMissing = true
		p.finish(ctx, c, m, &e, err)
		cancel()
		return st, meter{}, err
	}
	return st, meter{p: p, ctx: ctx, c: c, m: m, e: e, cancel: cancel}, nil
}

// meter records a streamed request's usage event exactly once: when the stream ends, breaks
// or is closed early. Every stream dialect wraps its upstream stream with one.
type meter struct {
	p        *Pipeline
	ctx      context.Context
	c        *Caller
	m        *snapshot.Endpoint
	e        usage.Event
	cancel   context.CancelFunc
	gotUsage bool
	first    bool
	done     bool
	closed   bool
}

// received notes a successfully received event and the usage it reports, if any.
func (r *meter) received(u *chat.Usage) {
	if !r.first {
		r.first = true
		r.e.TimeToFirstToken = r.p.now().Sub(r.c.start)
	}
	if u != nil {
		r.e.Usage, r.gotUsage = *u, true
	}
}

// failed notes the error that ended the stream: io.EOF is a clean end.
func (r *meter) failed(err error) {
	if errors.Is(err, io.EOF) {
		r.end(nil)
	} else {
		r.end(err)
	}
}

func (r *meter) end(err error) {
	if r.done {
		return
	}
	r.done = true
	r.e.UsageMissing = !r.gotUsage
	r.p.finish(r.ctx, r.c, r.m, &r.e, err)
}

// close records a stream abandoned before its end as canceled, then releases the upstream
// stream with release, once.
func (r *meter) close(release func() error) error {
	r.end(context.Canceled)
	if r.closed {
		return nil
	}
	r.closed = true
	err := release()
	r.cancel()
	return err
}

// recordingStream is a chat stream that records its usage event through a meter and names
// the client's model in every chunk.
type recordingStream struct {
	provider.ChatStream
	meter
	model answerModel
}

func (s *recordingStream) Recv() (provider.Chunk, error) {
	ch, err := s.ChatStream.Recv()
	if err == nil {
		var upstream string
		if ch.JSON, upstream, err = s.model.stamp(ch.JSON); err == nil && s.e.UpstreamModel == "" {
			s.e.UpstreamModel = upstream
		}
	}
	if err != nil {
		s.failed(err)
		return provider.Chunk{}, err
	}
	s.received(ch.Usage)
	return ch, nil
}

// Close records a stream abandoned before its end as canceled, then releases it.
func (s *recordingStream) Close() error { return s.close(s.ChatStream.Close) }

// Embed runs an embeddings request.
func (p *Pipeline) Embed(ctx context.Context, c *Caller, call *provider.EmbedCall) (*provider.EmbedResult, error) {
	e := p.event(c, call.Request.Model, snapshot.TypeEmbedding, false)
	m, err := c.Snapshot.Resolve(c.Principal, call.Request.Model, snapshot.TypeEmbedding)
	if err != nil {
		return nil, err
	}
	emb, ok := m.Adapter.(provider.Embedder)
	if !ok {
		return nil, apierr.Invalid("model", "the model %q does not support embeddings", call.Request.Model)
	}
	return roundTrip(ctx, p, c, m, &e, func(ctx context.Context) (*provider.EmbedResult, chat.Usage, error) {
		res, err := emb.Embed(ctx, call)
		if err != nil {
			return nil, chat.Usage{}, err
		}
		out := *res
		if out.JSON, e.UpstreamModel, err = newAnswerModel(call.Request.Model).stamp(res.JSON); err != nil {
			return nil, chat.Usage{}, err
		}
		return &out, res.Usage, nil
	}, false)
}

// MessagesNative resolves and authorizes model for the caller, as Messages would, and reports
// whether its adapter speaks Anthropic's Messages API natively (provider.MessagesAdapter). The
// Anthropic surface asks it first: a native model gets the client's request as it is, any other
// model gets it translated and sent through Chat or ChatStream.
func (p *Pipeline) MessagesNative(c *Caller, model string) (bool, error) {
	m, err := c.Snapshot.Resolve(c.Principal, model, snapshot.TypeChat)
	if err != nil {
		return false, err
	}
	_, ok := m.Adapter.(provider.MessagesAdapter)
	return ok, nil
}

// resolveMessages resolves call's model to a native Messages adapter.
func (p *Pipeline) resolveMessages(c *Caller, call *provider.MessagesCall) (*snapshot.Endpoint, provider.MessagesAdapter, error) {
	m, err := c.Snapshot.Resolve(c.Principal, call.Model, snapshot.TypeChat)
	if err != nil {
		return nil, nil, err
	}
	ma, ok := m.Adapter.(provider.MessagesAdapter)
	if !ok {
		return nil, nil, apierr.Invalid("model", "the model %q does not speak the Anthropic Messages API", call.Model)
	}
	return m, ma, nil
}

// Messages runs a non-streamed request in Anthropic's Messages dialect against a native model
// and records its usage once, as Chat does.
func (p *Pipeline) Messages(ctx context.Context, c *Caller, call *provider.MessagesCall) (*provider.MessagesResult, error) {
	e := p.event(c, call.Model, snapshot.TypeChat, false)
	m, ma, err := p.resolveMessages(c, call)
	if err != nil {
		return nil, err
	}
	return roundTrip(ctx, p, c, m, &e, func(ctx context.Context) (*provider.MessagesResult, chat.Usage, error) {
		res, err := ma.Messages(ctx, call)
		if err != nil {
			return nil, chat.Usage{}, err
		}
		out := *res
		if out.JSON, e.UpstreamModel, err = newAnswerModel(call.Model).stamp(res.JSON); err != nil {
			return nil, chat.Usage{}, err
		}
		return &out, res.Usage, nil
	}, true)
}

// MessagesStream starts a streamed request in Anthropic's Messages dialect against a native
// model. The returned stream records usage once, when it ends, breaks or is closed early; the
// caller must Close it.
func (p *Pipeline) MessagesStream(ctx context.Context, c *Caller, call *provider.MessagesCall) (provider.MessagesStream, error) {
	e := p.event(c, call.Model, snapshot.TypeChat, true)
	m, ma, err := p.resolveMessages(c, call)
	if err != nil {
		return nil, err
	}
	st, mt, err := openStream(p, ctx, c, m, e, func(sctx context.Context) (provider.MessagesStream, error) {
		return ma.MessagesStream(sctx, call)
	})
	if err != nil {
		return nil, err
	}
	return &recordingMessagesStream{MessagesStream: st, meter: mt, model: newAnswerModel(call.Model)}, nil
}

// recordingMessagesStream is a Messages stream that records its usage event through a meter
// and names the client's model in its message_start event.
type recordingMessagesStream struct {
	provider.MessagesStream
	meter
	model answerModel
}

func (s *recordingMessagesStream) Recv() (provider.MessagesEvent, error) {
	ev, err := s.MessagesStream.Recv()
	if err == nil && ev.Name == "message_start" {
		ev.Data, s.e.UpstreamModel, err = s.model.stampMessageStart(ev.Data)
	}
	if err != nil {
		s.failed(err)
		return provider.MessagesEvent{}, err
	}
	s.received(ev.Usage)
	return ev, nil
}

// Close records a stream abandoned before its end as canceled, then releases it.
func (s *recordingMessagesStream) Close() error { return s.close(s.MessagesStream.Close) }

// CountTokens asks a native model's provider to count the request's input tokens. Counting is
// not inference and is free at the provider, so it records no usage event.
func (p *Pipeline) CountTokens(ctx context.Context, c *Caller, call *provider.MessagesCall) (*provider.CountTokensResult, error) {
	_, ma, err := p.resolveMessages(c, call)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	return ma.CountTokens(ctx, call)
}
