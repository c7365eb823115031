package configfile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/limiter"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/secretref"
)

// TrueFoundry's document types for rate limits and budgets, read unchanged.
const (
	typeRateLimiting = "gateway-rate-limiting-config"
	typeBudget       = "gateway-budget-config"
)

// tfyRateLimits reads a TrueFoundry gateway-rate-limiting-config document: every rule becomes a
// native rate limit named by its id, with its one unit and limit.
func (p *parser) tfyRateLimits(n *yaml.Node, doc string) error {
	f, err := fields(n, doc, "", "name", "type", "rules")
	if err != nil {
		return err
	}
	return p.eachRule(f, doc, "rules", func(r *yaml.Node, path string) error {
		rf, err := fields(r, doc, path, "id", "when", "limit_to", "unit", "rate_limit_applies_per")
		if err != nil {
			return err
		}
		rl := &adminv1.RateLimit{Mode: adminv1.Mode_MODE_ENFORCE}
		if rl.Name, err = p.ruleName(rf, doc, path, "id", p.rlNames); err != nil {
			return err
		}
		if rl.When, err = when(rf, doc, path); err != nil {
			return err
		}
		entry, err := rateEntry(rf, doc, path)
		if err != nil {
			return err
		}
		rl.Limits = []*adminv1.RateLimitEntry{entry}
		if rl.AppliesPer, err = appliesPer(rf, doc, path, "rate_limit_applies_per"); err != nil {
			return err
		}
		p.file.RateLimits = append(p.file.RateLimits, rl)
		return nil
	})
}

// tfyBudgets reads a TrueFoundry gateway-budget-config document: every rule becomes a native
// budget named by its id; audit_mode: true is audit mode.
func (p *parser) tfyBudgets(n *yaml.Node, doc string) error {
	f, err := fields(n, doc, "", "name", "type", "rules")
	if err != nil {
		return err
	}
	return p.eachRule(f, doc, "rules", func(r *yaml.Node, path string) error {
		rf, err := fields(r, doc, path, "id", "when", "limit_to", "unit", "budget_applies_per", "alerts", "audit_mode")
		if err != nil {
			return err
		}
		b := &adminv1.Budget{}
		if b.Name, err = p.ruleName(rf, doc, path, "id", p.budgetNames); err != nil {
			return err
		}
		if err := p.budgetBody(b, rf, doc, path, "budget_applies_per"); err != nil {
			return err
		}
		a, err := boolean(rf, doc, path, "audit_mode")
		if err != nil {
			return err
		}
		b.Mode = adminv1.Mode_MODE_ENFORCE
		if a {
			b.Mode = adminv1.Mode_MODE_AUDIT
		}
		p.file.Budgets = append(p.file.Budgets, b)
		return nil
	})
}

// nativeRateLimits reads rate_limits in llmgw's own shape, the Admin API's RateLimit in YAML.
func (p *parser) nativeRateLimits(n *yaml.Node, doc string) error {
	return p.eachRule(map[string]*yaml.Node{"rate_limits": n}, doc, "rate_limits", func(r *yaml.Node, path string) error {
		rf, err := fields(r, doc, path, "name", "when", "limits", "applies_per", "mode", "fail_closed")
		if err != nil {
			return err
		}
		rl := &adminv1.RateLimit{}
		if rl.Name, err = p.ruleName(rf, doc, path, "name", p.rlNames); err != nil {
			return err
		}
		if rl.When, err = when(rf, doc, path); err != nil {
			return err
		}
		ls := rf["limits"]
		if ls == nil || ls.Kind != yaml.SequenceNode || len(ls.Content) == 0 {
			return &Error{Doc: doc, Field: path + ".limits", Msg: "expected a list of at least one {unit, limit_to}"}
		}
		for i, l := range ls.Content {
			lpath := fmt.Sprintf("%s.limits[%d]", path, i)
			lf, err := fields(l, doc, lpath, "unit", "limit_to")
			if err != nil {
				return err
			}
			e, err := rateEntry(lf, doc, lpath)
			if err != nil {
				return err
			}
			rl.Limits = append(rl.Limits, e)
		}
		if rl.AppliesPer, err = appliesPer(rf, doc, path, "applies_per"); err != nil {
			return err
		}
		if rl.Mode, err = mode(rf, doc, path); err != nil {
			return err
		}
		if rl.FailClosed, err = boolean(rf, doc, path, "fail_closed"); err != nil {
			return err
		}
		p.file.RateLimits = append(p.file.RateLimits, rl)
		return nil
	})
}

// nativeBudgets reads budgets in llmgw's own shape, the Admin API's Budget in YAML.
func (p *parser) nativeBudgets(n *yaml.Node, doc string) error {
	return p.eachRule(map[string]*yaml.Node{"budgets": n}, doc, "budgets", func(r *yaml.Node, path string) error {
		rf, err := fields(r, doc, path, "name", "when", "limit_to", "unit", "applies_per", "alerts", "mode", "fail_closed")
		if err != nil {
			return err
		}
		b := &adminv1.Budget{}
		if b.Name, err = p.ruleName(rf, doc, path, "name", p.budgetNames); err != nil {
			return err
		}
		if err := p.budgetBody(b, rf, doc, path, "applies_per"); err != nil {
			return err
		}
		if b.Mode, err = mode(rf, doc, path); err != nil {
			return err
		}
		if b.FailClosed, err = boolean(rf, doc, path, "fail_closed"); err != nil {
			return err
		}
		p.file.Budgets = append(p.file.Budgets, b)
		return nil
	})
}

