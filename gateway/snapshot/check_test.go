package snapshot

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// TestCheckRouting: the checks the config file and the Admin API share, each refusal naming
// its field under the routing config.
func TestCheckRouting(t *testing.T) {
	w := func(model string, weight int) VirtualTarget {
		t := NewTarget(model)
		t.Weight = weight
		return t
	}
	with := func(t VirtualTarget, f func(*VirtualTarget)) VirtualTarget {
		f(&t)
		return t
	}
	many := func(n int) []VirtualTarget {
		var out []VirtualTarget
		for i := range n {
			out = append(out, NewTarget(fmt.Sprintf("a/m%d", i)))
		}
		return out
	}
	tests := []struct {
		name     string
		strategy string
		targets  []VirtualTarget
		field    string // "" when valid
	}{
		{"weighted 90/10", RoutingWeight, []VirtualTarget{w("a/x", 90), w("b/y", 10)}, ""},
		{"zero weight fallback", RoutingWeight, []VirtualTarget{w("a/x", 100), w("b/y", 0)}, ""},
		{"priority with sla", RoutingPriority, []VirtualTarget{with(NewTarget("a/x"), func(t *VirtualTarget) { t.SLA.TTFT = time.Second }), with(NewTarget("b/y"), func(t *VirtualTarget) { t.Priority = 1 })}, ""},
		{"latency", RoutingLatency, []VirtualTarget{NewTarget("a/x")}, ""},
		{"unknown type", "round-robin", []VirtualTarget{NewTarget("a/x")}, "type"},
		{"no targets", RoutingLatency, nil, "load_balance_targets"},
		{"most targets", RoutingLatency, many(MaxTargets), ""},
		{"too many targets", RoutingLatency, many(MaxTargets + 1), "load_balance_targets"},
		{"sum not 100", RoutingWeight, []VirtualTarget{w("a/x", 90), w("b/y", 20)}, "load_balance_targets"},
		{"weight over 100", RoutingWeight, []VirtualTarget{w("a/x", 101)}, "load_balance_targets[0].weight"},
		{"weight on latency", RoutingLatency, []VirtualTarget{w("a/x", 100)}, "load_balance_targets[0].weight"},
		{"priority on weighted", RoutingWeight, []VirtualTarget{with(w("a/x", 100), func(t *VirtualTarget) { t.Priority = 2 })}, "load_balance_targets[0].priority"},
		{"sla on latency", RoutingLatency, []VirtualTarget{with(NewTarget("a/x"), func(t *VirtualTarget) { t.SLA.TPOT = time.Millisecond })}, "load_balance_targets[0].sla_cutoff"},
		{"duplicate", RoutingLatency, []VirtualTarget{NewTarget("a/x"), NewTarget("a/x")}, "load_balance_targets[1].target"},
		{"unqualified", RoutingLatency, []VirtualTarget{NewTarget("x")}, "load_balance_targets[0].target"},
		{"attempts", RoutingLatency, []VirtualTarget{with(NewTarget("a/x"), func(t *VirtualTarget) { t.Retry.Attempts = 11 })}, "load_balance_targets[0].retry_config.attempts"},
		{"delay", RoutingLatency, []VirtualTarget{with(NewTarget("a/x"), func(t *VirtualTarget) { t.Retry.Delay = -time.Millisecond })}, "load_balance_targets[0].retry_config.delay"},
		{"retry status", RoutingLatency, []VirtualTarget{with(NewTarget("a/x"), func(t *VirtualTarget) { t.Retry.OnStatus = []int{429, 99} })}, "load_balance_targets[0].retry_config.on_status_codes[1]"},
		{"fallback status", RoutingLatency, []VirtualTarget{with(NewTarget("a/x"), func(t *VirtualTarget) { t.FallbackStatus = []int{600} })}, "load_balance_targets[0].fallback_status_codes[0]"},
		{"param", RoutingLatency, []VirtualTarget{with(NewTarget("a/x"), func(t *VirtualTarget) { t.Params = []chat.Param{{Name: "model", Value: []byte(`"x"`)}} })}, "load_balance_targets[0].override_params.model"},
		{"header", RoutingLatency, []VirtualTarget{with(NewTarget("a/x"), func(t *VirtualTarget) { t.Headers = &provider.HeaderOverride{Remove: []string{"Authorization"}} })}, "load_balance_targets[0].headers_override.remove[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRouting(tt.strategy, tt.targets)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("CheckRouting = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("CheckRouting = %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
}

// TestCheckSticky: the sticky_routing checks the config file and the Admin API share, each
// refusal naming its field under the routing config.
func TestCheckSticky(t *testing.T) {
	hdr := func(k string) SessionIdentifier { return SessionIdentifier{Source: SessionHeaders, Key: k} }
	md := func(k string) SessionIdentifier { return SessionIdentifier{Source: SessionMetadata, Key: k} }
	ids := func(n int) []SessionIdentifier {
		var out []SessionIdentifier
		for i := range n {
			out = append(out, hdr(fmt.Sprintf("x-s%d", i)))
		}
		return out
	}
	const p = "sticky_routing"
	tests := []struct {
		name     string
		strategy string
		sticky   *Sticky
		field    string // "" when valid
	}{
		{"none", RoutingPriority, nil, ""},
		{"header and metadata", RoutingWeight, &Sticky{TTL: time.Minute, Identifiers: []SessionIdentifier{hdr("x-session-id"), md("conversation_id")}}, ""},
		{"shortest ttl", RoutingWeight, &Sticky{TTL: time.Second, Identifiers: []SessionIdentifier{hdr("x-s")}}, ""},
		{"longest ttl", RoutingWeight, &Sticky{TTL: MaxStickyTTL, Identifiers: []SessionIdentifier{hdr("x-s")}}, ""},
		{"most identifiers", RoutingWeight, &Sticky{TTL: time.Minute, Identifiers: ids(MaxSessionIdentifiers)}, ""},
		{"metadata keys are case-sensitive", RoutingWeight, &Sticky{TTL: time.Minute, Identifiers: []SessionIdentifier{md("a"), md("A")}}, ""},
		{"priority", RoutingPriority, &Sticky{TTL: time.Minute, Identifiers: []SessionIdentifier{hdr("x-s")}}, p},
		{"latency", RoutingLatency, &Sticky{TTL: time.Minute, Identifiers: []SessionIdentifier{hdr("x-s")}}, p},
		{"zero ttl", RoutingWeight, &Sticky{Identifiers: []SessionIdentifier{hdr("x-s")}}, p + ".ttl_seconds"},
		{"ttl over a week", RoutingWeight, &Sticky{TTL: MaxStickyTTL + time.Second, Identifiers: []SessionIdentifier{hdr("x-s")}}, p + ".ttl_seconds"},
		{"ttl not whole seconds", RoutingWeight, &Sticky{TTL: 1500 * time.Millisecond, Identifiers: []SessionIdentifier{hdr("x-s")}}, p + ".ttl_seconds"},
		{"no identifiers", RoutingWeight, &Sticky{TTL: time.Minute}, p + ".session_identifiers"},
		{"too many identifiers", RoutingWeight, &Sticky{TTL: time.Minute, Identifiers: ids(MaxSessionIdentifiers + 1)}, p + ".session_identifiers"},
		{"unknown source", RoutingWeight, &Sticky{TTL: time.Minute, Identifiers: []SessionIdentifier{{Source: "cookies", Key: "sid"}}}, p + ".session_identifiers[0].source"},
		{"bad header name", RoutingWeight, &Sticky{TTL: time.Minute, Identifiers: []SessionIdentifier{md("m"), hdr("x session")}}, p + ".session_identifiers[1].key"},
		{"empty header name", RoutingWeight, &Sticky{TTL: time.Minute, Identifiers: []SessionIdentifier{hdr("")}}, p + ".session_identifiers[0].key"},
		{"empty metadata key", RoutingWeight, &Sticky{TTL: time.Minute, Identifiers: []SessionIdentifier{md("")}}, p + ".session_identifiers[0].key"},
		{"duplicate header in another case", RoutingWeight, &Sticky{TTL: time.Minute, Identifiers: []SessionIdentifier{hdr("x-session-id"), hdr("X-Session-Id")}}, p + ".session_identifiers[1]"},
		{"duplicate metadata", RoutingWeight, &Sticky{TTL: time.Minute, Identifiers: []SessionIdentifier{md("c"), hdr("c"), md("c")}}, p + ".session_identifiers[2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSticky(tt.strategy, tt.sticky)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("CheckSticky = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("CheckSticky = %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
}
