package providergoogle

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

// stream converts streamGenerateContent's events, each a GenerateContentResponse, into OpenAI
// chunks. One event may make several chunks (a role chunk, a content chunk, a finish chunk,
// for each candidate), which wait in pending.
type stream struct {
	// ctx is the request's context. It is kept, against the house rule, because the stream is
	// that request's answer and lives no longer than it: a read error is reported as a
	// cancellation or a transport failure depending on whether ctx was canceled.
	ctx    context.Context
	body   io.ReadCloser
	events *sse.Reader
	closed bool

	// Every chunk carries the same id, created and model; id and model are replaced by the
	// upstream's responseId and modelVersion from the first event that has them.
	id       string
	model    string
	created  int64
	upstream bool // id and model came from the upstream

	choices  map[int64]*choiceState
	nextCall int            // the n of the next "call_<n>" id, across all choices
	usage    *usageMetadata // the last event's running total
	blocked  bool           // the prompt was blocked: one content_filter choice, no candidates

	pending []provider.Chunk
	done    bool  // the usage-only chunk is pending or returned; then io.EOF
	err     error // the error that ended the stream, returned again by later calls
}

// choiceState is what the stream knows about one candidate.
type choiceState struct {
	calls    int64 // tool calls so far: the index of the next one
	finished bool
}

var _ provider.ChatStream = (*stream)(nil)

// Recv returns the next chunk, io.EOF after the usage-only chunk that follows the upstream's
// clean end, or the error that broke the stream.
func (s *stream) Recv() (provider.Chunk, error) {
	for len(s.pending) == 0 {
		if s.err != nil {
			return provider.Chunk{}, s.err
		}
		if s.done {
			return provider.Chunk{}, io.EOF
		}
		if err := s.read(); err != nil {
			s.err = err
		}
	}
	c := s.pending[0]
	s.pending = s.pending[1:]
	return c, nil
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

// read reads one event and queues the chunks it makes, or at the end of the upstream the
// usage-only chunk.
func (s *stream) read() error {
	ev, err := s.events.Next()
	switch {
	case errors.Is(err, io.EOF):
		return s.end()
	case errors.Is(err, sse.ErrTruncated):
		return provider.BadResponse(errors.New("stream ended in the middle of an event"))
	case err != nil:
		if s.closed {
			return fmt.Errorf("gemini: stream read after close: %w", err)
		}
		return provider.TransportError(s.ctx, err)
	}
	var r generateResponse
	if err := json.Unmarshal(ev.Data, &r); err != nil {
		return provider.BadResponse(fmt.Errorf("decode stream event: %w", err))
	}
	if r.Error != nil {
		return streamError(r.Error)
	}
	return s.handle(&r)
}

// end checks that every choice finished and queues the usage-only chunk.
func (s *stream) end() error {
	if len(s.choices) == 0 && !s.blocked {
		return provider.BadResponse(errors.New("stream ended without a finish reason"))
	}
	for i, c := range s.choices {
		if !c.finished {
			return provider.BadResponse(fmt.Errorf("stream ended before candidate %d finished", i))
		}
	}
	s.done = true
	u := openAIUsage(s.usage)
	b, err := json.Marshal(chat.Chunk{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []chat.ChunkChoice{}, Usage: &u,
	})
	if err != nil {
		return fmt.Errorf("gemini: encode chunk: %w", err)
	}
	s.pending = append(s.pending, provider.Chunk{JSON: b, Usage: &u, UsageOnly: true})
	return nil
}

// handle queues the chunks one event makes.
func (s *stream) handle(r *generateResponse) error {
	if !s.upstream && (r.ResponseID != "" || r.ModelVersion != "") {
		s.upstream = true
		if r.ResponseID != "" {
			s.id = r.ResponseID
		}
		if r.ModelVersion != "" {
			s.model = r.ModelVersion
		}
	}
	if r.UsageMetadata != nil {
		s.usage = r.UsageMetadata
	}
	if len(r.Candidates) == 0 && r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" && len(s.choices) == 0 && !s.blocked {
		s.blocked = true
		empty := ""
		if err := s.queue(0, chat.Delta{Role: chat.RoleAssistant, Content: &empty}, nil); err != nil {
			return err
		}
		reason := chat.FinishContentFilter
		return s.queue(0, chat.Delta{}, &reason)
	}
	for _, cand := range r.Candidates {
		if err := s.candidate(&cand); err != nil {
			return err
		}
	}
	return nil
}

// candidate queues the chunks of one candidate of an event.
func (s *stream) candidate(cand *candidate) error {
	if s.choices == nil {
		s.choices = make(map[int64]*choiceState)
	}
	st := s.choices[cand.Index]
	if st == nil {
		st = &choiceState{}
		s.choices[cand.Index] = st
		empty := ""
		if err := s.queue(cand.Index, chat.Delta{Role: chat.RoleAssistant, Content: &empty}, nil); err != nil {
			return err
		}
	}
	text, calls, err := answerParts(cand.Content, &s.nextCall)
	if err != nil {
		return err
	}
	if st.finished {
		// A trailing event may repeat the finish reason with an empty part and the final usage;
		// content after the finish chunk, though, could not be shown to the client.
		if text != "" || len(calls) > 0 {
			return provider.BadResponse(fmt.Errorf("candidate %d sent content after its finish reason", cand.Index))
		}
		return nil
	}
	if text != "" || len(calls) > 0 {
		d := chat.Delta{}
		if text != "" {
			d.Content = &text
		}
		for _, c := range calls {
			d.ToolCalls = append(d.ToolCalls, chat.ToolCallDelta{Index: st.calls, ID: c.ID, Type: c.Type, Function: c.Function})
			st.calls++
		}
		if err := s.queue(cand.Index, d, nil); err != nil {
			return err
		}
	}
	if cand.FinishReason == "" {
		return nil
	}
	reason, err := finishReason(cand.FinishReason, st.calls > 0)
	if err != nil {
		return err
	}
	st.finished = true
	return s.queue(cand.Index, chat.Delta{}, &reason)
}

// queue renders a one-choice chunk and adds it to pending.
func (s *stream) queue(index int64, d chat.Delta, finish *string) error {
	b, err := json.Marshal(chat.Chunk{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []chat.ChunkChoice{{Index: index, Delta: d, FinishReason: finish}},
	})
	if err != nil {
		return fmt.Errorf("gemini: encode chunk: %w", err)
	}
	s.pending = append(s.pending, provider.Chunk{JSON: b})
	return nil
}
