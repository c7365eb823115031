package providerbedrock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// stream converts ConverseStream's event stream (application/vnd.amazon.eventstream) into
// OpenAI chunks, one event at a time.
type stream struct {
	// ctx is the request's context. It is kept, against the house rule, because the stream is
	// that request's answer and lives no longer than it: a read error is reported as a
	// cancellation or a transport failure depending on whether ctx was canceled.
	ctx     context.Context
	body    io.ReadCloser
	src     *readErrRecorder // the body, under in
	in      *bufio.Reader
	decoder *eventstream.Decoder
	payload []byte // reused by the decoder; a payload is consumed before the next Decode
	closed  bool

	// Every chunk carries the same id, created and model.
	id      string
	model   string
	created int64

	started  bool            // messageStart was seen
	stopped  bool            // messageStop was seen
	tools    map[int64]int64 // content block index -> OpenAI tool call index
	numTools int64

	done bool  // metadata was seen and the usage chunk returned
	err  error // the error that ended the stream, returned again by later calls
}

var _ provider.ChatStream = (*stream)(nil)

func newStream(ctx context.Context, body io.ReadCloser, id, model string, created int64) *stream {
	src := &readErrRecorder{r: body}
	return &stream{
		ctx:     ctx,
		body:    body,
		src:     src,
		in:      bufio.NewReader(src),
		decoder: eventstream.NewDecoder(),
		id:      id,
		model:   model,
		created: created,
	}
}

// readErrRecorder remembers the error of the transport under the decoder, so that a failed read
// is told apart from a malformed frame.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (r *readErrRecorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	return n, err
}

// Recv returns the next chunk, io.EOF after the usage-only chunk made of the metadata event
// that follows messageStop, or the error that broke the stream.
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

// next reads messages until one makes a chunk.
func (s *stream) next() (provider.Chunk, error) {
	for {
		msg, err := s.decoder.Decode(s.in, s.payload[:0])
		if err != nil {
			return provider.Chunk{}, s.readError(err)
		}
		s.payload = msg.Payload
		c, ok, err := s.handle(msg)
		if err != nil || ok {
			return c, err
		}
	}
}

