// Package secretreftest has the behaviours every secretref.Fetcher must show, run against a
// fake of its secret manager (Run), and an in-memory Fetcher (Memory) for tests of code that
// uses a secretref.Cache.
package secretreftest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/llmgw/secretref"
)

// Backend is the test's handle on a fake secret manager holding the one secret Run reads.
type Backend interface {
	// Set makes value the secret's current value (a rotation).
	Set(value string)
	// SetDown makes every read fail (down) or succeed again.
	SetDown(down bool)
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Run checks f against its fake b through a secretref.Cache: the secret is read, a rotation
// is picked up by the next refresh (and not before), an outage keeps the last value and
// counts the failure by scheme, a secret never read is reported missing, and no value ever
// appears in the logs.
func Run(t *testing.T, f secretref.Fetcher, ref string, b Backend) {
	t.Helper()
	parsed, err := secretref.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fetchers := map[string]secretref.Fetcher{parsed.Scheme: f}
	values := []string{"sk-first-" + t.Name(), "sk-rotated-" + t.Name(), "sk-third-" + t.Name()}
	value := func(c *secretref.Cache) string {
		t.Helper()
		v, ok, problem := c.Value(ref)
		if !ok {
			t.Fatalf("Value(%s): not read: %s", ref, problem)
		}
		return v
	}

	b.SetDown(false)
	b.Set(values[0])
	c := secretref.New(fetchers, logger, secretref.WithFetchTimeout(10*time.Second))
	if err := c.Add(ref); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Value(ref); ok {
		t.Error("a reference has a value before the first Refresh")
	}
	if !c.Refresh(ctx) {
		t.Error("the first Refresh reported no change")
	}
	if got := value(c); got != values[0] {
		t.Fatalf("first read: got %q, want %q", got, values[0])
	}

	b.Set(values[1])
	if got := value(c); got != values[0] {
		t.Errorf("before a refresh: got %q, want the cached %q", got, values[0])
	}
	if !c.Refresh(ctx) {
		t.Error("Refresh after a rotation reported no change")
	}
	if got := value(c); got != values[1] {
		t.Errorf("after the rotation: got %q, want %q", got, values[1])
	}
	if c.Refresh(ctx) {
		t.Error("Refresh with nothing rotated reported a change")
	}

	b.SetDown(true)
	if c.Refresh(ctx) {
		t.Error("Refresh during an outage reported a change")
	}
	if got := value(c); got != values[1] {
		t.Errorf("during the outage: got %q, want the last value %q", got, values[1])
	}
	if got := c.Failures()[parsed.Scheme]; got != 1 {
		t.Errorf("failures during the outage = %d, want 1", got)
	}
	if !strings.Contains(logs.String(), "could not refresh a secret") || !strings.Contains(logs.String(), ref) {
		t.Errorf("the failed refresh was not logged with its reference:\n%s", logs.String())
	}

	b.SetDown(false)
	b.Set(values[2])
	if !c.Refresh(ctx) {
		t.Error("Refresh after the outage reported no change")
	}
	if got := value(c); got != values[2] {
		t.Errorf("after the outage: got %q, want %q", got, values[2])
	}

	// A secret never read: missing, counted, and tried again by the next refresh.
	b.SetDown(true)
	fresh := secretref.New(fetchers, logger, secretref.WithFetchTimeout(10*time.Second))
	if err := fresh.Add(ref); err != nil {
		t.Fatal(err)
	}
	if fresh.Refresh(ctx) {
		t.Error("a Refresh that read nothing reported a change")
	}
	if _, ok, problem := fresh.Value(ref); ok || !strings.Contains(problem, ref) {
		t.Errorf("a secret never read: ok %v, problem %q; want not ok and a problem naming %s", ok, problem, ref)
	}
	if got := fresh.Failures()[parsed.Scheme]; got != 1 {
		t.Errorf("failures of a first read during an outage = %d, want 1", got)
	}
	b.SetDown(false)
	if !fresh.Refresh(ctx) {
		t.Error("Refresh after the first read failed reported no change")
	}
	if got := value(fresh); got != values[2] {
		t.Errorf("after the first read failed: got %q, want %q", got, values[2])
	}

	for _, v := range values {
		if strings.Contains(logs.String(), v) {
			t.Errorf("the logs hold the secret value %q:\n%s", v, logs.String())
		}
	}
}

// Memory is an in-memory secret manager and its Fetcher: Set and SetDown change what Fetch
// returns. It serves any scheme. It is safe for concurrent use.
type Memory struct {
	mu     sync.Mutex
	values map[string]string // by reference
	down   bool
	reads  int
}

var _ secretref.Fetcher = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{values: map[string]string{}} }

// Put sets the value of ref.
func (m *Memory) Put(ref, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[ref] = value
}

// SetDown makes every Fetch fail (down) or succeed again.
func (m *Memory) SetDown(down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = down
}

// Reads returns how many times Fetch was called.
func (m *Memory) Reads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}

// Fetch returns the value put for ref.
func (m *Memory) Fetch(_ context.Context, ref secretref.Ref) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.down {
		return "", fmt.Errorf("%s: the secret manager is unreachable", ref)
	}
	v, ok := m.values[ref.String()]
	if !ok {
		return "", fmt.Errorf("%s: not found", ref)
	}
	return v, nil
}

// Backend returns Memory as the Backend of the one secret ref.
func (m *Memory) Backend(ref string) Backend { return memoryBackend{m, ref} }

type memoryBackend struct {
	m   *Memory
	ref string
}

func (b memoryBackend) Set(v string)      { b.m.Put(b.ref, v) }
func (b memoryBackend) SetDown(down bool) { b.m.SetDown(down) }
