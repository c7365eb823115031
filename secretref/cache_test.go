package secretref_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/llmgw/secretref"
	"github.com/llmgw/llmgw/secretref/secretreftest"
)

func TestCacheWithMemory(t *testing.T) {
	m := secretreftest.NewMemory()
	ref := "vault://secret/llmgw/openai#api_key"
	secretreftest.Run(t, m, ref, m.Backend(ref))
}

// TestRunRefreshesOnItsInterval: Run asks its ticker for the interval it was given, reads
// nothing until a tick, and calls onChange only after a tick that changed a value.
func TestRunRefreshesOnItsInterval(t *testing.T) {
	m := secretreftest.NewMemory()
	ref := "aws-sm://prod/openai#key"
	m.Put(ref, "sk-1")
	ticks := make(chan time.Time)
	asked := make(chan time.Duration, 1)
	c := secretref.New(map[string]secretref.Fetcher{secretref.SchemeAWSSM: m}, slog.New(slog.DiscardHandler),
		secretref.WithTicker(func(d time.Duration) (<-chan time.Time, func()) { asked <- d; return ticks, func() {} }))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Add(ref); err != nil {
		t.Fatal(err)
	}
	c.Refresh(ctx)
	changes := make(chan struct{}, 4)
	done := make(chan struct{})
	go func() {
		c.Run(ctx, 7*time.Minute, func(context.Context) { changes <- struct{}{} })
		close(done)
	}()
	if d := <-asked; d != 7*time.Minute {
		t.Fatalf("Run ticks every %v, want 7m", d)
	}
	m.Put(ref, "sk-2")
	if v, _, _ := c.Value(ref); v != "sk-1" {
		t.Errorf("before a tick: %q, want sk-1", v)
	}
	ticks <- time.Time{} // refresh: changed
	<-changes
	if v, _, _ := c.Value(ref); v != "sk-2" {
		t.Errorf("after a tick: %q, want sk-2", v)
	}
	ticks <- time.Time{} // refresh: unchanged
	ticks <- time.Time{} // taken only after the previous refresh finished
	cancel()
	<-done
	select {
	case <-changes:
		t.Error("onChange called after a refresh that changed nothing")
	default:
	}
	if got := m.Reads(); got != 4 {
		t.Errorf("reads = %d, want 4 (one at Add, one per tick)", got)
	}
}

// errFetcher fails with an error that quotes a value, as a careless SDK might.
type errFetcher struct{ msg string }

func (f errFetcher) Fetch(context.Context, secretref.Ref) (string, error) {
	return "", errors.New(f.msg)
}

// TestErrorsAreScrubbed: a manager's error that quotes a value the cache holds is logged and
// reported with the value removed.
func TestErrorsAreScrubbed(t *testing.T) {
	m := secretreftest.NewMemory()
	good := "aws-ssm:///prod/openai"
	m.Put(good, "sk-live-secret")
	var logs bytes.Buffer
	fetchers := map[string]secretref.Fetcher{secretref.SchemeAWSSSM: m, secretref.SchemeVault: errFetcher{"bad key sk-live-secret here"}}
	c := secretref.New(fetchers, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	if err := c.Add(good); err != nil {
		t.Fatal(err)
	}
	c.Refresh(ctx) // the value is known before the error that quotes it (reads run in parallel)
	bad := "vault://secret/x#k"
	if err := c.Add(bad); err != nil {
		t.Fatal(err)
	}
	c.Refresh(ctx)
	_, ok, problem := c.Value(bad)
	if want := "secret vault://secret/x#k could not be read from its secret manager"; ok || problem != want {
		t.Errorf("Value: ok %v, problem %q; want %q (the manager's error is only logged)", ok, problem, want)
	}
	if strings.Contains(logs.String(), "sk-live-secret") || !strings.Contains(logs.String(), "bad key [REDACTED] here") {
		t.Errorf("logs: want the error with the value redacted:\n%s", logs.String())
	}
}

func TestAddRefuses(t *testing.T) {
	c := secretref.New(map[string]secretref.Fetcher{secretref.SchemeVault: secretreftest.NewMemory()}, slog.New(slog.DiscardHandler))
	for _, ref := range []string{"aws-sm://x", "vault://secret", "env://X"} {
		if err := c.Add(ref); err == nil {
			t.Errorf("Add(%q) = nil, want an error", ref)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    secretref.Ref
		wantErr string
	}{
		{in: "aws-ssm:///prod/openai", want: secretref.Ref{Scheme: "aws-ssm", Path: "/prod/openai"}},
		{in: "aws-ssm://plain", want: secretref.Ref{Scheme: "aws-ssm", Path: "plain"}},
		{in: "aws-ssm://p#k", wantErr: "takes no #key"},
		{in: "aws-sm://prod/openai", want: secretref.Ref{Scheme: "aws-sm", Path: "prod/openai"}},
		{in: "aws-sm://arn:aws:secretsmanager:us-east-1:1:secret:x-AbCd#api_key", want: secretref.Ref{Scheme: "aws-sm", Path: "arn:aws:secretsmanager:us-east-1:1:secret:x-AbCd", Key: "api_key"}},
		{in: "aws-sm://x#", wantErr: "empty key"},
		{in: "gcp-sm://projects/p/secrets/s", want: secretref.Ref{Scheme: "gcp-sm", Path: "projects/p/secrets/s/versions/latest"}},
		{in: "gcp-sm://projects/p/secrets/s/versions/3", want: secretref.Ref{Scheme: "gcp-sm", Path: "projects/p/secrets/s/versions/3"}},
		{in: "gcp-sm://projects/p/s", wantErr: "want gcp-sm://"},
		{in: "azure-kv://myvault/openai", want: secretref.Ref{Scheme: "azure-kv", Vault: "myvault", Path: "openai"}},
		{in: "azure-kv://myvault", wantErr: "want azure-kv://"},
		{in: "vault://secret/llmgw/openai#api_key", want: secretref.Ref{Scheme: "vault", Path: "secret/llmgw/openai", Key: "api_key"}},
		{in: "vault://secret/llmgw/openai", wantErr: "want vault://"},
		{in: "vault://secret#k", wantErr: "want vault://"},
		{in: "s3://x", wantErr: "not a secret-manager reference"},
		{in: "vault://", wantErr: "nothing after"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := secretref.Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if got.Scheme != "gcp-sm" && got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

// slowFetcher blocks every read until release is closed, counting the reads in flight.
type slowFetcher struct {
	started chan struct{}
	release chan struct{}
}

func (f slowFetcher) Fetch(ctx context.Context, ref secretref.Ref) (string, error) {
	f.started <- struct{}{}
	<-f.release
	return "v-" + ref.Path, nil
}

// TestRefreshReadsConcurrently: one slow secret manager does not hold up the others' reads
// (a start with an unreachable manager waits one timeout, not one per reference).
func TestRefreshReadsConcurrently(t *testing.T) {
	f := slowFetcher{started: make(chan struct{}, 3), release: make(chan struct{})}
	c := secretref.New(map[string]secretref.Fetcher{secretref.SchemeAWSSSM: f}, slog.New(slog.DiscardHandler))
	for _, r := range []string{"aws-ssm://a", "aws-ssm://b", "aws-ssm://c"} {
		if err := c.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan bool)
	go func() { done <- c.Refresh(context.Background()) }()
	for range 3 { // all three in flight before any returns
		<-f.started
	}
	close(f.release)
	if !<-done {
		t.Error("Refresh reported no change")
	}
	if v, ok, _ := c.Value("aws-ssm://c"); !ok || v != "v-c" {
		t.Errorf("Value = %q, %v", v, ok)
	}
}
