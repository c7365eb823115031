package store

import (
	"context"
	"fmt"
	"strings"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/authzrule"
	"github.com/llmgw/llmgw/gateway/apierr"
)

const kindAuthzRule = "authz rule"

// Authorization rules.

func validateAuthzRule(in *adminv1.AuthzRule) error {
	if in == nil {
		return apierr.Invalid("authz_rule", "authz_rule is required")
	}
	if err := validateName("authz_rule.name", in.GetName()); err != nil {
		return err
	}
	if len(in.GetModels()) == 0 {
		return apierr.Invalid("authz_rule.models", "authz_rule.models needs at least one model")
	}
	if len(in.GetUsers())+len(in.GetTeams())+len(in.GetVirtualAccounts()) == 0 {
		return apierr.Invalid("authz_rule.users", "authz_rule needs at least one principal in users, teams or virtual_accounts")
	}
	if err := validateLists("authz_rule", in.GetModels(), in.GetUsers(), in.GetTeams(), in.GetVirtualAccounts()); err != nil {
		return err
	}
	return validateModelPatterns("authz_rule.models", in.GetModels())
}

// validateModelPatterns checks that every entry can match a model, as snapshot's rule matcher
// reads them: "*", "<account>/*" or "<account>/<model>" with a valid account and model name.
// Anything else ("gpt-4o", "*/gpt-4o", "acme/gpt-*") would be stored and never match.
func validateModelPatterns(param string, models []string) error {
	for i, m := range models {
		if m == "*" {
			continue
		}
		account, name, ok := strings.Cut(m, "/")
		if ok && nameRE.MatchString(account) && (name == "*" || validateModelName(param, name) == nil) {
			continue
		}
		return apierr.Invalid(param, "%s[%d] %q must be \"*\", \"<account>/*\" or \"<account>/<model>\"", param, i, m)
	}
	return nil
}

// validateLists checks the models, users, teams and virtual_accounts lists under param, in
// that order, so that a request with several bad lists is always told about the same one.
func validateLists(param string, models, users, teams, vas []string) error {
	for _, l := range []struct {
		field string
		list  []string
	}{{".models", models}, {".users", users}, {".teams", teams}, {".virtual_accounts", vas}} {
		if err := validateList(param+l.field, l.list); err != nil {
			return err
		}
	}
	return nil
}

// CreateAuthzRule adds an authorization rule. Names in it are not checked against existing
// resources: a rule may come before the principals and models it names.
func (s *Store) CreateAuthzRule(ctx context.Context, in *adminv1.AuthzRule) (*adminv1.AuthzRule, error) {
	if err := validateAuthzRule(in); err != nil {
		return nil, fmt.Errorf("create authz rule: %w", err)
	}
	var out *ent.AuthzRule
	err := s.write(ctx, func(tx *ent.Tx) error {
		var err error
		out, err = tx.AuthzRule.Create().
			SetName(in.GetName()).
			SetModels(in.GetModels()).
			SetUsers(in.GetUsers()).
			SetTeams(in.GetTeams()).
			SetVirtualAccounts(in.GetVirtualAccounts()).
			Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create authz rule %s: %w", in.GetName(), classify(err, kindAuthzRule, in.GetName()))
	}
	return authzRuleProto(out), nil
}

// GetAuthzRule returns the authorization rule with the name.
func (s *Store) GetAuthzRule(ctx context.Context, name string) (*adminv1.AuthzRule, error) {
	r, err := s.client.AuthzRule.Query().Where(authzrule.Name(name)).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get authz rule %s: %w", name, classify(err, kindAuthzRule, name))
	}
	return authzRuleProto(r), nil
}

// ListAuthzRules returns every authorization rule, sorted by name.
func (s *Store) ListAuthzRules(ctx context.Context) ([]*adminv1.AuthzRule, error) {
	rs, err := s.client.AuthzRule.Query().Order(ent.Asc(authzrule.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list authz rules: %w", err)
	}
	out := make([]*adminv1.AuthzRule, len(rs))
	for i, r := range rs {
		out[i] = authzRuleProto(r)
	}
	return out, nil
}

// UpdateAuthzRule replaces the authorization rule named in.name.
func (s *Store) UpdateAuthzRule(ctx context.Context, in *adminv1.AuthzRule) (*adminv1.AuthzRule, error) {
	if err := validateAuthzRule(in); err != nil {
		return nil, fmt.Errorf("update authz rule: %w", err)
	}
	var out *ent.AuthzRule
	err := s.write(ctx, func(tx *ent.Tx) error {
		id, err := tx.AuthzRule.Query().Where(authzrule.Name(in.GetName())).OnlyID(ctx)
		if err != nil {
			return err
		}
		out, err = tx.AuthzRule.UpdateOneID(id).
			SetModels(in.GetModels()).
			SetUsers(in.GetUsers()).
			SetTeams(in.GetTeams()).
			SetVirtualAccounts(in.GetVirtualAccounts()).
			Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update authz rule %s: %w", in.GetName(), classify(err, kindAuthzRule, in.GetName()))
	}
	return authzRuleProto(out), nil
}

// DeleteAuthzRule deletes the authorization rule with the name.
func (s *Store) DeleteAuthzRule(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *ent.Tx) error {
		n, err := tx.AuthzRule.Delete().Where(authzrule.Name(name)).Exec(ctx)
		if err == nil && n == 0 {
			return notFound(kindAuthzRule, name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete authz rule %s: %w", name, err)
	}
	return nil
}

func authzRuleProto(r *ent.AuthzRule) *adminv1.AuthzRule {
	return &adminv1.AuthzRule{
		Name:            r.Name,
		Models:          r.Models,
		Users:           r.Users,
		Teams:           r.Teams,
		VirtualAccounts: r.VirtualAccounts,
		CreateTime:      ts(r.CreateTime),
		UpdateTime:      ts(r.UpdateTime),
	}
}
