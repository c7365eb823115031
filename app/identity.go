package app

import (
	"context"
	"time"

	"github.com/llmgw/llmgw/gateway/oidc"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// lazyUsers is a UserStore set once the plane is open: the store, or for a gateway replica
// the control plane (ControlPlaneService.EnsureUsers). Until then it stores nothing.
type lazyUsers struct{ u oidc.UserStore }

func (u *lazyUsers) EnsureUser(ctx context.Context, name string) error {
	if u.u == nil {
		return nil
	}
	return u.u.EnsureUser(ctx, name)
}

// withIdentityStatus adds the state of the identity providers' keys to readiness (next may
// be nil): "identity_providers": {"corp": "keys read at <time>" | "keys read at <time>; the
// last read failed" | "no keys yet"}. It never fails readiness: API keys keep working.
func withIdentityStatus(next func() map[string]any, snaps *snapshot.Holder, v *oidc.Verifier) func() map[string]any {
	return func() map[string]any {
		st := map[string]any{}
		if next != nil {
			st = next()
		}
		snap := snaps.Load()
		if snap == nil || len(snap.Config().IdentityProviders) == 0 {
			return st
		}
		ips := map[string]string{}
		for name, ks := range v.Status(snap.Config().IdentityProviders) {
			switch {
			case !ks.Loaded:
				ips[name] = "no keys yet: its tokens are refused"
			case ks.Failing:
				ips[name] = "keys read at " + ks.Fetched.UTC().Format(time.RFC3339) + "; the last read failed, they stay in use"
			default:
				ips[name] = "keys read at " + ks.Fetched.UTC().Format(time.RFC3339)
			}
		}
		st["identity_providers"] = ips
		return st
	}
}
