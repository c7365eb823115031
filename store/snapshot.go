package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/apikey"
	"github.com/llmgw/llmgw/ent/authzrule"
	entbudget "github.com/llmgw/llmgw/ent/budget"
	"github.com/llmgw/llmgw/ent/identityprovider"
	"github.com/llmgw/llmgw/ent/provideraccount"
	"github.com/llmgw/llmgw/ent/ratelimit"
	"github.com/llmgw/llmgw/ent/routingrule"
	"github.com/llmgw/llmgw/ent/setting"
	"github.com/llmgw/llmgw/ent/team"
	"github.com/llmgw/llmgw/ent/user"
	"github.com/llmgw/llmgw/ent/virtualaccount"
	"github.com/llmgw/llmgw/ent/virtualmodel"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// SnapshotConfig reads the whole configuration in one consistent read and returns it as the
// data plane's input: provider secrets decrypted, API keys as hashes (revoked keys included with
// Revoked set, expiring keys with ExpireTime, the secret a rotation replaced with its grace
// period's end), every list sorted by name (models by account,
// then name; keys by id; virtual models by fqn; routing rules by position, then id; identity
// providers by name). The result shares nothing with the store.
func (s *Store) SnapshotConfig(ctx context.Context) (*snapshot.Config, error) {
	var opts *sql.TxOptions
	if s.dialect == DialectPostgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := s.client.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("snapshot config: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo.
	cfg, err := s.readConfig(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("snapshot config: %w", err)
	}
	return cfg, nil
}

func (s *Store) readConfig(ctx context.Context, tx *ent.Tx) (*snapshot.Config, error) {
	cfg := &snapshot.Config{}

	accounts, err := tx.ProviderAccount.Query().
		Order(ent.Asc(provideraccount.FieldName)).
		WithModels().
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	for _, a := range accounts {
		acc, models, err := s.accountConfig(a)
		if err != nil {
			return nil, err
		}
		cfg.Accounts = append(cfg.Accounts, acc)
		cfg.Models = append(cfg.Models, models...)
	}

	teams, err := tx.Team.Query().Order(ent.Asc(team.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read teams: %w", err)
	}
	for _, t := range teams {
		cfg.Teams = append(cfg.Teams, snapshot.Team{Name: t.Name})
	}

	users, err := tx.User.Query().Order(ent.Asc(user.FieldName)).WithTeams().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	userNames := make(map[int]string, len(users))
	for _, u := range users {
		userNames[u.ID] = u.Name
		var names []string
		for _, t := range u.Edges.Teams {
			names = append(names, t.Name)
		}
		slices.Sort(names)
		roles := storedRoles(u)
		cfg.Users = append(cfg.Users, snapshot.User{Name: u.Name, Teams: names, Disabled: u.Disabled, Admin: slices.Contains(roles, snapshot.RoleAdmin), Roles: roles})
	}

	vas, err := tx.VirtualAccount.Query().Order(ent.Asc(virtualaccount.FieldName)).WithTeam().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read virtual accounts: %w", err)
	}
	vaNames := make(map[int]string, len(vas))
	for _, v := range vas {
		vaNames[v.ID] = v.Name
		sv := snapshot.VirtualAccount{Name: v.Name, Disabled: v.Disabled}
		if v.Edges.Team != nil {
			sv.Team = v.Edges.Team.Name
		}
		cfg.VirtualAccounts = append(cfg.VirtualAccounts, sv)
	}

	keys, err := tx.ApiKey.Query().Order(ent.Asc(apikey.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read api keys: %w", err)
	}
	for _, k := range keys {
		sk := snapshot.Key{ID: k.ID, Hash: k.Hash, Revoked: k.RevokeTime != nil, Scopes: k.Scopes}
		switch {
		case k.UserID != nil:
			sk.User = userNames[*k.UserID]
		case k.VirtualAccountID != nil:
			sk.VirtualAccount = vaNames[*k.VirtualAccountID]
		}
		if sk.User == "" && sk.VirtualAccount == "" {
			continue // An owner deleted without the foreign key cascading; the key is dead.
		}
		if k.ExpireTime != nil {
			sk.ExpireTime = *k.ExpireTime
		}
		if k.PreviousHash != nil && k.PreviousExpireTime != nil {
			sk.PreviousHash, sk.PreviousExpireTime = *k.PreviousHash, *k.PreviousExpireTime
		}
		cfg.Keys = append(cfg.Keys, sk)
	}

	rules, err := tx.AuthzRule.Query().Order(ent.Asc(authzrule.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read authz rules: %w", err)
	}
	for _, r := range rules {
		cfg.Rules = append(cfg.Rules, snapshot.Rule{
			Name:            r.Name,
			Models:          slices.Clone(r.Models),
			Users:           slices.Clone(r.Users),
			Teams:           slices.Clone(r.Teams),
			VirtualAccounts: slices.Clone(r.VirtualAccounts),
		})
	}

	limits, err := tx.RateLimit.Query().Order(ent.Asc(ratelimit.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read rate limits: %w", err)
	}
	for _, r := range limits {
		cfg.RateLimits = append(cfg.RateLimits, rateLimitConfig(r))
	}
	budgets, err := tx.Budget.Query().Order(ent.Asc(entbudget.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read budgets: %w", err)
	}
	for _, b := range budgets {
		br, err := s.budgetConfig(b)
		if err != nil {
			return nil, err
		}
		cfg.Budgets = append(cfg.Budgets, br)
	}

	vms, err := tx.VirtualModel.Query().Order(ent.Asc(virtualmodel.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read virtual models: %w", err)
	}
	for _, v := range vms {
		cfg.VirtualModels = append(cfg.VirtualModels, virtualModelConfig(v))
	}
	rrs, err := tx.RoutingRule.Query().Order(ent.Asc(routingrule.FieldPosition), ent.Asc(routingrule.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read routing rules: %w", err)
	}
	for _, r := range rrs {
		cfg.RoutingRules = append(cfg.RoutingRules, routingRuleConfig(r))
	}

	ips, err := tx.IdentityProvider.Query().Order(ent.Asc(identityprovider.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read identity providers: %w", err)
	}
	for _, p := range ips {
		cfg.IdentityProviders = append(cfg.IdentityProviders, identityProviderConfig(p))
	}

	if cfg.Revision, err = readRevision(ctx, tx.Setting); err != nil {
		return nil, err
	}
	st, err := tx.Setting.Query().Where(setting.Key(settingAdminTokenHash)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("read admin token hash: %w", err)
	default:
		cfg.AdminTokenHash = st.Value
	}
	return cfg, nil
}

// accountConfig returns account a, whose models are loaded, and its models sorted by name, as
// the data plane sees them: secrets decrypted.
func (s *Store) accountConfig(a *ent.ProviderAccount) (snapshot.Account, []snapshot.Model, error) {
	acc := snapshot.Account{Name: a.Name, Provider: a.Provider, BaseURL: a.BaseURL, Settings: a.Settings}
	if sealed(a.APIKeySealed) != nil {
		key, err := s.sealer.Open(*a.APIKeySealed, accountAD(a.Name))
		if err != nil {
			return acc, nil, fmt.Errorf("provider account %s: %w", a.Name, err)
		}
		acc.APIKey = string(key)
	}
	var out []snapshot.Model
	for _, m := range slices.SortedFunc(slices.Values(a.Edges.Models), func(x, y *ent.Model) int { return strings.Compare(x.Name, y.Name) }) {
		sm := snapshot.Model{
			Account:       a.Name,
			Name:          m.Name,
			UpstreamModel: m.UpstreamModel,
			Types:         slices.Clone(m.Types),
			BaseURL:       m.BaseURL,
			Settings:      m.Settings,
		}
		if p := m.Pricing; p != nil {
			sm.Pricing = &snapshot.Pricing{Input: p.InputPerMTok, Output: p.OutputPerMTok, CachedInput: p.CachedInputPerMTok,
				CacheWrite: p.CacheWritePerMTok, CacheWrite1h: p.CacheWrite1hPerMTok}
		}
		if sealed(m.APIKeySealed) != nil {
			key, err := s.sealer.Open(*m.APIKeySealed, modelAD(a.Name, m.Name))
			if err != nil {
				return acc, nil, fmt.Errorf("model %s/%s: %w", a.Name, m.Name, err)
			}
			sm.APIKey = string(key)
		}
		out = append(out, sm)
	}
	return acc, out, nil
}

// checkAdapters builds, with Options.ValidateModel, the adapter of every model of the account
// (or only of the model named only) from what tx holds, so that a write leaving a model that
// could only answer 503 fails before it commits. param names the field the error is about.
func (s *Store) checkAdapters(ctx context.Context, tx *ent.Tx, account, only, param string) error {
	if s.opts.ValidateModel == nil {
		return nil
	}
	a, err := tx.ProviderAccount.Query().Where(provideraccount.Name(account)).WithModels().Only(ctx)
	if err != nil {
		return err
	}
	acc, models, err := s.accountConfig(a)
	if err != nil {
		return err
	}
	for i := range models {
		m := &models[i]
		if only != "" && m.Name != only {
			continue
		}
		if err := s.opts.ValidateModel(snapshot.ProviderConfig(&acc, m)); err != nil {
			return apierr.Invalid(param, "the model %s/%s cannot be served with this configuration: %v", account, m.Name, err)
		}
	}
	return nil
}
