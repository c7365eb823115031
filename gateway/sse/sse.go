// Package sse reads and writes server-sent events as LLM APIs use them: event-by-event, with no
// buffering beyond one event, so a stream is forwarded as it arrives.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// MaxEventSize bounds one event; a longer one fails the stream rather than growing without limit.
const MaxEventSize = 4 << 20

// Event is one server-sent event. Data is valid until the next call to Next.
type Event struct {
	Name string
	Data []byte
}

// Reader reads events from a stream. It is not safe for concurrent use.
type Reader struct {
	s    *bufio.Scanner
	data []byte
}

// NewReader returns a reader of r.
func NewReader(r io.Reader) *Reader {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 16<<10), MaxEventSize)
	return &Reader{s: s}
}

// ErrTruncated is returned when the stream ends in the middle of an event.
var ErrTruncated = errors.New("sse: stream ended in the middle of an event")

// Next returns the next event with data, or io.EOF at the clean end of the stream. Comments
// and events without data are skipped.
func (r *Reader) Next() (Event, error) {
	var ev Event
	r.data = r.data[:0]
	hasData := false
	started := false
	for r.s.Scan() {
		line := r.s.Bytes()
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
		field, value, _ := bytes.Cut(line, []byte{':'})
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "event":
			ev.Name = string(value)
		case "data":
			if hasData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			hasData = true
		}
	}
	if err := r.s.Err(); err != nil {
		return Event{}, err
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
