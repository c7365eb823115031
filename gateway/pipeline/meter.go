package pipeline

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/tokens"
	"github.com/llmgw/llmgw/gateway/usage"
)

// maxDrain bounds the bytes read from an abandoned stream in the background to reach its
// usage; the upstream timeout bounds the time. A stream past either is recorded with the
// usage estimated from what was read.
const maxDrain = 32 << 20

// openStream starts an upstream stream (or a forwarded answer's body) under the pipeline's
// deadline and returns it with the meter that will record its usage event. A stream that fails
// to start is recorded here, as a failure without usage.
//
// The upstream call is detached from the client's context once the stream has opened: a
// client that goes away mid-stream no longer cancels it, so the stream can be read on to its
// end and its real usage recorded (the provider bills what it generates either way). A client
// that goes away before the stream opens still cancels the call: nothing was streamed yet.
//
// A streamed attempt of a request with a time-to-first-token timeout (Caller.ttft) reads its
// stream's first event with peek before it counts as answered: when the timeout passes first,
// counted from the attempt's start, the stream is abandoned and the attempt fails with
// errFirstToken, a timeout the plan's next target follows (see route).
func openStream[S any](p *Pipeline, ctx context.Context, a *Attempt, e usage.Event, start func(context.Context) (S, error), peek func(S) (S, io.Closer)) (S, *meter, error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout)
	stop := context.AfterFunc(ctx, cancel)
	var first *firstDeadline
	if a.Stream && a.Caller.ttft > 0 {
		first = armFirst(a.Caller.ttft-p.now().Sub(a.start), cancel)
	}
	st, err := start(sctx)
	if first != nil {
		if err == nil {
			var c io.Closer
			st, c = peek(st)
			if first.passed() || ctx.Err() != nil {
				_ = c.Close()
				err = first.err(a.Caller.ttft, ctx)
			}
		} else if first.passed() {
			err = first.err(a.Caller.ttft, ctx)
		}
	}
	stop()
	if err != nil {
		e.UsageMissing = true
		p.finish(ctx, a, &e, err)
		cancel()
		return st, nil, err
	}
	a.answered = true
	a.Caller.owns() // the meter records the event, maybe after the handler has returned
	mctx := ctx
	if a.client != nil {
		mctx = a.client // the request's own deadline bounded the start only
	}
	return st, &meter{p: p, ctx: mctx, a: a, c: a.Caller, m: a.Target.Endpoint, e: e, cancel: cancel}, nil
}

// meter records a streamed request's usage event exactly once: when the stream ends, breaks,
// or, when it is closed early, once it has been read on to its end in the background.
// Every stream dialect wraps its upstream stream with one.
//
// The usage is the upstream's when it reported any. When it did not (a stream cut, timed out
// or abandoned before its usage), it is counted from what the gateway saw and marked
// estimated: the prompt from the request (prompt), the completion from the text of the
// chunks (text, kept until usage arrives and tokenized only if it never does).
//
// A stream closed before its end (the client went away, or Fail) is not released at once: a
// goroutine reads it on to its end, up to maxDrain bytes and the upstream timeout, so the
// upstream's usage still arrives; the event then has the real usage, and the status of why
// the stream was left (canceled when the client went away). Pipeline.Drain waits for these.
type meter struct {
	p      *Pipeline
	ctx    context.Context // the client's request
	a      *Attempt        // whose tickets the event settles
	c      *Caller
	m      *snapshot.Endpoint
	e      usage.Event
	cancel context.CancelFunc // ends the upstream call
	// prompt counts the request's prompt for an estimate; nil when usage cannot be estimated
	// (the event is then recorded as usage missing).
	prompt func(*tokens.Counter, string) int64
	text   tokens.Text // completion text seen, until usage arrives
	left   error       // why the stream was closed before its end: context.Canceled or Fail's error

	gotUsage, first, done, closed bool
}

// received notes a successfully received event and the usage it reports, if any.
func (r *meter) received(u *chat.Usage) {
	if !r.first {
		r.first = true
		r.e.TimeToFirstToken = r.p.now().Sub(r.c.start)
	}
	if u != nil {
		r.e.Usage, r.gotUsage = *u, true
	}
}

// addText keeps the text members of a chunk's JSON for an estimate, until usage arrives.
func (r *meter) addText(obj []byte) {
	if !r.gotUsage {
		r.text.AddJSON(obj, tokens.CompletionField)
	}
}

// failed notes the error that ended the stream: io.EOF is a clean end. A stream that was left
// keeps the status of why it was left.
func (r *meter) failed(err error) {
	switch {
	case r.left != nil:
		r.end(r.left)
	case errors.Is(err, io.EOF):
		r.end(nil)
	default:
		r.a.broke = true
		r.end(err)
	}
}

