package usage

import (
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// Proto returns e in its wire form, llmgw.usage.v1.UsageEvent: what the embedded store keeps
// and the Kafka topic carries. Replica and region are the caller's to set. The upstream time
// is the sum of the attempts' own times (their guards included), and the overhead what is
// left of the total latency, never below zero.
func (e *Event) Proto() *usagev1.UsageEvent {
	p := &usagev1.UsageEvent{
		EventId:         e.RequestID,
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
		HttpStatus:      int32(e.HTTPStatus),
		Tokens: &usagev1.Tokens{
			Prompt:     e.Usage.PromptTokens,
			Completion: e.Usage.CompletionTokens,
			CacheRead:  e.Usage.CachedTokens(),
			Reasoning:  e.Usage.ReasoningTokens(),
		},
		UsageMissing:   e.UsageMissing,
		UsageEstimated: e.UsageEstimated,
		CostUsd:        e.CostUSD,
		Priced:         e.Priced,
		LatencyUs:      e.Latency.Microseconds(),
		TtftUs:         e.TimeToFirstToken.Microseconds(),
		Counted:        e.Counted,
		WouldBlock:     e.WouldBlock,
		Metadata:       e.Metadata,
	}
	if !e.Time.IsZero() {
		p.Time = timestamppb.New(e.Time)
	}
	if e.Target != "" {
		account, _, _ := strings.Cut(e.Target, "/")
		p.Target = &usagev1.Target{Model: e.Target, Account: account}
	}
	var upstream time.Duration
	for _, a := range e.Attempts {
		p.Attempts = append(p.Attempts, &usagev1.Attempt{
			Target:     a.Target,
			Status:     a.Status,
			HttpStatus: int32(a.HTTPStatus),
			LatencyUs:  a.Latency.Microseconds(),
			ErrorClass: a.ErrorClass,
		})
		upstream += a.Latency
	}
	if n := len(e.Attempts); n > 0 && e.Status != "ok" {
		p.ErrorClass = e.Attempts[n-1].ErrorClass
	}
	p.UpstreamUs = upstream.Microseconds()
	p.OverheadUs = max(0, (e.Latency - upstream).Microseconds())
	return p
}
