package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"

	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/services/admin"
	"github.com/llmgw/llmgw/services/server"
	"github.com/llmgw/llmgw/store"
)

// rbac is an Admin API served as the server serves it (authentication, then the role table)
// over a store, with clients per key.
type rbac struct {
	st    *store.Store
	snaps *snapshot.Holder
	url   string
	root  adminv1connect.AdminServiceClient // the admin token's
}

const rootToken = "root-token"

func newRBAC(t *testing.T) *rbac {
	t.Helper()
	ctx := context.Background()
	r := &rbac{snaps: &snapshot.Holder{}}
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "llmgw.db"), store.Options{
		MasterKey: bytes.Repeat([]byte{9}, 32),
		OnChange:  func() { r.reload(t) },
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	r.st = st
	if err := st.SetAdminTokenHash(ctx, snapshot.KeyHash(rootToken)); err != nil {
		t.Fatal(err)
	}
	svc := admin.New(st, slog.New(slog.DiscardHandler))
	mux := http.NewServeMux()
	mux.Handle(adminv1connect.NewAdminServiceHandler(svc, connect.WithInterceptors(server.AdminAuth(r.snaps, time.Now), svc.Authorize())))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r.url = srv.URL
	r.root = r.client(rootToken)
	return r
}

// reload compiles the store's config into the holder, as the control plane does on a write.
func (r *rbac) reload(t *testing.T) {
	cfg, err := r.st.SnapshotConfig(context.Background())
	if err != nil {
		t.Errorf("snapshot config: %v", err)
		return
	}
	r.snaps.Store(snapshot.Compile(cfg, nil, nil, slog.New(slog.DiscardHandler)))
}

func (r *rbac) client(secret string) adminv1connect.AdminServiceClient {
	return adminv1connect.NewAdminServiceClient(http.DefaultClient, r.url, connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+secret)
			return next(ctx, req)
		}
	})))
}

// user creates a user with roles and teams and returns a client with a key of theirs.
func (r *rbac) user(t *testing.T, name string, roles, teams []string, scopes ...string) adminv1connect.AdminServiceClient {
	t.Helper()
	ctx := context.Background()
	if _, err := r.root.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: name, Roles: roles, Teams: teams}}); err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	k, err := r.root.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: name}, Scopes: scopes}})
	if err != nil {
		t.Fatalf("create key %s: %v", name, err)
	}
	return r.client(k.GetSecret())
}

func code(err error) connect.Code {
	if err == nil {
		return 0
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code()
	}
	return connect.CodeUnknown
}

func wantCode(t *testing.T, what string, err error, want connect.Code) {
	t.Helper()
	if got := code(err); got != want {
		t.Errorf("%s: code %v (%v), want %v", what, got, err, want)
	}
}

