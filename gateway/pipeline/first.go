package pipeline

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/provider"
)

// errFirstToken is the cause of an attempt whose stream sent nothing within the request's
// time-to-first-token timeout (edge.HeaderTTFTTimeout). Such an attempt is not retried on its
// target: the plan's next target is attempted, whatever its fallback statuses (see route).
var errFirstToken = errors.New("no first token within the time-to-first-token timeout")

// firstDeadline abandons a streamed attempt whose first event has not come in time: it cancels
// the attempt's upstream call when its timer fires before it is disarmed. Exactly one of the
// two happens.
type firstDeadline struct {
	t     *time.Timer
	state atomic.Int32 // 0 armed, 1 fired, 2 disarmed
}

// armFirst starts a firstDeadline that calls cancel after d (at once when d is not positive).
func armFirst(d time.Duration, cancel context.CancelFunc) *firstDeadline {
	f := &firstDeadline{}
	f.t = time.AfterFunc(max(d, 0), func() {
		if f.state.CompareAndSwap(0, 1) {
			cancel()
		}
	})
	return f
}

// passed disarms f and reports whether it had fired: the upstream call was canceled.
func (f *firstDeadline) passed() bool {
	if f.state.CompareAndSwap(0, 2) {
		f.t.Stop()
		return false
	}
	return f.state.Load() == 1
}

// err is the error of an attempt abandoned while it waited for its first event: errFirstToken
// when f fired; else the request's own context ended (its deadline passed, or the client left),
// and the attempt is canceled as one that had not begun (see Pipeline.finish).
func (f *firstDeadline) err(ttft time.Duration, ctx context.Context) error {
	if f.state.Load() == 1 {
		return &apierr.Error{Kind: apierr.KindUpstreamTimeout, Cause: errFirstToken,
			Message: "the model sent no first token within the " + ttft.String() + " the " + edge.HeaderTTFTTimeout + " header allows"}
	}
	return &apierr.Error{Kind: apierr.KindCanceled, Message: "request canceled", Cause: ctx.Err()}
}

// peekChat reads a chat stream's first chunk (or the error in its place) ahead; the stream
// returned yields it first. The closer is st's.
func peekChat(st provider.ChatStream) (provider.ChatStream, io.Closer) {
	ch, err := st.Recv()
	return &firstChunk{ChatStream: st, ch: ch, err: err}, st
}

// firstChunk is a chat stream whose first Recv was read ahead.
type firstChunk struct {
	provider.ChatStream
	ch   provider.Chunk
	err  error
	done bool // the first Recv was returned
}

func (s *firstChunk) Recv() (provider.Chunk, error) {
	if !s.done {
		s.done = true
		return s.ch, s.err
	}
	return s.ChatStream.Recv()
}

// Ready implements provider.Readier: the chunk read ahead is ready.
func (s *firstChunk) Ready() bool { return !s.done || provider.Ready(s.ChatStream) }

// peekMessages reads a Messages stream's first event ahead, as peekChat does.
func peekMessages(st provider.MessagesStream) (provider.MessagesStream, io.Closer) {
	ev, err := st.Recv()
	return &firstEvent{MessagesStream: st, ev: ev, err: err}, st
}

// firstEvent is a Messages stream whose first Recv was read ahead.
type firstEvent struct {
	provider.MessagesStream
	ev   provider.MessagesEvent
	err  error
	done bool
}

func (s *firstEvent) Recv() (provider.MessagesEvent, error) {
	if !s.done {
		s.done = true
		return s.ev, s.err
	}
	return s.MessagesStream.Recv()
}

// Ready implements provider.Readier: the event read ahead is ready.
func (s *firstEvent) Ready() bool { return !s.done || provider.Ready(s.MessagesStream) }

// firstRead is how much of a forwarded stream's body peekBody reads ahead, at most.
const firstRead = 4 << 10

// peekBody reads the first bytes of a forwarded answer's body ahead (one read that returns
// some, or an error); the answer returned replays them first. The closer is the body's.
func peekBody(res *provider.ForwardResult) (*provider.ForwardResult, io.Closer) {
	buf := make([]byte, firstRead)
	var n int
	var err error
	for n == 0 && err == nil {
		n, err = res.Body.Read(buf)
	}
	out := *res
	out.Body = &firstBytes{ReadCloser: res.Body, buf: buf[:n], err: err}
	return &out, res.Body
}

// firstBytes is a body whose first bytes (and the error that came with them) were read ahead.
type firstBytes struct {
	io.ReadCloser
	buf []byte
	err error
}

func (b *firstBytes) Read(p []byte) (int, error) {
	if len(b.buf) > 0 {
		n := copy(p, b.buf)
		b.buf = b.buf[n:]
		return n, nil
	}
	if b.err != nil {
		err := b.err
		b.err = nil
		return 0, err
	}
	return b.ReadCloser.Read(p)
}
