package pipeline

import (
	"context"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/usage"
)

// AdmitEdge authenticates secret as Admit does, for the request er the edge named: the caller
// carries er's id into its usage event, and er learns who the caller is (or that the key was
// refused) for the record of a request that never reaches a model. The request's metadata
// header is parsed here: a bad one is a 400 naming it, whatever rules there are; so is its
// timeout header (edge.HeaderRequestTimeout), the deadline of its attempts.
func (p *Pipeline) AdmitEdge(er *edge.Request, secret string) (*Caller, error) {
	c, err := p.Admit(secret, er.ID)
	if err != nil {
		if apierr.From(err).Kind == apierr.KindUnauthenticated {
			er.Unauthenticated(secret)
		}
		return nil, err
	}
	c.Edge = er
	c.start = er.Start
	er.Admitted(c.Principal.Name())
	if c.Metadata, err = er.Metadata(); err != nil {
		return nil, err
	}
	if c.timeout, err = er.Timeout(); err != nil {
		return nil, err
	}
	if c.ttft, err = er.TTFTTimeout(); err != nil {
		return nil, err
	}
	if c.logBodies, err = er.LogBodies(); err != nil {
		return nil, err
	}
	return c, nil
}

type callerKey struct{}

// WithCaller returns ctx carrying the admitted caller c, for a handler behind an edge that
// admitted it before reading the body.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller ctx carries, or nil.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// Settle leaves the one record of a request that ended with status without reaching a model
// (refused, or answered by the gateway itself, such as a model list): an event with no
// operation and no usage, carrying the status, the principal (or "unauthenticated" and the
// key's display prefix), the model asked for and the request ids. A request whose usage event
// the pipeline records (see Caller) gets nothing more. It is called once, when the handler
// has returned.
func (p *Pipeline) Settle(ctx context.Context, er *edge.Request, status int) {
	if !er.MarkRecorded() {
		return
	}
	o := er.Outcome()
	e := usage.Event{
		RequestID: er.ID, ClientRequestID: er.ClientID, Surface: er.Surface, Time: er.Start,
		Principal: o.Principal, KeyPrefix: o.KeyPrefix, Model: o.Model,
		Latency: p.now().Sub(er.Start), Status: "ok", HTTPStatus: status,
	}
	if e.Principal == "" {
		e.Principal = "unauthenticated"
	}
	switch {
	case o.Err != nil:
		e.Status, e.HTTPStatus = statusName(o.Err), o.Err.Kind.HTTPStatus()
	case status >= 400:
		if k, ok := apierr.KindForStatus(status); ok {
			e.Status = statusName(&apierr.Error{Kind: k})
		}
	}
	p.rec.Record(context.WithoutCancel(ctx), &e)
}
