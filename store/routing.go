package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/model"
	"github.com/llmgw/llmgw/ent/provideraccount"
	"github.com/llmgw/llmgw/ent/routingrule"
	"github.com/llmgw/llmgw/ent/schematype"
	"github.com/llmgw/llmgw/ent/virtualmodel"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

const (
	kindVirtualModel = "virtual model"
	kindRoutingRule  = "routing rule"
)

// modelTypes are the model types a virtual model may serve.
var modelTypes = []string{snapshot.TypeChat, snapshot.TypeEmbedding, snapshot.TypeRerank}

// routingRow is a validated routing config in its stored form.
type routingRow struct {
	strategy string
	targets  []schematype.RoutingTarget
	sticky   *schematype.StickyRouting // nil: none
}

// invalidField is err, a snapshot check's *FieldError, as a 400 naming param's field;
// another error unchanged.
func invalidField(param string, err error) error {
	var fe *snapshot.FieldError
	if errors.As(err, &fe) {
		return apierr.Invalid(param+"."+fe.Field, "%s.%s: %s", param, fe.Field, fe.Msg)
	}
	return err
}

// validateRouting checks a routing config under param ("virtual_model.routing_config") with
// snapshot.CheckRouting and snapshot.CheckSticky, the checks the config file makes too, and
// then that every target names an existing real model: not a virtual model, so that routes
// never loop (the data plane routes a virtual model only to real models). A sticky_routing is
// refused unless sticky says the resource may have one (a virtual model; TrueFoundry documents
// it on virtual models only, and the config file refuses it on a rule).
func (s *Store) validateRouting(ctx context.Context, tx *ent.Tx, param string, in *adminv1.Routing, sticky bool) (routingRow, error) {
	var row routingRow
	if in == nil {
		return row, apierr.Invalid(param, "%s is required", param)
	}
	if in.GetStickyRouting() != nil && !sticky {
		return row, apierr.Invalid(param+".sticky_routing", "%s.sticky_routing: sticky_routing applies only to a virtual model's routing_config", param)
	}
	st := stickyFromProto(in.GetStickyRouting())
	if err := snapshot.CheckSticky(in.GetType(), st); err != nil {
		return row, invalidField(param, err)
	}
	targets := make([]snapshot.VirtualTarget, len(in.GetLoadBalanceTargets()))
	for i, t := range in.GetLoadBalanceTargets() {
		var err error
		if targets[i], err = targetFromProto(fmt.Sprintf("%s.load_balance_targets[%d]", param, i), t); err != nil {
			return row, err
		}
	}
	if err := snapshot.CheckRouting(in.GetType(), targets); err != nil {
		return row, invalidField(param, err)
	}
	for i, t := range targets {
		field := fmt.Sprintf("%s.load_balance_targets[%d].target", param, i)
		ok, err := s.modelExists(ctx, tx, t.Model)
		if err != nil {
			return row, err
		}
		if ok {
			continue
		}
		virtual, err := s.virtualExists(ctx, tx, t.Model)
		if err != nil {
			return row, err
		}
		if virtual {
			return row, apierr.Invalid(field, "%s %q is a virtual model; targets must be real models, so that routes never loop", field, t.Model)
		}
		return row, apierr.Invalid(field, "%s %q is not an existing model", field, t.Model)
	}
	row.strategy, row.sticky = in.GetType(), stickyRow(st)
	for _, t := range targets {
		row.targets = append(row.targets, targetRow(t))
	}
	return row, nil
}

// stickyFromProto is in as the data plane reads it, header keys canonical; nil when in is.
func stickyFromProto(in *adminv1.StickyRouting) *snapshot.Sticky {
	if in == nil {
		return nil
	}
	st := &snapshot.Sticky{TTL: time.Duration(in.GetTtlSeconds()) * time.Second, Identifiers: []snapshot.SessionIdentifier{}}
	for _, id := range in.GetSessionIdentifiers() {
		k := id.GetKey()
		if id.GetSource() == snapshot.SessionHeaders {
			k = http.CanonicalHeaderKey(k)
		}
		st.Identifiers = append(st.Identifiers, snapshot.SessionIdentifier{Source: id.GetSource(), Key: k})
	}
	return st
}