func (p *parser) eachRule(f map[string]*yaml.Node, doc, key string, fn func(r *yaml.Node, path string) error) error {
	n := f[key]
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return &Error{Doc: doc, Field: key, Msg: "expected a list"}
	}
	for i, r := range n.Content {
		if err := fn(r, fmt.Sprintf("%s[%d]", key, i)); err != nil {
			return err
		}
	}
	return nil
}

// ruleName reads a rule's id or name, which must be unique among the file's rules of its kind.
func (p *parser) ruleName(f map[string]*yaml.Node, doc, path, key string, seen map[string]bool) (string, error) {
	name, err := str(f, doc, path, key, true)
	if err != nil {
		return "", err
	}
	if seen[name] {
		return "", &Error{Doc: doc, Field: join(path, key), Msg: "duplicate rule " + name}
	}
	seen[name] = true
	return name, nil
}

func (p *parser) budgetBody(b *adminv1.Budget, f map[string]*yaml.Node, doc, path, appliesKey string) error {
	var err error
	if b.When, err = when(f, doc, path); err != nil {
		return err
	}
	if b.Unit, err = str(f, doc, path, "unit", true); err != nil {
		return err
	}
	u, err := budget.ParseUnit(b.Unit)
	if err != nil {
		return &Error{Doc: doc, Field: path + ".unit", Msg: err.Error()}
	}
	if b.LimitTo, err = number(f, doc, path, "limit_to"); err != nil {
		return err
	}
	if _, err := governance.BudgetLimit(u, b.LimitTo); err != nil {
		return &Error{Doc: doc, Field: path + ".limit_to", Msg: err.Error()}
	}
	if b.AppliesPer, err = appliesPer(f, doc, path, appliesKey); err != nil {
		return err
	}
	b.Alerts = &adminv1.BudgetAlerts{}
	if a := f["alerts"]; a != nil {
		if err := p.alerts(b.Alerts, a, doc, path+".alerts"); err != nil {
			return err
		}
	}
	if len(b.Alerts.Thresholds) == 0 {
		for _, th := range governance.DefaultThresholds() {
			b.Alerts.Thresholds = append(b.Alerts.Thresholds, int32(th))
		}
	}
	return nil
}

func (p *parser) alerts(out *adminv1.BudgetAlerts, n *yaml.Node, doc, path string) error {
	f, err := fields(n, doc, path, "thresholds", "notification_target")
	if err != nil {
		return err
	}
	if th := f["thresholds"]; th != nil {
		if th.Kind != yaml.SequenceNode {
			return &Error{Doc: doc, Field: path + ".thresholds", Msg: "expected a list of percentages"}
		}
		for i, v := range th.Content {
			pct, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil || pct < 1 || pct > 1000 {
				return &Error{Doc: doc, Field: fmt.Sprintf("%s.thresholds[%d]", path, i), Msg: "expected a whole percentage from 1 to 1000"}
			}
			out.Thresholds = append(out.Thresholds, int32(pct))
		}
	}
	return p.eachRule(f, doc, "notification_target", func(t *yaml.Node, tpath string) error {
		tpath = path + "." + tpath
		tf, err := fields(t, doc, tpath, "type", "url", "secret")
		if err != nil {
			return err
		}
		nt := &adminv1.NotificationTarget{}
		if nt.Type, err = str(tf, doc, tpath, "type", true); err != nil {
			return err
		}
		if nt.Type != "webhook" && nt.Type != "slack-webhook" {
			return &Error{Doc: doc, Field: tpath + ".type", Msg: fmt.Sprintf("unsupported notification target type %q; supported: webhook, slack-webhook", nt.Type)}
		}
		url, err := str(tf, doc, tpath, "url", true)
		if err != nil {
			return err
		}
		if isRef(url) {
			if url, err = p.secret(url, doc, tpath+".url"); err != nil {
				return err
			}
		}
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			return &Error{Doc: doc, Field: tpath + ".url", Msg: "must be an http:// or https:// URL, or a secret reference to one"}
		}
		nt.Url = url
		ref, err := str(tf, doc, tpath, "secret", false)
		if err != nil {
			return err
		}
		if ref != "" {
			if nt.Type != "webhook" {
				return &Error{Doc: doc, Field: tpath + ".secret", Msg: "only a webhook target takes a secret"}
			}
			if nt.Secret, err = p.secret(ref, doc, tpath+".secret"); err != nil {
				return err
			}
		}
		out.NotificationTarget = append(out.NotificationTarget, nt)
		return nil
	})
}

func isRef(s string) bool {
	return strings.HasPrefix(s, "env://") || strings.HasPrefix(s, "file://") || secretref.IsRef(s)
}

