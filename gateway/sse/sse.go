// Package sse reads and writes server-sent events as LLM APIs use them: event-by-event, with no
// buffering beyond what one read of the upstream brought, so a stream is forwarded as it arrives.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// MaxEventSize bounds one event; a longer one fails the stream rather than growing without limit.
const MaxEventSize = 4 << 20

// readSize is the reader's buffer: one read of the upstream takes up to this much, so events
// that arrived together are in memory together (see Reader.Ready). 4 KiB holds a dozen chat
// chunks; a longer line is put together in Reader.line. It is allocated per stream: 16 KiB
// made it 40 % of the bytes a streamed request allocated.
const readSize = 4 << 10

// Event is one server-sent event. Data is valid until the next call to Next.
type Event struct {
	Name string
	Data []byte
}

// Reader reads events from a stream. It is not safe for concurrent use.
type Reader struct {
	br   *bufio.Reader
	line []byte // a line longer than br's buffer, put together
	data []byte
}

// NewReader returns a reader of r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, readSize)}
}

// ErrTruncated is returned when the stream ends in the middle of an event.
var ErrTruncated = errors.New("sse: stream ended in the middle of an event")

// ErrTooLong is returned for an event larger than MaxEventSize.
var ErrTooLong = errors.New("sse: event larger than the limit")

// readLine returns the next line without its end ("\n" or "\r\n"), valid until the next call;
// io.EOF at the end of the stream. The last line may lack its "\n".
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		r.line = append(r.line[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.br.ReadSlice('\n')
			if len(r.line)+len(line) > MaxEventSize {
				return nil, ErrTooLong
			}
			r.line = append(r.line, line...)
		}
		line = r.line
	}
	if err != nil && (!errors.Is(err, io.EOF) || len(line) == 0) {
		return nil, err
	}
	line = bytes.TrimSuffix(line, newline)
	return bytes.TrimSuffix(line, carriageReturn), nil
}

var (
	newline        = []byte{'\n'}
	carriageReturn = []byte{'\r'}
	colon          = []byte{':'}
)

// Next returns the next event with data, or io.EOF at the clean end of the stream. Comments
// and events without data are skipped.
func (r *Reader) Next() (Event, error) {
	var ev Event
	r.data = r.data[:0]
	hasData := false
	started := false
	for {
		line, err := r.readLine()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Event{}, err
		}
		if len(line) == 0 {
			if hasData {
				ev.Data = r.data
				return ev, nil
			}
			ev.Name, started = "", false
			continue
		}
		started = true
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, colon)
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "event":
			ev.Name = string(value)
		case "data":
			if len(r.data)+len(value)+1 > MaxEventSize {
				return Event{}, ErrTooLong
			}
			if hasData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			hasData = true
		}
	}
	if hasData {
		// The last event lacks its blank line. Deliver it; the caller decides whether the
		// stream was complete (OpenAI's [DONE], Anthropic's message_stop).
		ev.Data = r.data
		return ev, nil
	}
	if started {
		return Event{}, ErrTruncated
	}
	return Event{}, io.EOF
}

// Ready reports whether the next call to Next returns without reading the stream: an event
// with data, complete with its blank line, is already buffered. It does not read. A writer
// forwarding events flushes its client only when Ready is false, so events that arrived
// together leave together and an event is never held while the reader waits for the next.
func (r *Reader) Ready() bool {
	n := r.br.Buffered()
	if n == 0 {
		return false
	}
	buf, _ := r.br.Peek(n) // n bytes are buffered: no read, no error
	hasData := false
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return false
		}
		line := bytes.TrimSuffix(buf[:i], carriageReturn)
		buf = buf[i+1:]
		if len(line) == 0 {
			if hasData {
				return true
			}
			continue
		}
		if field, _, _ := bytes.Cut(line, colon); string(field) == "data" {
			hasData = true
		}
	}
}

// AppendEvent appends one event in wire form to dst: an optional event line, a data line for
// each line of data (Reader joins them again with newlines; JSON from encoding/json has none)
// and the blank line.
func AppendEvent(dst []byte, name string, data []byte) []byte {
	if name != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	for {
		line, rest, more := bytes.Cut(data, []byte{'\n'})
		dst = append(dst, "data: "...)
		dst = append(dst, line...)
		dst = append(dst, '\n')
		if !more {
			break
		}
		data = rest
	}
	return append(dst, '\n')
}
