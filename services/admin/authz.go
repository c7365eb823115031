package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/services/adminaccess"
	"github.com/llmgw/llmgw/store"
)

// Who may call what. Every Admin API method has a row in rules, keyed by its name (a test
// walks the service descriptor and fails on a method without one):
//
//   - the admin role (and the admin token) may call every method;
//   - the viewer role may call every read (read: true), which never returns a secret;
//   - the team-admin role may call a method whose row has a team check, when the check passes:
//     the API keys of the users and virtual accounts of the caller's teams (not of another user
//     who holds a role: a key carries its owner's roles, so that would escalate), and the rate
//     limits and budgets whose subjects are all of those teams. Reads of those lists are
//     narrowed to the same resources.
//
// A write row names the audit event the store records for it (action, resource kind, and the
// resource's name from the request).

// rule is what a method needs.
type rule struct {
	// read: the viewer role may call it.
	read bool
	// team checks a team admin's request; nil refuses team admins.
	team func(ctx context.Context, sc *scope, req any) error
	// narrow removes from a team admin's answer what is not of the team's; nil keeps it whole.
	narrow func(ctx context.Context, sc *scope, resp any) error
	// write names the audit event of a write; nil for reads and probes.
	write *audit
	// probe: the method reads nothing and writes nothing of the configuration, but acts
	// outside it (TestModel calls an upstream at the gateway's expense): admins only, and not
	// audited, since it changes nothing.
	probe bool
}

// audit is how a write is recorded.
type audit struct {
	action, kind string
	// name is the resource's name in the request; nil when the store draws it (a create).
	name func(req any) string
}

// field returns a name reader for requests of type T.
func field[T any](f func(T) string) func(any) string {
	return func(req any) string {
		t, _ := req.(T)
		return f(t)
	}
}

func w(action, kind string, name func(any) string) *audit {
	return &audit{action: action, kind: kind, name: name}
}

var read = rule{read: true}

