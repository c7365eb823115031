package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/store"
)

// AuditRetention is the Options.AuditRetention the suite opens stores with.
const AuditRetention = 5

// testRoles: roles round-trip sorted and deduplicated, the admin bool adds and reports the
// admin role, unknown roles are refused, and the snapshot carries them.
func testRoles(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	must(st.CreateTeam(ctx, &adminv1.Team{Name: "ml"}))(t)
	v := must(st.CreateUser(ctx, &adminv1.User{Name: "vic", Roles: []string{"viewer", "team-admin", "viewer"}, Teams: []string{"ml"}}))(t)
	diff(t, "viewer", &adminv1.User{Name: "vic", Teams: []string{"ml"}, Roles: []string{"team-admin", "viewer"}}, v)
	// The admin bool of clients written before roles is the admin role.
	a := must(st.CreateUser(ctx, &adminv1.User{Name: "ann", Admin: true}))(t)
	diff(t, "admin bool", &adminv1.User{Name: "ann", Admin: true, Roles: []string{"admin"}}, a)
	a = must(st.UpdateUser(ctx, &adminv1.User{Name: "ann", Roles: []string{"admin", "viewer"}}))(t)
	diff(t, "admin role", &adminv1.User{Name: "ann", Admin: true, Roles: []string{"admin", "viewer"}}, a)
	a = must(st.UpdateUser(ctx, &adminv1.User{Name: "ann", Roles: []string{"viewer"}}))(t)
	diff(t, "admin role removed", &adminv1.User{Name: "ann", Roles: []string{"viewer"}}, a)
	wantErr(t, second(st.CreateUser(ctx, &adminv1.User{Name: "x", Roles: []string{"root"}})), apierr.KindInvalidRequest, "user.roles")
	wantErr(t, second(st.UpdateUser(ctx, &adminv1.User{Name: "vic", Roles: []string{"Admin"}})), apierr.KindInvalidRequest, "user.roles")

	// A row written before roles existed has only the admin column: it keeps the admin role.
	if _, err := st.DB().ExecContext(ctx, "UPDATE users SET admin = true, roles = NULL WHERE name = 'vic'"); err != nil {
		t.Fatal(err)
	}
	diff(t, "legacy admin row", &adminv1.User{Name: "vic", Teams: []string{"ml"}, Admin: true, Roles: []string{"admin"}}, must(st.GetUser(ctx, "vic"))(t))
	ok(t, second(st.UpdateUser(ctx, &adminv1.User{Name: "vic", Teams: []string{"ml"}, Roles: []string{"team-admin"}})))

	cfg := snap(t, st)
	users := map[string]snapshot.User{}
	for _, u := range cfg.Users {
		users[u.Name] = u
	}
	if u := users["vic"]; !slices.Equal(u.Roles, []string{"team-admin"}) || u.Admin {
		t.Errorf("snapshot vic = %+v, want roles [team-admin], not admin", u)
	}
	if u := users["ann"]; !slices.Equal(u.Roles, []string{"viewer"}) || u.Admin {
		t.Errorf("snapshot ann = %+v, want roles [viewer]", u)
	}
}

