package gitops

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// Redacted stands for a stored secret in get's output: the Admin API never returns one.
const Redacted = "(redacted: stored, write-only)"

// kinds are the kinds get reads, by their names and aliases, in the order `get all` prints.
var kinds = []struct {
	names []string
	get   func(ctx context.Context, c Client) (any, string, error) // the document and a comment above it
	file  bool                                                     // the config file has the kind: Export writes it
}{
	{[]string{"provider-accounts", "provider-account", "accounts", "models"}, getAccounts, true},
	{[]string{"virtual-models", "virtual-model"}, getVirtualModels, true},
	{[]string{"routing-rules", "routing-rule", "routing"}, getRoutingRules, true},
	{[]string{"authz-rules", "authz-rule", "authz"}, getAuthzRules, true},
	{[]string{"rate-limits", "rate-limit"}, getRateLimits, true},
	{[]string{"budgets", "budget"}, getBudgets, true},
	{[]string{"users", "user"}, getUsers, false},
	{[]string{"teams", "team"}, getTeams, false},
	{[]string{"virtual-accounts", "virtual-account"}, getVirtualAccounts, false},
}

// Kinds returns the kinds get accepts, besides "all".
func Kinds() []string {
	var out []string
	for _, k := range kinds {
		out = append(out, k.names[0])
	}
	return out
}

// Get writes the server's resources of kind ("all" for every kind, as YAML documents
// separated by ---) as YAML in the config file's shapes. Stored secrets are shown as
// Redacted, webhook URLs with their path redacted. Users, teams and virtual accounts have no
// config file shape: they are written in the Admin API's, under a comment saying so.
func Get(ctx context.Context, c Client, kind string, w io.Writer) error {
	var docs []func(context.Context, Client) (any, string, error)
	for _, k := range kinds {
		if kind == "all" || slices.Contains(k.names, kind) {
			docs = append(docs, k.get)
		}
	}
	if len(docs) == 0 {
		return fmt.Errorf("unknown kind %q; want all or one of %s", kind, strings.Join(Kinds(), ", "))
	}
	return writeDocs(ctx, c, docs, w)
}

// Export writes the server's resources of the kinds the config file has (every kind but
// users, teams and virtual accounts) as Get does: YAML that ReadStored reads back, with every
// resource unchanged.
func Export(ctx context.Context, c Client, w io.Writer) error {
	var docs []func(context.Context, Client) (any, string, error)
	for _, k := range kinds {
		if k.file {
			docs = append(docs, k.get)
		}
	}
	return writeDocs(ctx, c, docs, w)
}