func (r *meter) end(err error) {
	if r.done {
		return
	}
	r.done = true
	if !r.gotUsage {
		var u chat.Usage
		if r.prompt != nil {
			model := r.m.UpstreamModel
			pt, ct := r.prompt(r.p.tokens, model), r.p.tokens.CountText(model, &r.text)
			u = chat.Usage{PromptTokens: pt, CompletionTokens: ct, TotalTokens: pt + ct}
		}
		setEstimate(&r.e, u)
	}
	r.p.finish(r.ctx, r.a, &r.e, err)
}

// setEstimate records u as e's estimated usage; an estimate of nothing (no prompt text, no
// answer seen, or nothing to estimate with) is recorded as usage missing instead, never as a
// count of zero.
func setEstimate(e *usage.Event, u chat.Usage) {
	if u.TotalTokens == 0 {
		e.UsageMissing = true
		return
	}
	e.Usage, e.UsageEstimated = u, true
}

// clientLeft reports, after a successful read, that the client has gone away: the caller
// then returns context.Canceled instead of the event, so the surface stops writing to nobody
// and closes the stream, which is read on in the background.
func (r *meter) clientLeft() bool {
	if r.ctx.Err() == nil {
		return false
	}
	if r.left == nil {
		r.left = context.Canceled
	}
	return true
}

// fail marks the stream as left because of err, when it has not ended yet.
func (r *meter) fail(err error) {
	if !r.done && r.left == nil {
		r.left = err
	}
}

// close ends the stream once. A stream that has ended is released at once; one left before
// its end is read on with step (nil: it is not worth reading on) in the background and
// released after its event is recorded.
func (r *meter) close(step func() (int, error), release func() error) error {
	if r.closed {
		return nil
	}
	r.closed = true
	if !r.done {
		if r.left == nil {
			r.left = context.Canceled
		}
		if step != nil && r.p.drains.start() {
			go r.drain(step, release)
			return nil
		}
		r.end(r.left)
	}
	err := release()
	r.cancel()
	return err
}

// drain reads a left stream on with step until it ends, maxDrain bytes have been read, or
// Pipeline.Drain cuts it short; then records its event and releases it.
func (r *meter) drain(step func() (int, error), release func() error) {
	d := &r.p.drains
	defer d.wg.Done()
	watch := make(chan struct{})
	defer close(watch)
	go func() {
		select {
		case <-d.cut:
			r.cancel()
		case <-watch:
		}
	}()
	for n := 0; !r.done && n <= maxDrain; {
		m, err := step()
		n += m
		if err != nil {
			break
		}
	}
	r.end(r.left)
	_ = release()
	r.cancel()
}

// drains counts the streams being read on in the background.
type drains struct {
	mu      sync.Mutex
	wg      sync.WaitGroup
	closing bool          // Drain has been called: left streams are no longer read on
	cut     chan struct{} // closed when Drain's context ends: reads in progress stop
	cutOnce sync.Once
}

func (d *drains) start() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return false
	}
	d.wg.Add(1)
	return true
}

// Drain waits for the streams that were closed before their end and are still being read in
// the background (see ChatStream) to record their usage. When ctx ends first, it cuts those
// reads short, and each records the usage estimated from what it read. Streams closed after
// Drain was called are recorded at once. Call it once, at shutdown, after the server has
// stopped serving and before the recorder is flushed.
func (p *Pipeline) Drain(ctx context.Context) {
	d := &p.drains
	d.mu.Lock()
	d.closing = true
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	d.cutOnce.Do(func() { close(d.cut) })
	<-done
}

// Fail records st, a stream or body returned by ChatStream, MessagesStream or Forward, as
// failed with err instead of canceled when it is closed before its end: for a failure on the
// gateway's side after a good upstream read, such as a chunk a surface could not translate
// (pass provider.BadResponse). Its usage is recorded as for a stream the client left. It does
// nothing to a stream that has ended, or to any other stream.
func Fail(st io.Closer, err error) {
	if f, ok := st.(interface{ fail(error) }); ok {
		f.fail(err)
	}
}

// recordingStream is a chat stream that records its usage event through a meter.
// Every chunk names the client's model (see answerModel).
type recordingStream struct {
	provider.ChatStream
	*meter
	model answerModel
	// buf holds the chunk last stamped with the client's model: a chunk is valid only until
	// the next Recv (provider.Chunk), so one buffer serves the whole stream.
	buf []byte
}

// next reads and meters one chunk.
func (s *recordingStream) next() (provider.Chunk, error) {
	ch, err := s.ChatStream.Recv()
	if err == nil {
		var old []byte
		var edited bool
		if ch.JSON, old, edited, err = s.model.appendStamp(s.buf[:0], ch.JSON); err == nil {
			if edited {
				s.buf = ch.JSON[:0] // keep the buffer as the stamp may have grown it
			}
			if s.e.UpstreamModel == "" {
				s.e.UpstreamModel = unquote(old)
			}
		}
	}
	if err != nil {
		s.failed(err)
		return provider.Chunk{}, err
	}
	s.received(ch.Usage)
	s.addText(ch.JSON)
	if s.c.bodies != nil {
		s.c.bodies.event("", ch.JSON)
	}
	return ch, nil
}