// stickyRow is st's stored form; nil when st is.
func stickyRow(st *snapshot.Sticky) *schematype.StickyRouting {
	if st == nil {
		return nil
	}
	r := &schematype.StickyRouting{TTLSeconds: int(st.TTL / time.Second)}
	for _, id := range st.Identifiers {
		r.SessionIdentifiers = append(r.SessionIdentifiers, schematype.SessionIdentifier{Source: id.Source, Key: id.Key})
	}
	return r
}

// stickyConfig is a stored sticky_routing as the data plane reads it; nil when r is.
func stickyConfig(r *schematype.StickyRouting) *snapshot.Sticky {
	if r == nil {
		return nil
	}
	st := &snapshot.Sticky{TTL: time.Duration(r.TTLSeconds) * time.Second}
	for _, id := range r.SessionIdentifiers {
		st.Identifiers = append(st.Identifiers, snapshot.SessionIdentifier{Source: id.Source, Key: id.Key})
	}
	return st
}

// stickyProto is a stored sticky_routing as the Admin API returns it; nil when r is.
func stickyProto(r *schematype.StickyRouting) *adminv1.StickyRouting {
	if r == nil {
		return nil
	}
	out := &adminv1.StickyRouting{TtlSeconds: int32(r.TTLSeconds)}
	for _, id := range r.SessionIdentifiers {
		out.SessionIdentifiers = append(out.SessionIdentifiers, &adminv1.SessionIdentifier{Source: id.Source, Key: id.Key})
	}
	return out
}

// targetFromProto reads a target with the defaults of snapshot.NewTarget for what is unset.
func targetFromProto(param string, in *adminv1.RoutingTarget) (snapshot.VirtualTarget, error) {
	t := snapshot.NewTarget(in.GetTarget())
	t.Weight, t.Priority = int(in.GetWeight()), int(in.GetPriority())
	if sla := in.GetSlaCutoff(); sla != nil {
		t.SLA = snapshot.SLA{TPOT: ms(sla.GetTimePerOutputTokenMs()), TTFT: ms(sla.GetTimeToFirstTokenMs())}
		if !t.SLA.Set() {
			return t, apierr.Invalid(param+".sla_cutoff", "%s.sla_cutoff: expected time_per_output_token_ms or time_to_first_token_ms", param)
		}
	}
	if rc := in.GetRetryConfig(); rc != nil {
		if rc.Attempts != nil {
			t.Retry.Attempts = int(rc.GetAttempts())
		}
		if rc.Delay != nil {
			t.Retry.Delay = ms(rc.GetDelay())
		}
		if len(rc.GetOnStatusCodes()) > 0 {
			t.Retry.OnStatus = ints(rc.GetOnStatusCodes())
		}
	}
	if len(in.GetFallbackStatusCodes()) > 0 {
		t.FallbackStatus = ints(in.GetFallbackStatusCodes())
	}
	if in.FallbackCandidate != nil {
		t.FallbackCandidate = in.GetFallbackCandidate()
	}
	if ps := in.GetOverrideParams(); ps != nil {
		for _, name := range slices.Sorted(maps.Keys(ps.GetFields())) {
			b, err := protojson.Marshal(ps.GetFields()[name])
			if err != nil {
				return t, apierr.Invalid(param+".override_params."+name, "%s.override_params.%s: expected a JSON value", param, name)
			}
			t.Params = append(t.Params, chat.Param{Name: name, Value: b})
		}
	}
	if h := in.GetHeadersOverride(); h != nil && len(h.GetSet())+len(h.GetRemove()) > 0 {
		t.Headers = &provider.HeaderOverride{Set: map[string]string{}}
		for k, v := range h.GetSet() {
			t.Headers.Set[http.CanonicalHeaderKey(k)] = v
		}
		for _, k := range h.GetRemove() {
			t.Headers.Remove = append(t.Headers.Remove, http.CanonicalHeaderKey(k))
		}
	}
	return t, nil
}

func ms(v int32) time.Duration { return time.Duration(v) * time.Millisecond }

func ints(in []int32) []int {
	out := make([]int, len(in))
	for i, v := range in {
		out[i] = int(v)
	}
	return out
}

func int32s(in []int) []int32 {
	out := make([]int32, len(in))
	for i, v := range in {
		out[i] = int32(v)
	}
	return out
}

