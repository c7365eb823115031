package store

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"unicode/utf8"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/ent"
	entbudget "github.com/llmgw/llmgw/ent/budget"
	"github.com/llmgw/llmgw/ent/ratelimit"
	"github.com/llmgw/llmgw/ent/schematype"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/limiter"
)

const (
	kindRateLimit = "rate limit"
	kindBudget    = "budget"
)

// Notification target types.
const (
	targetWebhook      = "webhook"
	targetSlackWebhook = "slack-webhook"
)

// maxThreshold is the highest alert threshold in percent.
const maxThreshold = 1000

// targetAD binds a budget's i-th notification target secret to its row and position.
func targetAD(budgetName string, i int) []byte {
	return []byte("llmgw/budget/" + budgetName + "/notification_target/" + strconv.Itoa(i))
}

// Conditions, shared by rate limits and budgets.

// validateCondition checks a condition and returns it in its stored form (subjects
// normalized). A model entry that could never match is refused, as in authorization rules: a
// virtual model's name is "<group>/<name>", so every entry but "*" has a '/'.
func validateCondition(param string, in *adminv1.Condition) (schematype.Condition, error) {
	out := schematype.Condition{Models: in.GetModels(), Metadata: in.GetMetadata()}
	for i, s := range in.GetSubjects() {
		n, err := governance.NormalizeSubject(s)
		if err != nil {
			return out, apierr.Invalid(param+".subjects", "%s.subjects[%d]: %v", param, i, err)
		}
		out.Subjects = append(out.Subjects, n)
	}
	for i, m := range in.GetModels() {
		if err := validateModelPatterns(param+".models", []string{m}); err != nil {
			return out, apierr.Invalid(param+".models", "%s.models[%d] %q must be \"*\", \"<account>/*\", \"<account>/<model>\" or a virtual model's \"<group>/<name>\", else it can never match", param, i, m)
		}
	}
	for k, v := range in.GetMetadata() {
		if k == "" || utf8.RuneCountInString(k) > governance.MaxMetadataLen || utf8.RuneCountInString(v) > governance.MaxMetadataLen {
			return out, apierr.Invalid(param+".metadata", "%s.metadata keys and values must have at most %d characters (keys at least one); %q can never match", param, governance.MaxMetadataLen, k)
		}
	}
	return out, nil
}

func conditionProto(c schematype.Condition) *adminv1.Condition {
	return &adminv1.Condition{Subjects: c.Subjects, Models: c.Models, Metadata: c.Metadata}
}

func conditionConfig(c schematype.Condition) governance.Condition {
	return governance.Condition{Subjects: slices.Clone(c.Subjects), Models: slices.Clone(c.Models), Metadata: c.Metadata}
}