// readError maps a failure to read the next message.
func (s *stream) readError(err error) error {
	switch {
	case s.closed:
		return fmt.Errorf("bedrock: stream read after close: %w", err)
	case s.src.err != nil:
		return provider.TransportError(s.ctx, s.src.err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		if s.stopped {
			return provider.BadResponse(errors.New("stream ended before its metadata event"))
		}
		return provider.BadResponse(errors.New("stream ended before messageStop"))
	default:
		return provider.BadResponse(fmt.Errorf("decode event stream message: %w", err))
	}
}

// header returns the string value of a message header, or "".
func header(m eventstream.Message, name string) string {
	if v := m.Headers.Get(name); v != nil {
		return v.String()
	}
	return ""
}

// handle applies one message; ok reports whether it makes a chunk.
func (s *stream) handle(m eventstream.Message) (c provider.Chunk, ok bool, err error) {
	switch mt := header(m, ":message-type"); mt {
	case "event":
	case "exception":
		return provider.Chunk{}, false, exceptionError(header(m, ":exception-type"), m.Payload)
	case "error":
		payload, _ := json.Marshal(exceptionPayload{Message: header(m, ":error-message")})
		return provider.Chunk{}, false, exceptionError(header(m, ":error-code"), payload)
	default:
		return provider.Chunk{}, false, provider.BadResponse(fmt.Errorf("event stream message of type %q", mt))
	}
	typ := header(m, ":event-type")
	if typ == "messageStart" {
		if s.started {
			return provider.Chunk{}, false, provider.BadResponse(errors.New("second messageStart"))
		}
		s.started = true
		empty := ""
		return s.chunk(chat.Delta{Role: chat.RoleAssistant, Content: &empty}, nil)
	}
	if !s.started {
		return provider.Chunk{}, false, provider.BadResponse(fmt.Errorf("%s event before messageStart", typ))
	}
	switch typ {
	case "contentBlockStart":
		var e contentBlockStartEvent
		if err := s.decode(typ, m.Payload, &e); err != nil {
			return provider.Chunk{}, false, err
		}
		tu := e.Start.ToolUse
		if tu == nil {
			return provider.Chunk{}, false, nil
		}
		if s.tools == nil {
			s.tools = make(map[int64]int64)
		}
		i := s.numTools
		s.tools[e.ContentBlockIndex] = i
		s.numTools++
		call := chat.ToolCallDelta{Index: i, ID: tu.ToolUseID, Type: "function", Function: chat.FunctionCall{Name: tu.Name}}
		return s.chunk(chat.Delta{ToolCalls: []chat.ToolCallDelta{call}}, nil)
	case "contentBlockDelta":
		var e contentBlockDeltaEvent
		if err := s.decode(typ, m.Payload, &e); err != nil {
			return provider.Chunk{}, false, err
		}
		switch d := e.Delta; {
		case d.Text != nil:
			if *d.Text == "" {
				return provider.Chunk{}, false, nil
			}
			return s.chunk(chat.Delta{Content: d.Text}, nil)
		case d.ToolUse != nil:
			i, isTool := s.tools[e.ContentBlockIndex]
			if !isTool {
				return provider.Chunk{}, false, provider.BadResponse(fmt.Errorf("toolUse delta for content block %d, which did not start as a tool use", e.ContentBlockIndex))
			}
			if d.ToolUse.Input == "" {
				return provider.Chunk{}, false, nil
			}
			call := chat.ToolCallDelta{Index: i, Function: chat.FunctionCall{Arguments: d.ToolUse.Input}}
			return s.chunk(chat.Delta{ToolCalls: []chat.ToolCallDelta{call}}, nil)
		}
		// Reasoning and citation deltas have no OpenAI form.
		return provider.Chunk{}, false, nil
	case "messageStop":
		var e messageStopEvent
		if err := s.decode(typ, m.Payload, &e); err != nil {
			return provider.Chunk{}, false, err
		}
		s.stopped = true
		reason := finishReason(e.StopReason)
		return s.chunk(chat.Delta{}, &reason)
	case "metadata":
		if !s.stopped {
			return provider.Chunk{}, false, provider.BadResponse(errors.New("metadata event before messageStop"))
		}
		var e metadataEvent
		if err := s.decode(typ, m.Payload, &e); err != nil {
			return provider.Chunk{}, false, err
		}
		if e.Usage == nil {
			return provider.Chunk{}, false, provider.BadResponse(errors.New("metadata event without usage"))
		}
		s.done = true
		u := openAIUsage(*e.Usage)
		b, err := json.Marshal(chat.Chunk{
			ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
			Choices: []chat.ChunkChoice{}, Usage: &u,
		})
		if err != nil {
			return provider.Chunk{}, false, fmt.Errorf("bedrock: encode chunk: %w", err)
		}
		return provider.Chunk{JSON: b, Usage: &u, UsageOnly: true}, true, nil
	}
	// contentBlockStop, and event types newer than this adapter, make no chunk.
	return provider.Chunk{}, false, nil
}

// decode unmarshals the payload of an event of type typ.
func (s *stream) decode(typ string, payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		return provider.BadResponse(fmt.Errorf("decode %s event: %w", typ, err))
	}
	return nil
}

// chunk renders a one-choice chunk.
func (s *stream) chunk(d chat.Delta, finish *string) (provider.Chunk, bool, error) {
	b, err := json.Marshal(chat.Chunk{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []chat.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}},
	})
	if err != nil {
		return provider.Chunk{}, false, fmt.Errorf("bedrock: encode chunk: %w", err)
	}
	return provider.Chunk{JSON: b}, true, nil
}