func (s *recordingStream) Recv() (provider.Chunk, error) {
	ch, err := s.next()
	if err == nil && s.clientLeft() {
		return provider.Chunk{}, context.Canceled
	}
	return ch, err
}

// Ready implements provider.Readier when the upstream stream does (see provider.Ready).
func (s *recordingStream) Ready() bool { return provider.Ready(s.ChatStream) }

// Close records a stream that has ended; one closed before its end is read on in the
// background (see meter).
func (s *recordingStream) Close() error {
	return s.close(func() (int, error) {
		ch, err := s.next()
		return len(ch.JSON), err
	}, s.ChatStream.Close)
}

// recordingMessagesStream is a Messages stream that records its usage event through a meter.
// Its message_start event names the client's model (see answerModel).
type recordingMessagesStream struct {
	provider.MessagesStream
	*meter
	model answerModel
}

// next reads and meters one event; only content blocks carry text.
func (s *recordingMessagesStream) next() (provider.MessagesEvent, error) {
	ev, err := s.MessagesStream.Recv()
	if err == nil && ev.Name == "message_start" {
		ev.Data, s.e.UpstreamModel, err = s.model.stampMessageStart(ev.Data)
	}
	if err != nil {
		s.failed(err)
		return provider.MessagesEvent{}, err
	}
	s.received(ev.Usage)
	if ev.Name == "content_block_delta" {
		s.addText(ev.Data)
	}
	if s.c.bodies != nil {
		s.c.bodies.event(ev.Name, ev.Data)
	}
	return ev, nil
}

func (s *recordingMessagesStream) Recv() (provider.MessagesEvent, error) {
	ev, err := s.next()
	if err == nil && s.clientLeft() {
		return provider.MessagesEvent{}, context.Canceled
	}
	return ev, err
}

// Ready implements provider.Readier when the upstream stream does (see provider.Ready).
func (s *recordingMessagesStream) Ready() bool { return provider.Ready(s.MessagesStream) }

// Close records a stream that has ended; one closed before its end is read on in the
// background (see meter).
func (s *recordingMessagesStream) Close() error {
	return s.close(func() (int, error) {
		ev, err := s.next()
		return len(ev.Data), err
	}, s.MessagesStream.Close)
}

// estimate counts a request's usage from its prompt and, when it has one, its answer's JSON.
func (p *Pipeline) estimate(m *snapshot.Endpoint, prompt func(*tokens.Counter, string) int64, answer []byte) chat.Usage {
	var t tokens.Text
	t.AddJSON(answer, tokens.CompletionField)
	pt, ct := prompt(p.tokens, m.UpstreamModel), p.tokens.CountText(m.UpstreamModel, &t)
	return chat.Usage{PromptTokens: pt, CompletionTokens: ct, TotalTokens: pt + ct}
}

// chatPrompt counts a chat request's prompt: the text of its messages, tool calls and tool
// definitions, plus OpenAI's documented overhead of 3 tokens per message and 3 to prime the
// answer. Images and audio are not counted.
func chatPrompt(req *chat.Request) func(*tokens.Counter, string) int64 {
	return func(c *tokens.Counter, model string) int64 {
		var t tokens.Text
		for _, m := range req.Messages {
			t.WriteString(m.Content.String())
			for _, tc := range m.ToolCalls {
				t.WriteString(tc.Function.Name)
				t.WriteString(tc.Function.Arguments)
			}
			t.WriteString("\n")
		}
		for _, tl := range req.Tools {
			t.WriteString(tl.Function.Name)
			t.WriteString(tl.Function.Description)
			t.Write(tl.Function.Parameters)
		}
		return c.CountText(model, &t) + 3*int64(len(req.Messages)) + 3
	}
}

// jsonPrompt counts the prompt text of a raw request body (an Anthropic Messages request, a
// legacy completions request): the members tokens.PromptField names.
func jsonPrompt(body []byte) func(*tokens.Counter, string) int64 {
	return func(c *tokens.Counter, model string) int64 {
		var t tokens.Text
		t.AddJSON(body, tokens.PromptField)
		return c.CountText(model, &t)
	}
}

// embedPrompt counts embedding inputs, each on its own; past tokens.MaxText bytes in all,
// inputs are estimated rather than tokenized, as a Text's are.
func embedPrompt(inputs []string) func(*tokens.Counter, string) int64 {
	return func(c *tokens.Counter, model string) int64 {
		var n int64
		budget := tokens.MaxText
		for _, in := range inputs {
			if len(in) > budget {
				n += tokens.Estimate(int64(len(in)))
				continue
			}
			budget -= len(in)
			n += c.Count(model, []byte(in))
		}
		return n
	}
}
