package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/llmgw/llmgw/gateway/snapshot"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
)

// Client is the Admin API client apply and get use.
type Client = adminv1connect.AdminServiceClient

// NewClient returns an Admin API client of the server at baseURL that sends token as the
// bearer token on every call.
func NewClient(hc *http.Client, baseURL, token string) Client {
	auth := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	})
	return adminv1connect.NewAdminServiceClient(hc, strings.TrimRight(baseURL, "/"), connect.WithInterceptors(auth))
}

// Status is what applying a file does to one resource.
type Status int

// The statuses of a resource.
const (
	Unchanged Status = iota
	Created
	Changed
)

func (s Status) String() string {
	switch s {
	case Created:
		return "created"
	case Changed:
		return "changed"
	}
	return "unchanged"
}

// Field is one field that differs: its path in the Admin API's field names and its old and
// new values as shown (a secret as its reference or redacted, never its value). Old is empty
// for a created resource.
type Field struct {
	Path, Old, New string
}

// Change is one resource of the file and what applying it does.
type Change struct {
	Kind   string // provider-account, model, virtual-model, authz-rule, rate-limit, budget, routing-rule
	Name   string
	Status Status
	Fields []Field
	write  func(ctx context.Context, c Client) error
}

// Plan is the difference between a file and a server, resource by resource, in the order the
// resources are written: provider accounts and their models, virtual models, authz rules,
// rate limits, budgets, routing rules (which name models and virtual models).
type Plan struct {
	Changes []Change
}

// Options are apply's choices.
type Options struct {
	// UpdateSecrets rewrites the file's secrets on resources that have a stored one. The
	// Admin API never returns secrets, so apply cannot tell whether they differ: by default
	// it writes a secret only to a resource that is created or has none.
	UpdateSecrets bool
}

// NewPlan reads the server's resources through c and compares the file's with them.
func NewPlan(ctx context.Context, c Client, f *File, opts Options) (*Plan, error) {
	cur, err := readServer(ctx, c)
	if err != nil {
		return nil, err
	}
	p := &Plan{}
	pl := planner{plan: p, refs: f.refs, opts: opts, stored: f.stored, keep: f.keep}
	for _, a := range f.cfg.Accounts {
		pl.account(a.Account, cur.accounts[a.Account.Name])
		for _, m := range a.Models {
			pl.model(m, cur.models[m.Account+"/"+m.Name])
		}
	}
	for _, v := range f.virtualModels {
		pl.virtualModel(v, cur.virtualModels[v.Group+"/"+v.Name])
	}
	for _, r := range f.cfg.Rules {
		have := cur.authz[r.Name]
		pl.add("authz-rule", r.Name, r, have, nil,
			func(ctx context.Context, c Client) error {
				_, err := c.CreateAuthzRule(ctx, &adminv1.CreateAuthzRuleRequest{AuthzRule: r})
				return err
			},
			func(ctx context.Context, c Client) error {
				_, err := c.UpdateAuthzRule(ctx, &adminv1.UpdateAuthzRuleRequest{AuthzRule: r})
				return err
			})
	}
	for _, r := range f.cfg.RateLimits {
		have := cur.rateLimits[r.Name]
		pl.add("rate-limit", r.Name, r, have, nil,
			func(ctx context.Context, c Client) error {
				_, err := c.CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: r})
				return err
			},
			func(ctx context.Context, c Client) error {
				_, err := c.UpdateRateLimit(ctx, &adminv1.UpdateRateLimitRequest{RateLimit: r})
				return err
			})
	}
	for _, b := range f.cfg.Budgets {
		pl.budget(b, cur.budgets[b.Name])
	}
	for _, r := range f.routingRules {
		have := cur.routingRules[r.Id]
		pl.add("routing-rule", r.Id, r, have, nil,
			func(ctx context.Context, c Client) error {
				_, err := c.CreateRoutingRule(ctx, &adminv1.CreateRoutingRuleRequest{RoutingRule: r})
				return err
			},
			func(ctx context.Context, c Client) error {
				_, err := c.UpdateRoutingRule(ctx, &adminv1.UpdateRoutingRuleRequest{RoutingRule: r})
				return err
			})
	}
	if pl.err != nil {
		return nil, pl.err
	}
	return p, nil
}

