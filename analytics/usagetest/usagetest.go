// Package usagetest makes usage events for tests: deterministic, varied across every field of
// llmgw.usage.v1.UsageEvent (streams and not, failures, retries, teams, metadata, unpriced
// models, bodies), so a sink's tests cover what the gateway writes.
package usagetest

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// Models are the models Event spreads events over.
var Models = []string{"openai/gpt-4o", "anthropic/claude-sonnet-4-5", "mock/echo"}

// Event returns the i-th test event, at base plus i*7 seconds (so a few hundred events span
// several minutes and rollups get more than one row per key). The id is unique per i and run.
func Event(run string, i int, base time.Time) *usagev1.UsageEvent {
	model := Models[i%len(Models)]
	e := &usagev1.UsageEvent{
		EventId:         fmt.Sprintf("%s-%06d", run, i),
		Time:            timestamppb.New(base.Add(time.Duration(i) * 7 * time.Second).Add(time.Duration(i%1000) * time.Microsecond)),
		Replica:         fmt.Sprintf("gw-%d", i%2),
		Region:          "eu-west-1",
		ClientRequestId: fmt.Sprintf("client-%d", i),
		Surface:         []string{"openai", "anthropic", "connect", "rest"}[i%4],
		Principal:       fmt.Sprintf("user:u%d", i%5),
		KeyId:           fmt.Sprintf("key_%d", i%7),
		KeyPrefix:       "llmgw-AbCd",
		User:            fmt.Sprintf("u%d", i%5),
		Model:           model,
		Target:          &usagev1.Target{Model: model, Account: "acct", Provider: "openai"},
		UpstreamModel:   model + "-2025",
		Operation:       "chat",
		Stream:          i%2 == 0,
		Status:          "ok",
		HttpStatus:      200,
		Tokens: &usagev1.Tokens{
			Prompt: int64(100 + i), Completion: int64(20 + i%13), CacheRead: int64(i % 50),
			CacheWrite: int64(i % 3), Reasoning: int64(i % 11),
		},
		CostUsd:    float64(100+i)*2.5e-6 + float64(20+i%13)*1e-5,
		Priced:     i%10 != 9,
		LatencyUs:  int64(200_000 + 1000*i),
		UpstreamUs: int64(199_000 + 1000*i),
		OverheadUs: 1000,
		Attempts:   []*usagev1.Attempt{{Target: model, Status: "ok", HttpStatus: 200, LatencyUs: int64(199_000 + 1000*i)}},
		Counted:    []string{"rate_limit:per-user", "budget:monthly"},
	}
	if e.Stream {
		e.TtftUs = int64(50_000 + 100*i)
	}
	if i%3 != 0 {
		e.Teams = []string{"platform", fmt.Sprintf("team-%d", i%3)}
	}
	if i%4 == 1 {
		e.VirtualAccount = "billing"
		e.User = ""
		e.Principal = "va:billing"
	}
	if i%2 == 1 {
		e.Metadata = map[string]string{"project": fmt.Sprintf("p%d", i%3), "env": "prod"}
	}
	if i%6 == 5 {
		// A retried request: the first target failed, a fallback answered.
		e.Attempts = append([]*usagev1.Attempt{{Target: "acct/primary", Status: "server_error", HttpStatus: 503, LatencyUs: 1500, ErrorClass: "upstream_unavailable"}}, e.Attempts...)
	}
	if i%8 == 7 {
		e.Status, e.ErrorClass, e.HttpStatus = "rate_limit_exceeded", "rate_limited", 429
		e.Attempts = nil
		e.Tokens = &usagev1.Tokens{}
		e.CostUsd = 0
		e.UsageMissing = true
		e.WouldBlock = []string{"rate_limit:per-user"}
	}
	if i%9 == 4 {
		e.UsageEstimated = true
	}
	if i%5 == 2 {
		e.Bodies = &usagev1.Bodies{
			Request:           []byte(fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi %d"}]}`, model, i)),
			Response:          []byte("data: {\"choices\":[]}\n\n"),
			ResponseTruncated: i%10 == 7,
		}
	}
	return e
}

// Events returns Event(run, i, base) for i in [from, to).
func Events(run string, from, to int, base time.Time) []*usagev1.UsageEvent {
	out := make([]*usagev1.UsageEvent, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, Event(run, i, base))
	}
	return out
}
