package provideranthropic

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

// stream converts Anthropic's event stream into OpenAI chunks, one event at a time.
type stream struct {
	// ctx is the request's context. It is kept, against the house rule, because the stream is
	// that request's answer and lives no longer than it: a read error is reported as a
	// cancellation or a transport failure depending on whether ctx was canceled.
	ctx    context.Context
	body   io.ReadCloser
	events *sse.Reader
	closed bool

	// From message_start: every chunk carries the same id, created and model.
	started bool
	id      string
	model   string
	created int64

	tools    map[int64]int64 // content block index -> OpenAI tool call index
	numTools int64
	usage    usage // message_start's input counts, message_delta's cumulative counts

	done bool  // message_stop was seen and the usage chunk returned
	err  error // the error that ended the stream, returned again by later calls
}

var _ provider.ChatStream = (*stream)(nil)

// Recv returns the next chunk, io.EOF after the usage-only chunk that follows message_stop, or
// the error that broke the stream.
func (s *stream) Recv() (provider.Chunk, error) {
	if s.err != nil {
		return provider.Chunk{}, s.err
	}
	if s.done {
		return provider.Chunk{}, io.EOF
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
	return provider.CloseStream(s.body, s.done)
}

// next reads events until one makes a chunk.
func (s *stream) next() (provider.Chunk, error) {
	for {
		ev, err := s.events.Next()
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, sse.ErrTruncated):
			return provider.Chunk{}, provider.BadResponse(errors.New("stream ended before message_stop"))
		case err != nil:
			if s.closed {
				return provider.Chunk{}, fmt.Errorf("anthropic: stream read after close: %w", err)
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
	switch e.Type {
	case "ping":
		return provider.Chunk{}, false, nil
	case "error":
		return provider.Chunk{}, false, eventError(e.Error)
	case "message_start":
		if s.started || e.Message == nil {
			return provider.Chunk{}, false, provider.BadResponse(errors.New("unexpected message_start"))
		}
		s.started = true
		s.id, s.model, s.usage = e.Message.ID, e.Message.Model, e.Message.Usage
		empty := ""
		return s.chunk(chat.Delta{Role: chat.RoleAssistant, Content: &empty}, nil)
	}
	if !s.started {
		return provider.Chunk{}, false, provider.BadResponse(fmt.Errorf("%s event before message_start", e.Type))
	}
	switch e.Type {
	case "content_block_start":
		b := e.ContentBlock
		if b == nil {
			return provider.Chunk{}, false, provider.BadResponse(errors.New("content_block_start without content_block"))
		}
		switch b.Type {
		case "text":
			if b.Text == "" {
				return provider.Chunk{}, false, nil
			}
			return s.chunk(chat.Delta{Content: &b.Text}, nil)
		case "tool_use":
			if s.tools == nil {
				s.tools = make(map[int64]int64)
			}
			i := s.numTools
			s.tools[e.Index] = i
			s.numTools++
			call := chat.ToolCallDelta{Index: i, ID: b.ID, Type: "function", Function: chat.FunctionCall{Name: b.Name}}
			return s.chunk(chat.Delta{ToolCalls: []chat.ToolCallDelta{call}}, nil)
		}
		// Thinking, redacted_thinking and server-tool blocks have no OpenAI form.
		return provider.Chunk{}, false, nil
	case "content_block_delta":
		d := e.Delta
		if d == nil {
			return provider.Chunk{}, false, provider.BadResponse(errors.New("content_block_delta without delta"))
		}
		switch d.Type {
		case "text_delta":
			if d.Text == "" {
				return provider.Chunk{}, false, nil
			}
			return s.chunk(chat.Delta{Content: &d.Text}, nil)
		case "input_json_delta":
			i, isTool := s.tools[e.Index]
			if !isTool || d.PartialJSON == "" {
				return provider.Chunk{}, false, nil
			}
			call := chat.ToolCallDelta{Index: i, Function: chat.FunctionCall{Arguments: d.PartialJSON}}
			return s.chunk(chat.Delta{ToolCalls: []chat.ToolCallDelta{call}}, nil)
		}
		// thinking_delta, signature_delta, citations_delta: not OpenAI content.
		return provider.Chunk{}, false, nil
	case "message_delta":
		s.usage.apply(e.Usage)
		if e.Delta == nil || e.Delta.StopReason == "" {
			return provider.Chunk{}, false, nil
		}
		reason := finishReason(e.Delta.StopReason)
		return s.chunk(chat.Delta{}, &reason)
	case "message_stop":
		s.done = true
		u := openAIUsage(s.usage)
		b, err := json.Marshal(chat.Chunk{
			ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
			Choices: []chat.ChunkChoice{}, Usage: &u,
		})
		if err != nil {
			return provider.Chunk{}, false, fmt.Errorf("anthropic: encode chunk: %w", err)
		}
		return provider.Chunk{JSON: b, Usage: &u, UsageOnly: true}, true, nil
	}
	// content_block_stop, and event types newer than this adapter, make no chunk.
	return provider.Chunk{}, false, nil
}

// chunk renders a one-choice chunk.
func (s *stream) chunk(d chat.Delta, finish *string) (provider.Chunk, bool, error) {
	b, err := json.Marshal(chat.Chunk{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []chat.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}},
	})
	if err != nil {
		return provider.Chunk{}, false, fmt.Errorf("anthropic: encode chunk: %w", err)
	}
	return provider.Chunk{JSON: b}, true, nil
}
