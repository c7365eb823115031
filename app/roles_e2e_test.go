package app

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// keyClient is a Connect client of g's Admin API that sends secret.
func (g *gateway) keyClient(secret string) adminv1connect.AdminServiceClient {
	return adminv1connect.NewAdminServiceClient(http.DefaultClient, g.URL, connect.WithInterceptors(bearer(secret)))
}

// roleKey creates user name with roles and teams and a key of theirs with scopes (none: both),
// and returns its secret.
func roleKey(t *testing.T, admin adminv1connect.AdminServiceClient, name string, roles, teams, scopes []string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := admin.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: name, Roles: roles, Teams: teams}}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("create user %s: %v", name, err)
	}
	k, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: name, Owner: &adminv1.ApiKey_User{User: name}, Scopes: scopes}})
	if err != nil {
		t.Fatalf("create key for %s: %v", name, err)
	}
	return k.GetSecret()
}

func connectCode(err error) connect.Code {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code()
	}
	if err == nil {
		return 0
	}
	return connect.CodeUnknown
}

// TestRolesAuditAndScopes, with the official Connect client: a viewer reads (no secret in any
// answer) and is refused every write with PermissionDenied (REST: 403); a team admin manages
// their team's keys and limits and nothing of another team; every write is in the audit log
// (Connect and REST GET /api/v1/audit-events) with before and after and no secret value; an
// inference-scoped key of an admin cannot call the Admin API and an admin-scoped key cannot
// call inference.
func TestRolesAuditAndScopes(t *testing.T) {
	g := startGateway(t, nil)
	ctx := context.Background()
	root := g.adminClient()
	const providerSecret = "sk-live-provider-secret-0123456789"
	const providerSecret2 = "sk-live-provider-secret-rotated-9876"
	const hookSecret = "whsec-audit-hmac-secret-abcdef"
	const slackToken = "XOXBSLACKTOKENPATH"

	for _, team := range []string{"ml", "web"} {
		if _, err := root.CreateTeam(ctx, &adminv1.CreateTeamRequest{Team: &adminv1.Team{Name: team}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := root.CreateProviderAccount(ctx, &adminv1.CreateProviderAccountRequest{ProviderAccount: &adminv1.ProviderAccount{Name: "acme", Provider: "openai", ApiKey: providerSecret}}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.UpdateProviderAccount(ctx, &adminv1.UpdateProviderAccountRequest{ProviderAccount: &adminv1.ProviderAccount{Name: "acme", Provider: "openai", BaseUrl: "https://acme.example/v1", ApiKey: providerSecret2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.CreateBudget(ctx, &adminv1.CreateBudgetRequest{Budget: &adminv1.Budget{
		Name: "web-cost", When: &adminv1.Condition{Subjects: []string{"team:web"}}, Unit: "cost_per_month", LimitTo: 50,
		Alerts: &adminv1.BudgetAlerts{Thresholds: []int32{80}, NotificationTarget: []*adminv1.NotificationTarget{
			{Type: "webhook", Url: "https://hooks.example.com/llmgw", Secret: hookSecret},
			{Type: "slack-webhook", Url: "https://hooks.slack.com/services/T0/B0/" + slackToken},
		}},
	}}); err != nil {
		t.Fatal(err)
	}
	secrets := []string{providerSecret, providerSecret2, hookSecret, slackToken}
	keep := func(s string) string { secrets = append(secrets, s); return s }
	viewerKey := keep(roleKey(t, root, "vera", []string{"viewer"}, nil, nil))
	leadKey := keep(roleKey(t, root, "lena", []string{"team-admin"}, []string{"ml"}, nil))
	keep(roleKey(t, root, "mike", nil, []string{"ml"}, nil))
	keyOf := map[string]string{"wendy": keep(roleKey(t, root, "wendy", nil, []string{"web"}, nil))}
	inferenceKey := keep(roleKey(t, root, "ada", []string{"admin"}, nil, []string{"inference"}))
	adminKey := keep(roleKey(t, root, "ada", nil, nil, []string{"admin"}))

	t.Run("viewer", func(t *testing.T) {
		viewer := g.keyClient(viewerKey)
		var answers []proto.Message
		for _, call := range []func() (proto.Message, error){
			func() (proto.Message, error) {
				return viewer.ListProviderAccounts(ctx, &adminv1.ListProviderAccountsRequest{})
			},
			func() (proto.Message, error) {
				return viewer.GetProviderAccount(ctx, &adminv1.GetProviderAccountRequest{Name: "acme"})
			},
			func() (proto.Message, error) { return viewer.ListBudgets(ctx, &adminv1.ListBudgetsRequest{}) },
			func() (proto.Message, error) { return viewer.ListUsers(ctx, &adminv1.ListUsersRequest{}) },
			func() (proto.Message, error) { return viewer.ListApiKeys(ctx, &adminv1.ListApiKeysRequest{}) },
			func() (proto.Message, error) { return viewer.ListAuditEvents(ctx, &adminv1.ListAuditEventsRequest{}) },
		} {
			m, err := call()
			if err != nil {
				t.Fatalf("viewer read: %v", err)
			}
			answers = append(answers, m)
		}
		for _, m := range answers {
			b, _ := protojson.Marshal(m)
			for _, s := range []string{providerSecret, providerSecret2, hookSecret} {
				if strings.Contains(string(b), s) {
					t.Errorf("a viewer's answer holds a secret: %s", b)
				}
			}
		}
		writes := map[string]error{}
		_, writes["CreateTeam"] = viewer.CreateTeam(ctx, &adminv1.CreateTeamRequest{Team: &adminv1.Team{Name: "v"}})
		_, writes["UpdateProviderAccount"] = viewer.UpdateProviderAccount(ctx, &adminv1.UpdateProviderAccountRequest{ProviderAccount: &adminv1.ProviderAccount{Name: "acme", Provider: "openai"}})
		_, writes["CreateApiKey"] = viewer.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "vera"}}})
		_, writes["DeleteBudget"] = viewer.DeleteBudget(ctx, &adminv1.DeleteBudgetRequest{Name: "web-cost"})
		_, writes["UpdateUser"] = viewer.UpdateUser(ctx, &adminv1.UpdateUserRequest{User: &adminv1.User{Name: "vera", Roles: []string{"admin"}}})
		for rpc, err := range writes {
			if connectCode(err) != connect.CodePermissionDenied {
				t.Errorf("viewer %s: %v, want PermissionDenied", rpc, err)
			}
		}
		if resp, body := g.do(t, "POST", "/api/v1/teams", viewerKey, `{"name":"rest"}`); resp.StatusCode != http.StatusForbidden {
			t.Errorf("viewer REST POST /api/v1/teams: %d %s, want 403", resp.StatusCode, body)
		}
		if resp, body := g.do(t, "GET", "/api/v1/teams", viewerKey, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("viewer REST GET /api/v1/teams: %d %s, want 200", resp.StatusCode, body)
		}
		// The Usage API: a viewer reads everyone's usage; a user without a role only their own.
		byUser := &usagev1.GetCostBreakdownRequest{Filter: &usagev1.Filter{Users: []string{"mike"}}}
		if _, err := g.usageClient(viewerKey).GetCostBreakdown(ctx, byUser); err != nil {
			t.Errorf("viewer reads mike's usage: %v", err)
		}
		if _, err := g.usageClient(keyOf["wendy"]).GetCostBreakdown(ctx, byUser); connectCode(err) != connect.CodePermissionDenied {
			t.Errorf("wendy reads mike's usage: %v, want PermissionDenied", err)
		}
	})

	t.Run("team admin", func(t *testing.T) {
		lead := g.keyClient(leadKey)
		k, err := lead.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: "ci", Owner: &adminv1.ApiKey_User{User: "mike"}}})
		if err != nil {
			t.Fatalf("team admin creates a key for a member: %v", err)
		}
		keep(k.GetSecret())
		r, err := lead.RotateApiKey(ctx, &adminv1.RotateApiKeyRequest{Id: k.GetApiKey().GetId(), GracePeriod: durationpb.New(60e9)})
		if err != nil {
			t.Fatalf("team admin rotates it: %v", err)
		}
		keep(r.GetSecret())
		if _, err := lead.CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: &adminv1.RateLimit{Name: "ml-rpm", When: &adminv1.Condition{Subjects: []string{"team:ml"}}, Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 100}}}}); err != nil {
			t.Errorf("team admin creates the team's rate limit: %v", err)
		}
		denied := map[string]error{}
		_, denied["key for another team"] = lead.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "wendy"}}})
		_, denied["rate limit of another team"] = lead.CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: &adminv1.RateLimit{Name: "web-rpm", When: &adminv1.Condition{Subjects: []string{"team:web"}}, Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 1}}}})
		_, denied["budget of another team"] = lead.UpdateBudget(ctx, &adminv1.UpdateBudgetRequest{Budget: &adminv1.Budget{Name: "web-cost", When: &adminv1.Condition{Subjects: []string{"team:ml"}}, Unit: "cost_per_month", LimitTo: 1}})
		_, denied["rate limit for everyone"] = lead.CreateRateLimit(ctx, &adminv1.CreateRateLimitRequest{RateLimit: &adminv1.RateLimit{Name: "all", Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 1}}}})
		_, denied["a user"] = lead.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "x", Teams: []string{"ml"}}})
		_, denied["a team"] = lead.UpdateTeam(ctx, &adminv1.UpdateTeamRequest{Team: &adminv1.Team{Name: "web", Description: "mine"}})
		for what, err := range denied {
			if connectCode(err) != connect.CodePermissionDenied {
				t.Errorf("team admin, %s: %v, want PermissionDenied", what, err)
			}
		}
		b, err := lead.ListBudgets(ctx, &adminv1.ListBudgetsRequest{})
		if err != nil || len(b.GetBudgets()) != 0 {
			t.Errorf("team admin sees budgets %v (%v); want none of another team", b.GetBudgets(), err)
		}
	})

	t.Run("scopes", func(t *testing.T) {
		_, err := g.keyClient(inferenceKey).ListUsers(ctx, &adminv1.ListUsersRequest{})
		if connectCode(err) != connect.CodePermissionDenied {
			t.Errorf("inference-scoped key of an admin on the Admin API: %v, want PermissionDenied", err)
		}
		if resp, _ := g.do(t, "GET", "/api/v1/users", inferenceKey, ""); resp.StatusCode != http.StatusForbidden {
			t.Errorf("inference-scoped key on REST admin: %d, want 403", resp.StatusCode)
		}
		if st := chatStatus(g, inferenceKey); st != http.StatusOK {
			t.Errorf("inference-scoped key on inference: %d, want 200", st)
		}
		if _, err := g.keyClient(adminKey).ListUsers(ctx, &adminv1.ListUsersRequest{}); err != nil {
			t.Errorf("admin-scoped key on the Admin API: %v", err)
		}
		if st := chatStatus(g, adminKey); st != http.StatusForbidden {
			t.Errorf("admin-scoped key on inference: %d, want 403", st)
		}
		if resp, body := g.do(t, "GET", "/v1/models", adminKey, ""); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "scope") {
			t.Errorf("admin-scoped key on /v1/models: %d %s, want 403 naming the scope", resp.StatusCode, body)
		}
	})

	t.Run("audit", func(t *testing.T) {
		var all []*adminv1.AuditEvent
		tok := ""
		for {
			page, err := root.ListAuditEvents(ctx, &adminv1.ListAuditEventsRequest{PageSize: 7, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page.GetAuditEvents()...)
			if tok = page.GetNextPageToken(); tok == "" {
				break
			}
		}
		var rpcs []string
		for _, ev := range all {
			rpcs = append(rpcs, ev.GetPrincipal()+" "+ev.GetRpc()+" "+ev.GetResourceName())
		}
		slices.Reverse(rpcs)
		want := []string{
			"admin-token CreateTeam ml", "admin-token CreateTeam web",
			"admin-token CreateProviderAccount acme", "admin-token UpdateProviderAccount acme",
			"admin-token CreateBudget web-cost",
		}
		for _, u := range []string{"vera", "lena", "mike", "wendy", "ada"} {
			want = append(want, "admin-token CreateUser "+u, "admin-token CreateApiKey ")
		}
		want = append(want[:len(want)-1], "admin-token CreateApiKey ", "admin-token CreateApiKey ") // ada: one user, two keys
		want = append(want, "user:lena CreateApiKey ", "user:lena RotateApiKey ", "user:lena CreateRateLimit ml-rpm")
		var trimmed []string
		for _, r := range rpcs { // key ids are drawn: compare without them
			if strings.Contains(r, "ApiKey key_") {
				r = r[:strings.Index(r, "key_")]
			}
			trimmed = append(trimmed, r)
		}
		if !slices.Equal(trimmed, want) {
			t.Errorf("audit log (oldest first):\n%q\nwant:\n%q", trimmed, want)
		}
		for _, ev := range all {
			if ev.GetRpc() == "UpdateProviderAccount" {
				if ev.GetBefore().GetFields()["base_url"] != nil || ev.GetAfter().GetFields()["base_url"].GetStringValue() != "https://acme.example/v1" || !slices.Contains(ev.GetChangedFields(), "base_url") {
					t.Errorf("update event: before %v, after %v, changed %v", ev.GetBefore(), ev.GetAfter(), ev.GetChangedFields())
				}
			}
			if ev.GetPrincipal() == "user:lena" && !strings.HasPrefix(ev.GetKeyId(), "key_") {
				t.Errorf("lena's event %s has key id %q", ev.GetRpc(), ev.GetKeyId())
			}
		}
		// The whole log, over Connect and REST, holds no secret value.
		b, _ := protojson.Marshal(&adminv1.ListAuditEventsResponse{AuditEvents: all})
		resp, rest := g.do(t, "GET", "/api/v1/audit-events?pageSize=1000", g.Token, "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(rest, "UpdateProviderAccount") {
			t.Fatalf("GET /api/v1/audit-events: %d %.300s", resp.StatusCode, rest)
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) || strings.Contains(rest, s) {
				t.Errorf("the audit log holds the secret %.10s...", s)
			}
		}
		if resp, _ := g.do(t, "GET", "/api/v1/audit-events?resourceKind=budget", viewerKey, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("viewer GET /api/v1/audit-events: %d", resp.StatusCode)
		}
	})
}

