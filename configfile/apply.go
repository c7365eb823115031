package configfile

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/llmgw/llmgw/gateway/governance"
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
	CreateRateLimit(ctx context.Context, in *adminv1.RateLimit) (*adminv1.RateLimit, error)
	UpdateRateLimit(ctx context.Context, in *adminv1.RateLimit) (*adminv1.RateLimit, error)
	CreateBudget(ctx context.Context, in *adminv1.Budget) (*adminv1.Budget, error)
	UpdateBudget(ctx context.Context, in *adminv1.Budget) (*adminv1.Budget, error)
	CreateIdentityProvider(ctx context.Context, in *adminv1.IdentityProvider) (*adminv1.IdentityProvider, error)
	UpdateIdentityProvider(ctx context.Context, in *adminv1.IdentityProvider) (*adminv1.IdentityProvider, error)
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
					m.Pricing = &adminv1.Pricing{InputPerMtok: old.Pricing.Input, OutputPerMtok: old.Pricing.Output, CachedInputPerMtok: old.Pricing.CachedInput,
						CacheWritePerMtok: old.Pricing.CacheWrite, CacheWrite_1HPerMtok: old.Pricing.CacheWrite1h}
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
	n, err := applyGovernance(ctx, st, cur, f)
	changed += n
	if err != nil {
		return changed, err
	}
	n, err = applyIdentityProviders(ctx, st, cur, f)
	return changed + n, err
}

// applyIdentityProviders creates and updates the file's identity providers.
func applyIdentityProviders(ctx context.Context, st Store, cur *snapshot.Config, f *File) (int, error) {
	stored := map[string]snapshot.IdentityProvider{}
	for _, p := range cur.IdentityProviders {
		stored[p.Name] = p
	}
	changed := 0
	for _, in := range f.IdentityProviders {
		old, ok := stored[in.GetName()]
		switch {
		case !ok:
			if _, err := st.CreateIdentityProvider(ctx, in); err != nil {
				return changed, fmt.Errorf("identity provider %s: %w", in.GetName(), err)
			}
			changed++
		case old.Issuer != in.GetIssuer() || !slices.Equal(old.Audiences, in.GetAudiences()) || old.UserClaim != in.GetUserClaim() ||
			old.GroupsClaim != in.GetGroupsClaim() || old.CreateUsers != in.GetCreateUsers() || old.ClientID != in.GetClientId() ||
			!slices.Equal(old.AllowedDomains, in.GetAllowedDomains()) || old.JWKSURL != in.GetJwksUrl():
			if _, err := st.UpdateIdentityProvider(ctx, in); err != nil {
				return changed, fmt.Errorf("identity provider %s: %w", in.GetName(), err)
			}
			changed++
		}
	}
	return changed, nil
}

// applyGovernance creates and updates the file's rate limits and budgets.
func applyGovernance(ctx context.Context, st Store, cur *snapshot.Config, f *File) (int, error) {
	limits := map[string]governance.RateLimitRule{}
	for _, r := range cur.RateLimits {
		limits[r.Name] = r
	}
	budgets := map[string]governance.BudgetRule{}
	for _, b := range cur.Budgets {
		budgets[b.Name] = b
	}
	changed := 0
	for _, r := range f.RateLimits {
		old, ok := limits[r.Name]
		switch {
		case !ok:
			if _, err := st.CreateRateLimit(ctx, r); err != nil {
				return changed, fmt.Errorf("rate limit %s: %w", r.Name, err)
			}
			changed++
		case !sameRateLimit(old, r):
			if _, err := st.UpdateRateLimit(ctx, r); err != nil {
				return changed, fmt.Errorf("rate limit %s: %w", r.Name, err)
			}
			changed++
		}
	}
	for _, b := range f.Budgets {
		old, ok := budgets[b.Name]
		switch {
		case !ok:
			if _, err := st.CreateBudget(ctx, b); err != nil {
				return changed, fmt.Errorf("budget %s: %w", b.Name, err)
			}
			changed++
		case !sameBudget(old, b):
			if _, err := st.UpdateBudget(ctx, b); err != nil {
				return changed, fmt.Errorf("budget %s: %w", b.Name, err)
			}
			changed++
		}
	}
	return changed, nil
}

func sameCondition(old governance.Condition, in *adminv1.Condition) bool {
	return slices.Equal(old.Subjects, in.GetSubjects()) && slices.Equal(old.Models, in.GetModels()) && maps.Equal(old.Metadata, in.GetMetadata())
}

// sameRateLimit reports whether the stored rule old is what the file's in would store.
func sameRateLimit(old governance.RateLimitRule, in *adminv1.RateLimit) bool {
	return sameCondition(old.When, in.GetWhen()) &&
		slices.EqualFunc(old.Limits, in.GetLimits(), func(o governance.Limit, l *adminv1.RateLimitEntry) bool {
			return o.Unit == l.GetUnit() && o.LimitTo == l.GetLimitTo()
		}) &&
		slices.Equal(old.AppliesPer, in.GetAppliesPer()) &&
		old.Audit == (in.GetMode() == adminv1.Mode_MODE_AUDIT)
}

// sameBudget reports whether the stored budget old is what the file's in would store. A target
// without a secret keeps the stored one, so only a secret that differs counts.
func sameBudget(old governance.BudgetRule, in *adminv1.Budget) bool {
	return sameCondition(old.When, in.GetWhen()) &&
		old.Unit == in.GetUnit() && old.LimitTo == in.GetLimitTo() &&
		slices.Equal(old.AppliesPer, in.GetAppliesPer()) &&
		old.Audit == (in.GetMode() == adminv1.Mode_MODE_AUDIT) &&
		slices.EqualFunc(old.Thresholds, in.GetAlerts().GetThresholds(), func(o int, t int32) bool { return o == int(t) }) &&
		slices.EqualFunc(old.Targets, in.GetAlerts().GetNotificationTarget(), func(o governance.NotificationTarget, t *adminv1.NotificationTarget) bool {
			return o.Type == t.GetType() && o.URL == t.GetUrl() && (t.GetSecret() == "" || t.GetSecret() == o.Secret)
		})
}
