package event

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

type noAdapters struct{}

func (noAdapters) Build(provider.Config) (provider.Adapter, error) { return nil, nil }

func holder(accounts ...snapshot.Account) *snapshot.Holder {
	cfg := &snapshot.Config{Accounts: accounts}
	for _, a := range accounts {
		cfg.Models = append(cfg.Models, snapshot.Model{Account: a.Name, Name: "gpt-4o-mini"})
	}
	var h snapshot.Holder
	h.Store(snapshot.Compile(cfg, noAdapters{}, nil, slog.New(slog.DiscardHandler)))
	return &h
}

// realistic is a routed chat stream's event with every field the pipeline sets, at the sizes
// production sees: UUIDv7 ids, two attempts, teams, rules and metadata.
func realistic() usage.Event {
	return usage.Event{
		RequestID: "01938f7e-5c2a-7b3e-9f1d-2a4b6c8d0e1f", ClientRequestID: "client-req-7f3a9c1e-0b2d-4e6f-8a1c-3d5e7f9b1a2c", Surface: "openai",
		Principal: "user:alice.smith@example.com", KeyID: "01938f7e-1111-7b3e-9f1d-2a4b6c8d0e1f",
		Time: time.Date(2026, 12, 6, 9, 30, 1, 123456789, time.UTC), User: "alice.smith@example.com", Teams: []string{"ml-platform", "search-quality"},
		VirtualAccount: "", Model: "prod/chat-default", Target: "openai-main/gpt-4o-mini",
		Attempts: []usage.Attempt{
			{Target: "azure-east/gpt-4o-mini", Status: "upstream_unavailable", HTTPStatus: 503, Latency: 1204 * time.Millisecond, ErrorClass: usage.ClassUpstream5xx},
			{Target: "openai-main/gpt-4o-mini", Status: "ok", HTTPStatus: 200, Latency: 4812 * time.Millisecond},
		},
		UpstreamModel: "gpt-4o-mini-2024-07-18", Operation: "chat", Stream: true,
		Metadata: map[string]string{"environment": "production", "feature": "summarize-thread", "tenant": "acme-corp"},
		Counted:  []string{"rate_limit:per-user-requests-per-minute", "budget:ml-platform-monthly"},
		Status:   "ok", HTTPStatus: 200,
		Usage: chat.Usage{PromptTokens: 12843, CompletionTokens: 1022, TotalTokens: 13865,
			PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 11264}, CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: 512}},
		CostUSD: 0.00218745, Priced: true,
		Latency: 6041 * time.Millisecond, Upstream: 6016 * time.Millisecond, TimeToFirstToken: 1530 * time.Millisecond,
	}
}

func TestConvert(t *testing.T) {
	e := realistic()
	c := NewConverter("gw-7d9f-abcde", "eu-west-1", holder(snapshot.Account{Name: "openai-main", Provider: "openai"}))
	got := c.Convert(&e)
	want := &usagev1.UsageEvent{
		EventId: e.RequestID, Time: timestamppb.New(e.Time), Replica: "gw-7d9f-abcde", Region: "eu-west-1",
		ClientRequestId: e.ClientRequestID, Surface: "openai", Principal: e.Principal, KeyId: e.KeyID, User: e.User, Teams: e.Teams,
		Model: "prod/chat-default", Target: &usagev1.Target{Model: "openai-main/gpt-4o-mini", Account: "openai-main", Provider: "openai"},
		UpstreamModel: "gpt-4o-mini-2024-07-18", Operation: "chat", Stream: true,
		Attempts: []*usagev1.Attempt{
			{Target: "azure-east/gpt-4o-mini", Status: "upstream_unavailable", HttpStatus: 503, LatencyUs: 1204000, ErrorClass: "upstream_5xx"},
			{Target: "openai-main/gpt-4o-mini", Status: "ok", HttpStatus: 200, LatencyUs: 4812000},
		},
		Status: "ok", HttpStatus: 200,
		Tokens:  &usagev1.Tokens{Prompt: 12843, Completion: 1022, CacheRead: 11264, Reasoning: 512},
		CostUsd: 0.00218745, Priced: true,
		LatencyUs: 6041000, TtftUs: 1530000, UpstreamUs: 6016000, OverheadUs: 25000,
		Counted: e.Counted, Metadata: e.Metadata,
	}
	if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
		t.Errorf("converted (-want +got):\n%s", d)
	}
}

// TestCacheWritesAndBodies: prompt-cache writes and logged bodies reach the wire form.
func TestCacheWritesAndBodies(t *testing.T) {
	e := realistic()
	e.Usage.CacheWriteTokens = 2048
	e.Bodies = &usage.Bodies{Request: []byte(`{"model":"m"}`), Response: []byte("data: {}"), ResponseTruncated: true}
	got := NewConverter("r", "", nil).Convert(&e)
	if got.GetTokens().GetCacheWrite() != 2048 {
		t.Errorf("cache_write %d, want 2048", got.GetTokens().GetCacheWrite())
	}
	want := &usagev1.Bodies{Request: []byte(`{"model":"m"}`), Response: []byte("data: {}"), ResponseTruncated: true}
	if d := cmp.Diff(want, got.GetBodies(), protocmp.Transform()); d != "" {
		t.Errorf("bodies (-want +got):\n%s", d)
	}
	if e.Bodies = nil; NewConverter("r", "", nil).Convert(&e).GetBodies() != nil {
		t.Error("an event without bodies has bodies on the wire")
	}
}