// testKeyScopes: scopes are stored, listed and carried by the snapshot; none means both;
// an unknown scope is refused.
func testKeyScopes(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	must(st.CreateUser(ctx, &adminv1.User{Name: "ann", Roles: []string{"admin"}}))(t)
	owner := &adminv1.ApiKey_User{User: "ann"}
	inf, _ := must2(st.CreateAPIKey(ctx, &adminv1.ApiKey{Name: "inf", Owner: owner, Scopes: []string{"inference"}}))(t)
	adm, _ := must2(st.CreateAPIKey(ctx, &adminv1.ApiKey{Name: "adm", Owner: owner, Scopes: []string{"admin", "admin"}}))(t)
	both, _ := must2(st.CreateAPIKey(ctx, &adminv1.ApiKey{Name: "both", Owner: owner}))(t)
	if !slices.Equal(inf.GetScopes(), []string{"inference"}) || !slices.Equal(adm.GetScopes(), []string{"admin"}) || len(both.GetScopes()) != 0 {
		t.Errorf("scopes: inf %v, adm %v, both %v", inf.GetScopes(), adm.GetScopes(), both.GetScopes())
	}
	wantErr(t, second3(st.CreateAPIKey(ctx, &adminv1.ApiKey{Owner: owner, Scopes: []string{"usage"}})), apierr.KindInvalidRequest, "api_key.scopes")
	// Rotation keeps the scopes.
	must2(st.RotateAPIKey(ctx, &adminv1.RotateApiKeyRequest{Id: adm.GetId()}))(t)
	cfg := snap(t, st)
	for id, want := range map[string][]string{inf.GetId(): {"inference"}, adm.GetId(): {"admin"}, both.GetId(): nil} {
		k, found := keyOf(cfg, id)
		if !found || !slices.Equal(k.Scopes, want) {
			t.Errorf("snapshot key %s scopes %v, want %v", id, k.Scopes, want)
		}
	}
}

// audited returns ctx carrying an audit of the admin token for kind and name.
func audited(ctx context.Context, rpc, action, kind, name string) context.Context {
	return store.WithAudit(ctx, store.Audit{Principal: "user:root", KeyID: "key_1", RPC: rpc, Action: action, Kind: kind, Name: name})
}

func listAudit(t *testing.T, st *store.Store, in *adminv1.ListAuditEventsRequest) []*adminv1.AuditEvent {
	t.Helper()
	evs, _, err := st.ListAuditEvents(t.Context(), in)
	ok(t, err)
	return evs
}

