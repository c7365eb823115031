// Package schematype holds the Go types that ent stores as JSON columns. It is imported by the
// ent schema and by the generated client, so it depends on nothing but the standard library.
package schematype

import "encoding/json"

// RoutingTarget is one target of a virtual model or a routing rule, with every default filled
// in; see the Admin API's RoutingTarget.
type RoutingTarget struct {
	Target            string                     `json:"target"`
	Weight            int                        `json:"weight,omitempty"`
	Priority          int                        `json:"priority,omitempty"`
	SLATPOTMS         int                        `json:"sla_tpot_ms,omitempty"`
	SLATTFTMS         int                        `json:"sla_ttft_ms,omitempty"`
	RetryAttempts     int                        `json:"retry_attempts"`
	RetryDelayMS      int                        `json:"retry_delay_ms"`
	RetryOnStatus     []int                      `json:"retry_on_status"`
	FallbackStatus    []int                      `json:"fallback_status"`
	FallbackCandidate bool                       `json:"fallback_candidate"`
	OverrideParams    map[string]json.RawMessage `json:"override_params,omitempty"`
	HeadersSet        map[string]string          `json:"headers_set,omitempty"`
	HeadersRemove     []string                   `json:"headers_remove,omitempty"`
}

// StickyRouting is a weighted virtual model's sticky_routing, header keys canonical; see the
// Admin API's StickyRouting.
type StickyRouting struct {
	TTLSeconds         int                 `json:"ttl_seconds"`
	SessionIdentifiers []SessionIdentifier `json:"session_identifiers"`
}

// SessionIdentifier is where one part of a sticky session's identity is read: Source
// "headers" or "metadata", and the header name or metadata key.
type SessionIdentifier struct {
	Source string `json:"source"`
	Key    string `json:"key"`
}

// Condition selects the requests a rate limit or budget applies to; see the Admin API's
// Condition. Empty parts match everything.
type Condition struct {
	Subjects []string          `json:"subjects,omitempty"`
	Models   []string          `json:"models,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// RateLimitEntry is one unit and limit of a rate limit.
type RateLimitEntry struct {
	Unit    string `json:"unit"`
	LimitTo int64  `json:"limit_to"`
}

// NotificationTarget is where a budget's alerts are posted. The secret is stored sealed with the
// master key, never in plain text.
type NotificationTarget struct {
	Type         string `json:"type"`
	URL          string `json:"url"`
	SecretSealed []byte `json:"secret_sealed,omitempty"`
}

// Pricing is a per-model price override in US dollars per million tokens.
type Pricing struct {
	InputPerMTok       float64 `json:"input_per_mtok"`
	OutputPerMTok      float64 `json:"output_per_mtok"`
	CachedInputPerMTok float64 `json:"cached_input_per_mtok,omitempty"`
	CacheWritePerMTok  float64 `json:"cache_write_per_mtok,omitempty"`
	// CacheWrite1hPerMTok prices one-hour cache writes.
	CacheWrite1hPerMTok float64 `json:"cache_write_1h_per_mtok,omitempty"`
}
