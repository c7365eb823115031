// Package usage defines the usage event the gateway records once for every inference request,
// streams included, and a recorder that writes it to the request log.
//
// Later stages (Kafka, ClickHouse) consume the same Event; this package does no I/O beyond
// the logger it is given.
package usage

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
)

// Event is the record of one inference request.
type Event struct {
	// RequestID is the server's id for the request (returned to the client as X-Request-Id);
	// unique per request, never chosen by the client.
	RequestID string
	// ClientRequestID is the X-Request-Id the client sent, if any: untrusted, for correlation.
	ClientRequestID string
	// Surface is the dialect the request came in: "openai", "anthropic", "connect" or "rest"
	// (empty for records made outside a request, such as a batch's usage).
	Surface string
	// Principal names who made the request: "user:alice", "va:billing", "admin", or
	// "unauthenticated" when the key was refused (then KeyPrefix holds the display prefix of
	// a key of the gateway's own shape, never more of it).
	Principal      string
	KeyPrefix      string
	Time           time.Time // when the request arrived
	KeyID          string
	User           string
	VirtualAccount string
	Teams          []string
	Model          string // fully qualified model name the client asked for
	// Target is the fully qualified name of the model that served the request (for a virtual
	// model, the target that answered, or failed last); Model when the client named a real
	// model. Empty when no target was attempted.
	Target string
	// Attempts lists the request's attempts in order, retries and fallbacks included (one for
	// a request that was not retried), with the targets the circuit breaker skipped.
	Attempts []Attempt
	// UpstreamModel is the provider's name for the model as its answer gave it (for example
	// gpt-4o-2024-08-06); empty when the answer named none. Clients see Model only.
	UpstreamModel string
	// Operation is the model type used: "chat", "embedding", "rerank", "batch" or a forwarded
	// endpoint's type; empty for a request that never reached a model (a refusal, a model list).
	Operation string
	Stream    bool
	// Metadata is the request's metadata header (X-LLMGW-Metadata), nil when it sent none.
	Metadata map[string]string
	// Counted names the rate limits and budgets the request was counted against, as
	// "rate_limit:<rule>" and "budget:<rule>", audit-mode rules included.
	Counted []string
	// WouldBlock names the audit-mode rules among Counted that would have refused the request.
	WouldBlock []string
	// Status is "ok", or the error kind's OpenAI code / type for failures; "canceled" when the
	// client went away.
	Status     string
	HTTPStatus int
	Usage      chat.Usage
	// UsageMissing is set when the upstream never reported usage and the gateway could not
	// count it either (a call that failed before its answer started, an answer billed in units
	// other than tokens); such events are counted, never silently zero.
	UsageMissing bool
	// UsageEstimated is set when the upstream never reported usage (a stream cut, timed out or
	// abandoned before its final usage, an answer without usage) and Usage is the gateway's
	// own count instead: the prompt counted from the request, the completion from the text
	// streamed (package tokens). It is priced as reported usage is. Estimated usage is not
	// missing: UsageMissing and UsageEstimated are never both set.
	UsageEstimated bool
	// CostUSD is the usage priced at the model's price when the request arrived.
	CostUSD float64
	// Priced is false when the model has no price (no catalog entry, no override): the event
	// is kept and flagged, never costed as free.
	Priced  bool
	Latency time.Duration
	// Upstream is the part of Latency spent in upstream calls: every attempt's call, from the
	// moment the guards admitted it to its answer (for a stream, to the stream's end), summed
	// over retries and fallbacks. Latency less Upstream is the gateway's own time (routing,
	// guards, retry waits). Zero for a request that never called an upstream.
	Upstream time.Duration
	// TimeToFirstToken is set for streams.
	TimeToFirstToken time.Duration
	// Bodies are the request's bodies when body logging was on for it (by its
	// X-LLMGW-Logging-Config header or a body logging rule); nil otherwise. They are stored
	// apart from the event rows and never written to the request log.
	Bodies *Bodies
}

// Bodies are a request's logged bodies, redacted (the configured secrets of the snapshot that
// served it and key-shaped text masked) and each capped (pipeline.MaxLoggedBody).
type Bodies struct {
	// Request is the request body as the client sent it; for a request that came in over
	// Connect or REST, or in OpenAI's Responses dialect, the chat request it became, as JSON.
	Request []byte
	// Response is the answer: the JSON the client was sent; for a stream, the events as the
	// gateway relayed them from the model, one "data:" line each (Messages streams: with their
	// "event:" lines), before translation into another dialect; for a forwarded endpoint, its
	// body as the upstream sent it. Empty when the request failed before an answer.
	Response []byte
	// RequestTruncated and ResponseTruncated are set when the body was longer than the cap
	// and was cut (at a token boundary, marked "...").
	RequestTruncated  bool
	ResponseTruncated bool
}

// Attempt is one attempt of a request at one target (see Event.Attempts).
type Attempt struct {
	// Target is the fully qualified name of the model attempted.
	Target string
	// Status is "ok", the error's code as Event.Status names it, or "skipped".
	Status string
	// HTTPStatus is the upstream's status when it answered, else the status the gateway gave
	// the failure (0 for a skipped target).
	HTTPStatus int
	// Latency is the attempt's own time: its guards and its upstream call (for a stream, to
	// its end).
	Latency time.Duration
	// ErrorClass says why the attempt failed, one of the Class constants; empty on success.
	ErrorClass string
}

