package app

import (
	"context"
	"slices"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/llmgw/llmgw/gateway/breaker"
	"github.com/llmgw/llmgw/gateway/latency"
	"github.com/llmgw/llmgw/gateway/snapshot"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// routingState is the Admin API's view of the routing targets' live state in this process: the
// pipeline's circuit breaker and latency statistics.
type routingState struct {
	snaps   *snapshot.Holder
	breaker *breaker.Breaker
	latency *latency.Stats
}

// RoutingState implements admin.RoutingState: every real model of the current snapshot, and
// any other target the breaker has a circuit for (a model deleted since it failed), with its
// circuit and its speed over latency.Window (what latency-based routing orders by).
func (r routingState) RoutingState(_ context.Context, target string) []*adminv1.RoutingState {
	circuits := map[string]breaker.Status{}
	for _, c := range r.breaker.States() {
		circuits[c.Target] = c
	}
	var names []string
	if s := r.snaps.Load(); s != nil {
		for _, m := range s.Models(&snapshot.Principal{Admin: true}) {
			if !m.Virtual {
				names = append(names, m.FQN)
			}
		}
	}
	for name := range circuits {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []*adminv1.RoutingState
	for _, name := range names {
		if target != "" && name != target {
			continue
		}
		st := &adminv1.RoutingState{Target: name, Circuit: breaker.Closed.String()}
		if c, ok := circuits[name]; ok {
			st.Circuit, st.Failures = c.State.String(), int32(c.Failures)
			if c.State == breaker.Open {
				st.NextProbeTime = timestamppb.New(c.Until)
			}
		}
		sum := r.latency.Summary(name, latency.Window)
		st.Samples = int32(sum.N)
		st.TpotMs = float64(sum.TPOT.Microseconds()) / 1000
		st.TtftMs = float64(sum.TTFT.Microseconds()) / 1000
		out = append(out, st)
	}
	return out
}