// targetRow is t's stored form.
func targetRow(t snapshot.VirtualTarget) schematype.RoutingTarget {
	r := schematype.RoutingTarget{
		Target: t.Model, Weight: t.Weight, Priority: t.Priority,
		SLATPOTMS: int(t.SLA.TPOT.Milliseconds()), SLATTFTMS: int(t.SLA.TTFT.Milliseconds()),
		RetryAttempts: t.Retry.Attempts, RetryDelayMS: int(t.Retry.Delay.Milliseconds()), RetryOnStatus: nonNil(t.Retry.OnStatus),
		FallbackStatus: nonNil(t.FallbackStatus), FallbackCandidate: t.FallbackCandidate,
	}
	for _, p := range t.Params {
		if r.OverrideParams == nil {
			r.OverrideParams = map[string]json.RawMessage{}
		}
		r.OverrideParams[p.Name] = p.Value
	}
	if h := t.Headers; h != nil {
		r.HeadersSet, r.HeadersRemove = h.Set, h.Remove
	}
	return r
}

// targetConfig is a stored target as the data plane reads it.
func targetConfig(r schematype.RoutingTarget) snapshot.VirtualTarget {
	t := snapshot.VirtualTarget{
		Model: r.Target, Weight: r.Weight, Priority: r.Priority,
		SLA:               snapshot.SLA{TPOT: time.Duration(r.SLATPOTMS) * time.Millisecond, TTFT: time.Duration(r.SLATTFTMS) * time.Millisecond},
		Retry:             snapshot.Retry{Attempts: r.RetryAttempts, Delay: time.Duration(r.RetryDelayMS) * time.Millisecond, OnStatus: slices.Clone(r.RetryOnStatus)},
		FallbackStatus:    slices.Clone(r.FallbackStatus),
		FallbackCandidate: r.FallbackCandidate,
	}
	for _, name := range slices.Sorted(maps.Keys(r.OverrideParams)) {
		t.Params = append(t.Params, chat.Param{Name: name, Value: slices.Clone(r.OverrideParams[name])})
	}
	if len(r.HeadersSet)+len(r.HeadersRemove) > 0 {
		t.Headers = &provider.HeaderOverride{Set: maps.Clone(r.HeadersSet), Remove: slices.Clone(r.HeadersRemove)}
	}
	return t
}

// targetProto is a stored target as the Admin API returns it: every default filled in.
func targetProto(r schematype.RoutingTarget) *adminv1.RoutingTarget {
	attempts, delay := int32(r.RetryAttempts), int32(r.RetryDelayMS)
	out := &adminv1.RoutingTarget{
		Target: r.Target, Weight: int32(r.Weight), Priority: int32(r.Priority),
		RetryConfig:         &adminv1.RetryConfig{Attempts: &attempts, Delay: &delay, OnStatusCodes: int32s(r.RetryOnStatus)},
		FallbackStatusCodes: int32s(r.FallbackStatus),
		FallbackCandidate:   &r.FallbackCandidate,
	}
	if r.SLATPOTMS+r.SLATTFTMS > 0 {
		out.SlaCutoff = &adminv1.SlaCutoff{TimePerOutputTokenMs: int32(r.SLATPOTMS), TimeToFirstTokenMs: int32(r.SLATTFTMS)}
	}
	if len(r.OverrideParams) > 0 {
		out.OverrideParams = &structpb.Struct{Fields: map[string]*structpb.Value{}}
		for k, raw := range r.OverrideParams {
			v := &structpb.Value{}
			if err := protojson.Unmarshal(raw, v); err == nil {
				out.OverrideParams.Fields[k] = v
			}
		}
	}
	if len(r.HeadersSet)+len(r.HeadersRemove) > 0 {
		out.HeadersOverride = &adminv1.HeadersOverride{Set: r.HeadersSet, Remove: r.HeadersRemove}
	}
	return out
}

func routingProto(strategy string, targets []schematype.RoutingTarget, sticky *schematype.StickyRouting) *adminv1.Routing {
	out := &adminv1.Routing{Type: strategy, StickyRouting: stickyProto(sticky)}
	for _, t := range targets {
		out.LoadBalanceTargets = append(out.LoadBalanceTargets, targetProto(t))
	}
	return out
}

// modelExists reports whether fqn names a stored real model.
func (s *Store) modelExists(ctx context.Context, tx *ent.Tx, fqn string) (bool, error) {
	account, name, _ := strings.Cut(fqn, "/")
	return tx.Model.Query().Where(model.Name(name), model.HasAccountWith(provideraccount.Name(account))).Exist(ctx)
}