// Why an attempt failed (Attempt.ErrorClass). The first four are the failures that make a
// routed request fall back and that the circuit breaker counts.
const (
	ClassUpstream5xx = "upstream_5xx"     // the upstream answered 5xx
	ClassUpstream429 = "upstream_429"     // the upstream answered 429
	ClassTimeout     = "timeout"          // the upstream call timed out
	ClassTransport   = "transport"        // the upstream could not be reached
	ClassUpstream4xx = "upstream_4xx"     // the upstream answered another 4xx
	ClassBadResponse = "bad_response"     // the upstream's answer could not be used
	ClassRefused     = "refused_by_guard" // a guard (authorization, a rate limit, a budget, the target's fitness) refused it; the upstream was not called
	ClassCanceled    = "canceled"         // the client went away
	ClassGateway     = "gateway"          // the gateway failed
	ClassCircuitOpen = "circuit_open"     // skipped: the target's circuit was open (Status "skipped")
)

// LogRecorder writes each event as one structured request-log line. It never logs prompts,
// completions or keys. Members that are empty for the event (no client request id, no
// metadata, no rules counted, no time to first token for an answer that was not streamed,
// false usage_missing and usage_estimated, ...) are left out: the line costs about half of
// what it did with every member (BenchmarkLogRecorder). It is safe for concurrent use.
type LogRecorder struct {
	Logger *slog.Logger
	// Cap, when set, bounds the lines written per second (see LineCap).
	Cap *LineCap
}

// Record implements the pipeline's recorder.
func (r LogRecorder) Record(ctx context.Context, e *Event) {
	h := r.Logger.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	if r.Cap != nil && !r.Cap.allow(ctx, r.Logger) {
		return
	}
	var buf [32]slog.Attr
	a := append(buf[:0], slog.String("request_id", e.RequestID))
	a = appendString(a, "client_request_id", e.ClientRequestID)
	a = appendString(a, "surface", e.Surface)
	a = appendString(a, "principal", e.Principal)
	a = appendString(a, "key_prefix", e.KeyPrefix)
	a = appendString(a, "key_id", e.KeyID)
	a = appendString(a, "user", e.User)
	a = appendString(a, "virtual_account", e.VirtualAccount)
	a = appendString(a, "model", e.Model)
	a = appendString(a, "upstream_model", e.UpstreamModel)
	a = appendString(a, "target", e.Target)
	if len(e.Attempts) > 0 {
		a = append(a, slog.Int("attempts", len(e.Attempts)))
		if len(e.Attempts) > 1 {
			a = append(a, attemptsAttr(e.Attempts))
		}
	}
	a = appendString(a, "op", e.Operation)
	a = append(a, slog.Bool("stream", e.Stream))
	if len(e.Metadata) > 0 {
		a = append(a, slog.Any("metadata", e.Metadata))
	}
	if len(e.Counted) > 0 {
		a = append(a, slog.Any("counted", e.Counted))
	}
	if len(e.WouldBlock) > 0 {
		a = append(a, slog.Any("would_block", e.WouldBlock))
	}
	a = append(a,
		slog.String("status", e.Status),
		slog.Int("http_status", e.HTTPStatus),
		slog.Int64("prompt_tokens", e.Usage.PromptTokens),
		slog.Int64("completion_tokens", e.Usage.CompletionTokens),
	)
	if c := e.Usage.CachedTokens(); c != 0 {
		a = append(a, slog.Int64("cached_tokens", c))
	}
	if c := e.Usage.CacheWriteTokens; c != 0 {
		a = append(a, slog.Int64("cache_write_tokens", c))
	}
	if e.UsageMissing {
		a = append(a, slog.Bool("usage_missing", true))
	}
	if e.UsageEstimated {
		a = append(a, slog.Bool("usage_estimated", true))
	}
	a = append(a, slog.Float64("cost_usd", e.CostUSD), slog.Bool("priced", e.Priced), slog.Duration("latency", e.Latency))
	if e.TimeToFirstToken != 0 {
		a = append(a, slog.Duration("ttft", e.TimeToFirstToken))
	}
	// The record is made here rather than by Logger.LogAttrs, which looks up its caller's
	// program counter for a source no handler of the request log shows (a tenth of the line's
	// cost); pc 0 is "no source".
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	rec.AddAttrs(a...)
	_ = h.Handle(ctx, rec)
}

// appendString appends the attribute key=v to a unless v is empty.
func appendString(a []slog.Attr, key, v string) []slog.Attr {
	if v == "" {
		return a
	}
	return append(a, slog.String(key, v))
}

// attemptsAttr is the attempts of a request that took more than one, as a group of
// "<n>": "<target> <status> <http status> <latency> [<class>]".
func attemptsAttr(as []Attempt) slog.Attr {
	attrs := make([]any, len(as))
	for i, a := range as {
		v := a.Target + " " + a.Status + " " + strconv.Itoa(a.HTTPStatus) + " " + a.Latency.String()
		if a.ErrorClass != "" {
			v += " " + a.ErrorClass
		}
		attrs[i] = slog.String(strconv.Itoa(i+1), v)
	}
	return slog.Group("attempt_list", attrs...)
}
