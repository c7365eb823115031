// Package schematype holds the Go types that ent stores as JSON columns. It is imported by the
// ent schema and by the generated client, so it depends on nothing but the standard library.
package schematype

// RoutingTarget is one candidate model of a routing config.
type RoutingTarget struct {
	// Model is a fully qualified model name, "<account>/<model>".
	Model string `json:"model"`
	// Weight is the relative share for the weighted strategy.
	Weight int32 `json:"weight,omitempty"`
	// Priority orders targets for the priority strategy; lower goes first.
	Priority int32 `json:"priority,omitempty"`
	// SLACutoffMS marks a target unhealthy when its recent latency exceeds it; 0 means none.
	SLACutoffMS int32 `json:"sla_cutoff_ms,omitempty"`
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
