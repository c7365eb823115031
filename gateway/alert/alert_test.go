package alert_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/alert"
	"github.com/llmgw/llmgw/gateway/budget"
)

var (
	periodStart = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	periodEnd   = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	fixedNow    = time.Date(2026, 12, 20, 10, 4, 5, 0, time.UTC)
)

func costAlert(rule string, threshold int) budget.Alert {
	return budget.Alert{Rule: rule, Unit: budget.CostPerMonth, Bucket: "team:a", Threshold: threshold,
		Spend: 450_250_000_000, Limit: 500 * budget.NanoPerUSD, PeriodStart: periodStart, PeriodEnd: periodEnd}
}

// logBuffer is a log sink safe for the notifier's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// fakeAfter records the waits asked for and fires at once: no test sleeps for a backoff.
type fakeAfter struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeAfter) after(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- fixedNow
	return ch
}

func (f *fakeAfter) Waits() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

func clock(f *fakeAfter) alert.Option {
	return alert.WithClock(func() time.Time { return fixedNow }, f.after)
}

func targets(m map[string][]alert.Target) alert.Option {
	return alert.WithTargets(func(rule string) []alert.Target { return m[rule] })
}

// flush runs n on an already cancelled context: it delivers everything queued (the final
// flush) and returns.
func flush(t *testing.T, n *alert.Notifier) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	n.Run(ctx)
}

