package alert

import (
	"log/slog"
	"net/url"
)

// The target types a budget rule's notification_target may name.
const (
	// TypeWebhook is a generic JSON webhook, signed when the target has a secret.
	TypeWebhook = "webhook"
	// TypeSlackWebhook is a Slack incoming webhook.
	TypeSlackWebhook = "slack-webhook"
)

// Target is one place a budget rule's alerts are sent to. Its URL and Secret are secrets (a
// Slack webhook URL grants posting to a channel): Target's String and LogValue show only the
// type and the URL's host.
type Target struct {
	// Type is TypeWebhook or TypeSlackWebhook; a target of another type is logged and skipped.
	Type string
	// URL is the http or https URL to POST to, resolved (not an env:// reference).
	URL string
	// Secret, when not empty, keys the HMAC-SHA256 signature of a webhook's body. Slack
	// targets ignore it.
	Secret string
}

// Targets returns the notification targets of the budget rule with the given id, or none.
// The Notifier calls it once per alert, on its own goroutines, so it must be safe for
// concurrent use; loading the current config snapshot from an atomic pointer is the intended
// shape. The Notifier does not modify the returned slice.
type Targets func(rule string) []Target

// String returns the target's type and URL host, never its path, query or secret.
func (t Target) String() string { return t.Type + " " + host(t.URL) }

// LogValue implements slog.LogValuer: the target's type and URL host only.
func (t Target) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", t.Type), slog.String("host", host(t.URL)))
}

// host returns the host of raw, or "invalid-url" when raw does not parse: a URL that does not
// parse is not echoed either, since it may still hold a secret.
func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "invalid-url"
	}
	return u.Host
}