// rules is the table from Admin API method to what it needs.
var rules = map[string]rule{
	// The config RPCs: export and plan only read (through the reads below, as the caller);
	// apply writes each resource through its own write method, which is authorized and
	// audited on its own, so apply itself is the admin's and records nothing.
	"ExportConfig": read,
	"PlanConfig":   read,
	"ApplyConfig":  {},

	"CreateProviderAccount": {write: w("create", store.AuditProviderAccount, field(func(r *adminv1.CreateProviderAccountRequest) string { return r.GetProviderAccount().GetName() }))},
	"GetProviderAccount":    read,
	"ListProviderAccounts":  read,
	"UpdateProviderAccount": {write: w("update", store.AuditProviderAccount, field(func(r *adminv1.UpdateProviderAccountRequest) string { return r.GetProviderAccount().GetName() }))},
	"DeleteProviderAccount": {write: w("delete", store.AuditProviderAccount, field(func(r *adminv1.DeleteProviderAccountRequest) string { return r.GetName() }))},

	"CreateModel": {write: w("create", store.AuditModel, field(func(r *adminv1.CreateModelRequest) string {
		return r.GetModel().GetAccount() + "/" + r.GetModel().GetName()
	}))},
	"GetModel":   read,
	"ListModels": read,
	"UpdateModel": {write: w("update", store.AuditModel, field(func(r *adminv1.UpdateModelRequest) string {
		return r.GetModel().GetAccount() + "/" + r.GetModel().GetName()
	}))},
	"DeleteModel": {write: w("delete", store.AuditModel, field(func(r *adminv1.DeleteModelRequest) string { return r.GetAccount() + "/" + r.GetName() }))},
	"TestModel":   {probe: true},

	"CreateUser": {write: w("create", store.AuditUser, field(func(r *adminv1.CreateUserRequest) string { return r.GetUser().GetName() }))},
	"GetUser":    read,
	"ListUsers":  read,
	"UpdateUser": {write: w("update", store.AuditUser, field(func(r *adminv1.UpdateUserRequest) string { return r.GetUser().GetName() }))},
	"DeleteUser": {write: w("delete", store.AuditUser, field(func(r *adminv1.DeleteUserRequest) string { return r.GetName() }))},

	"CreateTeam": {write: w("create", store.AuditTeam, field(func(r *adminv1.CreateTeamRequest) string { return r.GetTeam().GetName() }))},
	"GetTeam":    read,
	"ListTeams":  read,
	"UpdateTeam": {write: w("update", store.AuditTeam, field(func(r *adminv1.UpdateTeamRequest) string { return r.GetTeam().GetName() }))},
	"DeleteTeam": {write: w("delete", store.AuditTeam, field(func(r *adminv1.DeleteTeamRequest) string { return r.GetName() }))},

	"CreateVirtualAccount": {write: w("create", store.AuditVirtualAccount, field(func(r *adminv1.CreateVirtualAccountRequest) string { return r.GetVirtualAccount().GetName() }))},
	"GetVirtualAccount":    read,
	"ListVirtualAccounts":  read,
	"UpdateVirtualAccount": {write: w("update", store.AuditVirtualAccount, field(func(r *adminv1.UpdateVirtualAccountRequest) string { return r.GetVirtualAccount().GetName() }))},
	"DeleteVirtualAccount": {write: w("delete", store.AuditVirtualAccount, field(func(r *adminv1.DeleteVirtualAccountRequest) string { return r.GetName() }))},

	"CreateApiKey": {write: w("create", store.AuditAPIKey, nil), team: func(ctx context.Context, sc *scope, req any) error {
		k := req.(*adminv1.CreateApiKeyRequest).GetApiKey()
		return sc.keyOwner(ctx, k.GetUser(), k.GetVirtualAccount())
	}},
	"ListApiKeys": {read: true, team: allow, narrow: func(ctx context.Context, sc *scope, resp any) error {
		r := resp.(*adminv1.ListApiKeysResponse)
		var keep []*adminv1.ApiKey
		for _, k := range r.GetApiKeys() {
			if err := sc.keyOwner(ctx, k.GetUser(), k.GetVirtualAccount()); err == nil {
				keep = append(keep, k)
			} else if !denied(err) {
				return err
			}
		}
		r.ApiKeys = keep
		return nil
	}},
	"RevokeApiKey": {write: w("revoke", store.AuditAPIKey, field(func(r *adminv1.RevokeApiKeyRequest) string { return r.GetId() })), team: func(ctx context.Context, sc *scope, req any) error {
		return sc.key(ctx, req.(*adminv1.RevokeApiKeyRequest).GetId())
	}},
	"RotateApiKey": {write: w("rotate", store.AuditAPIKey, field(func(r *adminv1.RotateApiKeyRequest) string { return r.GetId() })), team: func(ctx context.Context, sc *scope, req any) error {
		return sc.key(ctx, req.(*adminv1.RotateApiKeyRequest).GetId())
	}},

	"CreateIdentityProvider": {write: w("create", store.AuditIdentityProvider, field(func(r *adminv1.CreateIdentityProviderRequest) string { return r.GetIdentityProvider().GetName() }))},
	"GetIdentityProvider":    read,
	"ListIdentityProviders":  read,
	"UpdateIdentityProvider": {write: w("update", store.AuditIdentityProvider, field(func(r *adminv1.UpdateIdentityProviderRequest) string { return r.GetIdentityProvider().GetName() }))},
	"DeleteIdentityProvider": {write: w("delete", store.AuditIdentityProvider, field(func(r *adminv1.DeleteIdentityProviderRequest) string { return r.GetName() }))},

	"CreateGatewayToken": {write: w("create", store.AuditGatewayToken, nil)},
	"ListGatewayTokens":  read,
	"RevokeGatewayToken": {write: w("revoke", store.AuditGatewayToken, field(func(r *adminv1.RevokeGatewayTokenRequest) string { return r.GetId() }))},

	"CreateAuthzRule": {write: w("create", store.AuditAuthzRule, field(func(r *adminv1.CreateAuthzRuleRequest) string { return r.GetAuthzRule().GetName() }))},
	"GetAuthzRule":    read,
	"ListAuthzRules":  read,
	"UpdateAuthzRule": {write: w("update", store.AuditAuthzRule, field(func(r *adminv1.UpdateAuthzRuleRequest) string { return r.GetAuthzRule().GetName() }))},
	"DeleteAuthzRule": {write: w("delete", store.AuditAuthzRule, field(func(r *adminv1.DeleteAuthzRuleRequest) string { return r.GetName() }))},

	"CreateVirtualModel": {write: w("create", store.AuditVirtualModel, field(func(r *adminv1.CreateVirtualModelRequest) string {
		return r.GetVirtualModel().GetGroup() + "/" + r.GetVirtualModel().GetName()
	}))},
	"GetVirtualModel":   read,
	"ListVirtualModels": read,
	"UpdateVirtualModel": {write: w("update", store.AuditVirtualModel, field(func(r *adminv1.UpdateVirtualModelRequest) string {
		return r.GetVirtualModel().GetGroup() + "/" + r.GetVirtualModel().GetName()
	}))},
	"DeleteVirtualModel": {write: w("delete", store.AuditVirtualModel, field(func(r *adminv1.DeleteVirtualModelRequest) string { return r.GetGroup() + "/" + r.GetName() }))},

	"CreateRoutingRule": {write: w("create", store.AuditRoutingRule, field(func(r *adminv1.CreateRoutingRuleRequest) string { return r.GetRoutingRule().GetId() }))},
	"GetRoutingRule":    read,
	"ListRoutingRules":  read,
	"UpdateRoutingRule": {write: w("update", store.AuditRoutingRule, field(func(r *adminv1.UpdateRoutingRuleRequest) string { return r.GetRoutingRule().GetId() }))},
	"DeleteRoutingRule": {write: w("delete", store.AuditRoutingRule, field(func(r *adminv1.DeleteRoutingRuleRequest) string { return r.GetId() }))},
	"ListRoutingState":  read,

	"CreateRateLimit": {write: w("create", store.AuditRateLimit, field(func(r *adminv1.CreateRateLimitRequest) string { return r.GetRateLimit().GetName() })), team: func(ctx context.Context, sc *scope, req any) error {
		r := req.(*adminv1.CreateRateLimitRequest).GetRateLimit()
		return sc.subjects(ctx, r.GetWhen().GetSubjects())
	}},
	"GetRateLimit": {read: true, team: func(ctx context.Context, sc *scope, req any) error {
		return sc.rateLimit(ctx, req.(*adminv1.GetRateLimitRequest).GetName())
	}},
	"ListRateLimits": {read: true, team: allow, narrow: func(ctx context.Context, sc *scope, resp any) error {
		r := resp.(*adminv1.ListRateLimitsResponse)
		var keep []*adminv1.RateLimit
		for _, rl := range r.GetRateLimits() {
			if err := sc.subjects(ctx, rl.GetWhen().GetSubjects()); err == nil {
				keep = append(keep, rl)
			} else if !denied(err) {
				return err
			}
		}
		r.RateLimits = keep
		return nil
	}},
	"UpdateRateLimit": {write: w("update", store.AuditRateLimit, field(func(r *adminv1.UpdateRateLimitRequest) string { return r.GetRateLimit().GetName() })), team: func(ctx context.Context, sc *scope, req any) error {
		r := req.(*adminv1.UpdateRateLimitRequest).GetRateLimit()
		if err := sc.rateLimit(ctx, r.GetName()); err != nil {
			return err
		}
		return sc.subjects(ctx, r.GetWhen().GetSubjects())
	}},
	"DeleteRateLimit": {write: w("delete", store.AuditRateLimit, field(func(r *adminv1.DeleteRateLimitRequest) string { return r.GetName() })), team: func(ctx context.Context, sc *scope, req any) error {
		return sc.rateLimit(ctx, req.(*adminv1.DeleteRateLimitRequest).GetName())
	}},

	"CreateBudget": {write: w("create", store.AuditBudget, field(func(r *adminv1.CreateBudgetRequest) string { return r.GetBudget().GetName() })), team: func(ctx context.Context, sc *scope, req any) error {
		return sc.subjects(ctx, req.(*adminv1.CreateBudgetRequest).GetBudget().GetWhen().GetSubjects())
	}},
	"GetBudget": {read: true, team: func(ctx context.Context, sc *scope, req any) error {
		return sc.budget(ctx, req.(*adminv1.GetBudgetRequest).GetName())
	}},
	"ListBudgets": {read: true, team: allow, narrow: func(ctx context.Context, sc *scope, resp any) error {
		r := resp.(*adminv1.ListBudgetsResponse)
		var keep []*adminv1.Budget
		for _, b := range r.GetBudgets() {
			if err := sc.subjects(ctx, b.GetWhen().GetSubjects()); err == nil {
				keep = append(keep, b)
			} else if !denied(err) {
				return err
			}
		}
		r.Budgets = keep
		return nil
	}},
	"UpdateBudget": {write: w("update", store.AuditBudget, field(func(r *adminv1.UpdateBudgetRequest) string { return r.GetBudget().GetName() })), team: func(ctx context.Context, sc *scope, req any) error {
		b := req.(*adminv1.UpdateBudgetRequest).GetBudget()
		if err := sc.budget(ctx, b.GetName()); err != nil {
			return err
		}
		return sc.subjects(ctx, b.GetWhen().GetSubjects())
	}},
	"DeleteBudget": {write: w("delete", store.AuditBudget, field(func(r *adminv1.DeleteBudgetRequest) string { return r.GetName() })), team: func(ctx context.Context, sc *scope, req any) error {
		return sc.budget(ctx, req.(*adminv1.DeleteBudgetRequest).GetName())
	}},
	"ListLimitStatus": read,

	"ListAuditEvents": read,

	"GetCaller": {read: true}, // open to every caller: adminaccess.OpenToAll
}

