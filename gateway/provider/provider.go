// Package provider defines the contract between the gateway and an LLM provider: the adapter
// interfaces, the calls and results they exchange, and the config an adapter is built from.
//
// Adapters live in provider/provider<name> packages; the set of kinds is known only to
// provider/registry. Nothing outside an adapter package switches on a provider kind.
package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
)

// Config is what an adapter is built from: one model of one provider account, with the model's
// overrides already applied to the account's settings.
type Config struct {
	// Kind is the provider kind, such as "openai" or "anthropic".
	Kind string
	// BaseURL is the API base URL; empty means the kind's default.
	BaseURL string
	// APIKey is the provider credential; empty for providers that need none.
	APIKey string
	// Model is the provider's name for the model.
	Model string
	// Settings are the provider's non-secret options, the model's overriding the account's.
	// An adapter reads the keys it documents and refuses unknown ones.
	Settings map[string]string
	// HTTPClient is shared by all adapters; adapters never build their own transport.
	HTTPClient *http.Client
	// Credentials keeps credential caches across builds (see Credentials); nil keeps none.
	Credentials *Credentials
}

// Adapter is a chat model at a provider. Implementations are safe for concurrent use.
type Adapter interface {
	// Chat sends one request and returns the complete answer, a result of the caller's to
	// change.
	Chat(ctx context.Context, c *ChatCall) (*ChatResult, error)
	// ChatStream sends one request and returns the answer as a stream; the caller closes it.
	// Usage is always asked of the upstream, whatever the client asked.
	ChatStream(ctx context.Context, c *ChatCall) (ChatStream, error)
}

// Embedder is an embedding model at a provider. Adapters implement it when the provider can.
type Embedder interface {
	// Embed returns the embeddings of the inputs.
	Embed(ctx context.Context, c *EmbedCall) (*EmbedResult, error)
}

// ChatCall is one chat request to an adapter.
type ChatCall struct {
	// Request is the decoded request. Its Model is the client's name; adapters send Config.Model.
	Request *chat.Request
	// Body is the client's raw OpenAI JSON when the request came in that dialect, or nil.
	// Adapters that speak OpenAI send it with only the model (and stream options) patched.
	Body []byte
}

// ChatResult is a complete chat answer.
type ChatResult struct {
	// JSON is the answer as an OpenAI chat.completion object.
	JSON []byte
	// Usage is the upstream's token count; zero only when the upstream reported none.
	Usage chat.Usage
}

// ChatStream is a streamed chat answer. Recv and Close are not safe for concurrent use.
type ChatStream interface {
	// Recv returns the next chunk, or io.EOF after the last one. An error after the first
	// chunk means the stream broke: the client must be told, not shown a clean end.
	Recv() (Chunk, error)
	// Close releases the upstream connection; it is safe to call more than once.
	Close() error
}

// Readier is a stream that can tell, without waiting, whether its next Recv returns at once:
// the next event has already been read from the upstream. A surface writing a stream flushes
// its client only when Ready is false, so events that arrived together leave in one write,
// and an event written is never held while the gateway waits for the next one. A stream that
// is not a Readier is flushed after every event. Ready must never report true when Recv would
// wait for the upstream.
type Readier interface {
	Ready() bool
}

// Ready reports whether st is a Readier whose next Recv returns at once.
func Ready(st any) bool {
	r, ok := st.(Readier)
	return ok && r.Ready()
}

// Chunk is one event of a streamed answer.
type Chunk struct {
	// JSON is the chunk as an OpenAI chat.completion.chunk object; valid until the next Recv.
	// It is valid JSON: an adapter checks what it relays (rawjson.Valid) and ends the stream
	// at a chunk that is not.
	JSON []byte
	// Usage is set on the chunk that reports usage.
	Usage *chat.Usage
	// UsageOnly marks a chunk that carries only usage (no choices): it is shown to a client
	// only when the client asked for usage.
	UsageOnly bool
}

// EmbedCall is one embeddings request to an adapter.
type EmbedCall struct {
	// Request is the decoded request.
	Request *chat.EmbeddingRequest
	// Body is the client's raw OpenAI JSON, or nil.
	Body []byte
}

// EmbedResult is an embeddings answer.
type EmbedResult struct {
	// JSON is the answer as an OpenAI embeddings list object.
	JSON []byte
	// Usage counts the input tokens.
	Usage chat.Usage
}

// Factory builds an adapter from a config, or reports why the config is invalid.
type Factory func(cfg Config) (Adapter, error)

// MessagesAdapter is a model whose provider speaks Anthropic's Messages API natively. Adapters
// implement it when they can take a client's Messages request as it is, so that everything the
// gateway does not model (thinking blocks and their signatures, cache_control, citations, newer
// block types) round-trips intact. Clients of other dialects never see it: they go through
// Adapter.
type MessagesAdapter interface {
	// Messages sends one non-streamed Messages request and returns the raw answer.
	Messages(ctx context.Context, c *MessagesCall) (*MessagesResult, error)
	// MessagesStream sends one streamed Messages request and returns its events; the caller
	// closes the stream.
	MessagesStream(ctx context.Context, c *MessagesCall) (MessagesStream, error)
	// CountTokens asks the provider how many input tokens the request would use.
	CountTokens(ctx context.Context, c *MessagesCall) (*CountTokensResult, error)
}

