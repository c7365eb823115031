package anthropicapi

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/sse"
)

// Streamer turns a chat stream's chunks into Anthropic's documented event sequence:
// message_start; for each content block content_block_start, its deltas (text_delta or
// input_json_delta) and content_block_stop, switching blocks between the text and each tool
// call; then message_delta with the stop reason and the usage, and message_stop. Usage arrives
// only at the end of a chat stream, so message_start reports zero tokens and message_delta the
// whole count (input tokens included, as the SDKs accumulate them).
//
// Its methods append wire-form events (with event: lines) to Out. It is not safe for
// concurrent use.
type Streamer struct {
	// Out holds the events written so far; the caller writes and truncates it.
	Out []byte

	model   string
	started bool
	kind    string // the open block's type: "", text or tool_use
	blocks  int    // blocks started so far; the open one is blocks-1
	tool    int64  // the chat index of the open tool call
	toolID  string // and its id
	stop    string
	usage   *chat.Usage
}

// NewStreamer returns a streamer whose messages are named after the client's model.
func NewStreamer(model string) *Streamer { return &Streamer{model: model} }

// event appends one event with v as its data.
func (s *Streamer) event(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("anthropicapi: encode %s: %w", name, err)
	}
	s.Out = sse.AppendEvent(s.Out, name, b)
	return nil
}

type messageStart struct {
	Type    string   `json:"type"`
	Message Response `json:"message"`
}

type blockStart struct {
	Type         string        `json:"type"`
	Index        int           `json:"index"`
	ContentBlock ResponseBlock `json:"content_block"`
}

type blockDelta struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
	Delta delta  `json:"delta"`
}

type delta struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	PartialJSON *string `json:"partial_json,omitempty"`
}

type blockStop struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
}

type messageDelta struct {
	Type  string `json:"type"`
	Delta struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	} `json:"delta"`
	Usage Usage `json:"usage"`
}

type typeOnly struct {
	Type string `json:"type"`
}

// start writes message_start once, from the first chunk's id.
func (s *Streamer) start(id string) error {
	if s.started {
		return nil
	}
	s.started = true
	return s.event("message_start", messageStart{Type: "message_start", Message: Response{
		ID: messageID(id), Type: "message", Role: "assistant", Model: s.model, Content: []ResponseBlock{},
	}})
}

// closeBlock writes content_block_stop for the open block, if any.
func (s *Streamer) closeBlock() error {
	if s.kind == "" {
		return nil
	}
	s.kind = ""
	return s.event("content_block_stop", blockStop{Type: "content_block_stop", Index: s.blocks - 1})
}

// openBlock closes the open block and starts b.
func (s *Streamer) openBlock(b ResponseBlock) error {
	if err := s.closeBlock(); err != nil {
		return err
	}
	s.kind = b.Type
	s.blocks++
	return s.event("content_block_start", blockStart{Type: "content_block_start", Index: s.blocks - 1, ContentBlock: b})
}

// text writes a text delta, in a text block.
func (s *Streamer) text(t string) error {
	if t == "" {
		return nil
	}
	if s.kind != BlockText {
		empty := ""
		if err := s.openBlock(ResponseBlock{Type: BlockText, Text: &empty}); err != nil {
			return err
		}
	}
	return s.event("content_block_delta", blockDelta{Type: "content_block_delta", Index: s.blocks - 1, Delta: delta{Type: "text_delta", Text: &t}})
}

// toolCall writes a piece of a tool call: a new tool_use block when the call is new, then its
// arguments as input_json_delta.
func (s *Streamer) toolCall(tc chat.ToolCallDelta) error {
	if s.kind != BlockToolUse || tc.Index != s.tool || (tc.ID != "" && tc.ID != s.toolID) {
		id := tc.ID
		if id == "" {
			id = "toolu_" + strconv.Itoa(s.blocks)
		}
		s.tool, s.toolID = tc.Index, id
		if err := s.openBlock(ResponseBlock{Type: BlockToolUse, ID: id, Name: tc.Function.Name, Input: json.RawMessage(`{}`)}); err != nil {
			return err
		}
	}
	if tc.Function.Arguments == "" {
		return nil
	}
	args := tc.Function.Arguments
	return s.event("content_block_delta", blockDelta{Type: "content_block_delta", Index: s.blocks - 1, Delta: delta{Type: "input_json_delta", PartialJSON: &args}})
}

// Chunk translates one chat stream chunk.
func (s *Streamer) Chunk(c provider.Chunk) error {
	var ch chat.Chunk
	if err := json.Unmarshal(c.JSON, &ch); err != nil {
		return provider.BadResponse(fmt.Errorf("decode chat.completion.chunk: %w", err))
	}
	if err := s.start(ch.ID); err != nil {
		return err
	}
	if c.Usage != nil {
		s.usage = c.Usage
	} else if ch.Usage != nil {
		s.usage = ch.Usage
	}
	for _, choice := range ch.Choices {
		if choice.Index != 0 {
			continue // Messages has one answer; the gateway never asks a chat model for more
		}
		d := choice.Delta
		if d.Content != nil {
			if err := s.text(*d.Content); err != nil {
				return err
			}
		}
		if d.Refusal != nil {
			if err := s.text(*d.Refusal); err != nil {
				return err
			}
		}
		for _, tc := range d.ToolCalls {
			if err := s.toolCall(tc); err != nil {
				return err
			}
		}
		if choice.FinishReason != nil && *choice.FinishReason != "" {
			s.stop = *choice.FinishReason
		}
	}
	return nil
}

// End writes the end of the message after the chat stream's clean end: the open block's
// content_block_stop, message_delta with the stop reason and usage, and message_stop.
func (s *Streamer) End() error {
	if err := s.start(""); err != nil {
		return err
	}
	if err := s.closeBlock(); err != nil {
		return err
	}
	md := messageDelta{Type: "message_delta", Usage: usageOf(s.usage)}
	md.Delta.StopReason = stopReason(s.stop)
	if err := s.event("message_delta", md); err != nil {
		return err
	}
	return s.event("message_stop", typeOnly{Type: "message_stop"})
}

// Error writes the error event that ends a broken stream: Anthropic's error shape with the
// public message only.
func (s *Streamer) Error(err error) {
	b, _ := json.Marshal(apierr.From(err).Anthropic())
	s.Out = sse.AppendEvent(s.Out, "error", b)
}