// TestRoles: what each role may call, through the server's authentication and the role table.
func TestRoles(t *testing.T) {
	ctx := context.Background()
	r := newRBAC(t)
	for _, team := range []string{"ml", "web"} {
		if _, err := r.root.CreateTeam(ctx, &adminv1.CreateTeamRequest{Team: &adminv1.Team{Name: team}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, va := range []struct{ name, team string }{{"ml-svc", "ml"}, {"web-svc", "web"}} {
		if _, err := r.root.CreateVirtualAccount(ctx, &adminv1.CreateVirtualAccountRequest{VirtualAccount: &adminv1.VirtualAccount{Name: va.name, Team: va.team}}); err != nil {
			t.Fatal(err)
		}
	}
	viewer := r.user(t, "vera", []string{"viewer"}, nil)
	lead := r.user(t, "lena", []string{"team-admin"}, []string{"ml"})
	nobody := r.user(t, "noel", nil, []string{"ml"})
	inferenceOnly := r.user(t, "ada", []string{"admin"}, nil, "inference")
	adminOnly := r.user(t, "adam", []string{"admin"}, nil, "admin")
	r.user(t, "mike", nil, []string{"ml"})
	r.user(t, "wendy", nil, []string{"web"})

	t.Run("viewer", func(t *testing.T) {
		if _, err := viewer.ListUsers(ctx, &adminv1.ListUsersRequest{}); err != nil {
			t.Errorf("viewer list users: %v", err)
		}
		if _, err := viewer.ListApiKeys(ctx, &adminv1.ListApiKeysRequest{}); err != nil {
			t.Errorf("viewer list keys: %v", err)
		}
		if _, err := viewer.ListAuditEvents(ctx, &adminv1.ListAuditEventsRequest{}); err != nil {
			t.Errorf("viewer list audit events: %v", err)
		}
		_, err := viewer.CreateTeam(ctx, &adminv1.CreateTeamRequest{Team: &adminv1.Team{Name: "x"}})
		wantCode(t, "viewer create team", err, connect.CodePermissionDenied)
		_, err = viewer.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "vera"}}})
		wantCode(t, "viewer create key", err, connect.CodePermissionDenied)
	})

	t.Run("no role", func(t *testing.T) {
		_, err := nobody.ListUsers(ctx, &adminv1.ListUsersRequest{})
		wantCode(t, "user without roles", err, connect.CodePermissionDenied)
	})

	t.Run("scopes", func(t *testing.T) {
		_, err := inferenceOnly.ListUsers(ctx, &adminv1.ListUsersRequest{})
		wantCode(t, "inference-scoped admin key", err, connect.CodePermissionDenied)
		if _, err := adminOnly.ListUsers(ctx, &adminv1.ListUsersRequest{}); err != nil {
			t.Errorf("admin-scoped admin key: %v", err)
		}
	})

	t.Run("team admin", func(t *testing.T) {
		// Keys of the team's users and virtual accounts: yes; of others: no.
		k, err := lead.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "mike"}}})
		if err != nil {
			t.Fatalf("team admin creates a key for a team member: %v", err)
		}
		if _, err := lead.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_VirtualAccount{VirtualAccount: "ml-svc"}}}); err != nil {
			t.Errorf("team admin creates a key for the team's virtual account: %v", err)
		}
		_, err = lead.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "wendy"}}})
		wantCode(t, "key for another team's user", err, connect.CodePermissionDenied)
		_, err = lead.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_VirtualAccount{VirtualAccount: "web-svc"}}})
		wantCode(t, "key for another team's virtual account", err, connect.CodePermissionDenied)
		// A key of a team member with a role would carry the role: no (their own: yes).
		if _, err := r.root.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "boss", Roles: []string{"admin"}, Teams: []string{"ml"}}}); err != nil {
			t.Fatal(err)
		}
		bossKey, err := r.root.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "boss"}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = lead.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "boss"}}})
		wantCode(t, "key for a team member who is an admin", err, connect.CodePermissionDenied)
		_, err = lead.RotateApiKey(ctx, &adminv1.RotateApiKeyRequest{Id: bossKey.GetApiKey().GetId()})
		wantCode(t, "rotate a team admin's key", err, connect.CodePermissionDenied)
		own, err := lead.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "lena"}}})
		if err != nil {
			t.Errorf("team admin creates their own key: %v", err)
		} else if _, err := lead.RevokeApiKey(ctx, &adminv1.RevokeApiKeyRequest{Id: own.GetApiKey().GetId()}); err != nil {
			t.Errorf("team admin revokes their own key: %v", err)
		}
		_, err = lead.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "ghost"}}})
		wantCode(t, "key for a user that does not exist", err, connect.CodePermissionDenied)
		if _, err := lead.RotateApiKey(ctx, &adminv1.RotateApiKeyRequest{Id: k.GetApiKey().GetId()}); err != nil {
			t.Errorf("team admin rotates a team key: %v", err)
		}
		wk, err := r.root.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "wendy"}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = lead.RevokeApiKey(ctx, &adminv1.RevokeApiKeyRequest{Id: wk.GetApiKey().GetId()})
		wantCode(t, "revoke another team's key", err, connect.CodePermissionDenied)
		if _, err := lead.RevokeApiKey(ctx, &adminv1.RevokeApiKeyRequest{Id: k.GetApiKey().GetId()}); err != nil {
			t.Errorf("team admin revokes a team key: %v", err)
		}
		// The key list is narrowed to the team's.
		keys, err := lead.ListApiKeys(ctx, &adminv1.ListApiKeysRequest{})
		if err != nil {
			t.Fatal(err)
		}
		owners := map[string]int{}
		for _, k := range keys.GetApiKeys() {
			owners[k.GetUser()+k.GetVirtualAccount()]++
		}
		// The team's members without a role (noel, mike: two keys, one revoked), lena herself
		// (two, one revoked) and the team's virtual account; not boss's.
		if want := map[string]int{"lena": 2, "noel": 1, "mike": 2, "ml-svc": 1}; !maps.Equal(owners, want) {
			t.Errorf("team admin lists keys of %v, want %v", owners, want)
		}

		// Rate limits and budgets whose subjects are all the team's: yes; others: no.
		teamRL := &adminv1.RateLimit{Name: "ml-rpm", When: &adminv1.Condition{Subjects: []string{"team:ml", "user:mike", "virtualaccount:ml-svc"}}, Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 10}}}
		if _, err := lead.CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: teamRL}); err != nil {
			t.Errorf("team admin creates the team's rate limit: %v", err)
		}
		for _, subjects := range [][]string{nil, {"*"}, {"team:web"}, {"team:ml", "user:wendy"}, {"virtualaccount:web-svc"}} {
			rl := &adminv1.RateLimit{Name: "other", When: &adminv1.Condition{Subjects: subjects}, Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 10}}}
			_, err := lead.CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: rl})
			wantCode(t, fmt.Sprintf("rate limit for subjects %q", subjects), err, connect.CodePermissionDenied)
		}
		webRL := &adminv1.RateLimit{Name: "web-rpm", When: &adminv1.Condition{Subjects: []string{"team:web"}}, Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 10}}}
		if _, err := r.root.CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: webRL}); err != nil {
			t.Fatal(err)
		}
		// Moving another team's rule into the team, or the team's rule out of it: no.
		moved := &adminv1.RateLimit{Name: "web-rpm", When: &adminv1.Condition{Subjects: []string{"team:ml"}}, Limits: webRL.GetLimits()}
		_, err = lead.UpdateRateLimit(ctx, &adminv1.UpdateRateLimitRequest{RateLimit: moved})
		wantCode(t, "update another team's rate limit", err, connect.CodePermissionDenied)
		out := &adminv1.RateLimit{Name: "ml-rpm", When: &adminv1.Condition{Subjects: []string{"team:web"}}, Limits: teamRL.GetLimits()}
		_, err = lead.UpdateRateLimit(ctx, &adminv1.UpdateRateLimitRequest{RateLimit: out})
		wantCode(t, "move the team's rate limit to another team", err, connect.CodePermissionDenied)
		_, err = lead.DeleteRateLimit(ctx, &adminv1.DeleteRateLimitRequest{Name: "web-rpm"})
		wantCode(t, "delete another team's rate limit", err, connect.CodePermissionDenied)
		_, err = lead.GetRateLimit(ctx, &adminv1.GetRateLimitRequest{Name: "web-rpm"})
		wantCode(t, "get another team's rate limit", err, connect.CodePermissionDenied)
		rls, err := lead.ListRateLimits(ctx, &adminv1.ListRateLimitsRequest{})
		if err != nil || len(rls.GetRateLimits()) != 1 || rls.GetRateLimits()[0].GetName() != "ml-rpm" {
			t.Errorf("team admin's rate limits: %v, %v; want only ml-rpm", rls.GetRateLimits(), err)
		}
		b := &adminv1.Budget{Name: "ml-cost", When: &adminv1.Condition{Subjects: []string{"team:ml"}}, Unit: "cost_per_month", LimitTo: 10}
		if _, err := lead.CreateBudget(ctx, &adminv1.CreateBudgetRequest{Budget: b}); err != nil {
			t.Errorf("team admin creates the team's budget: %v", err)
		}
		_, err = lead.CreateBudget(ctx, &adminv1.CreateBudgetRequest{Budget: &adminv1.Budget{Name: "web-cost", When: &adminv1.Condition{Subjects: []string{"team:web"}}, Unit: "cost_per_month", LimitTo: 10}})
		wantCode(t, "another team's budget", err, connect.CodePermissionDenied)
		if _, err := lead.DeleteBudget(ctx, &adminv1.DeleteBudgetRequest{Name: "ml-cost"}); err != nil {
			t.Errorf("team admin deletes the team's budget: %v", err)
		}
		if _, err := lead.DeleteRateLimit(ctx, &adminv1.DeleteRateLimitRequest{Name: "ml-rpm"}); err != nil {
			t.Errorf("team admin deletes the team's rate limit: %v", err)
		}

		// Nothing else.
		_, err = lead.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "sneaky", Teams: []string{"ml"}}})
		wantCode(t, "team admin creates a user", err, connect.CodePermissionDenied)
		_, err = lead.UpdateUser(ctx, &adminv1.UpdateUserRequest{User: &adminv1.User{Name: "lena", Roles: []string{"admin"}}})
		wantCode(t, "team admin makes themself admin", err, connect.CodePermissionDenied)
		_, err = lead.ListUsers(ctx, &adminv1.ListUsersRequest{})
		wantCode(t, "team admin lists users", err, connect.CodePermissionDenied)
	})

	t.Run("audit", func(t *testing.T) {
		evs, err := r.root.ListAuditEvents(ctx, &adminv1.ListAuditEventsRequest{Principal: "user:lena", PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range evs.GetAuditEvents() {
			got = append(got, ev.GetRpc())
			if ev.GetKeyId() == "" {
				t.Errorf("event %s has no key id", ev.GetRpc())
			}
		}
		// Newest first; refused calls record nothing.
		want := []string{"DeleteRateLimit", "DeleteBudget", "CreateBudget", "CreateRateLimit", "RevokeApiKey", "RotateApiKey", "RevokeApiKey", "CreateApiKey", "CreateApiKey", "CreateApiKey"}
		if !slices.Equal(got, want) {
			t.Errorf("lena's audit events %q, want %q", got, want)
		}
		root, err := r.root.ListAuditEvents(ctx, &adminv1.ListAuditEventsRequest{Principal: store.PrincipalAdminToken, ResourceKind: store.AuditTeam})
		if err != nil || len(root.GetAuditEvents()) != 2 {
			t.Errorf("admin token's team events: %v, %v; want 2", root.GetAuditEvents(), err)
		}
	})
}

// TestGetCaller: every authenticated caller learns its principal, roles, teams and whether the
// Admin API serves it, including callers the rest of the Admin API refuses; no key, no answer.
func TestGetCaller(t *testing.T) {
	ctx := context.Background()
	r := newRBAC(t)
	if _, err := r.root.CreateTeam(ctx, &adminv1.CreateTeamRequest{Team: &adminv1.Team{Name: "ml"}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		client adminv1connect.AdminServiceClient
		want   *adminv1.GetCallerResponse
	}{
		{"admin token", r.root, &adminv1.GetCallerResponse{Principal: "admin-token", Roles: []string{"admin"}, AdminApi: true}},
		{"viewer", r.user(t, "vera", []string{"viewer"}, nil), &adminv1.GetCallerResponse{Principal: "user:vera", User: "vera", Roles: []string{"viewer"}, AdminApi: true}},
		{"team admin", r.user(t, "lena", []string{"team-admin"}, []string{"ml"}), &adminv1.GetCallerResponse{Principal: "user:lena", User: "lena", Roles: []string{"team-admin"}, Teams: []string{"ml"}, AdminApi: true}},
		{"user without a role", r.user(t, "noel", nil, []string{"ml"}), &adminv1.GetCallerResponse{Principal: "user:noel", User: "noel", Teams: []string{"ml"}}},
		{"admin with an inference-only key", r.user(t, "ina", []string{"admin"}, nil, snapshot.ScopeInference), &adminv1.GetCallerResponse{Principal: "user:ina", User: "ina", Roles: []string{"admin"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.client.GetCaller(ctx, &adminv1.GetCallerRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("GetCaller (-want +got):\n%s", diff)
			}
		})
	}
	_, err := r.client("not-a-key").GetCaller(ctx, &adminv1.GetCallerRequest{})
	wantCode(t, "GetCaller with an unknown key", err, connect.CodeUnauthenticated)
	// The rest of the Admin API still refuses the user without a role.
	_, err = cases[3].client.ListUsers(ctx, &adminv1.ListUsersRequest{})
	wantCode(t, "ListUsers by a user without a role", err, connect.CodePermissionDenied)
}