// Apply writes the plan's created and changed resources, in order, and stops at the first
// error, which names the resource (and, for an invalid one, the server's message names the
// field). It returns how many resources it wrote.
func (p *Plan) Apply(ctx context.Context, c Client) (int, error) {
	n := 0
	for _, ch := range p.Changes {
		if ch.Status == Unchanged {
			continue
		}
		if err := ch.write(ctx, c); err != nil {
			return n, fmt.Errorf("%s %s: %w", ch.Kind, ch.Name, err)
		}
		n++
	}
	return n, nil
}

// Count returns how many resources have status s.
func (p *Plan) Count(s Status) int {
	n := 0
	for _, ch := range p.Changes {
		if ch.Status == s {
			n++
		}
	}
	return n
}

// Write prints the plan: a line per resource with its status, the paths of a changed
// resource's fields; with values, every field of a created resource and the old and new
// value of each changed field.
func (p *Plan) Write(w io.Writer, values bool) error {
	var b strings.Builder
	for _, ch := range p.Changes {
		fmt.Fprintf(&b, "%s %s: %s", ch.Kind, ch.Name, ch.Status)
		if ch.Status == Changed && !values {
			paths := make([]string, len(ch.Fields))
			for i, f := range ch.Fields {
				paths[i] = f.Path
			}
			fmt.Fprintf(&b, " (%s)", strings.Join(paths, ", "))
		}
		b.WriteByte('\n')
		if !values {
			continue
		}
		for _, f := range ch.Fields {
			switch ch.Status {
			case Created:
				fmt.Fprintf(&b, "    + %s: %s\n", f.Path, f.New)
			case Changed:
				fmt.Fprintf(&b, "    ~ %s: %s -> %s\n", f.Path, f.Old, f.New)
			}
		}
	}
	fmt.Fprintf(&b, "%d created, %d changed, %d unchanged\n", p.Count(Created), p.Count(Changed), p.Count(Unchanged))
	_, err := io.WriteString(w, b.String())
	return err
}

// server is the server's resources by name.
type server struct {
	accounts      map[string]*adminv1.ProviderAccount
	models        map[string]*adminv1.Model // by fqn
	virtualModels map[string]*adminv1.VirtualModel
	authz         map[string]*adminv1.AuthzRule
	rateLimits    map[string]*adminv1.RateLimit
	budgets       map[string]*adminv1.Budget
	routingRules  map[string]*adminv1.RoutingRule
}

func readServer(ctx context.Context, c Client) (*server, error) {
	s := &server{accounts: map[string]*adminv1.ProviderAccount{}, models: map[string]*adminv1.Model{}, virtualModels: map[string]*adminv1.VirtualModel{},
		authz: map[string]*adminv1.AuthzRule{}, rateLimits: map[string]*adminv1.RateLimit{}, budgets: map[string]*adminv1.Budget{}, routingRules: map[string]*adminv1.RoutingRule{}}
	accts, err := c.ListProviderAccounts(ctx, &adminv1.ListProviderAccountsRequest{})
	if err != nil {
		return nil, readErr("provider accounts", err)
	}
	for _, a := range accts.GetProviderAccounts() {
		s.accounts[a.GetName()] = a
	}
	models, err := c.ListModels(ctx, &adminv1.ListModelsRequest{})
	if err != nil {
		return nil, readErr("models", err)
	}
	for _, m := range models.GetModels() {
		s.models[m.GetAccount()+"/"+m.GetName()] = m
	}
	vms, err := c.ListVirtualModels(ctx, &adminv1.ListVirtualModelsRequest{})
	if err != nil {
		return nil, readErr("virtual models", err)
	}
	for _, v := range vms.GetVirtualModels() {
		s.virtualModels[v.GetGroup()+"/"+v.GetName()] = v
	}
	rules, err := c.ListAuthzRules(ctx, &adminv1.ListAuthzRulesRequest{})
	if err != nil {
		return nil, readErr("authz rules", err)
	}
	for _, r := range rules.GetAuthzRules() {
		s.authz[r.GetName()] = r
	}
	rls, err := c.ListRateLimits(ctx, &adminv1.ListRateLimitsRequest{})
	if err != nil {
		return nil, readErr("rate limits", err)
	}
	for _, r := range rls.GetRateLimits() {
		s.rateLimits[r.GetName()] = r
	}
	bs, err := c.ListBudgets(ctx, &adminv1.ListBudgetsRequest{})
	if err != nil {
		return nil, readErr("budgets", err)
	}
	for _, b := range bs.GetBudgets() {
		s.budgets[b.GetName()] = b
	}
	rrs, err := c.ListRoutingRules(ctx, &adminv1.ListRoutingRulesRequest{})
	if err != nil {
		return nil, readErr("routing rules", err)
	}
	for _, r := range rrs.GetRoutingRules() {
		s.routingRules[r.GetId()] = r
	}
	return s, nil
}

