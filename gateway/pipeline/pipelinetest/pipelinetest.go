// Package pipelinetest holds in-memory implementations of the pipeline's interfaces for tests:
// a Guard that records what it admitted and how each ticket was settled, and can refuse.
//
// It is for tests only; nothing in a server imports it.
package pipelinetest

import (
	"context"
	"sync"

	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/usage"
)

// Guard is a pipeline.Guard that admits every attempt unless Refuse says otherwise, and records
// each Admit and each Settle. It is safe for concurrent use.
type Guard struct {
	// Name tells guards apart in Admits and Settles.
	Name string
	// Refuse, when set, is asked on every Admit; a non-nil error refuses the attempt.
	Refuse func(a *pipeline.Attempt) error
	// Headers are added to every admitted attempt's response headers.
	Headers map[string]string

	mu      sync.Mutex
	admits  []Admit
	settles []Settle
	changed chan struct{}
}

var _ pipeline.Guard = (*Guard)(nil)

// Admit is one call of Guard.Admit.
type Admit struct {
	Guard     string
	RequestID string
	Model     string // the target's FQN
	Operation string
	Stream    bool
	Refused   error // nil when admitted
	Ticket    int   // the ticket's number when admitted, from 1
}

// Settle is one call of a ticket's Settle: a copy of the event it was given.
type Settle struct {
	Guard  string
	Ticket int
	Event  usage.Event
}

// Admit implements pipeline.Guard.
func (g *Guard) Admit(_ context.Context, a *pipeline.Attempt) (pipeline.Ticket, error) {
	ad := Admit{Guard: g.Name, RequestID: a.Caller.RequestID, Model: a.Target.Endpoint.FQN, Operation: a.Operation, Stream: a.Stream}
	if g.Refuse != nil {
		ad.Refused = g.Refuse(a)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	defer g.signal()
	if ad.Refused != nil {
		g.admits = append(g.admits, ad)
		return nil, ad.Refused
	}
	for k, v := range g.Headers {
		a.Header.Set(k, v)
	}
	ad.Ticket = len(g.admits) + 1
	g.admits = append(g.admits, ad)
	return &ticket{g: g, n: ad.Ticket}, nil
}

type ticket struct {
	g *Guard
	n int
}

func (t *ticket) Settle(e *usage.Event) {
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
	t.g.settles = append(t.g.settles, Settle{Guard: t.g.Name, Ticket: t.n, Event: *e})
	t.g.signal()
}

// signal wakes Wait; g.mu is held.
func (g *Guard) signal() {
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// Admits returns the Admit calls so far, in order.
func (g *Guard) Admits() []Admit {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Admit(nil), g.admits...)
}

// Settles returns the Settle calls so far, in order.
func (g *Guard) Settles() []Settle {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Settle(nil), g.settles...)
}

// Reset forgets the calls so far.
func (g *Guard) Reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.admits, g.settles = nil, nil
}

// Wait waits until done reports true of the admits and settles so far, or ctx ends; it
// reports whether done did.
func (g *Guard) Wait(ctx context.Context, done func(admits []Admit, settles []Settle) bool) bool {
	for {
		g.mu.Lock()
		if done(g.admits, g.settles) {
			g.mu.Unlock()
			return true
		}
		if g.changed == nil {
			g.changed = make(chan struct{})
		}
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}
