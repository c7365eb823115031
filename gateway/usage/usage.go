// Package usage defines the usage event the gateway records once for every inference request,
// streams included, and a recorder that writes it to the request log.
//
// Later stages (Kafka, ClickHouse) consume the same Event; this package does no I/O beyond
// the logger it is given.
package usage

import (
	"context"
	"log/slog"
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
	// TimeToFirstToken is set for streams.
	TimeToFirstToken time.Duration
}

// LogRecorder writes each event as one structured request-log line. It never logs prompts,
// completions or keys. It is safe for concurrent use.
type LogRecorder struct {
	Logger *slog.Logger
}

// Record implements the pipeline's recorder.
func (r LogRecorder) Record(ctx context.Context, e *Event) {
	r.Logger.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.String("request_id", e.RequestID),
		slog.String("client_request_id", e.ClientRequestID),
		slog.String("surface", e.Surface),
		slog.String("principal", e.Principal),
		slog.String("key_prefix", e.KeyPrefix),
		slog.String("key_id", e.KeyID),
		slog.String("user", e.User),
		slog.String("virtual_account", e.VirtualAccount),
		slog.String("model", e.Model),
		slog.String("upstream_model", e.UpstreamModel),
		slog.String("op", e.Operation),
		slog.Bool("stream", e.Stream),
		slog.Any("metadata", e.Metadata),
		slog.Any("counted", e.Counted),
		slog.Any("would_block", e.WouldBlock),
		slog.String("status", e.Status),
		slog.Int("http_status", e.HTTPStatus),
		slog.Int64("prompt_tokens", e.Usage.PromptTokens),
		slog.Int64("completion_tokens", e.Usage.CompletionTokens),
		slog.Int64("cached_tokens", e.Usage.CachedTokens()),
		slog.Bool("usage_missing", e.UsageMissing),
		slog.Bool("usage_estimated", e.UsageEstimated),
		slog.Float64("cost_usd", e.CostUSD),
		slog.Bool("priced", e.Priced),
		slog.Duration("latency", e.Latency),
		slog.Duration("ttft", e.TimeToFirstToken),
	)
}