func writeDocs(ctx context.Context, c Client, docs []func(context.Context, Client) (any, string, error), w io.Writer) error {
	var b strings.Builder
	for i, get := range docs {
		doc, comment, err := get(ctx, c)
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		if comment != "" {
			b.WriteString("# " + comment + "\n")
		}
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(doc); err != nil {
			return err
		}
		if err := enc.Close(); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type authDoc struct {
	Type   string `yaml:"type"`
	APIKey string `yaml:"api_key"`
}

type modelDoc struct {
	Name       string            `yaml:"name"`
	Type       string            `yaml:"type"`
	ModelID    string            `yaml:"model_id,omitempty"`
	URL        string            `yaml:"url,omitempty"`
	ModelTypes []string          `yaml:"model_types,omitempty"`
	Settings   map[string]string `yaml:"settings,omitempty"`
	AuthData   *authDoc          `yaml:"auth_data,omitempty"`
}

type accountDoc struct {
	Name         string            `yaml:"name"`
	Type         string            `yaml:"type"`
	BaseURL      string            `yaml:"base_url,omitempty"`
	Settings     map[string]string `yaml:"settings,omitempty"`
	AuthData     *authDoc          `yaml:"auth_data,omitempty"`
	Integrations []modelDoc        `yaml:"integrations,omitempty"`
}

func redactedKey(has bool) *authDoc {
	if !has {
		return nil
	}
	return &authDoc{Type: "api-key", APIKey: Redacted}
}

func getAccounts(ctx context.Context, c Client) (any, string, error) {
	accts, err := c.ListProviderAccounts(ctx, &adminv1.ListProviderAccountsRequest{})
	if err != nil {
		return nil, "", readErr("provider accounts", err)
	}
	models, err := c.ListModels(ctx, &adminv1.ListModelsRequest{})
	if err != nil {
		return nil, "", readErr("models", err)
	}
	docs := []accountDoc{}
	for _, a := range accts.GetProviderAccounts() {
		d := accountDoc{Name: a.GetName(), Type: "provider-account/" + a.GetProvider(), BaseURL: a.GetBaseUrl(), Settings: a.GetSettings(), AuthData: redactedKey(a.GetHasApiKey())}
		for _, m := range models.GetModels() {
			if m.GetAccount() != a.GetName() {
				continue
			}
			d.Integrations = append(d.Integrations, modelDoc{Name: m.GetName(), Type: "integration/model/" + a.GetProvider(), ModelID: m.GetUpstreamModel(),
				URL: m.GetBaseUrl(), ModelTypes: m.GetTypes(), Settings: m.GetSettings(), AuthData: redactedKey(m.GetHasApiKey())})
		}
		docs = append(docs, d)
	}
	return docs, "provider accounts; keys are write-only: replace each redacted api_key with a reference (env://NAME or file://path) to apply this", nil
}

type conditionDoc struct {
	Subjects []string          `yaml:"subjects,omitempty"`
	Models   []string          `yaml:"models,omitempty"`
	Metadata map[string]string `yaml:"metadata,omitempty"`
}

func condition(c *adminv1.Condition) *conditionDoc {
	if len(c.GetSubjects())+len(c.GetModels())+len(c.GetMetadata()) == 0 {
		return nil
	}
	return &conditionDoc{Subjects: c.GetSubjects(), Models: c.GetModels(), Metadata: c.GetMetadata()}
}

type retryDoc struct {
	Attempts      int32   `yaml:"attempts"`
	Delay         int32   `yaml:"delay"`
	OnStatusCodes []int32 `yaml:"on_status_codes"`
}

type slaDoc struct {
	TPOT int32 `yaml:"time_per_output_token_ms,omitempty"`
	TTFT int32 `yaml:"time_to_first_token_ms,omitempty"`
}

type headersDoc struct {
	Set    map[string]string `yaml:"set,omitempty"`
	Remove []string          `yaml:"remove,omitempty"`
}

type targetDoc struct {
	Target              string         `yaml:"target"`
	Weight              *int32         `yaml:"weight,omitempty"`
	Priority            *int32         `yaml:"priority,omitempty"`
	SLACutoff           *slaDoc        `yaml:"sla_cutoff,omitempty"`
	RetryConfig         *retryDoc      `yaml:"retry_config,omitempty"`
	FallbackStatusCodes []int32        `yaml:"fallback_status_codes"`
	FallbackCandidate   bool           `yaml:"fallback_candidate"`
	OverrideParams      map[string]any `yaml:"override_params,omitempty"`
	HeadersOverride     *headersDoc    `yaml:"headers_override,omitempty"`
}

type stickyDoc struct {
	TTLSeconds         int32          `yaml:"ttl_seconds"`
	SessionIdentifiers []sessionIDDoc `yaml:"session_identifiers"`
}

type sessionIDDoc struct {
	Source string `yaml:"source"`
	Key    string `yaml:"key"`
}

type routingDoc struct {
	Type               string      `yaml:"type"`
	LoadBalanceTargets []targetDoc `yaml:"load_balance_targets"`
	StickyRouting      *stickyDoc  `yaml:"sticky_routing,omitempty"`
}

func targets(r *adminv1.Routing) []targetDoc {
	var out []targetDoc
	for _, t := range r.GetLoadBalanceTargets() {
		d := targetDoc{Target: t.GetTarget(), FallbackStatusCodes: t.GetFallbackStatusCodes(), FallbackCandidate: t.GetFallbackCandidate()}
		switch r.GetType() {
		case "weight-based-routing":
			w := t.GetWeight()
			d.Weight = &w
		case "priority-based-routing":
			p := t.GetPriority()
			d.Priority = &p
		}
		if s := t.GetSlaCutoff(); s != nil {
			d.SLACutoff = &slaDoc{TPOT: s.GetTimePerOutputTokenMs(), TTFT: s.GetTimeToFirstTokenMs()}
		}
		if rc := t.GetRetryConfig(); rc != nil {
			d.RetryConfig = &retryDoc{Attempts: rc.GetAttempts(), Delay: rc.GetDelay(), OnStatusCodes: rc.GetOnStatusCodes()}
		}
		if ps := t.GetOverrideParams(); ps != nil {
			d.OverrideParams = ps.AsMap()
		}
		if h := t.GetHeadersOverride(); h != nil {
			d.HeadersOverride = &headersDoc{Set: h.GetSet(), Remove: h.GetRemove()}
		}
		out = append(out, d)
	}
	return out
}

func routing(r *adminv1.Routing) routingDoc {
	d := routingDoc{Type: r.GetType(), LoadBalanceTargets: targets(r)}
	if s := r.GetStickyRouting(); s != nil {
		d.StickyRouting = &stickyDoc{TTLSeconds: s.GetTtlSeconds()}
		for _, id := range s.GetSessionIdentifiers() {
			d.StickyRouting.SessionIdentifiers = append(d.StickyRouting.SessionIdentifiers, sessionIDDoc{Source: id.GetSource(), Key: id.GetKey()})
		}
	}
	return d
}

type virtualModelDoc struct {
	Name          string     `yaml:"name"`
	Type          string     `yaml:"type"`
	ModelTypes    []string   `yaml:"model_types,omitempty"`
	RoutingConfig routingDoc `yaml:"routing_config"`
}

type virtualGroupDoc struct {
	Name         string            `yaml:"name"`
	Type         string            `yaml:"type"`
	Integrations []virtualModelDoc `yaml:"integrations"`
}

func getVirtualModels(ctx context.Context, c Client) (any, string, error) {
	vms, err := c.ListVirtualModels(ctx, &adminv1.ListVirtualModelsRequest{})
	if err != nil {
		return nil, "", readErr("virtual models", err)
	}
	docs := []virtualGroupDoc{}
	for _, v := range vms.GetVirtualModels() {
		if len(docs) == 0 || docs[len(docs)-1].Name != v.GetGroup() {
			docs = append(docs, virtualGroupDoc{Name: v.GetGroup(), Type: "provider-account/virtual-model"})
		}
		g := &docs[len(docs)-1]
		g.Integrations = append(g.Integrations, virtualModelDoc{Name: v.GetName(), Type: "integration/model/virtual", ModelTypes: v.GetModelTypes(), RoutingConfig: routing(v.GetRoutingConfig())})
	}
	return docs, "virtual models stored through the Admin API (a serve --config file's own are not stored)", nil
}

type routingRuleDoc struct {
	ID                 string        `yaml:"id"`
	Type               string        `yaml:"type"`
	When               *conditionDoc `yaml:"when"`
	LoadBalanceTargets []targetDoc   `yaml:"load_balance_targets"`
}

type routingConfigDoc struct {
	Name  string           `yaml:"name"`
	Type  string           `yaml:"type"`
	Rules []routingRuleDoc `yaml:"rules"`
}

func getRoutingRules(ctx context.Context, c Client) (any, string, error) {
	rrs, err := c.ListRoutingRules(ctx, &adminv1.ListRoutingRulesRequest{})
	if err != nil {
		return nil, "", readErr("routing rules", err)
	}
	doc := routingConfigDoc{Name: "routing", Type: "gateway-load-balancing-config", Rules: []routingRuleDoc{}}
	rules := slices.Clone(rrs.GetRoutingRules())
	slices.SortStableFunc(rules, func(a, b *adminv1.RoutingRule) int {
		if a.GetPosition() != b.GetPosition() {
			return int(a.GetPosition() - b.GetPosition())
		}
		return strings.Compare(a.GetId(), b.GetId())
	})
	for _, r := range rules {
		when := condition(r.GetWhen())
		if when == nil {
			when = &conditionDoc{}
		}
		doc.Rules = append(doc.Rules, routingRuleDoc{ID: r.GetId(), Type: r.GetRoutingConfig().GetType(), When: when, LoadBalanceTargets: targets(r.GetRoutingConfig())})
	}
	return doc, "routing rules stored through the Admin API, in their order", nil
}

type authzDoc struct {
	Name            string   `yaml:"name"`
	Models          []string `yaml:"models"`
	Users           []string `yaml:"users,omitempty"`
	Teams           []string `yaml:"teams,omitempty"`
	VirtualAccounts []string `yaml:"virtual_accounts,omitempty"`
}

func getAuthzRules(ctx context.Context, c Client) (any, string, error) {
	rs, err := c.ListAuthzRules(ctx, &adminv1.ListAuthzRulesRequest{})
	if err != nil {
		return nil, "", readErr("authz rules", err)
	}
	out := []authzDoc{}
	for _, r := range rs.GetAuthzRules() {
		out = append(out, authzDoc{Name: r.GetName(), Models: r.GetModels(), Users: r.GetUsers(), Teams: r.GetTeams(), VirtualAccounts: r.GetVirtualAccounts()})
	}
	return map[string]any{"authz_rules": out}, "", nil
}

func modeName(m adminv1.Mode) string {
	if m == adminv1.Mode_MODE_AUDIT {
		return "audit"
	}
	return "enforce"
}

type limitDoc struct {
	Unit    string `yaml:"unit"`
	LimitTo int64  `yaml:"limit_to"`
}

type rateLimitDoc struct {
	Name       string        `yaml:"name"`
	When       *conditionDoc `yaml:"when,omitempty"`
	Limits     []limitDoc    `yaml:"limits"`
	AppliesPer []string      `yaml:"applies_per,omitempty"`
	Mode       string        `yaml:"mode"`
}

func getRateLimits(ctx context.Context, c Client) (any, string, error) {
	rs, err := c.ListRateLimits(ctx, &adminv1.ListRateLimitsRequest{})
	if err != nil {
		return nil, "", readErr("rate limits", err)
	}
	out := []rateLimitDoc{}
	for _, r := range rs.GetRateLimits() {
		d := rateLimitDoc{Name: r.GetName(), When: condition(r.GetWhen()), AppliesPer: r.GetAppliesPer(), Mode: modeName(r.GetMode())}
		for _, l := range r.GetLimits() {
			d.Limits = append(d.Limits, limitDoc{Unit: l.GetUnit(), LimitTo: l.GetLimitTo()})
		}
		out = append(out, d)
	}
	return map[string]any{"rate_limits": out}, "", nil
}

type targetNotifyDoc struct {
	Type   string `yaml:"type"`
	URL    string `yaml:"url"`
	Secret string `yaml:"secret,omitempty"`
}

type alertsDoc struct {
	Thresholds         []int32           `yaml:"thresholds,omitempty"`
	NotificationTarget []targetNotifyDoc `yaml:"notification_target,omitempty"`
}

type budgetDoc struct {
	Name       string        `yaml:"name"`
	When       *conditionDoc `yaml:"when,omitempty"`
	Unit       string        `yaml:"unit"`
	LimitTo    float64       `yaml:"limit_to"`
	AppliesPer []string      `yaml:"applies_per,omitempty"`
	Mode       string        `yaml:"mode"`
	Alerts     *alertsDoc    `yaml:"alerts,omitempty"`
}

func getBudgets(ctx context.Context, c Client) (any, string, error) {
	bs, err := c.ListBudgets(ctx, &adminv1.ListBudgetsRequest{})
	if err != nil {
		return nil, "", readErr("budgets", err)
	}
	out := []budgetDoc{}
	for _, b := range bs.GetBudgets() {
		d := budgetDoc{Name: b.GetName(), When: condition(b.GetWhen()), Unit: b.GetUnit(), LimitTo: b.GetLimitTo(), AppliesPer: b.GetAppliesPer(), Mode: modeName(b.GetMode())}
		if a := b.GetAlerts(); a != nil {
			d.Alerts = &alertsDoc{Thresholds: a.GetThresholds()}
			for _, t := range a.GetNotificationTarget() {
				nt := targetNotifyDoc{Type: t.GetType(), URL: redactURL(t.GetUrl())}
				if t.GetHasSecret() {
					nt.Secret = Redacted
				}
				d.Alerts.NotificationTarget = append(d.Alerts.NotificationTarget, nt)
			}
		}
		out = append(out, d)
	}
	return map[string]any{"budgets": out}, "budgets; webhook URLs and secrets are redacted", nil
}

const noFileShape = "the config file has no %s; this is the Admin API's shape, which apply does not read"

func getUsers(ctx context.Context, c Client) (any, string, error) {
	us, err := c.ListUsers(ctx, &adminv1.ListUsersRequest{})
	if err != nil {
		return nil, "", readErr("users", err)
	}
	type userDoc struct {
		Name     string   `yaml:"name"`
		Email    string   `yaml:"email,omitempty"`
		Teams    []string `yaml:"teams,omitempty"`
		Disabled bool     `yaml:"disabled,omitempty"`
		Admin    bool     `yaml:"admin,omitempty"`
	}
	out := []userDoc{}
	for _, u := range us.GetUsers() {
		out = append(out, userDoc{Name: u.GetName(), Email: u.GetEmail(), Teams: u.GetTeams(), Disabled: u.GetDisabled(), Admin: u.GetAdmin()})
	}
	return map[string]any{"users": out}, fmt.Sprintf(noFileShape, "users"), nil
}

func getTeams(ctx context.Context, c Client) (any, string, error) {
	ts, err := c.ListTeams(ctx, &adminv1.ListTeamsRequest{})
	if err != nil {
		return nil, "", readErr("teams", err)
	}
	type teamDoc struct {
		Name        string   `yaml:"name"`
		Description string   `yaml:"description,omitempty"`
		Members     []string `yaml:"members,omitempty"`
	}
	out := []teamDoc{}
	for _, t := range ts.GetTeams() {
		out = append(out, teamDoc{Name: t.GetName(), Description: t.GetDescription(), Members: t.GetMembers()})
	}
	return map[string]any{"teams": out}, fmt.Sprintf(noFileShape, "teams"), nil
}

func getVirtualAccounts(ctx context.Context, c Client) (any, string, error) {
	vs, err := c.ListVirtualAccounts(ctx, &adminv1.ListVirtualAccountsRequest{})
	if err != nil {
		return nil, "", readErr("virtual accounts", err)
	}
	type vaDoc struct {
		Name        string `yaml:"name"`
		Description string `yaml:"description,omitempty"`
		Team        string `yaml:"team,omitempty"`
		Disabled    bool   `yaml:"disabled,omitempty"`
	}
	out := []vaDoc{}
	for _, v := range vs.GetVirtualAccounts() {
		out = append(out, vaDoc{Name: v.GetName(), Description: v.GetDescription(), Team: v.GetTeam(), Disabled: v.GetDisabled()})
	}
	return map[string]any{"virtual_accounts": out}, fmt.Sprintf(noFileShape, "virtual accounts"), nil
}