// TestKeyGraceAndScopesOnEveryReplica: a rotation's grace period, a key's expiry and its scope
// hold on every gateway replica, which get them only from the control plane's config: during
// the grace period both secrets work on each replica; a rotation without one ends the old
// secret on each; an expired key is refused by each; an admin-scoped key is refused inference
// on each.
func TestKeyGraceAndScopesOnEveryReplica(t *testing.T) {
	rs := startReplicaSet(t, 2)
	ctx := context.Background()
	admin := rs.control.adminClient()
	if _, err := admin.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "ana", Teams: []string{"testers"}}}); err != nil {
		t.Fatal(err)
	}
	k, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "ana"}}})
	if err != nil {
		t.Fatal(err)
	}
	old := k.GetSecret()
	rs.propagation(t, old, http.StatusOK, func() {})
	r, err := admin.RotateApiKey(ctx, &adminv1.RotateApiKeyRequest{Id: k.GetApiKey().GetId(), GracePeriod: durationpb.New(3600e9)})
	if err != nil {
		t.Fatal(err)
	}
	if d := rs.propagation(t, r.GetSecret(), http.StatusOK, func() {}); d > 10e9 {
		t.Fatal("the new secret did not reach every replica")
	}
	for i, g := range rs.gateways {
		if st := chatStatus(g, old); st != http.StatusOK {
			t.Errorf("replica %d: the old secret in its grace period answers %d, want 200", i, st)
		}
	}
	r2, err := admin.RotateApiKey(ctx, &adminv1.RotateApiKeyRequest{Id: k.GetApiKey().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if d := rs.propagation(t, r2.GetSecret(), http.StatusOK, func() {}); d > 10e9 {
		t.Fatal("the third secret did not reach every replica")
	}
	for i, g := range rs.gateways {
		if st := chatStatus(g, old); st != http.StatusUnauthorized {
			t.Errorf("replica %d: the first secret after a rotation without grace answers %d, want 401", i, st)
		}
		if st := chatStatus(g, r.GetSecret()); st != http.StatusUnauthorized {
			t.Errorf("replica %d: the second secret after a rotation without grace answers %d, want 401", i, st)
		}
	}

	// An expiry holds on every replica too.
	ek, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "ana"}, ExpireTime: timestamppb.New(time.Now().Add(3 * time.Second))}})
	if err != nil {
		t.Fatal(err)
	}
	if d := rs.propagation(t, ek.GetSecret(), http.StatusOK, func() {}); d > 10e9 {
		t.Fatal("the expiring key did not reach every replica before it expired")
	}
	if d := rs.propagation(t, ek.GetSecret(), http.StatusUnauthorized, func() {}); d > 10e9 {
		t.Error("the expired key still works on a replica")
	}

	ak, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "ana"}, Scopes: []string{"admin"}}})
	if err != nil {
		t.Fatal(err)
	}
	ik, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "ana"}, Scopes: []string{"inference"}}})
	if err != nil {
		t.Fatal(err)
	}
	if d := rs.propagation(t, ik.GetSecret(), http.StatusOK, func() {}); d > 10e9 {
		t.Fatal("the inference-scoped key did not reach every replica")
	}
	for i, g := range rs.gateways {
		if st := chatStatus(g, ak.GetSecret()); st != http.StatusForbidden {
			t.Errorf("replica %d: an admin-scoped key on inference answers %d, want 403", i, st)
		}
	}
}
