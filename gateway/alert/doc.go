// Package alert delivers budget alerts: for each [budget.Alert] a structured log line, a
// usage-stream event through a callback, and a POST to each notification target of the
// budget rule, retried with backoff in the background.
//
// # What it is for
//
// A [budget.Ledger] emits an alert exactly once per threshold per period per bucket, on the
// goroutine that settles a request. [Notifier.Notify] is shaped to be that callback
// (budget.WithAlerts(n.Notify)): it only puts the alert on a bounded queue and never blocks;
// when the queue is full the alert is counted ([Notifier.Dropped]) and logged as dropped.
// [Notifier.Run] delivers from the queue until its context ends, then flushes what is still
// queued within a bound. Nothing here runs on the request path.
//
// The targets of a rule are looked up when an alert is delivered, through a function the
// caller provides from its current configuration snapshot ([WithTargets]), so a config change
// applies without restarting the notifier. Secrets in a [Target] are the resolved values
// (the caller resolves env:// references).
//
// It is not for deciding when to alert (that is the budget package's job), holds no config or
// storage code, and does not retry an alert across restarts: an alert that cannot be delivered
// within its attempts, or by the end of the final flush, is logged and given up.
//
// # Webhook payload
//
// A target of type "webhook" receives a POST with Content-Type application/json and this body:
//
//	{
//	  "id":                "dlv_...",                  // the delivery id, also in X-LLMGW-Delivery
//	  "type":              "budget.threshold_crossed",
//	  "rule":              "team-a-monthly",           // the budget rule's id
//	  "unit":              "cost_per_month",           // cost_per_{day,week,month,quarter}, tokens_per_{day,month}
//	  "bucket":            "team:a",                   // the rule's bucket (applies_per values); "" for none
//	  "threshold_percent": 90,
//	  "spend":             450.25,                     // USD for cost units, tokens for token units
//	  "limit":             500,                        // same unit as spend
//	  "period_start":      "2026-12-01T00:00:00Z",     // RFC 3339, UTC
//	  "period_end":        "2027-01-01T00:00:00Z",     // exclusive
//	  "audit":             false,                      // the rule is in audit mode (never blocks)
//	  "created_at":        "2026-12-20T10:04:05Z"      // when the notifier took the alert
//	}
//
// Cost amounts are exact decimal numbers of US dollars (up to nine decimals: the budget
// package counts nano-dollars); token amounts are integers. The delivery id is unique per alert
// and target and stays the same across retries, so a receiver can discard duplicates. When the
// target has a secret, the header X-LLMGW-Signature carries "sha256=" and the lowercase hex
// HMAC-SHA256 of the raw body keyed with the secret; a receiver recomputes it over the bytes it
// received (before any JSON decoding) and compares in constant time.
//
// A target of type "slack-webhook" receives Slack's incoming-webhook format, {"text": "..."},
// with a one-line human message in which &, < and > are escaped as Slack requires.
//
// # Delivery
//
// Each POST is retried on network errors, 429 and 5xx, with exponential backoff and jitter
// (honouring a Retry-After of up to [MaxRetryAfter]), at most [DefaultMaxAttempts] times by
// default ([WithRetry]), each attempt under its own timeout ([WithAttemptTimeout]); other
// statuses are final. Deliveries run on a few workers ([WithWorkers]), so one slow target does
// not hold up every other alert. Redirects are not followed. Response bodies are read (a few
// bytes at most) and discarded, never logged: a failure is logged with its status. Target URLs
// are logged by host only, because a Slack webhook URL is itself a secret; secrets are never
// logged.
package alert
