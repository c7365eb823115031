package providercohere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/sse"
)

// stream converts Cohere's chat event stream into OpenAI chunks, one event at a time.
type stream struct {
	// ctx is the request's context. It is kept, against the house rule, because the stream is
	// that request's answer and lives no longer than it: a read error is reported as a
	// cancellation or a transport failure depending on whether ctx was canceled.
	ctx    context.Context
	body   io.ReadCloser
	events *sse.Reader
	closed bool

	model   string
	created int64

	started  bool            // message-start was seen; id is its id
	id       string          //
	tools    map[int64]int64 // Cohere tool call index -> OpenAI tool call index
	numTools int64

	ended     bool       // message-end was seen and its finish chunk returned
	usage     chat.Usage // message-end's usage, for the usage-only chunk
	usageSent bool       // the usage-only chunk was returned: the next Recv is io.EOF
	err       error      // the error that ended the stream, returned again by later calls
}

var _ provider.ChatStream = (*stream)(nil)

// Recv returns the next chunk, io.EOF after the usage-only chunk that follows message-end, or
// the error that broke the stream.
func (s *stream) Recv() (provider.Chunk, error) {
	switch {
	case s.err != nil:
		return provider.Chunk{}, s.err
	case s.usageSent:
		return provider.Chunk{}, io.EOF
	case s.ended:
		s.usageSent = true
		u := s.usage
		b, err := json.Marshal(chat.Chunk{
			ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
			Choices: []chat.ChunkChoice{}, Usage: &u,
		})
		if err != nil {
			s.err = fmt.Errorf("cohere: encode chunk: %w", err)
			return provider.Chunk{}, s.err
		}
		return provider.Chunk{JSON: b, Usage: &u, UsageOnly: true}, nil
	}
	c, err := s.next()
	if err != nil {
		s.err = err
	}
	return c, err
}

// Close closes the upstream body, read to its end first when the stream finished so its
// connection is reused (provider.CloseStream); it is safe to call more than once.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return provider.CloseStream(s.body, s.ended)
}

// next reads events until one makes a chunk.
func (s *stream) next() (provider.Chunk, error) {
	for {
		ev, err := s.events.Next()
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, sse.ErrTruncated):
			return provider.Chunk{}, provider.BadResponse(errors.New("stream ended before message-end"))
		case err != nil:
			if s.closed {
				return provider.Chunk{}, fmt.Errorf("cohere: stream read after close: %w", err)
			}
			return provider.Chunk{}, provider.TransportError(s.ctx, err)
		}
		var e event
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return provider.Chunk{}, provider.BadResponse(fmt.Errorf("decode %s event: %w", ev.Name, err))
		}
		if e.Type == "" {
			e.Type = ev.Name
		}
		c, ok, err := s.handle(&e)
		if err != nil || ok {
			return c, err
		}
	}
}

// handle applies one event; ok reports whether it makes a chunk.
func (s *stream) handle(e *event) (c provider.Chunk, ok bool, err error) {
	if e.Type == "message-start" {
		if s.started {
			return provider.Chunk{}, false, provider.BadResponse(errors.New("second message-start"))
		}
		s.started, s.id = true, e.ID
		empty := ""
		return s.chunk(chat.Delta{Role: chat.RoleAssistant, Content: &empty}, nil)
	}
	if !s.started {
		return provider.Chunk{}, false, provider.BadResponse(fmt.Errorf("%s event before message-start", e.Type))
	}
	switch e.Type {
	case "content-start", "content-delta", "tool-plan-delta", "tool-call-start", "tool-call-delta", "message-end":
	default:
		// content-end, tool-call-end, citation-start, citation-end, debug, and event types
		// newer than this adapter make no chunk; their deltas are not read.
		return provider.Chunk{}, false, nil
	}
	var d eventDelta
	if len(e.Delta) > 0 {
		if err := json.Unmarshal(e.Delta, &d); err != nil {
			return provider.Chunk{}, false, provider.BadResponse(fmt.Errorf("decode %s delta: %w", e.Type, err))
		}
	}
	var msg deltaMessage
	if d.Message != nil {
		msg = *d.Message
	}
	switch e.Type {
	case "content-start", "content-delta":
		// Text parts carry text; thinking parts carry thinking, which is not OpenAI content.
		if msg.Content == nil || msg.Content.Text == "" {
			return provider.Chunk{}, false, nil
		}
		return s.chunk(chat.Delta{Content: &msg.Content.Text}, nil)
	case "tool-plan-delta":
		// The plan is what the model says before calling tools: OpenAI content (see doc.go).
		if msg.ToolPlan == "" {
			return provider.Chunk{}, false, nil
		}
		return s.chunk(chat.Delta{Content: &msg.ToolPlan}, nil)
	case "tool-call-start":
		tc := msg.ToolCalls
		if tc == nil || e.Index == nil || tc.Function.Name == "" {
			return provider.Chunk{}, false, provider.BadResponse(errors.New("tool-call-start without index, tool call or function name"))
		}
		if s.tools == nil {
			s.tools = make(map[int64]int64)
		}
		if _, dup := s.tools[*e.Index]; dup {
			return provider.Chunk{}, false, provider.BadResponse(fmt.Errorf("second tool-call-start for index %d", *e.Index))
		}
		i := s.numTools
		s.tools[*e.Index] = i
		s.numTools++
		call := chat.ToolCallDelta{Index: i, ID: tc.ID, Type: "function", Function: chat.FunctionCall{Name: tc.Function.Name, Arguments: tc.Function.Arguments}}
		return s.chunk(chat.Delta{ToolCalls: []chat.ToolCallDelta{call}}, nil)
	case "tool-call-delta":
		tc := msg.ToolCalls
		if e.Index == nil {
			return provider.Chunk{}, false, provider.BadResponse(errors.New("tool-call-delta without index"))
		}
		i, known := s.tools[*e.Index]
		if !known {
			return provider.Chunk{}, false, provider.BadResponse(fmt.Errorf("tool-call-delta for index %d before its tool-call-start", *e.Index))
		}
		if tc == nil || tc.Function.Arguments == "" {
			return provider.Chunk{}, false, nil
		}
		call := chat.ToolCallDelta{Index: i, Function: chat.FunctionCall{Arguments: tc.Function.Arguments}}
		return s.chunk(chat.Delta{ToolCalls: []chat.ToolCallDelta{call}}, nil)
	case "message-end":
		finish, failed := finishReason(d.FinishReason)
		if failed || d.Error != "" {
			return provider.Chunk{}, false, finishError(d.FinishReason, d.Error)
		}
		s.ended, s.usage = true, openAIUsage(d.Usage)
		return s.chunk(chat.Delta{}, &finish)
	}
	return provider.Chunk{}, false, nil
}

// chunk renders a one-choice chunk.
func (s *stream) chunk(d chat.Delta, finish *string) (provider.Chunk, bool, error) {
	b, err := json.Marshal(chat.Chunk{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []chat.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}},
	})
	if err != nil {
		return provider.Chunk{}, false, fmt.Errorf("cohere: encode chunk: %w", err)
	}
	return provider.Chunk{JSON: b}, true, nil
}