func readErr(what string, err error) error {
	if connect.CodeOf(err) == connect.CodeUnauthenticated || connect.CodeOf(err) == connect.CodePermissionDenied {
		return fmt.Errorf("read %s: %w (is LLMGW_ADMIN_TOKEN the server's admin token?)", what, err)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

type planner struct {
	plan *Plan
	refs map[string]string
	opts Options
	// stored and keep are File's: placeholders stand for stored secrets and URLs.
	stored bool
	keep   map[string]bool
	// err is the first placeholder with nothing stored behind it.
	err error
}

// kept records an error when the file keeps the stored key of a resource that has none.
func (pl *planner) kept(what, name string, hasKey bool) {
	if pl.keep[name] && !hasKey && pl.err == nil {
		pl.err = fmt.Errorf("%s %s: auth_data.api_key: %q keeps the stored key, and none is stored; set the key on the Providers page or with `llmgw apply`", what, name, Redacted)
	}
}

// add compares want with have (nil: absent) and records the change; secrets are the changes
// of want's write-only fields, which the comparison leaves out.
func (pl *planner) add(kind, name string, want, have proto.Message, secrets []Field, create, update func(context.Context, Client) error) {
	ch := Change{Kind: kind, Name: name}
	w := flatten(want)
	if isNil(have) {
		ch.Status, ch.write = Created, create
		for _, kv := range w {
			ch.Fields = append(ch.Fields, Field{Path: kv.path, New: pl.show(kv.path, kv.value, false)})
		}
		ch.Fields = append(ch.Fields, secrets...)
		pl.plan.Changes = append(pl.plan.Changes, ch)
		return
	}
	for _, f := range diff(flatten(have), w) {
		if f.Old != unset {
			f.Old = pl.show(f.Path, f.Old, true)
		}
		if f.New != unset {
			f.New = pl.show(f.Path, f.New, false)
		}
		ch.Fields = append(ch.Fields, f)
	}
	ch.Fields = append(ch.Fields, secrets...)
	if len(ch.Fields) > 0 {
		ch.Status, ch.write = Changed, update
	}
	pl.plan.Changes = append(pl.plan.Changes, ch)
}

func isNil(m proto.Message) bool {
	return m == nil || !m.ProtoReflect().IsValid()
}

// secret is the change of one write-only secret: the file's value want (empty: the file has
// none) against whether the server stores one. send says whether the write carries it.
func (pl *planner) secret(path, want string, created, stored bool) (f []Field, send bool) {
	switch {
	case want == "":
		return nil, false
	case created:
		return []Field{{Path: path, New: pl.ref(want)}}, true
	case !stored:
		return []Field{{Path: path, Old: "(none)", New: pl.ref(want)}}, true
	case pl.opts.UpdateSecrets:
		return []Field{{Path: path, Old: "(stored)", New: pl.ref(want) + " (rewritten)"}}, true
	}
	return nil, false
}

// ref is how a secret is shown: the reference it was read from, never the value.
func (pl *planner) ref(secret string) string {
	if r, ok := pl.refs[secret]; ok {
		return r
	}
	return "(redacted)"
}

func (pl *planner) account(want *adminv1.ProviderAccount, have *adminv1.ProviderAccount) {
	pl.kept("provider account", want.GetName(), have.GetHasApiKey())
	secrets, send := pl.secret("api_key", want.GetApiKey(), have == nil, have.GetHasApiKey())
	in := proto.CloneOf(want)
	if !send {
		in.ApiKey = "" // the store keeps the stored key
	}
	pl.add("provider-account", want.GetName(), want, have, secrets,
		func(ctx context.Context, c Client) error {
			_, err := c.CreateProviderAccount(ctx, &adminv1.CreateProviderAccountRequest{ProviderAccount: in})
			return err
		},
		func(ctx context.Context, c Client) error {
			_, err := c.UpdateProviderAccount(ctx, &adminv1.UpdateProviderAccountRequest{ProviderAccount: in})
			return err
		})
}

func (pl *planner) model(want *adminv1.Model, have *adminv1.Model) {
	pl.kept("model", want.GetAccount()+"/"+want.GetName(), have.GetHasApiKey())
	secrets, send := pl.secret("api_key", want.GetApiKey(), have == nil, have.GetHasApiKey())
	in := proto.CloneOf(want)
	if !send {
		in.ApiKey = ""
	}
	// The file has no pricing; UpdateModel replaces every field, so the override set through
	// the Admin API is passed along rather than cleared.
	in.Pricing = have.GetPricing()
	cmpWant, cmpHave := modelTypes(want), modelTypes(have)
	if have != nil {
		cmpHave.Pricing = nil
	}
	pl.add("model", want.GetAccount()+"/"+want.GetName(), cmpWant, cmpHave, secrets,
		func(ctx context.Context, c Client) error {
			_, err := c.CreateModel(ctx, &adminv1.CreateModelRequest{Model: in})
			return err
		},
		func(ctx context.Context, c Client) error {
			_, err := c.UpdateModel(ctx, &adminv1.UpdateModelRequest{Model: in})
			return err
		})
}

// modelTypes is a copy of m with its types made explicit: empty means chat.
func modelTypes(m *adminv1.Model) *adminv1.Model {
	if m == nil {
		return nil
	}
	m = proto.CloneOf(m)
	if len(m.Types) == 0 {
		m.Types = []string{snapshot.TypeChat}
	}
	return m
}

func (pl *planner) virtualModel(want, have *adminv1.VirtualModel) {
	norm := func(v *adminv1.VirtualModel) *adminv1.VirtualModel {
		if v == nil {
			return nil
		}
		v = proto.CloneOf(v)
		if len(v.ModelTypes) == 0 {
			v.ModelTypes = []string{snapshot.TypeChat}
		}
		return v
	}
	pl.add("virtual-model", want.GetGroup()+"/"+want.GetName(), norm(want), norm(have), nil,
		func(ctx context.Context, c Client) error {
			_, err := c.CreateVirtualModel(ctx, &adminv1.CreateVirtualModelRequest{VirtualModel: want})
			return err
		},
		func(ctx context.Context, c Client) error {
			_, err := c.UpdateVirtualModel(ctx, &adminv1.UpdateVirtualModelRequest{VirtualModel: want})
			return err
		})
}

func (pl *planner) budget(want, have *adminv1.Budget) {
	if pl.stored {
		want = proto.CloneOf(want)
		if err := storedURLs(want, have); err != nil && pl.err == nil {
			pl.err = err
		}
	}
	in := proto.CloneOf(want)
	var secrets []Field
	for i, t := range in.GetAlerts().GetNotificationTarget() {
		stored := false
		for _, ht := range have.GetAlerts().GetNotificationTarget() {
			if ht.GetType() == t.GetType() && ht.GetUrl() == t.GetUrl() {
				stored = ht.GetHasSecret()
			}
		}
		f, send := pl.secret(fmt.Sprintf("alerts.notification_target[%d].secret", i), t.GetSecret(), have == nil, stored)
		secrets = append(secrets, f...)
		if !send {
			t.Secret = "" // the store keeps the secret of a target with the same type and url
		}
	}
	pl.add("budget", want.GetName(), want, have, secrets,
		func(ctx context.Context, c Client) error {
			_, err := c.CreateBudget(ctx, &adminv1.CreateBudgetRequest{Budget: in})
			return err
		},
		func(ctx context.Context, c Client) error {
			_, err := c.UpdateBudget(ctx, &adminv1.UpdateBudgetRequest{Budget: in})
			return err
		})
}

// diff returns the fields of want that differ from have's, in want's order, then those only
// have has.
func diff(have, want []kv) []Field {
	hm := map[string]string{}
	for _, h := range have {
		hm[h.path] = h.value
	}
	wm := map[string]bool{}
	var out []Field
	for _, w := range want {
		wm[w.path] = true
		old, ok := hm[w.path]
		if !ok {
			out = append(out, Field{Path: w.path, Old: unset, New: w.value})
		} else if old != w.value {
			out = append(out, Field{Path: w.path, Old: old, New: w.value})
		}
	}
	for _, h := range have {
		if !wm[h.path] {
			out = append(out, Field{Path: h.path, Old: h.value, New: unset})
		}
	}
	return out
}

// unset shows a field that one side does not have.
const unset = "(unset)"

type kv struct{ path, value string }

// hidden are the fields left out of a comparison: output only, or write-only secrets, which
// are compared on their own.
var hidden = []string{"create_time", "update_time", "fqn", "has_api_key", "api_key", "has_secret", "secret", "members"}

// flatten returns m's set fields as paths and values, in field order, without the hidden
// fields.
func flatten(m proto.Message) []kv {
	m = proto.Clone(m)
	strip(m.ProtoReflect())
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return []kv{{path: "(error)", value: err.Error()}}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []kv
	if err := walk(dec, "", &out); err != nil {
		return []kv{{path: "(error)", value: err.Error()}}
	}
	return out
}

var webhookURL = regexp.MustCompile(`notification_target\[\d+\]\.url$`)

// show is how a value is shown: a secret read from the file as its reference; a webhook URL
// of the server's (server) with its path redacted, since a Slack webhook's path is its
// credential.
func (pl *planner) show(path, value string, server bool) string {
	if r, ok := pl.refs[value]; ok {
		return r
	}
	if server && webhookURL.MatchString(path) {
		return redactURL(value)
	}
	return value
}

// redactURL keeps a URL's scheme and host and redacts the rest.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(redacted)"
	}
	if u.Path == "" && u.RawQuery == "" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/(redacted)"
}

// strip clears the hidden fields of m and of the messages it holds.
func strip(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if slices.Contains(hidden, string(fd.Name())) {
			m.Clear(fd)
			return true
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				strip(l.Get(i).Message())
			}
		case fd.IsMap():
		case fd.Message() != nil:
			strip(v.Message())
		}
		return true
	})
}

// walk reads one JSON value from dec and appends its leaves under path.
func walk(dec *json.Decoder, path string, out *[]kv) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				if err := walk(dec, join(path, key), out); err != nil {
					return err
				}
			}
		case '[':
			for i := 0; dec.More(); i++ {
				if err := walk(dec, fmt.Sprintf("%s[%d]", path, i), out); err != nil {
					return err
				}
			}
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case string:
		*out = append(*out, kv{path, t})
	case json.Number:
		*out = append(*out, kv{path, t.String()})
	case bool:
		*out = append(*out, kv{path, fmt.Sprint(t)})
	case nil:
		*out = append(*out, kv{path, "null"})
	default:
		return errors.New("unexpected JSON token")
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
