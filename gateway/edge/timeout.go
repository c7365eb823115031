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

// requestTimeout keeps the request's timeout header, unparsed, and its name.
func requestTimeout(h http.Header) (name, value string) {
	if v := h.Get(HeaderRequestTimeout); v != "" {
		return HeaderRequestTimeout, v
	}
	if v := h.Get(HeaderTFYRequestTimeout); v != "" {
		return HeaderTFYRequestTimeout, v
	}
	return "", ""
}

// Timeout is the request's deadline from its timeout header (HeaderRequestTimeout or
// HeaderTFYRequestTimeout), counted from its arrival: 0 when it sent none, a 400 naming the
// header when it is not a positive whole number of milliseconds.
func (r *Request) Timeout() (time.Duration, error) {
	if r.timeout == "" {
		return 0, nil
	}
	ms, err := strconv.ParseInt(r.timeout, 10, 64)
	if err != nil || ms <= 0 || ms > int64(time.Duration(1<<62)/time.Millisecond) {
		return 0, apierr.Invalid(r.timeoutName, "the %s header must be a positive number of milliseconds", r.timeoutName)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