// allow admits a team admin's request (its answer is narrowed).
func allow(context.Context, *scope, any) error { return nil }

// errNotTeam refuses a team admin's request outside the team.
var errNotTeam = apierr.New(apierr.KindPermissionDenied, "a team admin may manage only the API keys, rate limits and budgets of their own teams")

func denied(err error) bool { return errors.Is(err, errNotTeam) || errors.Is(err, errRoleHolder) }

// errRoleHolder refuses a team admin the keys of another user who holds a role: a key of
// theirs would carry that role, so minting or rotating one would escalate.
var errRoleHolder = apierr.New(apierr.KindPermissionDenied, "a team admin may not manage the API keys of another user who holds a role")

// scope answers whether resources are a team admin's: of one of their teams.
type scope struct {
	st    *store.Store
	self  string // the team admin's user name
	teams []string
}

func (sc *scope) team(t string) bool { return t != "" && slices.Contains(sc.teams, t) }

// owner checks that a key owner (a user or a virtual account) is of the teams.
func (sc *scope) owner(ctx context.Context, userName, va string) error {
	switch {
	case userName != "":
		u, err := sc.st.GetUser(ctx, userName)
		if err != nil {
			return notTeamIfMissing(err)
		}
		if slices.ContainsFunc(u.GetTeams(), sc.team) {
			return nil
		}
	case va != "":
		v, err := sc.st.GetVirtualAccount(ctx, va)
		if err != nil {
			return notTeamIfMissing(err)
		}
		if sc.team(v.GetTeam()) {
			return nil
		}
	}
	return errNotTeam
}

