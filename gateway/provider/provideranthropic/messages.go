package provideranthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/rawjson"
	"github.com/llmgw/llmgw/gateway/sse"
)

// The native Messages passthrough: a client that already speaks Anthropic's Messages API gets
// its request forwarded with only the model (and the stream flag) patched, and Anthropic's
// answer back byte for byte. Thinking blocks and their signatures, cache_control, citations and
// block types newer than this adapter therefore round-trip intact. Only usage is read from the
// answer, and error events are mapped like error statuses: an upstream's error text never
// reaches the client.

var _ provider.MessagesAdapter = (*adapter)(nil)

// maxCountTokensBody bounds a count_tokens answer, which is a one-member object.
const maxCountTokensBody = 64 << 10

// Messages sends the client's Messages request and returns Anthropic's Message as it is.
func (a *adapter) Messages(ctx context.Context, c *provider.MessagesCall) (*provider.MessagesResult, error) {
	body, err := a.patch(c, false)
	if err != nil {
		return nil, err
	}
	resp, err := a.postTo(ctx, a.target.URL(false), body, c.Beta)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := provider.ReadAnswer(ctx, resp, maxResponseBody)
	if err != nil {
		return nil, err
	}
	if t, _, err := rawjson.Get(b, "type"); err != nil || string(t) != `"message"` {
		return nil, provider.BadResponse(fmt.Errorf("answer is not a message object (type %s, %v)", t, err))
	}
	var m struct {
		Usage usage `json:"usage"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, provider.BadResponse(fmt.Errorf("decode message usage: %w", err))
	}
	return &provider.MessagesResult{JSON: b, Usage: openAIUsage(m.Usage)}, nil
}

// MessagesStream sends the client's Messages request with "stream": true and returns Anthropic's
// events one by one. The caller closes the stream.
func (a *adapter) MessagesStream(ctx context.Context, c *provider.MessagesCall) (provider.MessagesStream, error) {
	body, err := a.patch(c, true)
	if err != nil {
		return nil, err
	}
	resp, err := a.postTo(ctx, a.target.URL(true), body, c.Beta)
	if err != nil {
		return nil, err
	}
	return &messagesStream{ctx: ctx, body: resp.Body, events: sse.NewReader(resp.Body)}, nil
}

// CountTokens forwards the request to /v1/messages/count_tokens and returns the answer as it is.
func (a *adapter) CountTokens(ctx context.Context, c *provider.MessagesCall) (*provider.CountTokensResult, error) {
	if c == nil || len(c.Body) == 0 {
		return nil, errors.New("anthropic: count_tokens call has no body")
	}
	if a.target.CountTokensURL == "" {
		return nil, apierr.Invalid("model", "count_tokens is not available for this model's platform")
	}
	body, err := rawjson.SetString(c.Body, "model", a.model)
	if err != nil {
		return nil, fmt.Errorf("anthropic: patch model: %w", err)
	}
	resp, err := a.postTo(ctx, a.target.CountTokensURL, body, c.Beta)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := provider.ReadAnswer(ctx, resp, maxCountTokensBody)
	if err != nil {
		return nil, err
	}
	if _, ok, err := rawjson.Get(b, "input_tokens"); err != nil || !ok {
		return nil, provider.BadResponse(errors.New("count_tokens answer has no input_tokens"))
	}
	return &provider.CountTokensResult{JSON: b}, nil
}

// patch returns the call's body with the model set to the configured one and, when stream is
// true, "stream": true. A non-streamed call keeps the client's body apart from the model,
// unless it asked for a stream, which is then switched off.
func (a *adapter) patch(c *provider.MessagesCall, stream bool) ([]byte, error) {
	if c == nil || len(c.Body) == 0 {
		return nil, errors.New("anthropic: messages call has no body")
	}
	body, err := rawjson.SetString(c.Body, "model", a.model)
	if err != nil {
		return nil, fmt.Errorf("anthropic: patch model: %w", err)
	}
	if stream {
		body, err = rawjson.Set(body, "stream", []byte("true"))
	} else if v, ok, _ := rawjson.Get(body, "stream"); ok && string(v) != "false" {
		body, err = rawjson.Set(body, "stream", []byte("false"))
	}
	if err != nil {
		return nil, fmt.Errorf("anthropic: patch stream: %w", err)
	}
	return body, nil
}

// messagesStream forwards Anthropic's events as they arrive. It decodes only the events that
// carry usage or an error; the others pass through unread.
type messagesStream struct {
	// ctx is the request's context, kept for the same reason as stream.ctx: to tell a
	// cancellation from a transport failure when a read fails.
	ctx    context.Context
	body   io.ReadCloser
	events *sse.Reader
	closed bool

	usage usage // message_start's counts, updated by message_delta's cumulative ones
	done  bool  // message_stop was returned
	err   error // the error that ended the stream, returned again by later calls
}

var _ provider.MessagesStream = (*messagesStream)(nil)

// Recv returns the next event, io.EOF after message_stop, or the error that broke the stream.
func (s *messagesStream) Recv() (provider.MessagesEvent, error) {
	if s.err != nil {
		return provider.MessagesEvent{}, s.err
	}
	if s.done {
		return provider.MessagesEvent{}, io.EOF
	}
	ev, err := s.next()
	if err != nil {
		s.err = err
	}
	return ev, err
}

// Ready implements provider.Readier: every upstream event with data is one Recv, so the
// next Recv returns at once when the reader holds a whole event, or the stream has ended.
func (s *messagesStream) Ready() bool { return s.err != nil || s.done || s.events.Ready() }

// Close closes the upstream body, read to its end first when the stream finished so its
// connection is reused (provider.CloseStream); it is safe to call more than once.
func (s *messagesStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return provider.CloseStream(s.body, s.done)
}

// usageEvent is the part of a message_start, message_delta or error event the stream reads.
type usageEvent struct {
	Type    string `json:"type"`
	Message *struct {
		Usage usage `json:"usage"`
	} `json:"message"`
	Usage *deltaUsage  `json:"usage"`
	Error *errorDetail `json:"error"`
}

func (s *messagesStream) next() (provider.MessagesEvent, error) {
	ev, err := s.events.Next()
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, sse.ErrTruncated):
		return provider.MessagesEvent{}, provider.BadResponse(errors.New("stream ended before message_stop"))
	case err != nil:
		if s.closed {
			return provider.MessagesEvent{}, fmt.Errorf("anthropic: stream read after close: %w", err)
		}
		return provider.MessagesEvent{}, provider.TransportError(s.ctx, err)
	}
	out := provider.MessagesEvent{Name: ev.Name, Data: ev.Data}
	switch ev.Name {
	case "message_start", "message_delta", "message_stop", "error", "":
	default:
		// Content blocks, ping, and event types newer than this adapter pass as they are,
		// unless they are not JSON (a broken upstream, which may be quoting anything).
		if !rawjson.Valid(ev.Data) {
			return provider.MessagesEvent{}, provider.BadResponse(fmt.Errorf("%s event is not JSON", ev.Name))
		}
		return out, nil
	}
	var e usageEvent
	if err := json.Unmarshal(ev.Data, &e); err != nil {
		return provider.MessagesEvent{}, provider.BadResponse(fmt.Errorf("decode %s event: %w", ev.Name, err))
	}
	if out.Name == "" {
		out.Name = e.Type
	}
	switch out.Name {
	case "error":
		return provider.MessagesEvent{}, eventError(e.Error)
	case "message_start":
		if e.Message != nil {
			s.usage = e.Message.Usage
		}
	case "message_delta":
		s.usage.apply(e.Usage)
		u := openAIUsage(s.usage)
		out.Usage = &u
	case "message_stop":
		s.done = true
	}
	return out, nil
}

// apply updates u with a message_delta's cumulative counts; absent input counts keep the
// ones message_start reported.
func (u *usage) apply(d *deltaUsage) {
	if d == nil {
		return
	}
	u.OutputTokens = d.OutputTokens
	if d.InputTokens != nil {
		u.InputTokens = *d.InputTokens
	}
	if d.CacheCreationInputTokens != nil {
		u.CacheCreationInputTokens = *d.CacheCreationInputTokens
	}
	if d.CacheReadInputTokens != nil {
		u.CacheReadInputTokens = *d.CacheReadInputTokens
	}
	if d.CacheCreation != nil {
		u.CacheCreation = d.CacheCreation
	}
}
