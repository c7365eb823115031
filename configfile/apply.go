package configfile

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/llmgw/llmgw/gateway/snapshot"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// Store is what Apply needs of the Admin store.
type Store interface {
	SnapshotConfig(ctx context.Context) (*snapshot.Config, error)
	CreateProviderAccount(ctx context.Context, in *adminv1.ProviderAccount) (*adminv1.ProviderAccount, error)
	UpdateProviderAccount(ctx context.Context, in *adminv1.ProviderAccount) (*adminv1.ProviderAccount, error)
	CreateModel(ctx context.Context, in *adminv1.Model) (*adminv1.Model, error)
	UpdateModel(ctx context.Context, in *adminv1.Model) (*adminv1.Model, error)
	CreateAuthzRule(ctx context.Context, in *adminv1.AuthzRule) (*adminv1.AuthzRule, error)
	UpdateAuthzRule(ctx context.Context, in *adminv1.AuthzRule) (*adminv1.AuthzRule, error)
}

// Apply creates what the file has and the store lacks and updates what differs; it returns
// how many resources it wrote. What the file cannot express (a model's pricing override) is
// kept. The current state is read once, with secrets, so that an
// unchanged file writes nothing.
func Apply(ctx context.Context, st Store, f *File) (int, error) {
	cur, err := st.SnapshotConfig(ctx)
	if err != nil {
		return 0, fmt.Errorf("read current config: %w", err)
	}
	accounts := map[string]snapshot.Account{}
	for _, a := range cur.Accounts {
		accounts[a.Name] = a
	}
	models := map[string]snapshot.Model{}
	for _, m := range cur.Models {
		models[m.Account+"/"+m.Name] = m
	}
	rules := map[string]snapshot.Rule{}
	for _, r := range cur.Rules {
		rules[r.Name] = r
	}
	changed := 0
	for _, a := range f.Accounts {
		in := a.Account
		old, ok := accounts[in.Name]
		switch {
		case !ok:
			if _, err := st.CreateProviderAccount(ctx, in); err != nil {
				return changed, fmt.Errorf("provider account %s: %w", in.Name, err)
			}
			changed++
		case old.Provider != in.Provider || old.BaseURL != in.BaseUrl || !maps.Equal(old.Settings, in.Settings) || (in.ApiKey != "" && old.APIKey != in.ApiKey):
			if _, err := st.UpdateProviderAccount(ctx, in); err != nil {
				return changed, fmt.Errorf("provider account %s: %w", in.Name, err)
			}
			changed++
		}
		for _, m := range a.Models {
			old, ok := models[m.Account+"/"+m.Name]
			types := m.Types
			if len(types) == 0 {
				types = []string{snapshot.TypeChat}
			}
			oldTypes := old.Types
			if len(oldTypes) == 0 {
				oldTypes = []string{snapshot.TypeChat}
			}
			switch {
			case !ok:
				if _, err := st.CreateModel(ctx, m); err != nil {
					return changed, fmt.Errorf("model %s/%s: %w", m.Account, m.Name, err)
				}
				changed++
			case old.UpstreamModel != m.UpstreamModel || old.BaseURL != m.BaseUrl || !slices.Equal(oldTypes, types) || !maps.Equal(old.Settings, m.Settings) || (m.ApiKey != "" && old.APIKey != m.ApiKey):
				// The file has no pricing: UpdateModel replaces every field, so the override
				// set through the Admin API is passed along rather than cleared.
				if m.Pricing == nil && old.Pricing != nil {
					m = proto.CloneOf(m)
					m.Pricing = &adminv1.Pricing{InputPerMtok: old.Pricing.Input, OutputPerMtok: old.Pricing.Output, CachedInputPerMtok: old.Pricing.CachedInput}
				}
				if _, err := st.UpdateModel(ctx, m); err != nil {
					return changed, fmt.Errorf("model %s/%s: %w", m.Account, m.Name, err)
				}
				changed++
			}
		}
	}
	for _, r := range f.Rules {
		old, ok := rules[r.Name]
		switch {
		case !ok:
			if _, err := st.CreateAuthzRule(ctx, r); err != nil {
				return changed, fmt.Errorf("authz rule %s: %w", r.Name, err)
			}
			changed++
		case !slices.Equal(old.Models, r.Models) || !slices.Equal(old.Users, r.Users) || !slices.Equal(old.Teams, r.Teams) || !slices.Equal(old.VirtualAccounts, r.VirtualAccounts):
			if _, err := st.UpdateAuthzRule(ctx, r); err != nil {
				return changed, fmt.Errorf("authz rule %s: %w", r.Name, err)
			}
			changed++
		}
	}
	return changed, nil
}