// testAudit: audited writes record who, what and the resource before and after, without
// secrets; failed writes and unaudited writes record nothing; filters work.
func testAudit(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	const providerKey = "sk-provider-secret-1234567890"
	const hmac = "audit-webhook-hmac-secret-42"
	const slackPath = "/services/TSECRET/BSECRET/slacktoken"

	t0 := time.Now().Add(-time.Second)
	must(st.CreateProviderAccount(audited(ctx, "CreateProviderAccount", "create", store.AuditProviderAccount, "acme"), &adminv1.ProviderAccount{Name: "acme", Provider: "openai", ApiKey: providerKey}))(t)
	must(st.UpdateProviderAccount(audited(ctx, "UpdateProviderAccount", "update", store.AuditProviderAccount, "acme"), &adminv1.ProviderAccount{Name: "acme", Provider: "openai", BaseUrl: "http://acme.example", ApiKey: providerKey + "-2"}))(t)
	must(st.CreateTeam(ctx, &adminv1.Team{Name: "ml"}))(t) // not audited: no audit in the context
	must(st.CreateUser(audited(ctx, "CreateUser", "create", store.AuditUser, "bob"), &adminv1.User{Name: "bob", Teams: []string{"ml"}}))(t)
	key, secret := must2(st.CreateAPIKey(audited(ctx, "CreateApiKey", "create", store.AuditAPIKey, ""), &adminv1.ApiKey{Name: "k", Owner: &adminv1.ApiKey_User{User: "bob"}}))(t)
	_, rotated := must2(st.RotateAPIKey(audited(ctx, "RotateApiKey", "rotate", store.AuditAPIKey, key.GetId()), &adminv1.RotateApiKeyRequest{Id: key.GetId(), GracePeriod: durationpb.New(time.Hour)}))(t)
	must(st.CreateBudget(audited(ctx, "CreateBudget", "create", store.AuditBudget, "b"), &adminv1.Budget{
		Name: "b", When: &adminv1.Condition{Subjects: []string{"team:ml"}}, Unit: "cost_per_month", LimitTo: 10,
		Alerts: &adminv1.BudgetAlerts{Thresholds: []int32{50}, NotificationTarget: []*adminv1.NotificationTarget{
			{Type: "webhook", Url: "https://hooks.example.com/x", Secret: hmac},
			{Type: "slack-webhook", Url: "https://hooks.slack.com" + slackPath},
		}},
	}))(t)
	// A failed write records nothing.
	if _, err := st.CreateUser(audited(ctx, "CreateUser", "create", store.AuditUser, "bob"), &adminv1.User{Name: "bob"}); err == nil {
		t.Fatal("duplicate user created")
	}

	evs := listAudit(t, st, &adminv1.ListAuditEventsRequest{})
	// Retention keeps the last AuditRetention; six were written.
	if len(evs) != AuditRetention {
		t.Fatalf("%d events, want %d (the bound)", len(evs), AuditRetention)
	}
	got := make([]string, len(evs))
	for i, ev := range evs {
		got[i] = ev.GetRpc() + " " + ev.GetResourceKind() + " " + ev.GetResourceName()
		if ev.GetPrincipal() != "user:root" || ev.GetKeyId() != "key_1" || ev.GetTime().AsTime().Before(t0) {
			t.Errorf("event %s: principal %q key %q time %v", got[i], ev.GetPrincipal(), ev.GetKeyId(), ev.GetTime().AsTime())
		}
		b, err := protojson.Marshal(ev)
		ok(t, err)
		for _, s := range []string{providerKey, hmac, slackPath, "TSECRET", secret, rotated, snapshot.KeyHash(secret), snapshot.KeyHash(rotated)} {
			if strings.Contains(string(b), s) {
				t.Errorf("event %s holds a secret (%.12s...): %s", got[i], s, b)
			}
		}
	}
	want := []string{
		"CreateBudget budget b",
		"RotateApiKey api_key " + key.GetId(),
		"CreateApiKey api_key " + key.GetId(),
		"CreateUser user bob",
		"UpdateProviderAccount provider_account acme",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events (newest first) = %q, want %q", got, want)
	}

	// Before and after, and the fields that changed.
	upd := evs[4]
	if upd.GetBefore().GetFields()["base_url"] != nil || upd.GetAfter().GetFields()["base_url"].GetStringValue() != "http://acme.example" {
		t.Errorf("update before %v after %v: want base_url unset, then set", upd.GetBefore(), upd.GetAfter())
	}
	if !slices.Contains(upd.GetChangedFields(), "base_url") || slices.Contains(upd.GetChangedFields(), "provider") {
		t.Errorf("changed fields %v: want base_url and not provider", upd.GetChangedFields())
	}
	if !upd.GetAfter().GetFields()["has_api_key"].GetBoolValue() {
		t.Errorf("after %v: want has_api_key", upd.GetAfter())
	}
	create := evs[3]
	if create.GetBefore() != nil || create.GetAfter().GetFields()["name"].GetStringValue() != "bob" || create.GetAction() != "create" {
		t.Errorf("create event: before %v after %v action %q", create.GetBefore(), create.GetAfter(), create.GetAction())
	}
	rot := evs[1]
	if !slices.Contains(rot.GetChangedFields(), "prefix") || rot.GetAfter().GetFields()["previous_prefix"].GetStringValue() != key.GetPrefix() {
		t.Errorf("rotate event: changed %v after %v", rot.GetChangedFields(), rot.GetAfter())
	}

	// A delete has a before and no after.
	ok(t, st.DeleteUser(audited(ctx, "DeleteUser", "delete", store.AuditUser, "bob"), "bob"))
	del := listAudit(t, st, &adminv1.ListAuditEventsRequest{ResourceKind: store.AuditUser})
	if len(del) == 0 || del[0].GetAction() != "delete" || del[0].GetAfter() != nil || del[0].GetBefore().GetFields()["name"].GetStringValue() != "bob" {
		t.Fatalf("delete event: %v", del)
	}

	// Filters: kind, principal, time range.
	for _, ev := range del {
		if ev.GetResourceKind() != store.AuditUser {
			t.Errorf("kind filter let %s through", ev.GetResourceKind())
		}
	}
	must(st.CreateTeam(store.WithAudit(ctx, store.Audit{Principal: store.PrincipalAdminToken, RPC: "CreateTeam", Action: "create", Kind: store.AuditTeam, Name: "web"}), &adminv1.Team{Name: "web"}))(t)
	if evs := listAudit(t, st, &adminv1.ListAuditEventsRequest{Principal: store.PrincipalAdminToken}); len(evs) != 1 || evs[0].GetResourceName() != "web" || evs[0].GetKeyId() != "" {
		t.Errorf("principal filter: %v", evs)
	}
	if evs := listAudit(t, st, &adminv1.ListAuditEventsRequest{EndTime: timestamppb.New(t0)}); len(evs) != 0 {
		t.Errorf("end_time before every event: %d events", len(evs))
	}
	if evs := listAudit(t, st, &adminv1.ListAuditEventsRequest{StartTime: timestamppb.New(time.Now().Add(time.Minute))}); len(evs) != 0 {
		t.Errorf("start_time after every event: %d events", len(evs))
	}
	if evs := listAudit(t, st, &adminv1.ListAuditEventsRequest{StartTime: timestamppb.New(t0), EndTime: timestamppb.New(time.Now().Add(time.Minute))}); len(evs) != AuditRetention {
		t.Errorf("range around every event: %d events, want %d", len(evs), AuditRetention)
	}
}

