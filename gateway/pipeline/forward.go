package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"strings"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/tokens"
	"github.com/llmgw/llmgw/gateway/usage"
)

// Forward runs a request on one of OpenAI's other endpoints (provider.EndpointX) against the
// model named model, whose adapter must implement provider.Forwarder.
//
// Completions need a chat model. The store has no model types for moderation, image or audio
// models, so those endpoints need the model to exist and be allowed to the caller, whatever
// its types (an OpenAI account lists omni-moderation-latest or gpt-image-1 as a chat model);
// a model that cannot do the endpoint is refused by its upstream, which maps as any upstream
// error does.
//
// The usage event's Operation is the endpoint. It is recorded exactly once: read to io.EOF,
// the request is ok with the usage the answer reported (none for speech, moderations and
// duration-billed transcriptions: recorded as usage missing); broken mid-way, it records that
// error; closed before its end, the client went away (canceled), and an event stream or JSON
// answer is read on to its end in the background for its usage, as a chat stream is. A
// completions stream whose usage never came is recorded with usage estimated from the
// request's prompt and the streamed text; other endpoints' answers are billed in units the
// gateway cannot count (images, seconds) and are recorded as usage missing. The caller must
// close the body; the upstream deadline runs until then.
func (p *Pipeline) Forward(ctx context.Context, c *Caller, model string, call *provider.ForwardCall) (*provider.ForwardResult, error) {
	e := p.event(c, model, call.Endpoint, call.Stream)
	c.startBodies(model, call.Body, nil)
	rq := &request{op: call.Endpoint, stream: call.Stream, size: Size{PromptBytes: int64(len(call.Body))}, need: func(m *snapshot.Endpoint) error {
		if _, ok := m.Adapter.(provider.Forwarder); !ok {
			return apierr.Invalid("model", "the model %q does not support %s", model, call.Endpoint)
		}
		return nil
	}}
	// Completions need a chat model; the other endpoints a model of any type.
	if call.Endpoint == provider.EndpointCompletions {
		rq.typ = snapshot.TypeChat
	}
	return run(ctx, p, c, model, rq, e, func(ctx context.Context, a *Attempt, e *usage.Event) (*provider.ForwardResult, error) {
		return p.forward(ctx, a, *e, call)
	})
}

// forward calls a's target on a forwarded endpoint.
func (p *Pipeline) forward(ctx context.Context, a *Attempt, e usage.Event, call *provider.ForwardCall) (*provider.ForwardResult, error) {
	fw := a.Target.Endpoint.Adapter.(provider.Forwarder)
	if len(a.Target.Params) > 0 {
		// Forwarded endpoints (Responses, completions, embeddings, ...) each name their
		// parameters their own way; the gateway does not map a chat parameter onto them.
		err := apierr.Invalid(a.Target.Params[0].Name, "the model's target %s sets override_params, which apply only to chat completions and Anthropic Messages, not to %s", a.Target.Endpoint.FQN, call.Endpoint)
		p.settleUnrecorded(a, &e, err)
		return nil, err
	}
	res, mt, err := openStream(p, ctx, a, e, func(fctx context.Context) (*provider.ForwardResult, error) {
		return fw.Forward(fctx, call)
	}, peekBody)
	if err != nil {
		return nil, err
	}
	body := &recordingBody{body: res.Body, usage: res.Usage, meter: mt}
	// Only a stream has a first token; a whole answer's latency is its time to first token.
	body.first = !call.Stream
	ct, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	body.readOn = ct == "text/event-stream" || ct == "application/json" || strings.HasSuffix(ct, "+json")
	if call.Stream && call.Endpoint == provider.EndpointCompletions && ct == "text/event-stream" {
		mt.prompt = jsonPrompt(call.Body)
		body.lines = &sseText{}
	}
	out := *res
	out.Body = body
	return &out, nil
}

// recordingBody is a forwarded answer that records its usage event through a meter: at
// io.EOF, at a read error, or at Close before either. Read and Close are not safe for
// concurrent use.
type recordingBody struct {
	body   io.ReadCloser
	usage  func() chat.Usage
	readOn bool     // an answer that may report usage: read on when closed early
	lines  *sseText // a completions stream: its text is kept for an estimate
	*meter
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.read(p)
	if err == nil && b.clientLeft() {
		return n, context.Canceled
	}
	return n, err
}

// read reads and meters.
func (b *recordingBody) read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		if b.c.bodies != nil {
			b.c.bodies.answer(p[:n])
		}
		b.received(nil)
		if b.lines != nil && !b.gotUsage {
			b.lines.feed(p[:n], &b.text)
		}
	}
	switch {
	case errors.Is(err, io.EOF):
		if u := b.usage(); !noUsage(u) {
			b.received(&u)
		}
		b.failed(io.EOF)
	case err != nil:
		b.failed(err)
	}
	return n, err
}

// Close records an answer that has ended; one closed before its end is read on in the
// background when it may still report usage (see meter).
func (b *recordingBody) Close() error {
	var step func() (int, error)
	if b.readOn {
		var buf []byte
		step = func() (int, error) {
			if buf == nil {
				buf = make([]byte, 32<<10)
			}
			return b.read(buf)
		}
	}
	return b.close(step, b.body.Close)
}

// maxLine bounds the event-stream line sseText keeps; a longer one is skipped.
const maxLine = 1 << 20

// sseText keeps the text of a forwarded completions stream: the text members of each data
// line's JSON, read as the bytes pass.
type sseText struct {
	line []byte
	long bool // the current line outgrew maxLine
}

var dataPrefix = []byte("data:")

func (s *sseText) feed(p []byte, t *tokens.Text) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if !s.long && len(s.line)+len(seg) > maxLine {
			s.line, s.long = s.line[:0], true
		}
		if !s.long {
			s.line = append(s.line, seg...)
		}
		if i < 0 {
			return
		}
		if data, ok := bytes.CutPrefix(s.line, dataPrefix); ok && !s.long {
			t.AddJSON(data, tokens.CompletionField)
		}
		s.line, s.long = s.line[:0], false
		p = p[i+1:]
	}
}
