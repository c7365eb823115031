package edge

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// Surface names, as a request's usage event and log line carry them.
const (
	SurfaceOpenAI    = "openai"    // /v1/*, OpenAI's dialect
	SurfaceAnthropic = "anthropic" // /v1/messages, Anthropic's dialect
	SurfaceConnect   = "connect"   // InferenceService over Connect, gRPC or gRPC-Web
	SurfaceREST      = "rest"      // InferenceService through the REST gateway
)

// maxClientID bounds the client's X-Request-Id kept with a request.
const maxClientID = 128

// Request is what the edge knows of one request while it is served: its id, the id the
// client sent, who made it and what it asked for. It travels in the request's context from the
// edge to the pipeline, and lets the edge leave exactly one record of every request: the
// pipeline's usage event when the request reached a model, else a refusal the edge records
// itself (see Recorded).
//
// The handler goroutine fills it; Recorded may be read from another one.
type Request struct {
	// ID is the server's id for the request (a UUIDv7), unique per request and returned as
	// X-Request-Id. Clients cannot choose it.
	ID string
	// ClientID is the X-Request-Id the client sent, if any: untrusted, kept for correlation only
	// (printable ASCII and spaces, at most 128 bytes; anything else is dropped).
	ClientID string
	// Surface is the dialect the request came in (SurfaceOpenAI, ...).
	Surface string
	// Start is when the edge received the request.
	Start time.Time

	idValue     [1]string   // ID as a header value (SetID)
	header      http.Header // the client's headers, for the session identifiers of sticky routing
	metadata    http.Header // the metadata headers, unparsed
	timeout     string      // the request timeout header, unparsed (see Timeout)
	timeoutName string
	ttft        string // the time-to-first-token timeout header, unparsed (see TTFTTimeout)
	ttftName    string
	logging     string // the body logging header, unparsed (see LogBodies)
	loggingName string

	mu        sync.Mutex
	principal string
	keyPrefix string
	model     string
	err       *apierr.Error
	recorded  atomic.Bool
}

// NewRequest names a request that arrived at now on surface, with the client's headers h.
func NewRequest(h http.Header, surface string, now time.Time) *Request {
	r := &Request{ID: NewID(), ClientID: clientID(h.Get("X-Request-Id")), Surface: surface, Start: now}
	r.header = h
	r.metadata = metadataHeaders(h)
	r.timeoutName, r.timeout = header(h, HeaderRequestTimeout, HeaderTFYRequestTimeout)
	r.ttftName, r.ttft = header(h, HeaderTTFTTimeout, HeaderTFYTTFTTimeout)
	r.loggingName, r.logging = header(h, HeaderLoggingConfig, HeaderTFYLoggingConfig)
	return r
}

// Header returns the first value of the client's header named key, which must be canonical
// (http.CanonicalHeaderKey), or "" when it sent none.
func (r *Request) Header(key string) string {
	if v := r.header[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// NewID returns a fresh request id: a UUIDv7 (RFC 9562: 48 bits of Unix milliseconds, then
// 74 random bits), so ids sort by time. The random bits come from the runtime's ChaCha8
// generator (math/rand/v2's, seeded from the system's entropy): no system call and one
// allocation, the string.
func NewID() string {
	var u [16]byte
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint64(u[0:8], ms<<16|uint64(rand.Uint32()&0xffff))
	binary.BigEndian.PutUint64(u[8:16], rand.Uint64())
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // variant 10
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

func clientID(s string) string {
	if s == "" || len(s) > maxClientID {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return ""
		}
	}
	return s
}

type ctxKey struct{}

// WithRequest returns ctx carrying r.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, ctxKey{}, r)
}

// FromContext returns the request ctx carries, or nil.
func FromContext(ctx context.Context) *Request {
	r, _ := ctx.Value(ctxKey{}).(*Request)
	return r
}

// Ensure returns the request r's context carries; when it carries none (a surface used as a
// bare handler, outside the server's edge), it makes one for surface and returns r with it.
func Ensure(r *http.Request, surface string) (*Request, *http.Request) {
	if er := FromContext(r.Context()); er != nil {
		return er, r
	}
	er := NewRequest(r.Header, surface, time.Now())
	return er, r.WithContext(WithRequest(r.Context(), er))
}

// Admitted notes who made the request, by principal name ("user:alice", "admin").
func (r *Request) Admitted(principal string) {
	r.mu.Lock()
	r.principal, r.keyPrefix = principal, ""
	r.mu.Unlock()
}

// Unauthenticated notes a request whose key was refused: only a display prefix of a key shaped
// like the gateway's own is kept, never the key.
func (r *Request) Unauthenticated(secret string) {
	r.mu.Lock()
	r.principal, r.keyPrefix = "unauthenticated", KeyPrefix(secret)
	r.mu.Unlock()
}

// Asked notes the model the request asked for.
func (r *Request) Asked(model string) {
	if len(model) > 256 {
		model = model[:256]
	}
	r.mu.Lock()
	r.model = model
	r.mu.Unlock()
}

// Failed notes the error the request was answered with.
func (r *Request) Failed(err error) {
	e := apierr.From(err)
	r.mu.Lock()
	r.err = e
	r.mu.Unlock()
}

// MarkRecorded notes that a usage event for the request is (or will be) recorded by the
// pipeline, so the edge records nothing of its own. It reports whether it was the first to.
func (r *Request) MarkRecorded() bool { return r.recorded.CompareAndSwap(false, true) }

// Recorded reports whether MarkRecorded was called.
func (r *Request) Recorded() bool { return r.recorded.Load() }

// Outcome is what the edge knows when the request ends: for a refusal's record.
type Outcome struct {
	Principal string
	KeyPrefix string
	Model     string
	Err       *apierr.Error
}

// Outcome returns what was noted so far.
func (r *Request) Outcome() Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Outcome{Principal: r.principal, KeyPrefix: r.keyPrefix, Model: r.model, Err: r.err}
}

// gatewayKeyPrefix starts every key the gateway issues (snapshot.KeyPrefix).
const gatewayKeyPrefix = "llmgw-"

// KeyPrefix returns the display prefix of a presented key that has the gateway's own shape
// ("llmgw-" and 6 more characters, as the key listing shows), or "" for any other secret: a
// provider key sent by mistake is never logged, not even in part.
func KeyPrefix(secret string) string {
	const n = len(gatewayKeyPrefix) + 6
	if !strings.HasPrefix(secret, gatewayKeyPrefix) || len(secret) < n+16 {
		return ""
	}
	return secret[:n]
}
