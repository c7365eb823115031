package edge

import (
	"net/http"
	"strconv"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// Request timeout headers: the whole request's deadline in milliseconds, across retries and
// fallbacks. HeaderTFYRequestTimeout is TrueFoundry's name, read when the other is absent.
const (
	HeaderRequestTimeout    = "X-Llmgw-Request-Timeout"
	HeaderTFYRequestTimeout = "X-Tfy-Request-Timeout"
)

// Time-to-first-token timeout headers: how long, in milliseconds, each attempt of a streamed
// request may wait for its stream's first event before the attempt is abandoned and the next
// target is attempted. HeaderTFYTTFTTimeout is TrueFoundry's name, read when the other is
// absent.
const (
	HeaderTTFTTimeout    = "X-Llmgw-Ttft-Timeout-Ms"
	HeaderTFYTTFTTimeout = "X-Tfy-Ttft-Timeout-Ms"
)

// header keeps the value of the first of names the request has, unparsed, and that name.
func header(h http.Header, names ...string) (name, value string) {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return n, v
		}
	}
	return "", ""
}

// Timeout is the request's deadline from its timeout header (HeaderRequestTimeout or
// HeaderTFYRequestTimeout), counted from its arrival: 0 when it sent none, a 400 naming the
// header when it is not a positive whole number of milliseconds.
func (r *Request) Timeout() (time.Duration, error) {
	return millis(r.timeoutName, r.timeout)
}

// TTFTTimeout is the request's time-to-first-token timeout from its header (HeaderTTFTTimeout
// or HeaderTFYTTFTTimeout): 0 when it sent none, a 400 naming the header when it is not a
// positive whole number of milliseconds.
func (r *Request) TTFTTimeout() (time.Duration, error) {
	return millis(r.ttftName, r.ttft)
}

// millis parses the value of header name as a positive whole number of milliseconds; an empty
// value is 0.
func millis(name, value string) (time.Duration, error) {
	if value == "" {
		return 0, nil
	}
	ms, err := strconv.ParseInt(value, 10, 64)
	if err != nil || ms <= 0 || ms > int64(time.Duration(1<<62)/time.Millisecond) {
		return 0, apierr.Invalid(name, "the %s header must be a positive number of milliseconds", name)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
