package pipeline

import (
	"context"
	"errors"
	"io"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
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
// The usage event's Operation is the endpoint. It is recorded exactly once, when the result's
// body is closed: read to io.EOF, the request is ok with the usage the answer reported (none
// for speech, moderations and duration-billed transcriptions: recorded as usage missing);
// broken mid-way, it records that error; closed before its end, the client went away
// (canceled, usage missing). The caller must close the body; the upstream deadline runs until
// then.
func (p *Pipeline) Forward(ctx context.Context, c *Caller, model string, call *provider.ForwardCall) (*provider.ForwardResult, error) {
	e := p.event(c, model, call.Endpoint, call.Stream)
	m, err := resolveForward(c, model, call.Endpoint)
	if err != nil {
		return nil, err // not an inference: no usage to record, the error is the client's
	}
	fw, ok := m.Adapter.(provider.Forwarder)
	if !ok {
		return nil, apierr.Invalid("model", "the model %q does not support %s", model, call.Endpoint)
	}
	res, mt, err := openStream(p, ctx, c, m, e, func(fctx context.Context) (*provider.ForwardResult, error) {
		return fw.Forward(fctx, call)
	})
	if err != nil {
		return nil, err
	}
	body := &recordingBody{body: res.Body, usage: res.Usage, meter: mt}
	// Only a stream has a first token; a whole answer's latency is its time to first token.
	body.first = !call.Stream
	out := *res
	out.Body = body
	return &out, nil
}

// resolveForward resolves model for endpoint: a chat model for completions, a model of any
// type for the others.
func resolveForward(c *Caller, model, endpoint string) (*snapshot.Endpoint, error) {
	t := ""
	if endpoint == provider.EndpointCompletions {
		t = snapshot.TypeChat
	}
	return c.Snapshot.Resolve(c.Principal, model, t)
}

// recordingBody is a forwarded answer that records its usage event through a meter: at
// io.EOF, at a read error, or at Close before either. Read and Close are not safe for
// concurrent use.
type recordingBody struct {
	body  io.ReadCloser
	usage func() chat.Usage
	meter
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.received(nil)
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

// Close records an answer abandoned before its end as canceled, then releases the upstream.
func (b *recordingBody) Close() error { return b.close(b.body.Close) }
