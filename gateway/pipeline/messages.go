package pipeline

import (
	"context"
	"strconv"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/rawjson"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

// Translation is how a request in Anthropic's Messages dialect reaches a target whose adapter
// does not speak it (is no provider.MessagesAdapter): as a chat request, its answer translated
// back. Whether a target gets the request natively or translated is the pipeline's choice, per
// target, not the surface's.
type Translation struct {
	// Request returns the request as a chat request. It is called at most once, when the first
	// target that needs it is attempted; its error (a request chat cannot carry) is the client's.
	Request func() (*provider.ChatCall, error)
	// Answer turns a non-streamed chat answer into the Messages answer; its errors are the
	// upstream's bad answer (provider.BadResponse). A stream is translated by its reader.
	Answer func(*provider.ChatResult) ([]byte, error)

	call *provider.ChatCall
	err  error
	done bool
}

func (t *Translation) chat() (*provider.ChatCall, error) {
	if !t.done {
		t.call, t.err = t.Request()
		t.done = true
	}
	return t.call, t.err
}

// messagesRequest is what a Messages request needs of a target: a chat model that speaks
// Messages, or any chat model when it can be translated.
func messagesRequest(call *provider.MessagesCall, tr *Translation, stream bool) *request {
	model := call.Model
	rq := &request{op: snapshot.TypeChat, stream: stream, typ: snapshot.TypeChat, size: Size{PromptBytes: int64(len(call.Body))}}
	if n, ok, _ := rawjson.Get(call.Body, "max_tokens"); ok {
		rq.size.MaxOutput, _ = strconv.ParseInt(string(n), 10, 64)
	}
	if tr == nil {
		rq.need = func(m *snapshot.Endpoint) error {
			if _, ok := m.Adapter.(provider.MessagesAdapter); !ok {
				return apierr.Invalid("model", "the model %q does not speak the Anthropic Messages API", model)
			}
			return nil
		}
	}
	return rq
}

// Messages runs a non-streamed request in Anthropic's Messages dialect and records its usage
// once, as Chat does. A target whose adapter speaks Messages gets call as it is; any other gets
// tr's chat request and its answer translated (tr nil: such a target is refused with a 400).
func (p *Pipeline) Messages(ctx context.Context, c *Caller, call *provider.MessagesCall, tr *Translation) (*provider.MessagesResult, error) {
	e := p.event(c, call.Model, snapshot.TypeChat, false)
	c.startBodies(call.Model, call.Body, nil)
	return run(ctx, p, c, call.Model, messagesRequest(call, tr, false), e, func(ctx context.Context, a *Attempt, e *usage.Event) (*provider.MessagesResult, error) {
		m := a.Target.Endpoint
		ma, ok := m.Adapter.(provider.MessagesAdapter)
		if !ok {
			cc, err := tr.chat()
			if err != nil {
				p.settleUnrecorded(a, e, err)
				return nil, err
			}
			res, err := p.chat(ctx, a, e, cc, tr.Answer)
			if err != nil {
				return nil, err
			}
			return &provider.MessagesResult{JSON: res.JSON, Usage: res.Usage}, nil
		}
		call, err := overrideMessages(call, a.Target)
		if err != nil {
			p.settleUnrecorded(a, e, err)
			return nil, err
		}
		return roundTrip(ctx, p, a, e, func(ctx context.Context) (*provider.MessagesResult, chat.Usage, error) {
			res, err := ma.Messages(ctx, call)
			if err != nil {
				return nil, chat.Usage{}, err
			}
			out := *res
			if out.JSON, e.UpstreamModel, err = newAnswerModel(call.Model).stamp(res.JSON); err != nil {
				return nil, res.Usage, err
			}
			return &out, res.Usage, nil
		}, func(res *provider.MessagesResult) chat.Usage {
			return p.estimate(m, jsonPrompt(call.Body), res.JSON)
		})
	})
}

// Streamed is a started Messages stream: Native when the target speaks Messages, else Chat, the
// chat stream the reader translates (see Translation). Exactly one is set. Either records its
// usage once, when it ends, breaks or is closed early; the caller must Close it.
type Streamed struct {
	Native provider.MessagesStream
	Chat   provider.ChatStream
}

// Close closes the stream.
func (s *Streamed) Close() error {
	if s.Native != nil {
		return s.Native.Close()
	}
	return s.Chat.Close()
}

// MessagesStream starts a streamed request in Anthropic's Messages dialect, natively or
// translated as Messages chooses.
func (p *Pipeline) MessagesStream(ctx context.Context, c *Caller, call *provider.MessagesCall, tr *Translation) (*Streamed, error) {
	e := p.event(c, call.Model, snapshot.TypeChat, true)
	c.startBodies(call.Model, call.Body, nil)
	return run(ctx, p, c, call.Model, messagesRequest(call, tr, true), e, func(ctx context.Context, a *Attempt, e *usage.Event) (*Streamed, error) {
		ma, ok := a.Target.Endpoint.Adapter.(provider.MessagesAdapter)
		if !ok {
			cc, err := tr.chat()
			if err != nil {
				p.settleUnrecorded(a, e, err)
				return nil, err
			}
			st, err := p.chatStream(ctx, a, *e, cc)
			if err != nil {
				return nil, err
			}
			return &Streamed{Chat: st}, nil
		}
		call, err := overrideMessages(call, a.Target)
		if err != nil {
			p.settleUnrecorded(a, e, err)
			return nil, err
		}
		st, mt, err := openStream(p, ctx, a, *e, func(sctx context.Context) (provider.MessagesStream, error) {
			return ma.MessagesStream(sctx, call)
		}, peekMessages)
		if err != nil {
			return nil, err
		}
		mt.prompt = jsonPrompt(call.Body)
		return &Streamed{Native: &recordingMessagesStream{MessagesStream: st, meter: mt, model: newAnswerModel(call.Model)}}, nil
	})
}

// CountTokens asks a native model's provider to count the request's input tokens; other models
// have no token counter the gateway could ask, and it does not invent counts: they get a 400.
// Counting is not inference and is free at the provider, so it records no usage event; the
// guards' tickets are settled with an event without usage.
func (p *Pipeline) CountTokens(ctx context.Context, c *Caller, call *provider.MessagesCall) (*provider.CountTokensResult, error) {
	e := p.event(c, call.Model, "count_tokens", false)
	rq := &request{op: "count_tokens", typ: snapshot.TypeChat, need: func(m *snapshot.Endpoint) error {
		if _, ok := m.Adapter.(provider.MessagesAdapter); !ok {
			return apierr.Invalid("model", "count_tokens is only available for anthropic models; %q is not one", call.Model)
		}
		return nil
	}}
	return run(ctx, p, c, call.Model, rq, e, func(ctx context.Context, a *Attempt, e *usage.Event) (*provider.CountTokensResult, error) {
		ctx, cancel := context.WithTimeout(ctx, p.timeout)
		defer cancel()
		res, err := a.Target.Endpoint.Adapter.(provider.MessagesAdapter).CountTokens(ctx, call)
		p.settleUnrecorded(a, e, err)
		return res, err
	})
}