// virtualExists reports whether fqn names a stored virtual model or one of the config file's.
func (s *Store) virtualExists(ctx context.Context, tx *ent.Tx, fqn string) (bool, error) {
	if slices.Contains(s.opts.FileVirtualModels, fqn) {
		return true, nil
	}
	return tx.VirtualModel.Query().Where(virtualmodel.Name(fqn)).Exist(ctx)
}

// checkNotVirtualGroup refuses a provider account named as a virtual model's group, stored or
// the config file's: its models would shadow the virtual models.
func (s *Store) checkNotVirtualGroup(ctx context.Context, tx *ent.Tx, account string) error {
	taken := slices.ContainsFunc(s.opts.FileVirtualModels, func(fqn string) bool { return strings.HasPrefix(fqn, account+"/") })
	if !taken {
		var err error
		if taken, err = tx.VirtualModel.Query().Where(virtualmodel.Group(account)).Exist(ctx); err != nil {
			return err
		}
	}
	if taken {
		return apierr.Invalid("provider_account.name", "provider_account.name %q is a virtual model group; a provider account must not be one", account)
	}
	return nil
}

// Virtual models.

// validateVirtualModel checks a virtual model: its group a resource name that is no provider
// account's (a virtual model is never shadowed by a real model of the same name), its name a
// model name, not a config file's virtual model, its model types known and its routing config
// valid.
func (s *Store) validateVirtualModel(ctx context.Context, tx *ent.Tx, in *adminv1.VirtualModel) (routingRow, error) {
	var row routingRow
	if in == nil {
		return row, apierr.Invalid("virtual_model", "virtual_model is required")
	}
	if err := validateName("virtual_model.group", in.GetGroup()); err != nil {
		return row, err
	}
	if err := validateModelName("virtual_model.name", in.GetName()); err != nil {
		return row, err
	}
	fqn := in.GetGroup() + "/" + in.GetName()
	if slices.Contains(s.opts.FileVirtualModels, fqn) {
		return row, apierr.Invalid("virtual_model.name", "the virtual model %s is defined in the config file, which takes precedence; change it there", fqn)
	}
	acct, err := tx.ProviderAccount.Query().Where(provideraccount.Name(in.GetGroup())).Exist(ctx)
	if err != nil {
		return row, err
	}
	if acct {
		return row, apierr.Invalid("virtual_model.group", "virtual_model.group %q is a provider account's name; a virtual model's group must not be one", in.GetGroup())
	}
	for i, t := range in.GetModelTypes() {
		if !slices.Contains(modelTypes, t) {
			return row, apierr.Invalid("virtual_model.model_types", "virtual_model.model_types[%d] %q is not one of %s", i, t, strings.Join(modelTypes, ", "))
		}
	}
	return s.validateRouting(ctx, tx, "virtual_model.routing_config", in.GetRoutingConfig(), true)
}

// CreateVirtualModel adds a virtual model whose targets name existing real models.
func (s *Store) CreateVirtualModel(ctx context.Context, in *adminv1.VirtualModel) (*adminv1.VirtualModel, error) {
	fqn := in.GetGroup() + "/" + in.GetName()
	var out *ent.VirtualModel
	err := s.write(ctx, func(tx *ent.Tx) error {
		row, err := s.validateVirtualModel(ctx, tx, in)
		if err != nil {
			return err
		}
		c := tx.VirtualModel.Create().
			SetName(fqn).
			SetGroup(in.GetGroup()).
			SetModelTypes(nonNil(in.GetModelTypes())).
			SetStrategy(row.strategy).
			SetTargets(row.targets)
		if row.sticky != nil {
			c.SetStickyRouting(row.sticky)
		}
		out, err = c.Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create virtual model %s: %w", fqn, classify(err, kindVirtualModel, fqn))
	}
	return virtualModelProto(out), nil
}

// GetVirtualModel returns the virtual model group/name.
func (s *Store) GetVirtualModel(ctx context.Context, group, name string) (*adminv1.VirtualModel, error) {
	fqn := group + "/" + name
	v, err := s.client.VirtualModel.Query().Where(virtualmodel.Name(fqn)).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get virtual model %s: %w", fqn, classify(err, kindVirtualModel, fqn))
	}
	return virtualModelProto(v), nil
}