// receiver records what a webhook receiver gets, checking signatures as a receiver would.
type receiver struct {
	t      *testing.T
	secret string

	mu     sync.Mutex
	bodies []map[string]any
	raw    [][]byte
	hdrs   []http.Header
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("read body: %v", err)
		return
	}
	if rc.secret != "" {
		// What a receiver does: recompute over the raw bytes, compare in constant time.
		got, ok := strings.CutPrefix(r.Header.Get("X-LLMGW-Signature"), "sha256=")
		sig, derr := hex.DecodeString(got)
		m := hmac.New(sha256.New, []byte(rc.secret))
		m.Write(raw)
		if !ok || derr != nil || !hmac.Equal(sig, m.Sum(nil)) {
			rc.t.Errorf("bad signature %q", r.Header.Get("X-LLMGW-Signature"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	} else if h := r.Header.Get("X-LLMGW-Signature"); h != "" {
		rc.t.Errorf("unsigned target got signature %q", h)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		rc.t.Errorf("body is not JSON: %v", err)
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, body)
	rc.raw = append(rc.raw, raw)
	rc.hdrs = append(rc.hdrs, r.Header.Clone())
	rc.mu.Unlock()
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

func TestDeliversOncePerAlertPerTarget(t *testing.T) {
	signed := &receiver{t: t, secret: "whsec-test"}
	unsigned := &receiver{t: t}
	slack := &receiver{t: t}
	srvSigned, srvUnsigned, srvSlack := httptest.NewServer(signed), httptest.NewServer(unsigned), httptest.NewServer(slack)
	defer srvSigned.Close()
	defer srvUnsigned.Close()
	defer srvSlack.Close()

	var (
		mu     sync.Mutex
		events []budget.Alert
	)
	logger, _ := newLogger()
	fa := &fakeAfter{}
	n := alert.New(srvSigned.Client(), logger, clock(fa),
		targets(map[string][]alert.Target{
			"cost-rule": {
				{Type: alert.TypeWebhook, URL: srvSigned.URL + "/hook", Secret: "whsec-test"},
				{Type: alert.TypeWebhook, URL: srvUnsigned.URL + "/hook"},
				{Type: alert.TypeSlackWebhook, URL: srvSlack.URL + "/services/T0/B0/X"},
			},
			"token-rule": {{Type: alert.TypeWebhook, URL: srvSigned.URL + "/hook", Secret: "whsec-test"}},
		}),
		alert.WithEvent(func(_ context.Context, a budget.Alert) {
			mu.Lock()
			events = append(events, a)
			mu.Unlock()
		}))

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()

	tokens := budget.Alert{Rule: "token-rule", Unit: budget.TokensPerDay, Threshold: 100, Spend: 1200, Limit: 1000,
		PeriodStart: periodStart, PeriodEnd: periodStart.AddDate(0, 0, 1), Audit: true}
	alerts := []budget.Alert{costAlert("cost-rule", 75), costAlert("cost-rule", 90), tokens}
	for _, a := range alerts {
		n.Notify(a)
	}
	deadline := time.Now().Add(10 * time.Second)
	for signed.count() < 3 || unsigned.count() < 2 || slack.count() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: signed %d, unsigned %d, slack %d", signed.count(), unsigned.count(), slack.count())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done

	if signed.count() != 3 || unsigned.count() != 2 || slack.count() != 2 {
		t.Errorf("deliveries: signed %d, unsigned %d, slack %d; want 3, 2, 2", signed.count(), unsigned.count(), slack.count())
	}
	if n.Failed() != 0 || n.Dropped() != 0 || len(fa.Waits()) != 0 {
		t.Errorf("failed %d, dropped %d, waits %v; want none", n.Failed(), n.Dropped(), fa.Waits())
	}
	mu.Lock()
	if diff := cmp.Diff(alerts, events, cmp.Transformer("sort", sortAlerts)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	mu.Unlock()

	// The signed receiver's bodies, by rule and threshold, without the per-delivery id.
	got := map[string]map[string]any{}
	ids := map[string]bool{}
	for i, b := range signed.bodies {
		id, _ := b["id"].(string)
		if !strings.HasPrefix(id, "dlv_") || signed.hdrs[i].Get("X-LLMGW-Delivery") != id || ids[id] {
			t.Errorf("delivery id %q, header %q: want a unique dlv_ id in both", id, signed.hdrs[i].Get("X-LLMGW-Delivery"))
		}
		ids[id] = true
		if ct := signed.hdrs[i].Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		delete(b, "id")
		got[b["rule"].(string)+"/"+b["unit"].(string)+"/"+jsonString(b["threshold_percent"])] = b
	}
	want := map[string]map[string]any{
		"cost-rule/cost_per_month/75": {"type": "budget.threshold_crossed", "rule": "cost-rule", "unit": "cost_per_month",
			"bucket": "team:a", "threshold_percent": 75.0, "spend": 450.25, "limit": 500.0,
			"period_start": "2026-12-01T00:00:00Z", "period_end": "2027-01-01T00:00:00Z", "audit": false,
			"created_at": "2026-12-20T10:04:05Z"},
		"cost-rule/cost_per_month/90": {"type": "budget.threshold_crossed", "rule": "cost-rule", "unit": "cost_per_month",
			"bucket": "team:a", "threshold_percent": 90.0, "spend": 450.25, "limit": 500.0,
			"period_start": "2026-12-01T00:00:00Z", "period_end": "2027-01-01T00:00:00Z", "audit": false,
			"created_at": "2026-12-20T10:04:05Z"},
		"token-rule/tokens_per_day/100": {"type": "budget.threshold_crossed", "rule": "token-rule", "unit": "tokens_per_day",
			"bucket": "", "threshold_percent": 100.0, "spend": 1200.0, "limit": 1000.0,
			"period_start": "2026-12-01T00:00:00Z", "period_end": "2026-12-02T00:00:00Z", "audit": true,
			"created_at": "2026-12-20T10:04:05Z"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("webhook bodies (-want +got):\n%s", diff)
	}
	// Amounts are numbers: exact dollars for cost, integers for tokens.
	for _, raw := range signed.raw {
		s := string(raw)
		if !strings.Contains(s, `"spend":450.25,"limit":500,`) && !strings.Contains(s, `"spend":1200,"limit":1000,`) {
			t.Errorf("amounts not rendered as numbers: %s", s)
		}
	}
}

func sortAlerts(as []budget.Alert) []budget.Alert {
	out := append([]budget.Alert(nil), as...)
	key := func(a budget.Alert) string { return a.Rule + jsonString(a.Threshold) }
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if key(out[j]) < key(out[i]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSlackBody(t *testing.T) {
	var (
		mu  sync.Mutex
		raw []byte
		ct  string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		raw, _ = io.ReadAll(r.Body)
		ct = r.Header.Get("Content-Type")
		if r.Header.Get("X-LLMGW-Signature") != "" || r.Header.Get("X-LLMGW-Delivery") != "" {
			t.Errorf("slack delivery carries webhook headers: %v", r.Header)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	logger, _ := newLogger()
	fa := &fakeAfter{}
	n := alert.New(srv.Client(), logger, clock(fa), targets(map[string][]alert.Target{
		"r": {{Type: alert.TypeSlackWebhook, URL: srv.URL + "/services/T0/B0/X", Secret: "ignored"}},
	}))

	tests := []struct {
		name string
		a    budget.Alert
		want string
	}{
		{
			name: "cost with escaped bucket",
			a: budget.Alert{Rule: "r", Unit: budget.CostPerMonth, Bucket: "metadata.env:<prod>&x", Threshold: 90,
				Spend: 450_250_000_000, Limit: 500 * budget.NanoPerUSD, PeriodStart: periodStart, PeriodEnd: periodEnd},
			want: `:warning: llmgw budget "r" (metadata.env:&lt;prod&gt;&amp;x) reached 90% of its cost_per_month limit: ` +
				`$450.25 of $500.00, period 2026-12-01 to 2027-01-01 UTC.`,
		},
		{
			name: "sub-cent cost, limit reached",
			a: budget.Alert{Rule: "r", Unit: budget.CostPerDay, Threshold: 100,
				Spend: 1_234_567, Limit: 1_000_000, PeriodStart: periodStart, PeriodEnd: periodStart.AddDate(0, 0, 1)},
			want: `:warning: llmgw budget "r" reached 100% of its cost_per_day limit: $0.001234567 of $0.001, ` +
				`period 2026-12-01 to 2026-12-02 UTC; further requests are refused until the period ends.`,
		},
		{
			name: "tokens in audit mode",
			a: budget.Alert{Rule: "r", Unit: budget.TokensPerMonth, Bucket: "user:bob", Threshold: 100, Spend: 1200,
				Limit: 1000, PeriodStart: periodStart, PeriodEnd: periodEnd, Audit: true},
			want: `:warning: llmgw budget "r" (user:bob) reached 100% of its tokens_per_month limit: 1200 tokens of ` +
				`1000 tokens, period 2026-12-01 to 2027-01-01 UTC (audit mode: requests are not refused).`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n.Notify(tt.a)
			flush(t, n)
			mu.Lock()
			defer mu.Unlock()
			if ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("body %q: %v", raw, err)
			}
			if diff := cmp.Diff(map[string]any{"text": tt.want}, body); diff != "" {
				t.Errorf("slack body (-want +got):\n%s", diff)
			}
		})
	}
}

// scripted answers each request with the next status of its script (the last one repeats);
// status -1 drops the connection, a network error.
type scripted struct {
	t      *testing.T
	script []int
	header http.Header

	mu   sync.Mutex
	hits int
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := s.script[min(s.hits, len(s.script)-1)]
	s.hits++
	s.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	if st == -1 {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			s.t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
		return
	}
	for k, v := range s.header {
		w.Header()[k] = v
	}
	w.WriteHeader(st)
	_, _ = io.WriteString(w, "UPSTREAM-BODY-MARKER")
}

func (s *scripted) Hits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name       string
		script     []int
		header     http.Header
		wantHits   int
		wantFailed uint64
		// wantMinWaits are the least waits asked for between attempts; without Retry-After,
		// each is jittered within [base<<i / 2, base<<i].
		wantMinWaits []time.Duration
	}{
		{name: "500 then success", script: []int{500, 200}, wantHits: 2,
			wantMinWaits: []time.Duration{500 * time.Millisecond}},
		{name: "network error then success", script: []int{-1, 204}, wantHits: 2,
			wantMinWaits: []time.Duration{500 * time.Millisecond}},
		{name: "429 honours retry-after", script: []int{429, 200}, header: http.Header{"Retry-After": {"7"}},
			wantHits: 2, wantMinWaits: []time.Duration{7 * time.Second}},
		{name: "retry-after beyond the bound gives up", script: []int{503}, header: http.Header{"Retry-After": {"86400"}},
			wantHits: 1, wantFailed: 1},
		{name: "400 not retried", script: []int{400}, wantHits: 1, wantFailed: 1},
		{name: "404 not retried", script: []int{404}, wantHits: 1, wantFailed: 1},
		{name: "always 503: bounded attempts", script: []int{503}, wantHits: 4, wantFailed: 1,
			wantMinWaits: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}},
		{name: "redirect not followed", script: []int{302}, header: http.Header{"Location": {"/elsewhere"}},
			wantHits: 1, wantFailed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{t: t, script: tt.script, header: tt.header}
			srv := httptest.NewServer(s)
			defer srv.Close()
			logger, logs := newLogger()
			fa := &fakeAfter{}
			n := alert.New(srv.Client(), logger, clock(fa), alert.WithRetry(4, time.Second, 30*time.Second),
				targets(map[string][]alert.Target{"r": {{Type: alert.TypeWebhook, URL: srv.URL + "/hook", Secret: "k"}}}))
			n.Notify(costAlert("r", 75))
			flush(t, n)

			if hits := s.Hits(); hits != tt.wantHits || n.Failed() != tt.wantFailed {
				t.Errorf("hits %d, failed %d; want %d, %d", hits, n.Failed(), tt.wantHits, tt.wantFailed)
			}
			waits := fa.Waits()
			if len(waits) != len(tt.wantMinWaits) {
				t.Fatalf("waits %v; want %d", waits, len(tt.wantMinWaits))
			}
			for i, w := range waits {
				if w < tt.wantMinWaits[i] || (tt.header == nil && w > 2*tt.wantMinWaits[i]) {
					t.Errorf("wait %d = %v; want in [%v, %v]", i, w, tt.wantMinWaits[i], 2*tt.wantMinWaits[i])
				}
			}
			if strings.Contains(logs.String(), "UPSTREAM-BODY-MARKER") {
				t.Errorf("an upstream body reached the log:\n%s", logs)
			}
		})
	}
}

func TestQueueFullDropsWithoutBlocking(t *testing.T) {
	received := make(chan struct{}, 16)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()

	logger, logs := newLogger()
	fa := &fakeAfter{}
	n := alert.New(srv.Client(), logger, clock(fa), alert.WithQueueSize(1), alert.WithWorkers(1),
		targets(map[string][]alert.Target{"r": {{Type: alert.TypeWebhook, URL: srv.URL}}}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { close(release); cancel(); <-done }()

	n.Notify(costAlert("r", 75)) // taken by the only worker, which gets stuck in the POST
	<-received
	notified := make(chan struct{})
	go func() {
		n.Notify(costAlert("r", 90))  // fills the queue
		n.Notify(costAlert("r", 100)) // dropped
		n.Notify(costAlert("r", 110)) // dropped
		close(notified)
	}()
	select {
	case <-notified:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify blocked while the sender was stuck")
	}
	if n.Dropped() != 2 {
		t.Errorf("dropped %d; want 2", n.Dropped())
	}
	if got := strings.Count(logs.String(), "budget alert dropped"); got != 2 {
		t.Errorf("%d drop lines; want 2:\n%s", got, logs)
	}
}

func TestFinalFlush(t *testing.T) {
	t.Run("delivers what is queued", func(t *testing.T) {
		rc := &receiver{t: t}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		logger, _ := newLogger()
		n := alert.New(srv.Client(), logger, clock(&fakeAfter{}), alert.WithWorkers(2),
			targets(map[string][]alert.Target{"r": {{Type: alert.TypeWebhook, URL: srv.URL}}}))
		for th := range 5 {
			n.Notify(costAlert("r", 10*(th+1)))
		}
		flush(t, n)
		if rc.count() != 5 || n.Failed() != 0 {
			t.Errorf("delivered %d, failed %d; want 5, 0", rc.count(), n.Failed())
		}
	})
	t.Run("within the bound", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		logger, logs := newLogger()
		n := alert.New(srv.Client(), logger, clock(&fakeAfter{}), alert.WithWorkers(1),
			alert.WithFlushTimeout(50*time.Millisecond), alert.WithAttemptTimeout(time.Hour),
			targets(map[string][]alert.Target{"r": {{Type: alert.TypeWebhook, URL: srv.URL}}}))
		for th := range 3 {
			n.Notify(costAlert("r", 10*(th+1)))
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after the flush timeout")
		}
		// The first delivery is cancelled mid-attempt; the others find the flush over.
		if n.Failed() != 3 {
			t.Errorf("failed %d; want 3", n.Failed())
		}
		if got := strings.Count(logs.String(), "budget threshold crossed"); got != 3 {
			t.Errorf("%d alert lines; want every queued alert logged (3)", got)
		}
	})
}

func TestLogsHoldNoSecrets(t *testing.T) {
	const (
		secret     = "whsec-TOPSECRET-value"
		slackPath  = "/services/T0SECRET/B0SECRET/XXSLACKSECRETXX"
		querySecre = "QUERYSECRET"
	)
	failing := httptest.NewServer(&scripted{t: t, script: []int{500}})
	defer failing.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close() // connection refused: a transport error, whose text would carry the URL

	logger, logs := newLogger()
	n := alert.New(nil, logger, clock(&fakeAfter{}), alert.WithRetry(2, time.Second, time.Second),
		targets(map[string][]alert.Target{"r": {
			{Type: alert.TypeWebhook, URL: failing.URL + "/hook?token=" + querySecre, Secret: secret},
			{Type: alert.TypeSlackWebhook, URL: failing.URL + slackPath},
			{Type: alert.TypeSlackWebhook, URL: goneURL + slackPath + "?token=" + querySecre},
			{Type: alert.TypeWebhook, URL: goneURL + "/hook?token=" + querySecre, Secret: secret},
			{Type: "pager", URL: failing.URL + slackPath, Secret: secret},
			{Type: alert.TypeSlackWebhook, URL: "ftp://example.com" + slackPath},
		}}))
	n.Notify(costAlert("r", 75))
	flush(t, n)
	// Logging a target directly shows only its type and host.
	logger.Info("target", "t", alert.Target{Type: alert.TypeWebhook, URL: failing.URL + slackPath, Secret: secret})

	out := logs.String()
	if n.Failed() != 6 {
		t.Errorf("failed %d; want 6:\n%s", n.Failed(), out)
	}
	for _, s := range []string{secret, "SECRET", querySecre, "UPSTREAM-BODY-MARKER"} {
		if strings.Contains(out, s) {
			t.Errorf("log holds %q:\n%s", s, out)
		}
	}
	for _, s := range []string{"budget threshold crossed", "status=500", "connection refused", "unknown target type",
		"not an http(s) url", "host=127.0.0.1"} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
}