// testAuditRetention: the log never holds more than AuditRetention events, and the ones kept
// are the newest.
func testAuditRetention(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	for i := range 3 * AuditRetention {
		name := "t" + string(rune('a'+i))
		must(st.CreateTeam(audited(ctx, "CreateTeam", "create", store.AuditTeam, name), &adminv1.Team{Name: name}))(t)
		evs := listAudit(t, st, &adminv1.ListAuditEventsRequest{PageSize: 1000})
		if len(evs) > AuditRetention {
			t.Fatalf("after %d writes the log holds %d events, more than the bound %d", i+1, len(evs), AuditRetention)
		}
		if evs[0].GetResourceName() != name {
			t.Fatalf("newest event is %s, want %s", evs[0].GetResourceName(), name)
		}
	}
	n, err := st.DB().QueryContext(ctx, "SELECT COUNT(*) FROM audit_events")
	ok(t, err)
	defer n.Close()
	var rows int
	for n.Next() {
		ok(t, n.Scan(&rows))
	}
	if rows != AuditRetention {
		t.Errorf("audit_events holds %d rows, want %d", rows, AuditRetention)
	}
}

// testAuditPages: page size and tokens walk the log newest first without gaps or repeats.
func testAuditPages(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	for _, name := range []string{"a", "b", "c", "d"} {
		must(st.CreateTeam(audited(ctx, "CreateTeam", "create", store.AuditTeam, name), &adminv1.Team{Name: name}))(t)
	}
	var got []string
	tok := ""
	for range 10 {
		evs, next, err := st.ListAuditEvents(ctx, &adminv1.ListAuditEventsRequest{PageSize: 3, PageToken: tok})
		ok(t, err)
		for _, ev := range evs {
			got = append(got, ev.GetResourceName())
		}
		if tok = next; tok == "" {
			break
		}
	}
	if !slices.Equal(got, []string{"d", "c", "b", "a"}) {
		t.Errorf("paged names %v, want d c b a", got)
	}
	wantErr(t, second3(st.ListAuditEvents(ctx, &adminv1.ListAuditEventsRequest{PageToken: "nope"})), apierr.KindInvalidRequest, "page_token")
	wantErr(t, second3(st.ListAuditEvents(ctx, &adminv1.ListAuditEventsRequest{PageSize: -1})), apierr.KindInvalidRequest, "page_size")
}