// MessagesCall is one request in Anthropic's Messages dialect.
type MessagesCall struct {
	// Model is the client's model name; adapters send Config.Model.
	Model string
	// Body is the client's raw Anthropic JSON. Adapters patch only the model (and, for a
	// stream, the stream flag) and never decode and re-encode it.
	Body []byte
	// Beta is the client's anthropic-beta header values, forwarded as they are.
	Beta []string
}

// MessagesResult is a complete Messages answer.
type MessagesResult struct {
	// JSON is the upstream's Message object, byte for byte.
	JSON []byte
	// Usage is the upstream's usage in the gateway's terms: cache reads and writes count as
	// prompt tokens, cache reads also as cached tokens.
	Usage chat.Usage
}

// MessagesStream is a streamed Messages answer. Recv and Close are not safe for concurrent use.
type MessagesStream interface {
	// Recv returns the next event, or io.EOF after message_stop. An error means the stream
	// broke (an upstream error event included): the client must be told, not shown a clean end.
	Recv() (MessagesEvent, error)
	// Close releases the upstream connection; it is safe to call more than once.
	Close() error
}

// MessagesEvent is one server-sent event of a Messages stream.
type MessagesEvent struct {
	// Name is the event's name, such as "content_block_delta".
	Name string
	// Data is the event's raw JSON, as the upstream sent it; valid until the next Recv.
	Data []byte
	// Usage is set on message_delta events: the message's cumulative usage so far, input
	// counts from message_start included.
	Usage *chat.Usage
}

// CountTokensResult is the answer of a token count.
type CountTokensResult struct {
	// JSON is the upstream's answer, such as {"input_tokens":42}, byte for byte.
	JSON []byte
}

// NoRedirects returns a copy of c that never follows a redirect: an API that redirects is
// misbehaving, and net/http would carry a provider's own credential header (api-key,
// x-goog-api-key, X-Amz-Security-Token) to whatever host it is sent to. The copy's transport
// wraps c's, so the connection pool is still the shared one; it applies the HeaderOverride of
// a request's context (WithHeaderOverride). Every adapter sends through it.
func NoRedirects(c *http.Client) *http.Client {
	out := *c
	out.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out.Transport = overrideTransport{base: base}
	return &out
}

// Send sends req through c, a client NoRedirects made, and returns the answer as c.Do would,
// but through c's transport directly when c keeps no cookies and sets no timeout (every
// adapter's client): http.Client's redirect bookkeeping (a copy of the headers per request)
// serves nothing when no redirect is followed. Its errors carry no URL (a *url.Error's text
// holds the whole URL, and some providers put a key in the query).
func Send(c *http.Client, req *http.Request) (*http.Response, error) {
	if c.Jar != nil || c.Timeout != 0 || c.Transport == nil {
		return c.Do(req)
	}
	return c.Transport.RoundTrip(req)
}

// drainMax and drainWait bound what CloseStream reads of a finished stream's body. The end
// of the body follows the end event at once (the upstream's handler returns), so it is
// normally read in microseconds; drainWait is what an upstream that holds its body open
// after its end event can add to a stream's close, which the client sees as the end of its
// answer coming that much later (its events, [DONE] included, are already sent).
const (
	drainMax  = 64 << 10
	drainWait = 20 * time.Millisecond
)

// CloseStream closes the body of a streamed answer. When the stream has finished (its end
// event was read: [DONE], message_stop), what is left of the body is read first, normally
// only the last chunk of its chunked encoding, up to drainMax bytes and for at most
// drainWait: net/http reuses a connection only when its body was read to the end,
// and without that every stream would open a new connection to its upstream, a TCP
// handshake, two goroutines and 8 KB of buffers each. An unfinished stream (a client that
// left, an error) is closed at once.
func CloseStream(body io.ReadCloser, finished bool) error {
	return closeStream(body, finished, drainWait)
}

func closeStream(body io.ReadCloser, finished bool, wait time.Duration) error {
	if finished {
		// Closing the body aborts a read that waits: an upstream that ends its events but
		// not its body costs at most wait.
		t := time.AfterFunc(wait, func() { _ = body.Close() })
		_, _ = io.CopyN(io.Discard, body, drainMax)
		t.Stop()
	}
	return body.Close()
}

// Credentials keeps the caches of exchanged credentials (OAuth access tokens, assumed-role
// keys) across adapter builds. A snapshot rebuilds every adapter on each configuration change:
// without it, each model's next request would exchange its credential again, and the models
// of one account would each hold their own token. The registry owns one; it is safe for
// concurrent use, and a nil *Credentials keeps nothing. Entries live as long as the process:
// there is one per distinct credential ever configured.
type Credentials struct {
	m sync.Map
}

// SharedCredential returns the value cached under key in c, creating it with create when there
// is none (or when c is nil). key must be CredentialKey of everything the value depends on.
func SharedCredential[T any](c *Credentials, key string, create func() T) T {
	if c == nil {
		return create()
	}
	if v, ok := c.m.Load(key); ok {
		return v.(T)
	}
	v, _ := c.m.LoadOrStore(key, create())
	return v.(T)
}

// CredentialKey is the cache key of a credential made of parts (the secret among them): a
// SHA-256 digest, so the cache holds no secret as a key.
func CredentialKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