func TestTargetAccountAndProvider(t *testing.T) {
	h := holder(snapshot.Account{Name: "openai-main", Provider: "openai"}, snapshot.Account{Name: "claude", Provider: "anthropic"})
	c := NewConverter("r", "", h)
	for _, tt := range []struct{ target, account, provider string }{
		{"openai-main/gpt-4o-mini", "openai-main", "openai"},
		{"claude/gpt-4o-mini", "claude", "anthropic"},
		{"gone/some/model", "gone", ""}, // no longer configured: the account from its name
	} {
		got := c.Convert(&usage.Event{Target: tt.target}).GetTarget()
		if got.GetAccount() != tt.account || got.GetProvider() != tt.provider || got.GetModel() != tt.target {
			t.Errorf("%s: target %v, want account %q provider %q", tt.target, got, tt.account, tt.provider)
		}
	}
	// A new snapshot is read: the account's provider changed.
	h.Store(holder(snapshot.Account{Name: "claude", Provider: "bedrock"}).Load())
	if got := c.Convert(&usage.Event{Target: "claude/gpt-4o-mini"}).GetTarget().GetProvider(); got != "bedrock" {
		t.Errorf("after a reload: provider %q, want bedrock", got)
	}
	if c.Convert(&usage.Event{}).GetTarget() != nil {
		t.Error("an event without a target has one")
	}
}

func TestErrorClassAndOverhead(t *testing.T) {
	for _, tt := range []struct {
		name string
		e    usage.Event
		want string
	}{
		{"ok", usage.Event{Status: "ok", Attempts: []usage.Attempt{{Status: "upstream_unavailable", ErrorClass: usage.ClassUpstream5xx}, {Status: "ok"}}}, ""},
		{"the last failed attempt's", usage.Event{Status: "rate_limit_exceeded", Attempts: []usage.Attempt{
			{Status: "upstream_unavailable", ErrorClass: usage.ClassUpstream5xx}, {Status: "rate_limit_exceeded", ErrorClass: usage.ClassUpstream429}}}, usage.ClassUpstream429},
		{"a skipped target is not why", usage.Event{Status: "timeout", Attempts: []usage.Attempt{
			{Status: "timeout", ErrorClass: usage.ClassTimeout}, {Status: "skipped", ErrorClass: usage.ClassCircuitOpen}}}, usage.ClassTimeout},
		{"refused before any attempt", usage.Event{Status: "invalid_api_key"}, ""},
	} {
		if got := ErrorClass(&tt.e); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	c := NewConverter("", "", nil)
	// Overhead is never negative, even when the clock made upstream look longer.
	if got := c.Convert(&usage.Event{Latency: time.Millisecond, Upstream: 2 * time.Millisecond}); got.OverheadUs != 0 || got.UpstreamUs != 2000 {
		t.Errorf("overhead %d upstream %d", got.OverheadUs, got.UpstreamUs)
	}
}

// TestEventWithoutBodiesIsUnderOneKB: the bound, for an event bigger than most.
func TestEventWithoutBodiesIsUnderOneKB(t *testing.T) {
	e := realistic()
	b, err := NewConverter("llmgw-7d9f8c6b5-x2k4q", "eu-west-1", holder(snapshot.Account{Name: "openai-main", Provider: "openai"})).Marshal(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("marshaled: %d bytes", len(b))
	if len(b) > 1024 {
		t.Errorf("%d bytes, want at most 1 KB", len(b))
	}
	var back usagev1.UsageEvent
	if err := proto.Unmarshal(b, &back); err != nil || back.GetEventId() != e.RequestID {
		t.Errorf("unmarshal: %v, id %q", err, back.GetEventId())
	}
}

// BenchmarkMarshal is the producer's cost per event, off the request path: conversion and
// marshaling of a large event.
func BenchmarkMarshal(b *testing.B) {
	e := realistic()
	c := NewConverter("llmgw-7d9f8c6b5-x2k4q", "eu-west-1", holder(snapshot.Account{Name: "openai-main", Provider: "openai"}))
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = c.Marshal(buf[:0], &e); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMarshalReusesNothingStale: events marshaled one after another through the reused message
// decode to exactly what Convert makes of each: no field of an earlier, larger event remains.
func TestMarshalReusesNothingStale(t *testing.T) {
	c := NewConverter("r", "eu", holder(snapshot.Account{Name: "openai-main", Provider: "openai"}))
	big := realistic()
	big.Bodies = &usage.Bodies{Request: []byte(`{"a":1}`), Response: []byte(`{"b":2}`), ResponseTruncated: true}
	big.WouldBlock = []string{"budget:x"}
	big.Attempts = append(big.Attempts, usage.Attempt{Target: "t3", Status: "ok", HTTPStatus: 200})
	small := usage.Event{RequestID: "r2", Status: "ok", Model: "m"}
	oneAttempt := realistic()
	oneAttempt.Attempts = oneAttempt.Attempts[1:]
	for i, e := range []usage.Event{big, small, oneAttempt, big, small} {
		b, err := c.Marshal(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		var got usagev1.UsageEvent
		if err := proto.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(c.Convert(&e), &got, protocmp.Transform()); d != "" {
			t.Errorf("event %d (-Convert +Marshal):\n%s", i, d)
		}
	}
}
