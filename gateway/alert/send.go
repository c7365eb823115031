package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/budget"
)

// Headers of a webhook delivery.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body, keyed with the
	// target's secret; it is absent when the target has none.
	SignatureHeader = "X-LLMGW-Signature"
	// DeliveryHeader carries the delivery id, the same as the body's id.
	DeliveryHeader = "X-LLMGW-Delivery"
)

// maxDrain is how much of a response body is read, and discarded, before it is closed, so the
// connection can be reused without reading whatever a target sends.
const maxDrain = 4 << 10

// Sign returns the X-LLMGW-Signature value of body under secret: "sha256=" and the lowercase
// hex HMAC-SHA256. Receivers written in Go can use it to check a delivery (compare with
// hmac.Equal).
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// send POSTs a to t, retrying as the package documentation says, and logs the outcome.
func (n *Notifier) send(ctx context.Context, a budget.Alert, t Target) {
	d := delivery{n: n, a: a, t: t, id: "dlv_" + crand.Text()}
	var body []byte
	var err error
	switch t.Type {
	case TypeWebhook:
		body, err = webhookPayload(a, d.id, n.now())
	case TypeSlackWebhook:
		body, err = slackPayload(a)
	default:
		d.fail(ctx, "unknown target type", 0, 0, nil)
		return
	}
	if err != nil {
		d.fail(ctx, "encode body", 0, 0, err)
		return
	}
	if u, err := url.Parse(t.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.fail(ctx, "target url is not an http(s) url", 0, 0, nil) // err would echo the URL
		return
	}
	var sig string
	if t.Type == TypeWebhook && t.Secret != "" {
		sig = Sign(t.Secret, body)
	}
	for attempt := 1; ; attempt++ {
		status, retryAfter, err := d.post(ctx, body, sig)
		switch {
		case err == nil && status/100 == 2:
			n.logger.LogAttrs(ctx, slog.LevelInfo, "budget alert delivered", d.attrs(attempt, status)...)
			return
		case ctx.Err() != nil:
			d.fail(ctx, "cancelled: final flush over", attempt, status, err)
			return
		case err == nil && status != http.StatusTooManyRequests && status < 500:
			d.fail(ctx, "refused", attempt, status, nil)
			return
		case attempt >= n.attempts:
			d.fail(ctx, "out of attempts", attempt, status, err)
			return
		case retryAfter > MaxRetryAfter:
			d.fail(ctx, "retry-after too long", attempt, status, nil)
			return
		}
		wait := max(n.backoff(attempt), retryAfter)
		n.logger.LogAttrs(ctx, slog.LevelDebug, "budget alert delivery retrying",
			append(d.attrs(attempt, status), slog.Duration("wait", wait), errAttr(err, t.URL))...)
		select {
		case <-n.after(wait):
		case <-ctx.Done():
			d.fail(ctx, "cancelled: final flush over", attempt, status, err)
			return
		}
	}
}

// backoff is the wait after the given failed attempt: base doubled per attempt up to the
// maximum, with jitter taking it down by up to half so that retries of many alerts spread out.
func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.maxDelay
	if attempt-1 < 32 {
		if e := n.base << (attempt - 1); e > 0 && e < d {
			d = e
		}
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// delivery is one alert to one target.
type delivery struct {
	n  *Notifier
	a  budget.Alert
	t  Target
	id string
}

// post makes one attempt under the attempt timeout. It returns the response's status and
// Retry-After, or the transport's error. The response body is drained (a little) and closed,
// never kept.
func (d *delivery) post(ctx context.Context, body []byte, sig string) (status int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, d.n.attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "llmgw-alert")
	if d.t.Type == TypeWebhook {
		req.Header.Set(DeliveryHeader, d.id)
		if sig != "" {
			req.Header.Set(SignatureHeader, sig)
		}
	}
	resp, err := d.n.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	return resp.StatusCode, d.n.retryAfter(resp.Header.Get("Retry-After")), nil
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date. It returns 0 for none.
func (n *Notifier) retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(MaxRetryAfter/time.Second)+1)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(n.now()), 0)
	}
	return 0
}

// attrs are the log attributes of a delivery: never the URL's path or query, never the secret.
func (d *delivery) attrs(attempt, status int) []slog.Attr {
	as := []slog.Attr{
		slog.String("rule", d.a.Rule), slog.String("unit", d.a.Unit.String()), slog.String("bucket", d.a.Bucket),
		slog.Int("threshold", d.a.Threshold), slog.Any("target", d.t), slog.String("delivery", d.id),
		slog.Int("attempts", attempt),
	}
	if status != 0 {
		as = append(as, slog.Int("status", status))
	}
	return as
}

// fail logs a delivery given up on and counts it.
func (d *delivery) fail(ctx context.Context, reason string, attempt, status int, err error) {
	d.n.failed.Add(1)
	as := append(d.attrs(attempt, status), slog.String("reason", reason))
	if err != nil {
		as = append(as, errAttr(err, d.t.URL))
	}
	d.n.logger.LogAttrs(ctx, slog.LevelError, "budget alert delivery failed", as...)
}

// errAttr is a transport error without the request URL (a *url.Error's text holds it, and a
// Slack webhook URL is a secret); only the cause is kept, the URL masked as its host if it
// still shows.
func errAttr(err error, rawURL string) slog.Attr {
	if err == nil {
		return slog.Attr{}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if rawURL != "" {
		msg = strings.ReplaceAll(msg, rawURL, host(rawURL))
		if u, perr := url.Parse(rawURL); perr == nil {
			for _, s := range []string{u.RawQuery, u.EscapedPath()} {
				if len(s) > 1 {
					msg = strings.ReplaceAll(msg, s, "[redacted]")
				}
			}
		}
	}
	return slog.String("error", msg)
}
