package admin_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/services/admin"
)

// fakeRouting is a RoutingState that returns fixed states and records the target asked for.
type fakeRouting struct {
	target string
	out    []*adminv1.RoutingState
}

func (f *fakeRouting) RoutingState(_ context.Context, target string) []*adminv1.RoutingState {
	f.target = target
	return f.out
}

var _ admin.RoutingState = (*fakeRouting)(nil)

func TestListRoutingState(t *testing.T) {
	t.Run("not wired", func(t *testing.T) {
		resp, err := newGovernanceClient(t).ListRoutingState(t.Context(), &adminv1.ListRoutingStateRequest{})
		if err != nil || len(resp.GetStates()) != 0 {
			t.Errorf("ListRoutingState = %v, %v; want an empty list", resp, err)
		}
	})
	t.Run("wired", func(t *testing.T) {
		want := []*adminv1.RoutingState{{Target: "acme/fast", Circuit: "open", Failures: 5, NextProbeTime: timestamppb.Now(), Samples: 3, TpotMs: 12.5, TtftMs: 300}}
		f := &fakeRouting{out: want}
		resp, err := newGovernanceClient(t, admin.WithRoutingState(f)).ListRoutingState(t.Context(), &adminv1.ListRoutingStateRequest{Target: "acme/fast"})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, resp.GetStates(), protocmp.Transform()); d != "" || f.target != "acme/fast" {
			t.Errorf("states (-want +got):\n%s\ntarget asked for: %q", d, f.target)
		}
	})
}
