package usage

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
)

// TestLogRecorderLeavesOutEmptyMembers: the request line has the members an event sets, and
// none of those it leaves empty.
func TestLogRecorderLeavesOutEmptyMembers(t *testing.T) {
	line := func(e *Event) map[string]any {
		var b strings.Builder
		LogRecorder{Logger: slog.New(slog.NewJSONHandler(&b, nil))}.Record(context.Background(), e)
		var m map[string]any
		if err := json.Unmarshal([]byte(b.String()), &m); err != nil {
			t.Fatalf("%v: %s", err, b.String())
		}
		return m
	}
	full := line(&Event{
		RequestID: "r1", ClientRequestID: "c1", Surface: "openai", Principal: "user:alice", KeyPrefix: "llmgw-AbCdEf", KeyID: "k1",
		User: "alice", VirtualAccount: "va", Model: "a/m", UpstreamModel: "m-2024", Target: "a/m", Operation: "chat", Stream: true,
		Attempts: []Attempt{{Target: "a/x", Status: "upstream_5xx"}, {Target: "a/m", Status: "ok"}},
		Metadata: map[string]string{"team": "x"}, Counted: []string{"budget:b"}, WouldBlock: []string{"budget:b"},
		Status: "ok", HTTPStatus: 200, UsageMissing: true, UsageEstimated: true, Priced: true, Latency: time.Second, TimeToFirstToken: time.Millisecond,
		Usage: chat.Usage{PromptTokens: 3, PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 2}},
	})
	all := []string{"request_id", "client_request_id", "surface", "principal", "key_prefix", "key_id", "user", "virtual_account",
		"model", "upstream_model", "target", "attempts", "attempt_list", "op", "stream", "metadata", "counted", "would_block",
		"status", "http_status", "prompt_tokens", "completion_tokens", "cached_tokens", "usage_missing", "usage_estimated",
		"cost_usd", "priced", "latency", "ttft"}
	for _, k := range all {
		if _, ok := full[k]; !ok {
			t.Errorf("a full event's line lacks %s: %v", k, full)
		}
	}
	bare := line(&Event{RequestID: "r2", Principal: "unauthenticated", Status: "invalid_api_key", HTTPStatus: 401})
	always := map[string]bool{"request_id": true, "principal": true, "stream": true, "status": true, "http_status": true,
		"prompt_tokens": true, "completion_tokens": true, "cost_usd": true, "priced": true, "latency": true}
	for _, k := range all {
		if _, ok := bare[k]; ok != always[k] {
			t.Errorf("a refusal's line: %s present = %v, want %v", k, ok, always[k])
		}
	}
}