// secret resolves a notification target's secret reference. Unlike a provider key, one that
// cannot be resolved is an error: an alert target without its address or signing key cannot
// be applied in part.
func (p *parser) secret(ref, doc, field string) (string, error) {
	if secretref.IsRef(ref) {
		// Notification targets are stored; a secret manager's value must never be.
		return "", &Error{Doc: doc, Field: field, Msg: "secret-manager references are read at run time and are accepted only for provider keys (auth_data); use env:// or file:// here"}
	}
	v, err := p.resolve(ref)
	var unresolved *UnresolvedError
	if errors.As(err, &unresolved) {
		return "", &Error{Doc: doc, Field: field, Msg: unresolved.Error()}
	}
	if err != nil {
		return "", &Error{Doc: doc, Field: field, Msg: err.Error()}
	}
	return v, nil
}

// when reads a rule's condition: subjects (normalized), models and metadata. Absent or {}
// matches every request.
func when(f map[string]*yaml.Node, doc, path string) (*adminv1.Condition, error) {
	out := &adminv1.Condition{}
	n := f["when"]
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return out, nil
	}
	path += ".when"
	wf, err := fields(n, doc, path, "subjects", "models", "metadata")
	if err != nil {
		return nil, err
	}
	subjects, err := strs(wf, doc, path, "subjects")
	if err != nil {
		return nil, err
	}
	for i, s := range subjects {
		ns, err := governance.NormalizeSubject(s)
		if err != nil {
			return nil, &Error{Doc: doc, Field: fmt.Sprintf("%s.subjects[%d]", path, i), Msg: err.Error()}
		}
		out.Subjects = append(out.Subjects, ns)
	}
	if out.Models, err = strs(wf, doc, path, "models"); err != nil {
		return nil, err
	}
	if m := wf["metadata"]; m != nil {
		if m.Kind != yaml.MappingNode {
			return nil, &Error{Doc: doc, Field: path + ".metadata", Msg: "expected a mapping of strings"}
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i].Value, m.Content[i+1]
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				return nil, &Error{Doc: doc, Field: path + ".metadata." + k, Msg: "expected a string"}
			}
			if out.Metadata == nil {
				out.Metadata = map[string]string{}
			}
			out.Metadata[k] = v.Value
		}
	}
	return out, nil
}

func rateEntry(f map[string]*yaml.Node, doc, path string) (*adminv1.RateLimitEntry, error) {
	unit, err := str(f, doc, path, "unit", true)
	if err != nil {
		return nil, err
	}
	if _, err := limiter.ParseUnit(unit); err != nil {
		return nil, &Error{Doc: doc, Field: path + ".unit", Msg: err.Error() + "; supported: requests_per_minute, requests_per_hour, requests_per_day, tokens_per_minute, tokens_per_hour, tokens_per_day"}
	}
	n := f["limit_to"]
	if n == nil {
		return nil, &Error{Doc: doc, Field: path + ".limit_to", Msg: "is required"}
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v <= 0 {
		return nil, &Error{Doc: doc, Field: path + ".limit_to", Msg: "expected a positive whole number"}
	}
	return &adminv1.RateLimitEntry{Unit: unit, LimitTo: v}, nil
}

func appliesPer(f map[string]*yaml.Node, doc, path, key string) ([]string, error) {
	in, err := strs(f, doc, path, key)
	if err != nil {
		return nil, err
	}
	if len(in) > governance.MaxAppliesPer {
		return nil, &Error{Doc: doc, Field: join(path, key), Msg: fmt.Sprintf("at most %d entries", governance.MaxAppliesPer)}
	}
	var out []string
	for i, s := range in {
		d, err := governance.NormalizeDimension(s)
		if err != nil {
			return nil, &Error{Doc: doc, Field: fmt.Sprintf("%s[%d]", join(path, key), i), Msg: err.Error()}
		}
		out = append(out, d)
	}
	return out, nil
}

func mode(f map[string]*yaml.Node, doc, path string) (adminv1.Mode, error) {
	m, err := str(f, doc, path, "mode", false)
	switch {
	case err != nil:
		return 0, err
	case m == "" || m == "enforce":
		return adminv1.Mode_MODE_ENFORCE, nil
	case m == "audit":
		return adminv1.Mode_MODE_AUDIT, nil
	}
	return 0, &Error{Doc: doc, Field: join(path, "mode"), Msg: fmt.Sprintf("unsupported mode %q; supported: enforce, audit", m)}
}

func number(f map[string]*yaml.Node, doc, path, key string) (float64, error) {
	n := f[key]
	if n == nil {
		return 0, &Error{Doc: doc, Field: join(path, key), Msg: "is required"}
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil {
		return 0, &Error{Doc: doc, Field: join(path, key), Msg: "expected a number"}
	}
	return v, nil
}

func boolean(f map[string]*yaml.Node, doc, path, key string) (bool, error) {
	n := f[key]
	if n == nil {
		return false, nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, &Error{Doc: doc, Field: join(path, key), Msg: "expected true or false"}
	}
	return strconv.ParseBool(n.Value)
}
