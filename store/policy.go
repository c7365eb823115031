package store

import (
	"context"
	"fmt"
	"strings"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/authzrule"
	"github.com/llmgw/llmgw/ent/model"
	"github.com/llmgw/llmgw/ent/provideraccount"
	"github.com/llmgw/llmgw/ent/routingconfig"
	"github.com/llmgw/llmgw/ent/schematype"
	"github.com/llmgw/llmgw/gateway/apierr"
)

const (
	kindAuthzRule     = "authz rule"
	kindRoutingConfig = "routing config"
)

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

// Routing configs.

var strategyToEnt = map[adminv1.RoutingStrategy]routingconfig.Strategy{
	adminv1.RoutingStrategy_ROUTING_STRATEGY_WEIGHTED: routingconfig.StrategyWeighted,
	adminv1.RoutingStrategy_ROUTING_STRATEGY_LATENCY:  routingconfig.StrategyLatency,
	adminv1.RoutingStrategy_ROUTING_STRATEGY_PRIORITY: routingconfig.StrategyPriority,
}

// validateRoutingConfig checks a routing config; its targets must name existing models.
func validateRoutingConfig(ctx context.Context, tx *ent.Tx, in *adminv1.RoutingConfig) error {
	if in == nil {
		return apierr.Invalid("routing_config", "routing_config is required")
	}
	if err := validateName("routing_config.name", in.GetName()); err != nil {
		return err
	}
	if _, ok := strategyToEnt[in.GetStrategy()]; !ok {
		return apierr.Invalid("routing_config.strategy", "routing_config.strategy must be set")
	}
	if len(in.GetTargets()) == 0 {
		return apierr.Invalid("routing_config.targets", "routing_config.targets needs at least one target")
	}
	if in.GetMaxRetries() < 0 {
		return apierr.Invalid("routing_config.max_retries", "routing_config.max_retries must not be negative")
	}
	for i, code := range in.GetRetryOnStatus() {
		if code < 100 || code > 599 {
			return apierr.Invalid("routing_config.retry_on_status", "routing_config.retry_on_status[%d] %d is not an HTTP status", i, code)
		}
	}
	for i, t := range in.GetTargets() {
		param := fmt.Sprintf("routing_config.targets[%d]", i)
		if t.GetWeight() < 0 {
			return apierr.Invalid(param+".weight", "%s.weight must not be negative", param)
		}
		if t.GetSlaCutoffMs() < 0 {
			return apierr.Invalid(param+".sla_cutoff_ms", "%s.sla_cutoff_ms must not be negative", param)
		}
		account, name, ok := strings.Cut(t.GetModel(), "/")
		if !ok || account == "" || name == "" {
			return apierr.Invalid(param+".model", "%s.model %q must be a fully qualified model name, \"<account>/<model>\"", param, t.GetModel())
		}
		exists, err := tx.Model.Query().
			Where(model.Name(name), model.HasAccountWith(provideraccount.Name(account))).
			Exist(ctx)
		if err != nil {
			return err
		}
		if !exists {
			return apierr.Invalid(param+".model", "%s.model %q does not exist", param, t.GetModel())
		}
	}
	return nil
}

func routingTargets(in []*adminv1.RoutingTarget) []schematype.RoutingTarget {
	out := make([]schematype.RoutingTarget, len(in))
	for i, t := range in {
		out[i] = schematype.RoutingTarget{Model: t.GetModel(), Weight: t.GetWeight(), Priority: t.GetPriority(), SLACutoffMS: t.GetSlaCutoffMs()}
	}
	return out
}

func int32sToInts(in []int32) []int {
	out := make([]int, len(in))
	for i, v := range in {
		out[i] = int(v)
	}
	return out
}

