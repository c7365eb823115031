package governance

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/limiter"
)

// MaxAppliesPer is the most applies_per entries a rule may have.
const MaxAppliesPer = 2

// MaxMetadataLen is the most characters a metadata key or value may have.
const MaxMetadataLen = 128

// Condition selects requests; see the package documentation. It is plain config data.
type Condition struct {
	Subjects []string
	Models   []string
	Metadata map[string]string
}

// Limit is one unit and limit of a rate limit rule.
type Limit struct {
	// Unit is a limiter unit as the config spells it, for example "tokens_per_minute".
	Unit    string
	LimitTo int64
}

// RateLimitRule is a configured rate limit.
type RateLimitRule struct {
	// Name is the stable rule id; counters follow it.
	Name       string
	When       Condition
	Limits     []Limit
	AppliesPer []string
	Audit      bool
	// FailClosed: a gateway replica refuses beyond its lease while its control plane does
	// not answer, instead of admitting by local accounting.
	FailClosed bool
}

// NotificationTarget is where a budget's alerts go. Secret is the webhook's HMAC key; it and a
// Slack webhook's URL are credentials, and the snapshot's redactor masks them.
type NotificationTarget struct {
	Type   string // "webhook" or "slack-webhook"
	URL    string
	Secret string
}

// BudgetRule is a configured budget.
type BudgetRule struct {
	// Name is the stable rule id; spend follows it.
	Name string
	When Condition
	// Unit is a budget unit as the config spells it, for example "cost_per_month".
	Unit string
	// LimitTo is US dollars for a cost unit, tokens for a token unit.
	LimitTo    float64
	AppliesPer []string
	Audit      bool
	// FailClosed is as RateLimitRule.FailClosed.
	FailClosed bool
	// Thresholds are alert thresholds in percent; empty means DefaultThresholds.
	Thresholds []int
	Targets    []NotificationTarget
}

// DefaultThresholds returns the alert thresholds of a budget that sets none: 75, 90 and 100.
func DefaultThresholds() []int { return []int{75, 90, 100} }

// Subject kinds, as subjects and applies_per spell them.
const (
	KindUser           = "user"
	KindTeam           = "team"
	KindVirtualAccount = "virtualaccount"
	KindModel          = "model"
	metadataPrefix     = "metadata."
)

// NormalizeSubject checks a subject and returns it in its stored form: "virtual-account:x"
// becomes "virtualaccount:x". The error says what is wrong with it.
func NormalizeSubject(s string) (string, error) {
	if s == "*" {
		return s, nil
	}
	kind, name, ok := strings.Cut(s, ":")
	if kind == "virtual-account" {
		kind = KindVirtualAccount
	}
	switch {
	case !ok || (kind != KindUser && kind != KindTeam && kind != KindVirtualAccount):
		return "", fmt.Errorf("subject %q must be \"user:<name>\", \"team:<name>\", \"virtualaccount:<name>\" or \"*\"", s)
	case name == "" || strings.ContainsFunc(name, isSpaceOrControl):
		return "", fmt.Errorf("subject %q needs a name without spaces after %q", s, kind+":")
	}
	return kind + ":" + name, nil
}