// ListVirtualModels returns every stored virtual model, sorted by fqn.
func (s *Store) ListVirtualModels(ctx context.Context) ([]*adminv1.VirtualModel, error) {
	vs, err := s.client.VirtualModel.Query().Order(ent.Asc(virtualmodel.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list virtual models: %w", err)
	}
	out := make([]*adminv1.VirtualModel, len(vs))
	for i, v := range vs {
		out[i] = virtualModelProto(v)
	}
	return out, nil
}

// UpdateVirtualModel replaces the virtual model named by in's group and name.
func (s *Store) UpdateVirtualModel(ctx context.Context, in *adminv1.VirtualModel) (*adminv1.VirtualModel, error) {
	fqn := in.GetGroup() + "/" + in.GetName()
	var out *ent.VirtualModel
	err := s.write(ctx, func(tx *ent.Tx) error {
		row, err := s.validateVirtualModel(ctx, tx, in)
		if err != nil {
			return err
		}
		id, err := tx.VirtualModel.Query().Where(virtualmodel.Name(fqn)).OnlyID(ctx)
		if err != nil {
			return err
		}
		upd := tx.VirtualModel.UpdateOneID(id).
			SetModelTypes(nonNil(in.GetModelTypes())).
			SetStrategy(row.strategy).
			SetTargets(row.targets)
		if row.sticky != nil {
			upd.SetStickyRouting(row.sticky)
		} else {
			upd.ClearStickyRouting()
		}
		out, err = upd.Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update virtual model %s: %w", fqn, classify(err, kindVirtualModel, fqn))
	}
	return virtualModelProto(out), nil
}

// DeleteVirtualModel deletes the virtual model group/name. Authorization rules and routing
// rules that name it are kept: they match nothing until a model of that name exists again.
func (s *Store) DeleteVirtualModel(ctx context.Context, group, name string) error {
	fqn := group + "/" + name
	err := s.write(ctx, func(tx *ent.Tx) error {
		n, err := tx.VirtualModel.Delete().Where(virtualmodel.Name(fqn)).Exec(ctx)
		if err == nil && n == 0 {
			return notFound(kindVirtualModel, fqn)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete virtual model %s: %w", fqn, err)
	}
	return nil
}

func virtualModelProto(v *ent.VirtualModel) *adminv1.VirtualModel {
	_, name, _ := strings.Cut(v.Name, "/")
	return &adminv1.VirtualModel{
		Group:         v.Group,
		Name:          name,
		Fqn:           v.Name,
		ModelTypes:    v.ModelTypes,
		RoutingConfig: routingProto(v.Strategy, v.Targets, v.StickyRouting),
		CreateTime:    ts(v.CreateTime),
		UpdateTime:    ts(v.UpdateTime),
	}
}

func virtualModelConfig(v *ent.VirtualModel) snapshot.VirtualModel {
	_, name, _ := strings.Cut(v.Name, "/")
	out := snapshot.VirtualModel{Account: v.Group, Name: name, Types: slices.Clone(v.ModelTypes), Strategy: v.Strategy, Sticky: stickyConfig(v.StickyRouting)}
	for _, t := range v.Targets {
		out.Targets = append(out.Targets, targetConfig(t))
	}
	return out
}

// Routing rules.

type routingRuleRow struct {
	routingRow
	when schematype.Condition
}

// validateRoutingRule checks a routing rule: its id a resource name that is not a config file
// rule's, its when's subjects and metadata as a rate limit's, its when's models (required)
// each an existing real or virtual model's name exactly, and its routing config valid.
func (s *Store) validateRoutingRule(ctx context.Context, tx *ent.Tx, in *adminv1.RoutingRule) (routingRuleRow, error) {
	var row routingRuleRow
	if in == nil {
		return row, apierr.Invalid("routing_rule", "routing_rule is required")
	}
	if err := validateName("routing_rule.id", in.GetId()); err != nil {
		return row, err
	}
	if slices.Contains(s.opts.FileRoutingRules, in.GetId()) {
		return row, apierr.Invalid("routing_rule.id", "the routing rule %s is defined in the config file, which takes precedence; change it there", in.GetId())
	}
	var err error
	if row.when, err = validateCondition("routing_rule.when", in.GetWhen()); err != nil {
		return row, err
	}
	if len(row.when.Models) == 0 {
		return row, apierr.Invalid("routing_rule.when.models", "routing_rule.when.models is required: the models the rule routes")
	}
	for i, m := range row.when.Models {
		field := fmt.Sprintf("routing_rule.when.models[%d]", i)
		if !strings.Contains(m, "/") || strings.Contains(m, "*") {
			return row, apierr.Invalid("routing_rule.when.models", "%s %q must name one model exactly, \"<account>/<model>\"", field, m)
		}
		real, err := s.modelExists(ctx, tx, m)
		if err != nil {
			return row, err
		}
		virtual := false
		if !real {
			if virtual, err = s.virtualExists(ctx, tx, m); err != nil {
				return row, err
			}
		}
		if !real && !virtual {
			return row, apierr.Invalid("routing_rule.when.models", "%s %q is not an existing model or virtual model", field, m)
		}
	}
	row.routingRow, err = s.validateRouting(ctx, tx, "routing_rule.routing_config", in.GetRoutingConfig(), false)
	return row, err
}

// CreateRoutingRule adds a routing rule.
func (s *Store) CreateRoutingRule(ctx context.Context, in *adminv1.RoutingRule) (*adminv1.RoutingRule, error) {
	var out *ent.RoutingRule
	err := s.write(ctx, func(tx *ent.Tx) error {
		row, err := s.validateRoutingRule(ctx, tx, in)
		if err != nil {
			return err
		}
		out, err = tx.RoutingRule.Create().
			SetName(in.GetId()).
			SetPosition(int(in.GetPosition())).
			SetWhen(row.when).
			SetStrategy(row.strategy).
			SetTargets(row.targets).
			Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create routing rule %s: %w", in.GetId(), classify(err, kindRoutingRule, in.GetId()))
	}
	return routingRuleProto(out), nil
}

// GetRoutingRule returns the routing rule with the id.
func (s *Store) GetRoutingRule(ctx context.Context, id string) (*adminv1.RoutingRule, error) {
	r, err := s.client.RoutingRule.Query().Where(routingrule.Name(id)).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get routing rule %s: %w", id, classify(err, kindRoutingRule, id))
	}
	return routingRuleProto(r), nil
}

// ListRoutingRules returns every stored routing rule in the order they are tried: by position,
// then id.
func (s *Store) ListRoutingRules(ctx context.Context) ([]*adminv1.RoutingRule, error) {
	rs, err := s.client.RoutingRule.Query().Order(ent.Asc(routingrule.FieldPosition), ent.Asc(routingrule.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list routing rules: %w", err)
	}
	out := make([]*adminv1.RoutingRule, len(rs))
	for i, r := range rs {
		out[i] = routingRuleProto(r)
	}
	return out, nil
}

// UpdateRoutingRule replaces the routing rule with in's id.
func (s *Store) UpdateRoutingRule(ctx context.Context, in *adminv1.RoutingRule) (*adminv1.RoutingRule, error) {
	var out *ent.RoutingRule
	err := s.write(ctx, func(tx *ent.Tx) error {
		row, err := s.validateRoutingRule(ctx, tx, in)
		if err != nil {
			return err
		}
		id, err := tx.RoutingRule.Query().Where(routingrule.Name(in.GetId())).OnlyID(ctx)
		if err != nil {
			return err
		}
		out, err = tx.RoutingRule.UpdateOneID(id).
			SetPosition(int(in.GetPosition())).
			SetWhen(row.when).
			SetStrategy(row.strategy).
			SetTargets(row.targets).
			Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update routing rule %s: %w", in.GetId(), classify(err, kindRoutingRule, in.GetId()))
	}
	return routingRuleProto(out), nil
}

// DeleteRoutingRule deletes the routing rule with the id.
func (s *Store) DeleteRoutingRule(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *ent.Tx) error {
		n, err := tx.RoutingRule.Delete().Where(routingrule.Name(id)).Exec(ctx)
		if err == nil && n == 0 {
			return notFound(kindRoutingRule, id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete routing rule %s: %w", id, err)
	}
	return nil
}

func routingRuleProto(r *ent.RoutingRule) *adminv1.RoutingRule {
	return &adminv1.RoutingRule{
		Id:            r.Name,
		Position:      int32(r.Position),
		When:          conditionProto(r.When),
		RoutingConfig: routingProto(r.Strategy, r.Targets, nil),
		CreateTime:    ts(r.CreateTime),
		UpdateTime:    ts(r.UpdateTime),
	}
}

func routingRuleConfig(r *ent.RoutingRule) snapshot.RoutingRule {
	out := snapshot.RoutingRule{ID: r.Name, When: conditionConfig(r.When), Strategy: r.Strategy}
	for _, t := range r.Targets {
		out.Targets = append(out.Targets, targetConfig(t))
	}
	return out
}