// CreateRoutingConfig adds a routing config whose targets name existing models.
func (s *Store) CreateRoutingConfig(ctx context.Context, in *adminv1.RoutingConfig) (*adminv1.RoutingConfig, error) {
	var out *ent.RoutingConfig
	err := s.write(ctx, func(tx *ent.Tx) error {
		if err := validateRoutingConfig(ctx, tx, in); err != nil {
			return err
		}
		var err error
		out, err = tx.RoutingConfig.Create().
			SetName(in.GetName()).
			SetStrategy(strategyToEnt[in.GetStrategy()]).
			SetTargets(routingTargets(in.GetTargets())).
			SetMaxRetries(in.GetMaxRetries()).
			SetRetryOnStatus(int32sToInts(in.GetRetryOnStatus())).
			Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create routing config %s: %w", in.GetName(), classify(err, kindRoutingConfig, in.GetName()))
	}
	return routingConfigProto(out), nil
}

// GetRoutingConfig returns the routing config with the name.
func (s *Store) GetRoutingConfig(ctx context.Context, name string) (*adminv1.RoutingConfig, error) {
	r, err := s.client.RoutingConfig.Query().Where(routingconfig.Name(name)).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get routing config %s: %w", name, classify(err, kindRoutingConfig, name))
	}
	return routingConfigProto(r), nil
}

// ListRoutingConfigs returns every routing config, sorted by name.
func (s *Store) ListRoutingConfigs(ctx context.Context) ([]*adminv1.RoutingConfig, error) {
	rs, err := s.client.RoutingConfig.Query().Order(ent.Asc(routingconfig.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list routing configs: %w", err)
	}
	out := make([]*adminv1.RoutingConfig, len(rs))
	for i, r := range rs {
		out[i] = routingConfigProto(r)
	}
	return out, nil
}

// UpdateRoutingConfig replaces the routing config named in.name.
func (s *Store) UpdateRoutingConfig(ctx context.Context, in *adminv1.RoutingConfig) (*adminv1.RoutingConfig, error) {
	var out *ent.RoutingConfig
	err := s.write(ctx, func(tx *ent.Tx) error {
		if err := validateRoutingConfig(ctx, tx, in); err != nil {
			return err
		}
		id, err := tx.RoutingConfig.Query().Where(routingconfig.Name(in.GetName())).OnlyID(ctx)
		if err != nil {
			return err
		}
		out, err = tx.RoutingConfig.UpdateOneID(id).
			SetStrategy(strategyToEnt[in.GetStrategy()]).
			SetTargets(routingTargets(in.GetTargets())).
			SetMaxRetries(in.GetMaxRetries()).
			SetRetryOnStatus(int32sToInts(in.GetRetryOnStatus())).
			Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update routing config %s: %w", in.GetName(), classify(err, kindRoutingConfig, in.GetName()))
	}
	return routingConfigProto(out), nil
}

// DeleteRoutingConfig deletes the routing config with the name.
func (s *Store) DeleteRoutingConfig(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *ent.Tx) error {
		n, err := tx.RoutingConfig.Delete().Where(routingconfig.Name(name)).Exec(ctx)
		if err == nil && n == 0 {
			return notFound(kindRoutingConfig, name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete routing config %s: %w", name, err)
	}
	return nil
}

func routingConfigProto(r *ent.RoutingConfig) *adminv1.RoutingConfig {
	out := &adminv1.RoutingConfig{
		Name:       r.Name,
		MaxRetries: r.MaxRetries,
		CreateTime: ts(r.CreateTime),
		UpdateTime: ts(r.UpdateTime),
	}
	for k, v := range strategyToEnt {
		if v == r.Strategy {
			out.Strategy = k
		}
	}
	for _, t := range r.Targets {
		out.Targets = append(out.Targets, &adminv1.RoutingTarget{Model: t.Model, Weight: t.Weight, Priority: t.Priority, SlaCutoffMs: t.SLACutoffMS})
	}
	for _, c := range r.RetryOnStatus {
		out.RetryOnStatus = append(out.RetryOnStatus, int32(c))
	}
	return out
}
