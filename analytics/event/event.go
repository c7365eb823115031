// Package event turns the gateway's usage events (gateway/usage) into their wire form, the
// llmgw.usage.v1.UsageEvent the Kafka producer writes and the consumer loads.
//
// It adds what the request path does not know or need: the replica and region that served the
// request, the serving target's account and provider kind (from the configuration snapshot),
// the error class of the request and its upstream and own times in microseconds. It does no
// I/O.
package event

import (
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// Converter converts usage events for one replica. It is safe for concurrent use.
type Converter struct {
	replica, region string
	snaps           *snapshot.Holder

	mu    sync.Mutex
	snap  *snapshot.Snapshot // the snapshot kinds was built from
	kinds map[string]string  // account name -> provider kind

	scratch sync.Pool // of *usagev1.UsageEvent, for Marshal
}

// NewConverter returns a converter stamping events with replica and region (either may be
// empty) and naming targets' accounts and provider kinds from the current snapshot of snaps
// (nil: by the target's name alone, without provider kinds).
func NewConverter(replica, region string, snaps *snapshot.Holder) *Converter {
	return &Converter{replica: replica, region: region, snaps: snaps}
}

// Convert returns e's wire form.
func (c *Converter) Convert(e *usage.Event) *usagev1.UsageEvent {
	out := &usagev1.UsageEvent{}
	c.fill(out, e)
	return out
}

// Marshal appends e's wire form, marshaled, to dst. It converts into a message kept for reuse
// with its nested messages, so an event costs its producer no conversion allocations.
func (c *Converter) Marshal(dst []byte, e *usage.Event) ([]byte, error) {
	out, _ := c.scratch.Get().(*usagev1.UsageEvent)
	if out == nil {
		out = &usagev1.UsageEvent{}
	}
	c.fill(out, e)
	b, err := proto.MarshalOptions{}.MarshalAppend(dst, out)
	out.Teams, out.Counted, out.WouldBlock, out.Metadata, out.Bodies = nil, nil, nil, nil, nil // keep none of e's data
	c.scratch.Put(out)
	return b, err
}

// fill sets every field of out from e, reusing out's nested messages (Tokens, Time, Target,
// Attempts) when it has them.
func (c *Converter) fill(out *usagev1.UsageEvent, e *usage.Event) {
	tokens, ts, target, attempts := out.Tokens, out.Time, out.Target, out.Attempts
	*out = usagev1.UsageEvent{
		EventId:         e.RequestID,
		Replica:         c.replica,
		Region:          c.region,
		ClientRequestId: e.ClientRequestID,
		Surface:         e.Surface,
		Principal:       e.Principal,
		KeyId:           e.KeyID,
		KeyPrefix:       e.KeyPrefix,
		User:            e.User,
		Teams:           e.Teams,
		VirtualAccount:  e.VirtualAccount,
		Model:           e.Model,
		UpstreamModel:   e.UpstreamModel,
		Operation:       e.Operation,
		Stream:          e.Stream,
		Status:          e.Status,
		ErrorClass:      ErrorClass(e),
		HttpStatus:      int32(e.HTTPStatus),
		UsageMissing:    e.UsageMissing,
		UsageEstimated:  e.UsageEstimated,
		CostUsd:         e.CostUSD,
		Priced:          e.Priced,
		LatencyUs:       e.Latency.Microseconds(),
		TtftUs:          e.TimeToFirstToken.Microseconds(),
		UpstreamUs:      e.Upstream.Microseconds(),
		OverheadUs:      max(e.Latency.Microseconds()-e.Upstream.Microseconds(), 0), // latency_us = upstream_us + overhead_us
		Counted:         e.Counted,
		WouldBlock:      e.WouldBlock,
		Metadata:        e.Metadata,
	}
	if tokens == nil {
		tokens = &usagev1.Tokens{}
	}
	*tokens = usagev1.Tokens{
		Prompt:     e.Usage.PromptTokens,
		Completion: e.Usage.CompletionTokens,
		CacheRead:  e.Usage.CachedTokens(),
		CacheWrite: e.Usage.CacheWriteTokens,
		Reasoning:  e.Usage.ReasoningTokens(),
	}
	out.Tokens = tokens
	if !e.Time.IsZero() {
		if ts == nil {
			ts = &timestamppb.Timestamp{}
		}
		*ts = timestamppb.Timestamp{Seconds: e.Time.Unix(), Nanos: int32(e.Time.Nanosecond())}
		out.Time = ts
	}
	if e.Target != "" {
		if target == nil {
			target = &usagev1.Target{}
		}
		account, provider := c.target(e.Target)
		*target = usagev1.Target{Model: e.Target, Account: account, Provider: provider}
		out.Target = target
	}
	if b := e.Bodies; b != nil {
		out.Bodies = &usagev1.Bodies{Request: b.Request, Response: b.Response, RequestTruncated: b.RequestTruncated, ResponseTruncated: b.ResponseTruncated}
	}
	if len(e.Attempts) > 0 {
		for len(attempts) < len(e.Attempts) {
			attempts = append(attempts, &usagev1.Attempt{})
		}
		attempts = attempts[:len(e.Attempts)]
		for i, a := range e.Attempts {
			*attempts[i] = usagev1.Attempt{Target: a.Target, Status: a.Status, HttpStatus: int32(a.HTTPStatus), LatencyUs: a.Latency.Microseconds(), ErrorClass: a.ErrorClass}
		}
		out.Attempts = attempts
	}
}

// ErrorClass is why e's request failed: its last failed attempt's class (usage.Class...);
// empty on success and for a request refused before any attempt.
func ErrorClass(e *usage.Event) string {
	if e.Status == "ok" {
		return ""
	}
	for i := len(e.Attempts) - 1; i >= 0; i-- {
		if a := e.Attempts[i]; a.ErrorClass != "" && a.Status != "skipped" {
			return a.ErrorClass
		}
	}
	return ""
}

// target returns the account and provider kind of the model named fqn: its account in the
// current snapshot (else the part of its name before the first slash) and that account's
// provider kind (empty when the snapshot no longer has it).
func (c *Converter) target(fqn string) (account, provider string) {
	account, _, _ = strings.Cut(fqn, "/")
	if c.snaps == nil {
		return account, ""
	}
	snap := c.snaps.Load()
	if snap == nil {
		return account, ""
	}
	if m, ok := snap.Model(fqn); ok && m.Account != "" {
		account = m.Account
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != snap {
		c.kinds = map[string]string{}
		if cfg := snap.Config(); cfg != nil {
			for _, a := range cfg.Accounts {
				c.kinds[a.Name] = a.Provider
			}
		}
		c.snap = snap
	}
	return account, c.kinds[account]
}