// validateAppliesPer checks applies_per and returns it in its stored form.
func validateAppliesPer(param string, in []string) ([]string, error) {
	if len(in) > governance.MaxAppliesPer {
		return nil, apierr.Invalid(param, "%s has %d entries; at most %d", param, len(in), governance.MaxAppliesPer)
	}
	var out []string
	for i, s := range in {
		n, err := governance.NormalizeDimension(s)
		if err != nil {
			return nil, apierr.Invalid(param, "%s[%d]: %v", param, i, err)
		}
		if slices.Contains(out, n) {
			return nil, apierr.Invalid(param, "%s[%d] %q is given twice", param, i, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// audit reads a mode; MODE_UNSPECIFIED is enforce.
func audit(param string, m adminv1.Mode) (bool, error) {
	switch m {
	case adminv1.Mode_MODE_UNSPECIFIED, adminv1.Mode_MODE_ENFORCE:
		return false, nil
	case adminv1.Mode_MODE_AUDIT:
		return true, nil
	}
	return false, apierr.Invalid(param, "%s %d is not a mode", param, m)
}

func modeProto(audit bool) adminv1.Mode {
	if audit {
		return adminv1.Mode_MODE_AUDIT
	}
	return adminv1.Mode_MODE_ENFORCE
}

// Rate limits.

type rateLimitRow struct {
	when       schematype.Condition
	limits     []schematype.RateLimitEntry
	appliesPer []string
	mode       ratelimit.Mode
	failClosed bool
}

func validateRateLimit(in *adminv1.RateLimit) (rateLimitRow, error) {
	var row rateLimitRow
	if in == nil {
		return row, apierr.Invalid("rate_limit", "rate_limit is required")
	}
	if err := validateName("rate_limit.name", in.GetName()); err != nil {
		return row, err
	}
	var err error
	if row.when, err = validateCondition("rate_limit.when", in.GetWhen()); err != nil {
		return row, err
	}
	if len(in.GetLimits()) == 0 {
		return row, apierr.Invalid("rate_limit.limits", "rate_limit.limits needs at least one limit")
	}
	for i, l := range in.GetLimits() {
		param := fmt.Sprintf("rate_limit.limits[%d]", i)
		u, err := limiter.ParseUnit(l.GetUnit())
		if err != nil {
			return row, apierr.Invalid(param+".unit", "%s.unit %q must be one of requests_per_minute, requests_per_hour, requests_per_day, tokens_per_minute, tokens_per_hour, tokens_per_day", param, l.GetUnit())
		}
		if l.GetLimitTo() <= 0 {
			return row, apierr.Invalid(param+".limit_to", "%s.limit_to must be positive", param)
		}
		if slices.ContainsFunc(row.limits, func(e schematype.RateLimitEntry) bool { return e.Unit == u.String() }) {
			return row, apierr.Invalid(param+".unit", "%s.unit %s is given twice", param, u)
		}
		row.limits = append(row.limits, schematype.RateLimitEntry{Unit: u.String(), LimitTo: l.GetLimitTo()})
	}
	if row.appliesPer, err = validateAppliesPer("rate_limit.applies_per", in.GetAppliesPer()); err != nil {
		return row, err
	}
	a, err := audit("rate_limit.mode", in.GetMode())
	if err != nil {
		return row, err
	}
	row.mode = ratelimit.ModeEnforce
	if a {
		row.mode = ratelimit.ModeAudit
	}
	row.failClosed = in.GetFailClosed()
	return row, nil
}

// CreateRateLimit adds a rate limit.
func (s *Store) CreateRateLimit(ctx context.Context, in *adminv1.RateLimit) (*adminv1.RateLimit, error) {
	row, err := validateRateLimit(in)
	if err != nil {
		return nil, fmt.Errorf("create rate limit: %w", err)
	}
	var out *ent.RateLimit
	err = s.write(ctx, func(tx *ent.Tx) error {
		var err error
		out, err = tx.RateLimit.Create().
			SetName(in.GetName()).
			SetWhen(row.when).
			SetLimits(row.limits).
			SetAppliesPer(row.appliesPer).
			SetMode(row.mode).SetFailClosed(row.failClosed).
			Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create rate limit %s: %w", in.GetName(), classify(err, kindRateLimit, in.GetName()))
	}
	return rateLimitProto(out), nil
}

// GetRateLimit returns the rate limit with the name.
func (s *Store) GetRateLimit(ctx context.Context, name string) (*adminv1.RateLimit, error) {
	r, err := s.client.RateLimit.Query().Where(ratelimit.Name(name)).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get rate limit %s: %w", name, classify(err, kindRateLimit, name))
	}
	return rateLimitProto(r), nil
}

// ListRateLimits returns every rate limit, sorted by name.
func (s *Store) ListRateLimits(ctx context.Context) ([]*adminv1.RateLimit, error) {
	rs, err := s.client.RateLimit.Query().Order(ent.Asc(ratelimit.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list rate limits: %w", err)
	}
	out := make([]*adminv1.RateLimit, len(rs))
	for i, r := range rs {
		out[i] = rateLimitProto(r)
	}
	return out, nil
}

// UpdateRateLimit replaces the rate limit named in.name.
func (s *Store) UpdateRateLimit(ctx context.Context, in *adminv1.RateLimit) (*adminv1.RateLimit, error) {
	row, err := validateRateLimit(in)
	if err != nil {
		return nil, fmt.Errorf("update rate limit: %w", err)
	}
	var out *ent.RateLimit
	err = s.write(ctx, func(tx *ent.Tx) error {
		id, err := tx.RateLimit.Query().Where(ratelimit.Name(in.GetName())).OnlyID(ctx)
		if err != nil {
			return err
		}
		upd := tx.RateLimit.UpdateOneID(id).
			SetWhen(row.when).
			SetLimits(row.limits).
			SetMode(row.mode).SetFailClosed(row.failClosed)
		if row.appliesPer == nil {
			upd.ClearAppliesPer()
		} else {
			upd.SetAppliesPer(row.appliesPer)
		}
		out, err = upd.Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update rate limit %s: %w", in.GetName(), classify(err, kindRateLimit, in.GetName()))
	}
	return rateLimitProto(out), nil
}

// DeleteRateLimit deletes the rate limit with the name.
func (s *Store) DeleteRateLimit(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *ent.Tx) error {
		n, err := tx.RateLimit.Delete().Where(ratelimit.Name(name)).Exec(ctx)
		if err == nil && n == 0 {
			return notFound(kindRateLimit, name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete rate limit %s: %w", name, err)
	}
	return nil
}

func rateLimitProto(r *ent.RateLimit) *adminv1.RateLimit {
	out := &adminv1.RateLimit{
		Name:       r.Name,
		When:       conditionProto(r.When),
		AppliesPer: r.AppliesPer,
		Mode:       modeProto(r.Mode == ratelimit.ModeAudit),
		FailClosed: r.FailClosed,
		CreateTime: ts(r.CreateTime),
		UpdateTime: ts(r.UpdateTime),
	}
	for _, l := range r.Limits {
		out.Limits = append(out.Limits, &adminv1.RateLimitEntry{Unit: l.Unit, LimitTo: l.LimitTo})
	}
	return out
}

func rateLimitConfig(r *ent.RateLimit) governance.RateLimitRule {
	out := governance.RateLimitRule{
		Name:       r.Name,
		When:       conditionConfig(r.When),
		AppliesPer: slices.Clone(r.AppliesPer),
		Audit:      r.Mode == ratelimit.ModeAudit,
		FailClosed: r.FailClosed,
	}
	for _, l := range r.Limits {
		out.Limits = append(out.Limits, governance.Limit{Unit: l.Unit, LimitTo: l.LimitTo})
	}
	return out
}

// Budgets.

type budgetRow struct {
	when       schematype.Condition
	unit       string
	appliesPer []string
	mode       entbudget.Mode
	failClosed bool
	thresholds []int
	targets    []*adminv1.NotificationTarget // validated; secrets in plain text
}

func validateBudget(in *adminv1.Budget) (budgetRow, error) {
	var row budgetRow
	if in == nil {
		return row, apierr.Invalid("budget", "budget is required")
	}
	if err := validateName("budget.name", in.GetName()); err != nil {
		return row, err
	}
	var err error
	if row.when, err = validateCondition("budget.when", in.GetWhen()); err != nil {
		return row, err
	}
	u, err := budget.ParseUnit(in.GetUnit())
	if err != nil {
		return row, apierr.Invalid("budget.unit", "budget.unit %q must be one of cost_per_day, cost_per_week, cost_per_month, cost_per_quarter, tokens_per_day, tokens_per_month", in.GetUnit())
	}
	row.unit = u.String()
	if _, err := governance.BudgetLimit(u, in.GetLimitTo()); err != nil {
		return row, apierr.Invalid("budget.limit_to", "budget.%v", err)
	}
	if row.appliesPer, err = validateAppliesPer("budget.applies_per", in.GetAppliesPer()); err != nil {
		return row, err
	}
	a, err := audit("budget.mode", in.GetMode())
	if err != nil {
		return row, err
	}
	row.mode = entbudget.ModeEnforce
	if a {
		row.mode = entbudget.ModeAudit
	}
	row.failClosed = in.GetFailClosed()
	for i, th := range in.GetAlerts().GetThresholds() {
		if th < 1 || th > maxThreshold {
			return row, apierr.Invalid("budget.alerts.thresholds", "budget.alerts.thresholds[%d] %d must be a percentage from 1 to %d", i, th, maxThreshold)
		}
		row.thresholds = append(row.thresholds, int(th))
	}
	if len(row.thresholds) == 0 {
		row.thresholds = governance.DefaultThresholds()
	}
	for i, t := range in.GetAlerts().GetNotificationTarget() {
		param := fmt.Sprintf("budget.alerts.notification_target[%d]", i)
		if t.GetType() != targetWebhook && t.GetType() != targetSlackWebhook {
			return row, apierr.Invalid(param+".type", "%s.type %q must be %q or %q", param, t.GetType(), targetWebhook, targetSlackWebhook)
		}
		if u, err := url.Parse(t.GetUrl()); t.GetUrl() == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return row, apierr.Invalid(param+".url", "%s.url must be an http:// or https:// URL", param)
		}
		if t.GetSecret() != "" && t.GetType() != targetWebhook {
			return row, apierr.Invalid(param+".secret", "%s.secret is only for type %q", param, targetWebhook)
		}
		row.targets = append(row.targets, t)
	}
	return row, nil
}

// sealTargets seals the targets' secrets for the budget named name. A target without a secret
// keeps the one stored in old for a target of the same type and URL.
func (s *Store) sealTargets(name string, targets []*adminv1.NotificationTarget, old *ent.Budget) ([]schematype.NotificationTarget, error) {
	var out []schematype.NotificationTarget
	for i, t := range targets {
		st := schematype.NotificationTarget{Type: t.GetType(), URL: t.GetUrl()}
		secret := []byte(t.GetSecret())
		if len(secret) == 0 && old != nil {
			for j, o := range old.NotificationTargets {
				if o.Type == st.Type && o.URL == st.URL && len(o.SecretSealed) > 0 {
					var err error
					if secret, err = s.sealer.Open(o.SecretSealed, targetAD(old.Name, j)); err != nil {
						return nil, fmt.Errorf("budget %s: %w", old.Name, err)
					}
					break
				}
			}
		}
		if len(secret) > 0 {
			st.SecretSealed = s.sealer.Seal(secret, targetAD(name, i))
		}
		out = append(out, st)
	}
	return out, nil
}

// CreateBudget adds a budget.
func (s *Store) CreateBudget(ctx context.Context, in *adminv1.Budget) (*adminv1.Budget, error) {
	row, err := validateBudget(in)
	if err != nil {
		return nil, fmt.Errorf("create budget: %w", err)
	}
	targets, err := s.sealTargets(in.GetName(), row.targets, nil)
	if err != nil {
		return nil, fmt.Errorf("create budget: %w", err)
	}
	var out *ent.Budget
	err = s.write(ctx, func(tx *ent.Tx) error {
		var err error
		out, err = tx.Budget.Create().
			SetName(in.GetName()).
			SetWhen(row.when).
			SetUnit(row.unit).
			SetLimitTo(in.GetLimitTo()).
			SetAppliesPer(row.appliesPer).
			SetMode(row.mode).SetFailClosed(row.failClosed).
			SetThresholds(row.thresholds).
			SetNotificationTargets(targets).
			Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create budget %s: %w", in.GetName(), classify(err, kindBudget, in.GetName()))
	}
	return budgetProto(out), nil
}

// GetBudget returns the budget with the name.
func (s *Store) GetBudget(ctx context.Context, name string) (*adminv1.Budget, error) {
	b, err := s.client.Budget.Query().Where(entbudget.Name(name)).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get budget %s: %w", name, classify(err, kindBudget, name))
	}
	return budgetProto(b), nil
}

// ListBudgets returns every budget, sorted by name.
func (s *Store) ListBudgets(ctx context.Context) ([]*adminv1.Budget, error) {
	bs, err := s.client.Budget.Query().Order(ent.Asc(entbudget.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list budgets: %w", err)
	}
	out := make([]*adminv1.Budget, len(bs))
	for i, b := range bs {
		out[i] = budgetProto(b)
	}
	return out, nil
}

// UpdateBudget replaces the budget named in.name. A notification target given without a
// secret keeps the secret stored for a target of the same type and URL.
func (s *Store) UpdateBudget(ctx context.Context, in *adminv1.Budget) (*adminv1.Budget, error) {
	row, err := validateBudget(in)
	if err != nil {
		return nil, fmt.Errorf("update budget: %w", err)
	}
	var out *ent.Budget
	err = s.write(ctx, func(tx *ent.Tx) error {
		old, err := tx.Budget.Query().Where(entbudget.Name(in.GetName())).Only(ctx)
		if err != nil {
			return err
		}
		targets, err := s.sealTargets(in.GetName(), row.targets, old)
		if err != nil {
			return err
		}
		upd := tx.Budget.UpdateOneID(old.ID).
			SetWhen(row.when).
			SetUnit(row.unit).
			SetLimitTo(in.GetLimitTo()).
			SetMode(row.mode).SetFailClosed(row.failClosed).
			SetThresholds(row.thresholds).
			SetNotificationTargets(targets)
		if row.appliesPer == nil {
			upd.ClearAppliesPer()
		} else {
			upd.SetAppliesPer(row.appliesPer)
		}
		out, err = upd.Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update budget %s: %w", in.GetName(), classify(err, kindBudget, in.GetName()))
	}
	return budgetProto(out), nil
}

// DeleteBudget deletes the budget with the name.
func (s *Store) DeleteBudget(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *ent.Tx) error {
		n, err := tx.Budget.Delete().Where(entbudget.Name(name)).Exec(ctx)
		if err == nil && n == 0 {
			return notFound(kindBudget, name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete budget %s: %w", name, err)
	}
	return nil
}

func budgetProto(b *ent.Budget) *adminv1.Budget {
	out := &adminv1.Budget{
		Name:       b.Name,
		When:       conditionProto(b.When),
		Unit:       b.Unit,
		LimitTo:    b.LimitTo,
		AppliesPer: b.AppliesPer,
		Mode:       modeProto(b.Mode == entbudget.ModeAudit),
		FailClosed: b.FailClosed,
		Alerts:     &adminv1.BudgetAlerts{},
		CreateTime: ts(b.CreateTime),
		UpdateTime: ts(b.UpdateTime),
	}
	for _, th := range b.Thresholds {
		out.Alerts.Thresholds = append(out.Alerts.Thresholds, int32(th))
	}
	for _, t := range b.NotificationTargets {
		out.Alerts.NotificationTarget = append(out.Alerts.NotificationTarget, &adminv1.NotificationTarget{Type: t.Type, Url: t.URL, HasSecret: len(t.SecretSealed) > 0})
	}
	return out
}

// budgetConfig returns b as the data plane sees it: notification target secrets decrypted.
func (s *Store) budgetConfig(b *ent.Budget) (governance.BudgetRule, error) {
	out := governance.BudgetRule{
		Name:       b.Name,
		When:       conditionConfig(b.When),
		Unit:       b.Unit,
		LimitTo:    b.LimitTo,
		AppliesPer: slices.Clone(b.AppliesPer),
		Audit:      b.Mode == entbudget.ModeAudit,
		FailClosed: b.FailClosed,
		Thresholds: slices.Clone(b.Thresholds),
	}
	for i, t := range b.NotificationTargets {
		nt := governance.NotificationTarget{Type: t.Type, URL: t.URL}
		if len(t.SecretSealed) > 0 {
			secret, err := s.sealer.Open(t.SecretSealed, targetAD(b.Name, i))
			if err != nil {
				return out, fmt.Errorf("budget %s: notification_target[%d]: %w", b.Name, i, err)
			}
			nt.Secret = string(secret)
		}
		out.Targets = append(out.Targets, nt)
	}
	return out, nil
}