// keyOwner checks that a team admin may manage the keys of an owner: a user or virtual
// account of the teams, and, for a user other than the team admin, one without a role.
func (sc *scope) keyOwner(ctx context.Context, userName, va string) error {
	if err := sc.owner(ctx, userName, va); err != nil {
		return err
	}
	if userName == "" || userName == sc.self {
		return nil
	}
	u, err := sc.st.GetUser(ctx, userName)
	if err != nil {
		return notTeamIfMissing(err)
	}
	if len(u.GetRoles()) > 0 {
		return errRoleHolder
	}
	return nil
}

// key checks that a team admin may manage the API key with the id.
func (sc *scope) key(ctx context.Context, id string) error {
	k, err := sc.st.GetAPIKey(ctx, id)
	if err != nil {
		return notTeamIfMissing(err)
	}
	return sc.keyOwner(ctx, k.GetUser(), k.GetVirtualAccount())
}

// subjects checks that a rule applies to the teams only: it names at least one subject, and
// each is one of the teams, a user of one, or a virtual account of one.
func (sc *scope) subjects(ctx context.Context, subjects []string) error {
	if len(subjects) == 0 {
		return errNotTeam // a rule without subjects applies to everyone
	}
	for _, s := range subjects {
		kind, name, _ := strings.Cut(s, ":")
		var err error
		switch kind {
		case "team":
			if !sc.team(name) {
				err = errNotTeam
			}
		case "user":
			err = sc.owner(ctx, name, "")
		case "virtualaccount", "virtual-account":
			err = sc.owner(ctx, "", name)
		default:
			err = errNotTeam
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rateLimit checks that the stored rate limit is the teams'.
func (sc *scope) rateLimit(ctx context.Context, name string) error {
	r, err := sc.st.GetRateLimit(ctx, name)
	if err != nil {
		return notTeamIfMissing(err)
	}
	return sc.subjects(ctx, r.GetWhen().GetSubjects())
}

// budget checks that the stored budget is the teams'.
func (sc *scope) budget(ctx context.Context, name string) error {
	b, err := sc.st.GetBudget(ctx, name)
	if err != nil {
		return notTeamIfMissing(err)
	}
	return sc.subjects(ctx, b.GetWhen().GetSubjects())
}

// notTeamIfMissing refuses a team admin what does not exist as what is not theirs, so a team
// admin cannot probe other teams' resources by name.
func notTeamIfMissing(err error) error {
	var ae *apierr.Error
	if errors.As(err, &ae) && ae.Kind == apierr.KindNotFound {
		return errNotTeam
	}
	return err
}

// PrincipalName is how the audit log names p: "admin-token" or "user:<name>".
func PrincipalName(p *snapshot.Principal) string {
	if p.User != "" {
		return "user:" + p.User
	}
	if p.VirtualAccount != "" {
		return "virtualaccount:" + p.VirtualAccount
	}
	return store.PrincipalAdminToken
}

// Authorize returns the interceptor that checks every Admin API call against the caller's
// roles (the principal WithPrincipal put in the context; none is refused), narrows a team
// admin's answers, and marks writes for the audit log. A method without a rule is refused.
func (s *Service) Authorize() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			method := req.Spec().Procedure[strings.LastIndexByte(req.Spec().Procedure, '/')+1:]
			p, _ := adminaccess.PrincipalFrom(ctx)
			r, ok := rules[method]
			switch {
			case p == nil:
				return nil, apierr.ConnectError(apierr.New(apierr.KindUnauthenticated, "missing API key: send it as 'Authorization: Bearer <key>'"))
			case !ok:
				return nil, apierr.ConnectError(apierr.New(apierr.KindPermissionDenied, "%s has no access rule", method))
			case adminaccess.OpenToAll(method):
				return next(ctx, req)
			case !adminaccess.MayUse(p):
				return nil, apierr.ConnectError(apierr.New(apierr.KindPermissionDenied, "the Admin API needs the admin token or an admin-scoped key of a user with an admin, viewer or team-admin role"))
			}
			if r.write != nil {
				a := store.Audit{Principal: PrincipalName(p), KeyID: p.KeyID, RPC: method, Action: r.write.action, Kind: r.write.kind}
				if r.write.name != nil {
					a.Name = r.write.name(req.Any())
				}
				ctx = store.WithAudit(ctx, a)
			}
			switch {
			case p.HasRole(snapshot.RoleAdmin), r.read && p.HasRole(snapshot.RoleViewer):
				return next(ctx, req)
			case r.team == nil || !p.HasRole(snapshot.RoleTeamAdmin):
				if r.write != nil && p.HasRole(snapshot.RoleViewer) {
					return nil, apierr.ConnectError(apierr.New(apierr.KindPermissionDenied, "the viewer role may not call %s: it writes", method))
				}
				return nil, apierr.ConnectError(apierr.New(apierr.KindPermissionDenied, "your roles do not allow %s", method))
			}
			sc := &scope{st: s.st, self: p.User, teams: p.Teams}
			if err := r.team(ctx, sc, req.Any()); err != nil {
				return nil, s.fail(ctx, method, fmt.Errorf("authorize: %w", err))
			}
			resp, err := next(ctx, req)
			if err != nil || r.narrow == nil {
				return resp, err
			}
			if err := r.narrow(ctx, sc, resp.Any()); err != nil {
				return nil, s.fail(ctx, method, fmt.Errorf("authorize: %w", err))
			}
			return resp, nil
		}
	}
}