// NormalizeDimension checks one applies_per entry and returns it in its stored form
// ("virtual-account" becomes "virtualaccount").
func NormalizeDimension(s string) (string, error) {
	switch s {
	case KindUser, KindTeam, KindVirtualAccount, KindModel:
		return s, nil
	case "virtual-account":
		return KindVirtualAccount, nil
	}
	if key, ok := strings.CutPrefix(s, metadataPrefix); ok {
		if key == "" || len(key) > MaxMetadataLen || strings.ContainsFunc(key, isSpaceOrControl) {
			return "", fmt.Errorf("applies_per %q needs a metadata key of 1 to %d characters without spaces", s, MaxMetadataLen)
		}
		return s, nil
	}
	return "", fmt.Errorf("applies_per %q must be \"user\", \"team\", \"virtualaccount\", \"model\" or \"metadata.<key>\"", s)
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// Rules are the compiled rate limits and budgets of one snapshot. They are immutable apart from
// an internal cache of bucket keys, and safe for concurrent use.
type Rules struct {
	limits   []rateRule
	budgets  []budgetRule
	problems []string
	keys     interner
}

type rateRule struct {
	name       string
	failClosed bool
	cond       cond
	dims       []dim
	limits     []limiter.Check // Rule, Unit, Limit and Audit set
}

type budgetRule struct {
	name       string
	failClosed bool
	targets    []NotificationTarget
	cond       cond
	dims       []dim
	check      budget.Check // Rule, Unit, Limit, Audit and Thresholds set
}

// Compile compiles rules. A rule the store would have refused (an unknown unit, a limit that
// is not positive, a bad subject or applies_per) is left out and described by Problems. The
// rules must not be modified afterwards.
func Compile(limits []RateLimitRule, budgets []BudgetRule) *Rules {
	r := &Rules{}
	r.keys.init()
	for _, in := range limits {
		out, err := compileRate(in)
		if err != nil {
			r.problems = append(r.problems, fmt.Sprintf("rate limit %s: %v", in.Name, err))
			continue
		}
		r.limits = append(r.limits, out)
	}
	for _, in := range budgets {
		out, err := compileBudget(in)
		if err != nil {
			r.problems = append(r.problems, fmt.Sprintf("budget %s: %v", in.Name, err))
			continue
		}
		r.budgets = append(r.budgets, out)
	}
	return r
}

// Problems describes the rules Compile left out; nil when there are none.
func (r *Rules) Problems() []string { return r.problems }

// Targets returns the notification targets of the budget named rule, for its alerts; nil when
// it has none or there is no such budget. Callers must not modify it.
func (r *Rules) Targets(rule string) []NotificationTarget {
	if r == nil {
		return nil
	}
	for i := range r.budgets {
		if r.budgets[i].name == rule {
			return r.budgets[i].targets
		}
	}
	return nil
}

// RateLimit returns the current limit of rate limit rule for unit u, for a status listing.
func (r *Rules) RateLimit(rule string, u limiter.Unit) (int64, bool) {
	if r == nil {
		return 0, false
	}
	for i := range r.limits {
		if r.limits[i].name == rule {
			for _, c := range r.limits[i].limits {
				if c.Unit == u {
					return c.Limit, true
				}
			}
		}
	}
	return 0, false
}

// Budget returns the current limit of budget rule for unit u, for a status listing.
func (r *Rules) Budget(rule string, u budget.Unit) (int64, bool) {
	if r == nil {
		return 0, false
	}
	for i := range r.budgets {
		if b := &r.budgets[i]; b.name == rule && b.check.Unit == u {
			return b.check.Limit, true
		}
	}
	return 0, false
}

// FailClosed reports whether the rate limit (or, with isBudget, the budget) named rule refuses
// beyond a gateway replica's lease while the control plane does not answer. It is read only
// then, so a scan is enough.
func (r *Rules) FailClosed(isBudget bool, rule string) bool {
	if r == nil {
		return false
	}
	if isBudget {
		for i := range r.budgets {
			if r.budgets[i].name == rule {
				return r.budgets[i].failClosed
			}
		}
		return false
	}
	for i := range r.limits {
		if r.limits[i].name == rule {
			return r.limits[i].failClosed
		}
	}
	return false
}

// Len returns the number of compiled rate limits and budgets.
func (r *Rules) Len() (limits, budgets int) { return len(r.limits), len(r.budgets) }

func compileRate(in RateLimitRule) (rateRule, error) {
	out := rateRule{name: in.Name, failClosed: in.FailClosed}
	var err error
	if out.cond, err = compileCond(in.When); err != nil {
		return out, err
	}
	if out.dims, err = compileDims(in.AppliesPer); err != nil {
		return out, err
	}
	if len(in.Limits) == 0 {
		return out, fmt.Errorf("no limits")
	}
	for _, l := range in.Limits {
		u, err := limiter.ParseUnit(l.Unit)
		if err != nil {
			return out, err
		}
		if l.LimitTo <= 0 {
			return out, fmt.Errorf("%s limit %d is not positive", l.Unit, l.LimitTo)
		}
		out.limits = append(out.limits, limiter.Check{Rule: in.Name, Unit: u, Limit: l.LimitTo, Audit: in.Audit})
	}
	return out, nil
}

func compileBudget(in BudgetRule) (budgetRule, error) {
	out := budgetRule{name: in.Name, failClosed: in.FailClosed, targets: slices.Clone(in.Targets)}
	var err error
	if out.cond, err = compileCond(in.When); err != nil {
		return out, err
	}
	if out.dims, err = compileDims(in.AppliesPer); err != nil {
		return out, err
	}
	u, err := budget.ParseUnit(in.Unit)
	if err != nil {
		return out, err
	}
	limit, err := BudgetLimit(u, in.LimitTo)
	if err != nil {
		return out, err
	}
	th := in.Thresholds
	if len(th) == 0 {
		th = DefaultThresholds()
	}
	out.check = budget.Check{Rule: in.Name, Unit: u, Limit: limit, Audit: in.Audit, Thresholds: slices.Clone(th)}
	return out, nil
}

// The largest budget limits: a billion dollars (10^18 nano-dollars fit an int64) and 10^15
// tokens.
const (
	maxBudgetUSD    = 1e9
	maxBudgetTokens = 1e15
)

// BudgetLimit converts a budget's limit_to to the ledger's amount: nano-dollars for a cost unit,
// tokens for a token unit. The limit must be positive, and whole for a token unit.
func BudgetLimit(u budget.Unit, limitTo float64) (int64, error) {
	if u.Cost() {
		if !(limitTo > 0) || limitTo > maxBudgetUSD || budget.NanoUSD(limitTo) == 0 {
			return 0, fmt.Errorf("limit_to %v must be from 0.000000001 to %v US dollars", limitTo, float64(maxBudgetUSD))
		}
		return budget.NanoUSD(limitTo), nil
	}
	if !(limitTo > 0) || limitTo > maxBudgetTokens {
		return 0, fmt.Errorf("limit_to %v must be from 1 to %v tokens", limitTo, float64(maxBudgetTokens))
	}
	if limitTo != math.Trunc(limitTo) {
		return 0, fmt.Errorf("limit_to %v must be a whole number of tokens for %s", limitTo, u)
	}
	return int64(limitTo), nil
}
