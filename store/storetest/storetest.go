// Package storetest is the conformance suite for package store: every behaviour the admin API
// and the data plane rely on, run against each database the store supports.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/masterkey"
	"github.com/llmgw/llmgw/store"
)

// Opener returns a migrated store on a fresh, empty database, opened with opts. It closes the
// store when the test ends.
type Opener func(t *testing.T, opts store.Options) *store.Store

// MasterKey is the master key the suite passes in Options.
var MasterKey = bytes.Repeat([]byte{7}, masterkey.Size)

// Run runs the conformance suite, opening a fresh store for each subtest.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"ProviderAccounts", testProviderAccounts},
		{"Models", testModels},
		{"UsersAndTeams", testUsersAndTeams},
		{"VirtualAccounts", testVirtualAccounts},
		{"APIKeys", testAPIKeys},
		{"AuthzRules", testAuthzRules},
		{"VirtualModels", testVirtualModels},
		{"RoutingRules", testRoutingRules},
		{"RoutingSnapshot", testRoutingSnapshot},
		{"RateLimits", testRateLimits},
		{"Budgets", testBudgets},
		{"AdminToken", testAdminToken},
		{"State", testState},
		{"OnChange", testOnChange},
		{"Snapshot", testSnapshot},
		{"GatewayTokens", testGatewayTokens},
		{"IdentityProviders", testIdentityProviders},
		{"Revision", testRevision},
		{"AdapterCheck", testAdapterCheck},
		{"Roles", testRoles},
		{"KeyScopes", testKeyScopes},
		{"Audit", testAudit},
		{"AuditRetention", testAuditRetention},
		{"AuditPages", testAuditPages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &harness{}
			h.st = open(t, store.Options{
				MasterKey:         MasterKey,
				OnChange:          func() { h.changes.Add(1) },
				FileVirtualModels: []string{FileVirtualModel},
				FileRoutingRules:  []string{FileRoutingRule},
				AuditRetention:    AuditRetention,
				ValidateProvider: func(kind string) error {
					if kind == "bogus" {
						return errors.New("unknown provider")
					}
					return nil
				},
				ValidateModel: func(cfg provider.Config) error {
					h.mu.Lock()
					h.checked = append(h.checked, cfg)
					h.mu.Unlock()
					if cfg.Settings["region"] == "us_east_1" {
						return errors.New(`setting region "us_east_1" is not a region name`)
					}
					return nil
				},
			})
			tt.fn(t, h)
		})
	}
}

// harness is one subtest's store and the number of OnChange calls it made.
type harness struct {
	st      *store.Store
	changes counter

	mu      sync.Mutex
	checked []provider.Config // what ValidateModel was given, in order
}

// lastChecked returns the config ValidateModel was last given.
func (h *harness) lastChecked(t *testing.T) provider.Config {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.checked) == 0 {
		t.Fatal("ValidateModel was never called")
	}
	return h.checked[len(h.checked)-1]
}

// ignoreTimes ignores the output-only timestamps that the store sets.
var ignoreTimes = []cmp.Option{
	protocmp.Transform(),
	protocmp.IgnoreFields(&adminv1.ProviderAccount{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.Model{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.User{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.Team{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.VirtualAccount{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.AuthzRule{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.VirtualModel{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.RoutingRule{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.RateLimit{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.Budget{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.IdentityProvider{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.ApiKey{}, "create_time", "last_used_time", "revoke_time"),
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, ignoreTimes...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// must returns v, failing the test given to the result when err is not nil:
// must(st.GetUser(ctx, "a"))(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// wantErr checks that err is an *apierr.Error of the kind naming param ("" for any param).
func wantErr(t *testing.T, err error, kind apierr.Kind, param string) {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want an *apierr.Error of kind %v", err, kind)
	}
	if e.Kind != kind {
		t.Fatalf("error kind = %v (%v), want %v", e.Kind, err, kind)
	}
	if param != "" && e.Param != param {
		t.Fatalf("error param = %q (%v), want %q", e.Param, err, param)
	}
}

func snap(t *testing.T, st *store.Store) *snapshot.Config {
	t.Helper()
	ctx := t.Context()
	return must(st.SnapshotConfig(ctx))(t)
}

// rawContains reports whether any value of column in table contains needle, read around the
// store.
func rawContains(t *testing.T, st *store.Store, table, column, needle string) bool {
	t.Helper()
	ctx := t.Context()
	rows, err := st.DB().QueryContext(ctx, "SELECT "+column+" FROM "+table)
	if err != nil {
		t.Fatalf("raw query: %v", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatalf("raw scan: %v", err)
		}
		if len(b) > 0 {
			n++
		}
		if bytes.Contains(b, []byte(needle)) {
			return true
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("raw rows: %v", err)
	}
	if n == 0 {
		t.Fatalf("raw query: no sealed values in %s.%s", table, column)
	}
	return false
}

func testProviderAccounts(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	const secret = "sk-plaintext-account-secret-123"
	in := &adminv1.ProviderAccount{Name: "openai-main", Provider: "openai", BaseUrl: "https://api.example.com/v1", ApiKey: secret, Settings: map[string]string{"api_version": "2024-10-21"}}
	got := must(st.CreateProviderAccount(ctx, in))(t)
	want := &adminv1.ProviderAccount{Name: "openai-main", Provider: "openai", BaseUrl: "https://api.example.com/v1", HasApiKey: true, Settings: map[string]string{"api_version": "2024-10-21"}}
	diff(t, "created", want, got)
	if got.GetCreateTime() == nil || got.GetUpdateTime() == nil {
		t.Errorf("created account has no times: %v", got)
	}
	diff(t, "get", want, must(st.GetProviderAccount(ctx, "openai-main"))(t))
	must(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "anthropic", Provider: "anthropic"}))(t)
	diff(t, "list", []*adminv1.ProviderAccount{
		{Name: "anthropic", Provider: "anthropic"},
		want,
	}, must(st.ListProviderAccounts(ctx))(t))

	if rawContains(t, st, "provider_accounts", "api_key_sealed", secret) {
		t.Error("provider_accounts.api_key_sealed holds the plaintext key")
	}
	if k := snap(t, st).Accounts[1].APIKey; k != secret {
		t.Errorf("snapshot account key = %q, want the decrypted key", k)
	}

	// Update with an empty key keeps the stored key.
	upd := must(st.UpdateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "openai-main", Provider: "openai"}))(t)
	diff(t, "updated", &adminv1.ProviderAccount{Name: "openai-main", Provider: "openai", HasApiKey: true}, upd)
	if k := snap(t, st).Accounts[1].APIKey; k != secret {
		t.Errorf("after update without key, snapshot key = %q, want kept", k)
	}
	must(st.UpdateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "openai-main", Provider: "openai", ApiKey: "sk-new"}))(t)
	if k := snap(t, st).Accounts[1].APIKey; k != "sk-new" {
		t.Errorf("after key update, snapshot key = %q, want sk-new", k)
	}

	errs := []struct {
		name  string
		err   error
		kind  apierr.Kind
		param string
	}{
		{"duplicate", second(st.CreateProviderAccount(ctx, in)), apierr.KindAlreadyExists, ""},
		{"empty name", second(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Provider: "openai"})), apierr.KindInvalidRequest, "provider_account.name"},
		{"bad name", second(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "Bad Name", Provider: "openai"})), apierr.KindInvalidRequest, "provider_account.name"},
		{"no provider", second(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "x"})), apierr.KindInvalidRequest, "provider_account.provider"},
		{"unknown provider", second(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "x", Provider: "bogus"})), apierr.KindInvalidRequest, "provider_account.provider"},
		{"get missing", second(st.GetProviderAccount(ctx, "missing")), apierr.KindNotFound, ""},
		{"update missing", second(st.UpdateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "missing", Provider: "openai"})), apierr.KindNotFound, ""},
		{"delete missing", st.DeleteProviderAccount(ctx, "missing"), apierr.KindNotFound, ""},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) { wantErr(t, e.err, e.kind, e.param) })
	}

	ok(t, st.DeleteProviderAccount(ctx, "openai-main"))
	_, err := st.GetProviderAccount(ctx, "openai-main")
	wantErr(t, err, apierr.KindNotFound, "")
}

// second returns the error of a two-value call.
func second[T any](_ T, err error) error { return err }

func testModels(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	must(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "acme", Provider: "openai", ApiKey: "sk-acct"}))(t)
	must(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "other", Provider: "openai"}))(t)
	const secret = "sk-plaintext-model-secret-456"
	got := must(st.CreateModel(ctx, &adminv1.Model{Account: "acme", Name: "GPT-4o.mini", UpstreamModel: "gpt-4o-mini", Types: []string{"chat"}, ApiKey: secret}))(t)
	want := &adminv1.Model{Account: "acme", Name: "GPT-4o.mini", Fqn: "acme/GPT-4o.mini", UpstreamModel: "gpt-4o-mini", Types: []string{"chat"}, HasApiKey: true}
	diff(t, "created", want, got)
	diff(t, "get", want, must(st.GetModel(ctx, "acme", "GPT-4o.mini"))(t))
	emb := must(st.CreateModel(ctx, &adminv1.Model{Account: "acme", Name: "embed", Types: []string{"embedding"}}))(t)
	// The same name in another account is a different model.
	same := must(st.CreateModel(ctx, &adminv1.Model{Account: "other", Name: "embed"}))(t)
	diff(t, "list acme", []*adminv1.Model{want, emb}, must(st.ListModels(ctx, "acme"))(t))
	diff(t, "list all", []*adminv1.Model{want, emb, same}, must(st.ListModels(ctx, ""))(t))

	if rawContains(t, st, "models", "api_key_sealed", secret) {
		t.Error("models.api_key_sealed holds the plaintext key")
	}
	if m := snap(t, st).Models[0]; m.APIKey != secret || m.Name != "GPT-4o.mini" {
		t.Errorf("snapshot model = %+v, want %s with its decrypted key", m, "GPT-4o.mini")
	}

	pricing := &adminv1.Pricing{InputPerMtok: 0.02, CacheWritePerMtok: 0.025, CacheWrite_1HPerMtok: 0.04}
	priced := must(st.UpdateModel(ctx, &adminv1.Model{Account: "acme", Name: "embed", Types: []string{"embedding"}, Pricing: pricing}))(t)
	diff(t, "priced", pricing, priced.GetPricing())
	var snapPricing *snapshot.Pricing
	for _, m := range snap(t, st).Models {
		if m.Account == "acme" && m.Name == "embed" {
			snapPricing = m.Pricing
		}
	}
	diff(t, "snapshot pricing", &snapshot.Pricing{Input: 0.02, CacheWrite: 0.025, CacheWrite1h: 0.04}, snapPricing)
	_, err := st.UpdateModel(ctx, &adminv1.Model{Account: "acme", Name: "embed", Pricing: &adminv1.Pricing{OutputPerMtok: -1}})
	wantErr(t, err, apierr.KindInvalidRequest, "model.pricing")
	_, err = st.UpdateModel(ctx, &adminv1.Model{Account: "acme", Name: "embed", Pricing: &adminv1.Pricing{CacheWritePerMtok: -1}})
	wantErr(t, err, apierr.KindInvalidRequest, "model.pricing")
	upd := must(st.UpdateModel(ctx, &adminv1.Model{Account: "acme", Name: "embed", UpstreamModel: "text-embedding-3-small", Types: []string{"embedding"}, BaseUrl: "http://e", Settings: map[string]string{"deployment": "emb-prod"}}))(t)
	diff(t, "updated", &adminv1.Model{Account: "acme", Name: "embed", Fqn: "acme/embed", UpstreamModel: "text-embedding-3-small", Types: []string{"embedding"}, BaseUrl: "http://e", Settings: map[string]string{"deployment": "emb-prod"}}, upd)
	// Update with an empty key keeps the model's key.
	kept := must(st.UpdateModel(ctx, &adminv1.Model{Account: "acme", Name: "GPT-4o.mini"}))(t)
	if !kept.GetHasApiKey() {
		t.Error("update without api_key dropped the model's key")
	}

	errs := []struct {
		name  string
		err   error
		kind  apierr.Kind
		param string
	}{
		{"duplicate", second(st.CreateModel(ctx, &adminv1.Model{Account: "acme", Name: "embed"})), apierr.KindAlreadyExists, ""},
		{"unknown account", second(st.CreateModel(ctx, &adminv1.Model{Account: "nope", Name: "m"})), apierr.KindInvalidRequest, "model.account"},
		{"no account", second(st.CreateModel(ctx, &adminv1.Model{Name: "m"})), apierr.KindInvalidRequest, "model.account"},
		{"slash in name", second(st.CreateModel(ctx, &adminv1.Model{Account: "acme", Name: "a/b"})), apierr.KindInvalidRequest, "model.name"},
		{"space in name", second(st.CreateModel(ctx, &adminv1.Model{Account: "acme", Name: "a b"})), apierr.KindInvalidRequest, "model.name"},
		{"wildcard in name", second(st.CreateModel(ctx, &adminv1.Model{Account: "acme", Name: "gpt-*"})), apierr.KindInvalidRequest, "model.name"},
		{"bad type", second(st.CreateModel(ctx, &adminv1.Model{Account: "acme", Name: "m", Types: []string{"image"}})), apierr.KindInvalidRequest, "model.types"},
		{"get missing", second(st.GetModel(ctx, "acme", "missing")), apierr.KindNotFound, ""},
		{"list missing account", second(st.ListModels(ctx, "nope")), apierr.KindNotFound, ""},
		{"update missing", second(st.UpdateModel(ctx, &adminv1.Model{Account: "acme", Name: "missing"})), apierr.KindNotFound, ""},
		{"delete missing", st.DeleteModel(ctx, "acme", "missing"), apierr.KindNotFound, ""},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) { wantErr(t, e.err, e.kind, e.param) })
	}

	ok(t, st.DeleteModel(ctx, "other", "embed"))
	diff(t, "after delete", []*adminv1.Model{kept, upd}, must(st.ListModels(ctx, ""))(t))

	// Deleting an account deletes its models.
	ok(t, st.DeleteProviderAccount(ctx, "acme"))
	if ms := must(st.ListModels(ctx, ""))(t); len(ms) != 0 {
		t.Errorf("models left after their account was deleted: %v", ms)
	}
	if n := len(snap(t, st).Models); n != 0 {
		t.Errorf("snapshot has %d models after their account was deleted", n)
	}
}

func testUsersAndTeams(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	must(st.CreateTeam(ctx, &adminv1.Team{Name: "ml", Description: "machine learning"}))(t)
	must(st.CreateTeam(ctx, &adminv1.Team{Name: "web"}))(t)
	alice := must(st.CreateUser(ctx, &adminv1.User{Name: "alice", Email: "a@example.com", Teams: []string{"web", "ml", "ml"}, Admin: true}))(t)
	wantAlice := &adminv1.User{Name: "alice", Email: "a@example.com", Teams: []string{"ml", "web"}, Admin: true, Roles: []string{"admin"}}
	diff(t, "created", wantAlice, alice)
	diff(t, "get", wantAlice, must(st.GetUser(ctx, "alice"))(t))
	bob := must(st.CreateUser(ctx, &adminv1.User{Name: "bob", Teams: []string{"ml"}, Disabled: true}))(t)
	diff(t, "list users", []*adminv1.User{wantAlice, bob}, must(st.ListUsers(ctx))(t))
	diff(t, "team members", &adminv1.Team{Name: "ml", Description: "machine learning", Members: []string{"alice", "bob"}}, must(st.GetTeam(ctx, "ml"))(t))

	upd := must(st.UpdateUser(ctx, &adminv1.User{Name: "alice", Teams: []string{"ml"}}))(t)
	diff(t, "updated user", &adminv1.User{Name: "alice", Teams: []string{"ml"}}, upd)
	diff(t, "teams", []*adminv1.Team{
		{Name: "ml", Description: "machine learning", Members: []string{"alice", "bob"}},
		{Name: "web"},
	}, must(st.ListTeams(ctx))(t))
	diff(t, "updated team", &adminv1.Team{Name: "web", Description: "frontend"}, must(st.UpdateTeam(ctx, &adminv1.Team{Name: "web", Description: "frontend"}))(t))

	errs := []struct {
		name  string
		err   error
		kind  apierr.Kind
		param string
	}{
		{"duplicate user", second(st.CreateUser(ctx, &adminv1.User{Name: "alice"})), apierr.KindAlreadyExists, ""},
		{"duplicate team", second(st.CreateTeam(ctx, &adminv1.Team{Name: "ml"})), apierr.KindAlreadyExists, ""},
		{"unknown team", second(st.CreateUser(ctx, &adminv1.User{Name: "carol", Teams: []string{"nope"}})), apierr.KindInvalidRequest, "user.teams"},
		{"update unknown team", second(st.UpdateUser(ctx, &adminv1.User{Name: "alice", Teams: []string{"nope"}})), apierr.KindInvalidRequest, "user.teams"},
		{"bad user name", second(st.CreateUser(ctx, &adminv1.User{Name: "-x"})), apierr.KindInvalidRequest, "user.name"},
		{"uppercase user name", second(st.CreateUser(ctx, &adminv1.User{Name: "Bob@example.com"})), apierr.KindInvalidRequest, "user.name"},
		{"bad team name", second(st.CreateTeam(ctx, &adminv1.Team{Name: ""})), apierr.KindInvalidRequest, "team.name"},
		{"get missing user", second(st.GetUser(ctx, "nope")), apierr.KindNotFound, ""},
		{"get missing team", second(st.GetTeam(ctx, "nope")), apierr.KindNotFound, ""},
		{"update missing user", second(st.UpdateUser(ctx, &adminv1.User{Name: "nope"})), apierr.KindNotFound, ""},
		{"update missing team", second(st.UpdateTeam(ctx, &adminv1.Team{Name: "nope"})), apierr.KindNotFound, ""},
		{"delete missing user", st.DeleteUser(ctx, "nope"), apierr.KindNotFound, ""},
		{"delete missing team", st.DeleteTeam(ctx, "nope"), apierr.KindNotFound, ""},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) { wantErr(t, e.err, e.kind, e.param) })
	}

	// Deleting a team keeps its members.
	ok(t, st.DeleteTeam(ctx, "ml"))
	diff(t, "member after team delete", &adminv1.User{Name: "alice"}, must(st.GetUser(ctx, "alice"))(t))
	ok(t, st.DeleteUser(ctx, "bob"))
	diff(t, "users after delete", []*adminv1.User{{Name: "alice"}}, must(st.ListUsers(ctx))(t))
}

func testVirtualAccounts(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	must(st.CreateTeam(ctx, &adminv1.Team{Name: "ml"}))(t)
	got := must(st.CreateVirtualAccount(ctx, &adminv1.VirtualAccount{Name: "batch-job", Description: "nightly", Team: "ml"}))(t)
	want := &adminv1.VirtualAccount{Name: "batch-job", Description: "nightly", Team: "ml"}
	diff(t, "created", want, got)
	diff(t, "get", want, must(st.GetVirtualAccount(ctx, "batch-job"))(t))
	solo := must(st.CreateVirtualAccount(ctx, &adminv1.VirtualAccount{Name: "a-solo"}))(t)
	diff(t, "list", []*adminv1.VirtualAccount{solo, want}, must(st.ListVirtualAccounts(ctx))(t))
	diff(t, "update", &adminv1.VirtualAccount{Name: "a-solo", Team: "ml", Disabled: true},
		must(st.UpdateVirtualAccount(ctx, &adminv1.VirtualAccount{Name: "a-solo", Team: "ml", Disabled: true}))(t))
	diff(t, "clear team", &adminv1.VirtualAccount{Name: "a-solo"},
		must(st.UpdateVirtualAccount(ctx, &adminv1.VirtualAccount{Name: "a-solo"}))(t))

	errs := []struct {
		name  string
		err   error
		kind  apierr.Kind
		param string
	}{
		{"duplicate", second(st.CreateVirtualAccount(ctx, &adminv1.VirtualAccount{Name: "batch-job"})), apierr.KindAlreadyExists, ""},
		{"unknown team", second(st.CreateVirtualAccount(ctx, &adminv1.VirtualAccount{Name: "x", Team: "nope"})), apierr.KindInvalidRequest, "virtual_account.team"},
		{"bad name", second(st.CreateVirtualAccount(ctx, &adminv1.VirtualAccount{Name: "X"})), apierr.KindInvalidRequest, "virtual_account.name"},
		{"get missing", second(st.GetVirtualAccount(ctx, "nope")), apierr.KindNotFound, ""},
		{"update missing", second(st.UpdateVirtualAccount(ctx, &adminv1.VirtualAccount{Name: "nope"})), apierr.KindNotFound, ""},
		{"delete missing", st.DeleteVirtualAccount(ctx, "nope"), apierr.KindNotFound, ""},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) { wantErr(t, e.err, e.kind, e.param) })
	}

	// Deleting its team leaves the account without one.
	ok(t, st.DeleteTeam(ctx, "ml"))
	diff(t, "after team delete", &adminv1.VirtualAccount{Name: "batch-job", Description: "nightly"}, must(st.GetVirtualAccount(ctx, "batch-job"))(t))
	ok(t, st.DeleteVirtualAccount(ctx, "batch-job"))
	diff(t, "after delete", []*adminv1.VirtualAccount{{Name: "a-solo"}}, must(st.ListVirtualAccounts(ctx))(t))
}

// keyOf returns the snapshot key with the id.
func keyOf(cfg *snapshot.Config, id string) (snapshot.Key, bool) {
	for _, k := range cfg.Keys {
		if k.ID == id {
			return k, true
		}
	}
	return snapshot.Key{}, false
}

func testAPIKeys(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	must(st.CreateUser(ctx, &adminv1.User{Name: "alice"}))(t)
	must(st.CreateUser(ctx, &adminv1.User{Name: "bob"}))(t)
	must(st.CreateVirtualAccount(ctx, &adminv1.VirtualAccount{Name: "svc"}))(t)

	expire := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	k1, s1 := must2(st.CreateAPIKey(ctx, &adminv1.ApiKey{Name: "laptop", Owner: &adminv1.ApiKey_User{User: "alice"}, ExpireTime: timestamppb.New(expire)}))(t)
	if len(s1) < 20 || k1.GetPrefix() == "" || s1[:len(k1.GetPrefix())] != k1.GetPrefix() || k1.GetPrefix() == s1 {
		t.Fatalf("secret %q and prefix %q: want a long secret that starts with a shorter prefix", s1, k1.GetPrefix())
	}
	if len(k1.GetId()) < 8 || k1.GetId()[:4] != "key_" {
		t.Errorf("key id = %q, want key_<random>", k1.GetId())
	}
	diff(t, "created", &adminv1.ApiKey{Id: k1.GetId(), Name: "laptop", Prefix: k1.GetPrefix(), Owner: &adminv1.ApiKey_User{User: "alice"}, ExpireTime: timestamppb.New(expire)}, k1)
	k2, s2 := must2(st.CreateAPIKey(ctx, &adminv1.ApiKey{Name: "ci", Owner: &adminv1.ApiKey_VirtualAccount{VirtualAccount: "svc"}}))(t)
	k3, _ := must2(st.CreateAPIKey(ctx, &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "bob"}}))(t)
	if s1 == s2 {
		t.Fatal("two keys got the same secret")
	}

	all := must(st.ListAPIKeys(ctx, "", ""))(t)
	if len(all) != 3 {
		t.Fatalf("listed %d keys, want 3", len(all))
	}
	diff(t, "alice's keys", []*adminv1.ApiKey{k1}, must(st.ListAPIKeys(ctx, "alice", ""))(t))
	diff(t, "svc's keys", []*adminv1.ApiKey{k2}, must(st.ListAPIKeys(ctx, "", "svc"))(t))

	cfg := snap(t, st)
	sk, found := keyOf(cfg, k1.GetId())
	if !found || sk.Hash != snapshot.KeyHash(s1) || sk.User != "alice" || sk.Revoked || !sk.ExpireTime.Equal(expire) {
		t.Errorf("snapshot key = %+v (found %v), want alice's key with the secret's hash and expiry", sk, found)
	}
	if sk, _ := keyOf(cfg, k2.GetId()); sk.VirtualAccount != "svc" || sk.Hash != snapshot.KeyHash(s2) {
		t.Errorf("snapshot key = %+v, want svc's key", sk)
	}
	for _, table := range []struct{ table, column string }{{"api_keys", "hash"}, {"api_keys", "prefix"}} {
		if rawContains(t, st, table.table, table.column, s1) {
			t.Errorf("%s.%s holds the secret", table.table, table.column)
		}
	}

	// Rotation changes the secret and hash, keeps the id.
	r1, rs := must2(st.RotateAPIKey(ctx, &adminv1.RotateApiKeyRequest{Id: k1.GetId()}))(t)
	if r1.GetId() != k1.GetId() || rs == s1 || r1.GetPrefix() != rs[:len(r1.GetPrefix())] {
		t.Errorf("rotated key %v with secret %q: want same id, new secret and prefix", r1, rs)
	}
	if r1.GetPreviousPrefix() != "" || r1.PreviousExpireTime != nil {
		t.Errorf("a rotation without grace period lists a previous secret: %v", r1)
	}
	sk, _ = keyOf(snap(t, st), k1.GetId())
	if sk.Hash != snapshot.KeyHash(rs) || sk.PreviousHash != "" {
		t.Errorf("after rotation, snapshot key = %+v, want the new secret's hash and no previous one", sk)
	}

	// With a grace period, the old secret's hash stays in the snapshot until the period ends,
	// and the listing shows its prefix and end.
	t0 := time.Now()
	r2, rs2 := must2(st.RotateAPIKey(ctx, &adminv1.RotateApiKeyRequest{Id: k1.GetId(), GracePeriod: durationpb.New(time.Hour)}))(t)
	t1 := time.Now()
	end := r2.GetPreviousExpireTime().AsTime()
	if r2.GetPreviousPrefix() != r1.GetPrefix() || end.Before(t0.Add(time.Hour).Truncate(time.Second)) || end.After(t1.Add(time.Hour)) {
		t.Errorf("rotated with a 1h grace period: previous prefix %q (want %q), previous_expire_time %v (want about %v)", r2.GetPreviousPrefix(), r1.GetPrefix(), end, t0.Add(time.Hour))
	}
	sk, _ = keyOf(snap(t, st), k1.GetId())
	if sk.Hash != snapshot.KeyHash(rs2) || sk.PreviousHash != snapshot.KeyHash(rs) || !sk.PreviousExpireTime.Equal(end) {
		t.Errorf("snapshot key after a graceful rotation = %+v, want the new hash and the old one until %v", sk, end)
	}
	listed := must(st.ListAPIKeys(ctx, "alice", ""))(t)
	if len(listed) != 1 || listed[0].GetPreviousPrefix() != r1.GetPrefix() || !listed[0].GetPreviousExpireTime().AsTime().Equal(end) {
		t.Errorf("listing after a graceful rotation = %v, want the previous prefix and its end", listed)
	}
	// The longest grace period is accepted; rotating again replaces the previous secret.
	r3, rs3 := must2(st.RotateAPIKey(ctx, &adminv1.RotateApiKeyRequest{Id: k1.GetId(), GracePeriod: durationpb.New(store.MaxRotationGrace)}))(t)
	sk, _ = keyOf(snap(t, st), k1.GetId())
	if r3.GetPreviousPrefix() != r2.GetPrefix() || sk.PreviousHash != snapshot.KeyHash(rs2) {
		t.Errorf("second graceful rotation: %v, snapshot %+v; want the second secret as the previous one", r3, sk)
	}
	// A rotation without grace ends the previous secret at once.
	r4, rs4 := must2(st.RotateAPIKey(ctx, &adminv1.RotateApiKeyRequest{Id: k1.GetId(), GracePeriod: durationpb.New(0)}))(t)
	sk, _ = keyOf(snap(t, st), k1.GetId())
	if r4.GetPreviousPrefix() != "" || r4.PreviousExpireTime != nil || sk.PreviousHash != "" || sk.Hash != snapshot.KeyHash(rs4) {
		t.Errorf("rotation without grace after a graceful one: %v, snapshot %+v; want no previous secret", r4, sk)
	}
	_ = rs3

	// Revocation.
	rv := must(st.RevokeAPIKey(ctx, k1.GetId()))(t)
	if rv.GetRevokeTime() == nil {
		t.Error("revoked key has no revoke_time")
	}
	again := must(st.RevokeAPIKey(ctx, k1.GetId()))(t)
	if !again.GetRevokeTime().AsTime().Equal(rv.GetRevokeTime().AsTime()) {
		t.Error("revoking twice moved revoke_time")
	}
	if sk, _ := keyOf(snap(t, st), k1.GetId()); !sk.Revoked {
		t.Errorf("snapshot key %+v not flagged revoked", sk)
	}
	_, _, err := st.RotateAPIKey(ctx, &adminv1.RotateApiKeyRequest{Id: k1.GetId()})
	wantErr(t, err, apierr.KindInvalidRequest, "id")

	// Touch records use without a config change; unknown ids are ignored.
	before := h.changes.Load()
	used := time.Now().Add(-time.Minute).Truncate(time.Second)
	ok(t, st.TouchAPIKeys(ctx, map[string]time.Time{k2.GetId(): used, "key_unknown": used}))
	ok(t, st.TouchAPIKeys(ctx, map[string]time.Time{k2.GetId(): used.Add(-time.Hour)})) // older: ignored
	if h.changes.Load() != before {
		t.Error("TouchAPIKeys called OnChange")
	}
	got := must(st.ListAPIKeys(ctx, "", "svc"))(t)
	if lu := got[0].GetLastUsedTime(); lu == nil || !lu.AsTime().Equal(used) {
		t.Errorf("last_used_time = %v, want %v", lu, used)
	}

	errs := []struct {
		name  string
		err   error
		kind  apierr.Kind
		param string
	}{
		{"no owner", second3(st.CreateAPIKey(ctx, &adminv1.ApiKey{Name: "x"})), apierr.KindInvalidRequest, "api_key.owner"},
		{"unknown user", second3(st.CreateAPIKey(ctx, &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "nope"}})), apierr.KindInvalidRequest, "api_key.user"},
		{"unknown virtual account", second3(st.CreateAPIKey(ctx, &adminv1.ApiKey{Owner: &adminv1.ApiKey_VirtualAccount{VirtualAccount: "nope"}})), apierr.KindInvalidRequest, "api_key.virtual_account"},
		{"expired", second3(st.CreateAPIKey(ctx, &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "alice"}, ExpireTime: timestamppb.New(time.Now().Add(-time.Hour))})), apierr.KindInvalidRequest, "api_key.expire_time"},
		{"list unknown user", second(st.ListAPIKeys(ctx, "nope", "")), apierr.KindNotFound, ""},
		{"revoke missing", second(st.RevokeAPIKey(ctx, "key_missing")), apierr.KindNotFound, ""},
		{"rotate missing", second3(st.RotateAPIKey(ctx, &adminv1.RotateApiKeyRequest{Id: "key_missing"})), apierr.KindNotFound, ""},
		{"rotate with a negative grace period", second3(st.RotateAPIKey(ctx, &adminv1.RotateApiKeyRequest{Id: k2.GetId(), GracePeriod: durationpb.New(-time.Second)})), apierr.KindInvalidRequest, "grace_period"},
		{"rotate with a grace period over 7 days", second3(st.RotateAPIKey(ctx, &adminv1.RotateApiKeyRequest{Id: k2.GetId(), GracePeriod: durationpb.New(store.MaxRotationGrace + time.Second)})), apierr.KindInvalidRequest, "grace_period"},
		{"rotate with an invalid grace period", second3(st.RotateAPIKey(ctx, &adminv1.RotateApiKeyRequest{Id: k2.GetId(), GracePeriod: &durationpb.Duration{Seconds: 1, Nanos: -1}})), apierr.KindInvalidRequest, "grace_period"},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) { wantErr(t, e.err, e.kind, e.param) })
	}

	// The database itself refuses a key with no owner.
	if _, err := st.DB().ExecContext(ctx, "INSERT INTO api_keys (id, name, prefix, hash, create_time) VALUES ('key_raw', '', '', 'h', CURRENT_TIMESTAMP)"); err == nil {
		t.Error("the database accepted an API key without an owner")
	}

	// Deleting an owner deletes its keys.
	ok(t, st.DeleteUser(ctx, "bob"))
	if _, found := keyOf(snap(t, st), k3.GetId()); found {
		t.Error("deleted user's key is still in the snapshot")
	}
	if n := len(must(st.ListAPIKeys(ctx, "", ""))(t)); n != 2 {
		t.Errorf("listed %d keys after deleting bob, want 2", n)
	}
}

// must2 is must for calls with two results.
func must2[A, B any](a A, b B, err error) func(t *testing.T) (A, B) {
	return func(t *testing.T) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return a, b
	}
}

func second3[A, B any](_ A, _ B, err error) error { return err }

func testAuthzRules(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	in := &adminv1.AuthzRule{Name: "ml-gpt", Models: []string{"acme/*"}, Teams: []string{"ml"}, Users: []string{"alice"}}
	diff(t, "created", in, must(st.CreateAuthzRule(ctx, in))(t))
	diff(t, "get", in, must(st.GetAuthzRule(ctx, "ml-gpt"))(t))
	all := &adminv1.AuthzRule{Name: "all", Models: []string{"*"}, VirtualAccounts: []string{"*"}}
	must(st.CreateAuthzRule(ctx, all))(t)
	diff(t, "list", []*adminv1.AuthzRule{all, in}, must(st.ListAuthzRules(ctx))(t))
	upd := &adminv1.AuthzRule{Name: "ml-gpt", Models: []string{"acme/gpt"}, Users: []string{"*"}}
	diff(t, "updated", upd, must(st.UpdateAuthzRule(ctx, upd))(t))
	rules := snap(t, st).Rules
	if len(rules) != 2 || rules[1].Name != "ml-gpt" || rules[1].Users[0] != "*" {
		t.Errorf("snapshot rules = %+v", rules)
	}

	errs := []struct {
		name  string
		err   error
		kind  apierr.Kind
		param string
	}{
		{"duplicate", second(st.CreateAuthzRule(ctx, in)), apierr.KindAlreadyExists, ""},
		{"no models", second(st.CreateAuthzRule(ctx, &adminv1.AuthzRule{Name: "x", Users: []string{"a"}})), apierr.KindInvalidRequest, "authz_rule.models"},
		{"no principals", second(st.CreateAuthzRule(ctx, &adminv1.AuthzRule{Name: "x", Models: []string{"*"}})), apierr.KindInvalidRequest, "authz_rule.users"},
		{"empty entry", second(st.CreateAuthzRule(ctx, &adminv1.AuthzRule{Name: "x", Models: []string{"*"}, Teams: []string{""}})), apierr.KindInvalidRequest, "authz_rule.teams"},
		// Model names that the matcher can never match: "*", "<account>/*" and
		// "<account>/<model>" are the only shapes.
		{"model without account", second(st.CreateAuthzRule(ctx, &adminv1.AuthzRule{Name: "x", Models: []string{"acme/*", "gpt-4o"}, Users: []string{"a"}})), apierr.KindInvalidRequest, "authz_rule.models"},
		{"model wildcard in the account", second(st.CreateAuthzRule(ctx, &adminv1.AuthzRule{Name: "x", Models: []string{"*/gpt-4o"}, Users: []string{"a"}})), apierr.KindInvalidRequest, "authz_rule.models"},
		{"model with two slashes", second(st.CreateAuthzRule(ctx, &adminv1.AuthzRule{Name: "x", Models: []string{"acme/gpt/4o"}, Users: []string{"a"}})), apierr.KindInvalidRequest, "authz_rule.models"},
		{"model prefix wildcard", second(st.CreateAuthzRule(ctx, &adminv1.AuthzRule{Name: "x", Models: []string{"acme/gpt-*"}, Users: []string{"a"}})), apierr.KindInvalidRequest, "authz_rule.models"},
		{"uppercase account", second(st.CreateAuthzRule(ctx, &adminv1.AuthzRule{Name: "x", Models: []string{"Acme/*"}, Users: []string{"a"}})), apierr.KindInvalidRequest, "authz_rule.models"},
		{"update to a model without account", second(st.UpdateAuthzRule(ctx, &adminv1.AuthzRule{Name: "ml-gpt", Models: []string{"gpt-4o"}, Users: []string{"*"}})), apierr.KindInvalidRequest, "authz_rule.models"},
		{"get missing", second(st.GetAuthzRule(ctx, "nope")), apierr.KindNotFound, ""},
		{"update missing", second(st.UpdateAuthzRule(ctx, &adminv1.AuthzRule{Name: "nope", Models: []string{"*"}, Users: []string{"*"}})), apierr.KindNotFound, ""},
		{"delete missing", st.DeleteAuthzRule(ctx, "nope"), apierr.KindNotFound, ""},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) { wantErr(t, e.err, e.kind, e.param) })
	}
	ok(t, st.DeleteAuthzRule(ctx, "all"))
	diff(t, "after delete", []*adminv1.AuthzRule{upd}, must(st.ListAuthzRules(ctx))(t))
}

func testRateLimits(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	in := &adminv1.RateLimit{
		Name: "per-user",
		When: &adminv1.Condition{
			Subjects: []string{"user:alice", "team:ml", "virtual-account:billing", "*"},
			Models:   []string{"acme/*", "acme/gpt-4o", "prod/smart-router", "*"},
			Metadata: map[string]string{"env": "prod"},
		},
		Limits:     []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 60}, {Unit: "tokens_per_day", LimitTo: 10000}},
		AppliesPer: []string{"user", "metadata.project"},
		Mode:       adminv1.Mode_MODE_AUDIT,
		FailClosed: true,
	}
	want := proto.CloneOf(in)
	want.When.Subjects[2] = "virtualaccount:billing"
	diff(t, "created", want, must(st.CreateRateLimit(ctx, in))(t))
	diff(t, "get", want, must(st.GetRateLimit(ctx, "per-user"))(t))
	if got := snap(t, st).RateLimits; len(got) != 1 || !got[0].FailClosed {
		t.Errorf("snapshot rate limits = %+v, want fail_closed carried", got)
	}
	upd := &adminv1.RateLimit{Name: "per-user", Limits: []*adminv1.RateLimitEntry{{Unit: "tokens_per_minute", LimitTo: 5}}}
	wantUpd := &adminv1.RateLimit{Name: "per-user", When: &adminv1.Condition{}, Limits: upd.Limits, Mode: adminv1.Mode_MODE_ENFORCE}
	diff(t, "updated", wantUpd, must(st.UpdateRateLimit(ctx, upd))(t))
	diff(t, "list", []*adminv1.RateLimit{wantUpd}, must(st.ListRateLimits(ctx))(t))
	if got := snap(t, st).RateLimits; len(got) != 1 || got[0].Name != "per-user" || got[0].Limits[0] != (governance.Limit{Unit: "tokens_per_minute", LimitTo: 5}) || got[0].Audit {
		t.Errorf("snapshot rate limits = %+v", got)
	}
	bad := func(f func(r *adminv1.RateLimit)) *adminv1.RateLimit {
		r := &adminv1.RateLimit{Name: "x", Limits: []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 1}}}
		f(r)
		return r
	}
	errs := []struct {
		name  string
		err   error
		kind  apierr.Kind
		param string
	}{
		{"duplicate", second(st.CreateRateLimit(ctx, in)), apierr.KindAlreadyExists, ""},
		{"bad name", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.Name = "Bad Name" }))), apierr.KindInvalidRequest, "rate_limit.name"},
		{"no limits", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.Limits = nil }))), apierr.KindInvalidRequest, "rate_limit.limits"},
		{"unknown unit", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) {
			r.Limits[0] = &adminv1.RateLimitEntry{Unit: "requests_per_week", LimitTo: 1}
		}))), apierr.KindInvalidRequest, "rate_limit.limits[0].unit"},
		{"zero limit", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.Limits = []*adminv1.RateLimitEntry{{Unit: "requests_per_minute"}} }))), apierr.KindInvalidRequest, "rate_limit.limits[0].limit_to"},
		{"negative limit", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) {
			r.Limits = []*adminv1.RateLimitEntry{{Unit: "requests_per_minute", LimitTo: 1}, {Unit: "tokens_per_hour", LimitTo: -5}}
		}))), apierr.KindInvalidRequest, "rate_limit.limits[1].limit_to"},
		{"unit twice", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.Limits = append(r.Limits, r.Limits[0]) }))), apierr.KindInvalidRequest, "rate_limit.limits[1].unit"},
		{"three applies_per", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.AppliesPer = []string{"user", "team", "model"} }))), apierr.KindInvalidRequest, "rate_limit.applies_per"},
		{"bad applies_per", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.AppliesPer = []string{"project"} }))), apierr.KindInvalidRequest, "rate_limit.applies_per"},
		{"metadata applies_per without key", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.AppliesPer = []string{"metadata."} }))), apierr.KindInvalidRequest, "rate_limit.applies_per"},
		{"applies_per twice", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.AppliesPer = []string{"user", "user"} }))), apierr.KindInvalidRequest, "rate_limit.applies_per"},
		{"subject of unknown kind", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.When = &adminv1.Condition{Subjects: []string{"group:x"}} }))), apierr.KindInvalidRequest, "rate_limit.when.subjects"},
		{"subject without name", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.When = &adminv1.Condition{Subjects: []string{"user:"}} }))), apierr.KindInvalidRequest, "rate_limit.when.subjects"},
		{"model that never matches", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.When = &adminv1.Condition{Models: []string{"acme/gpt-*"}} }))), apierr.KindInvalidRequest, "rate_limit.when.models"},
		{"virtual model that never matches", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.When = &adminv1.Condition{Models: []string{"GPT 4"}} }))), apierr.KindInvalidRequest, "rate_limit.when.models"},
		{"model name without a group", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.When = &adminv1.Condition{Models: []string{"smart-router"}} }))), apierr.KindInvalidRequest, "rate_limit.when.models"},
		{"metadata value too long", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) {
			r.When = &adminv1.Condition{Metadata: map[string]string{"k": strings.Repeat("v", 129)}}
		}))), apierr.KindInvalidRequest, "rate_limit.when.metadata"},
		{"bad mode", second(st.CreateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.Mode = 7 }))), apierr.KindInvalidRequest, "rate_limit.mode"},
		{"get missing", second(st.GetRateLimit(ctx, "nope")), apierr.KindNotFound, ""},
		{"update missing", second(st.UpdateRateLimit(ctx, bad(func(r *adminv1.RateLimit) { r.Name = "nope" }))), apierr.KindNotFound, ""},
		{"delete missing", st.DeleteRateLimit(ctx, "nope"), apierr.KindNotFound, ""},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) { wantErr(t, e.err, e.kind, e.param) })
	}
	ok(t, st.DeleteRateLimit(ctx, "per-user"))
	if n := len(must(st.ListRateLimits(ctx))(t)); n != 0 {
		t.Errorf("%d rate limits after delete", n)
	}
}

func testBudgets(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	const hmac = "plaintext-webhook-hmac-secret-789"
	in := &adminv1.Budget{
		Name:       "team-ml",
		When:       &adminv1.Condition{Subjects: []string{"team:ml"}},
		Unit:       "cost_per_month",
		LimitTo:    125.5,
		AppliesPer: []string{"team"},
		Alerts: &adminv1.BudgetAlerts{
			Thresholds: []int32{50, 90, 100, 150},
			NotificationTarget: []*adminv1.NotificationTarget{
				{Type: "webhook", Url: "https://hooks.example.com/llmgw", Secret: hmac},
				{Type: "slack-webhook", Url: "https://hooks.slack.com/services/T/B/x"},
			},
		},
	}
	want := proto.CloneOf(in)
	want.Mode = adminv1.Mode_MODE_ENFORCE
	want.Alerts.NotificationTarget[0].Secret, want.Alerts.NotificationTarget[0].HasSecret = "", true
	diff(t, "created", want, must(st.CreateBudget(ctx, in))(t))
	diff(t, "get", want, must(st.GetBudget(ctx, "team-ml"))(t))
	if rawContains(t, st, "budgets", "notification_targets", hmac) {
		t.Error("budgets.notification_targets holds the plaintext secret")
	}
	wantTargets := []governance.NotificationTarget{{Type: "webhook", URL: "https://hooks.example.com/llmgw", Secret: hmac}, {Type: "slack-webhook", URL: "https://hooks.slack.com/services/T/B/x"}}
	if got := snap(t, st).Budgets; len(got) != 1 || !cmp.Equal(got[0].Targets, wantTargets) || got[0].LimitTo != 125.5 || got[0].Unit != "cost_per_month" {
		t.Errorf("snapshot budgets = %+v", got)
	}

	// An update without the secret keeps it for the same webhook, even at another position.
	upd := &adminv1.Budget{Name: "team-ml", Unit: "tokens_per_day", LimitTo: 1000, Mode: adminv1.Mode_MODE_AUDIT, FailClosed: true, Alerts: &adminv1.BudgetAlerts{NotificationTarget: []*adminv1.NotificationTarget{
		{Type: "slack-webhook", Url: "https://hooks.slack.com/services/T/B/x"},
		{Type: "webhook", Url: "https://hooks.example.com/llmgw"},
		{Type: "webhook", Url: "https://other.example.com/"},
	}}}
	wantUpd := &adminv1.Budget{Name: "team-ml", When: &adminv1.Condition{}, Unit: "tokens_per_day", LimitTo: 1000, Mode: adminv1.Mode_MODE_AUDIT, FailClosed: true, Alerts: &adminv1.BudgetAlerts{
		Thresholds: []int32{75, 90, 100}, // the default, when none are given
		NotificationTarget: []*adminv1.NotificationTarget{
			{Type: "slack-webhook", Url: "https://hooks.slack.com/services/T/B/x"},
			{Type: "webhook", Url: "https://hooks.example.com/llmgw", HasSecret: true},
			{Type: "webhook", Url: "https://other.example.com/"},
		},
	}}
	diff(t, "updated", wantUpd, must(st.UpdateBudget(ctx, upd))(t))
	diff(t, "list", []*adminv1.Budget{wantUpd}, must(st.ListBudgets(ctx))(t))
	if got := snap(t, st).Budgets; len(got) != 1 || got[0].Targets[1].Secret != hmac || got[0].Targets[2].Secret != "" || !got[0].Audit || !got[0].FailClosed {
		t.Errorf("snapshot budgets after update = %+v", got)
	}

	bad := func(f func(b *adminv1.Budget)) *adminv1.Budget {
		b := &adminv1.Budget{Name: "x", Unit: "cost_per_day", LimitTo: 1}
		f(b)
		return b
	}
	target := func(tt *adminv1.NotificationTarget) func(b *adminv1.Budget) {
		return func(b *adminv1.Budget) {
			b.Alerts = &adminv1.BudgetAlerts{NotificationTarget: []*adminv1.NotificationTarget{tt}}
		}
	}
	errs := []struct {
		name  string
		err   error
		kind  apierr.Kind
		param string
	}{
		{"duplicate", second(st.CreateBudget(ctx, in)), apierr.KindAlreadyExists, ""},
		{"unknown unit", second(st.CreateBudget(ctx, bad(func(b *adminv1.Budget) { b.Unit = "cost_per_year" }))), apierr.KindInvalidRequest, "budget.unit"},
		{"no unit", second(st.CreateBudget(ctx, bad(func(b *adminv1.Budget) { b.Unit = "" }))), apierr.KindInvalidRequest, "budget.unit"},
		{"zero limit", second(st.CreateBudget(ctx, bad(func(b *adminv1.Budget) { b.LimitTo = 0 }))), apierr.KindInvalidRequest, "budget.limit_to"},
		{"negative limit", second(st.CreateBudget(ctx, bad(func(b *adminv1.Budget) { b.LimitTo = -3 }))), apierr.KindInvalidRequest, "budget.limit_to"},
		{"fractional tokens", second(st.CreateBudget(ctx, bad(func(b *adminv1.Budget) { b.Unit, b.LimitTo = "tokens_per_month", 10.5 }))), apierr.KindInvalidRequest, "budget.limit_to"},
		{"three applies_per", second(st.CreateBudget(ctx, bad(func(b *adminv1.Budget) { b.AppliesPer = []string{"user", "team", "model"} }))), apierr.KindInvalidRequest, "budget.applies_per"},
		{"subject of unknown kind", second(st.CreateBudget(ctx, bad(func(b *adminv1.Budget) { b.When = &adminv1.Condition{Subjects: []string{"serviceaccount:x"}} }))), apierr.KindInvalidRequest, "budget.when.subjects"},
		{"threshold zero", second(st.CreateBudget(ctx, bad(func(b *adminv1.Budget) { b.Alerts = &adminv1.BudgetAlerts{Thresholds: []int32{0}} }))), apierr.KindInvalidRequest, "budget.alerts.thresholds"},
		{"threshold too high", second(st.CreateBudget(ctx, bad(func(b *adminv1.Budget) { b.Alerts = &adminv1.BudgetAlerts{Thresholds: []int32{1001}} }))), apierr.KindInvalidRequest, "budget.alerts.thresholds"},
		{"target of unknown type", second(st.CreateBudget(ctx, bad(target(&adminv1.NotificationTarget{Type: "email", Url: "https://x"})))), apierr.KindInvalidRequest, "budget.alerts.notification_target[0].type"},
		{"target without url", second(st.CreateBudget(ctx, bad(target(&adminv1.NotificationTarget{Type: "webhook"})))), apierr.KindInvalidRequest, "budget.alerts.notification_target[0].url"},
		{"target with a bad url", second(st.CreateBudget(ctx, bad(target(&adminv1.NotificationTarget{Type: "webhook", Url: "env://HOOK"})))), apierr.KindInvalidRequest, "budget.alerts.notification_target[0].url"},
		{"slack target with a secret", second(st.CreateBudget(ctx, bad(target(&adminv1.NotificationTarget{Type: "slack-webhook", Url: "https://x", Secret: "s"})))), apierr.KindInvalidRequest, "budget.alerts.notification_target[0].secret"},
		{"get missing", second(st.GetBudget(ctx, "nope")), apierr.KindNotFound, ""},
		{"update missing", second(st.UpdateBudget(ctx, bad(func(b *adminv1.Budget) { b.Name = "nope" }))), apierr.KindNotFound, ""},
		{"delete missing", st.DeleteBudget(ctx, "nope"), apierr.KindNotFound, ""},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) { wantErr(t, e.err, e.kind, e.param) })
	}
	ok(t, st.DeleteBudget(ctx, "team-ml"))
	if n := len(must(st.ListBudgets(ctx))(t)); n != 0 {
		t.Errorf("%d budgets after delete", n)
	}
}

func testAdminToken(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	if got := must(st.AdminTokenHash(ctx))(t); got != "" {
		t.Fatalf("initial admin token hash = %q, want empty", got)
	}
	h1 := snapshot.KeyHash("token-1")
	ok(t, st.SetAdminTokenHash(ctx, h1))
	if got := must(st.AdminTokenHash(ctx))(t); got != h1 {
		t.Errorf("admin token hash = %q, want %q", got, h1)
	}
	h2 := snapshot.KeyHash("token-2")
	ok(t, st.SetAdminTokenHash(ctx, h2))
	if got := snap(t, st).AdminTokenHash; got != h2 {
		t.Errorf("snapshot admin token hash = %q, want %q", got, h2)
	}
}

func testOnChange(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	steps := []struct {
		name    string
		do      func() error
		changed bool
	}{
		{"create account", func() error {
			return second(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "a", Provider: "openai"}))
		}, true},
		{"failed duplicate", func() error {
			return second(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "a", Provider: "openai"}))
		}, false},
		{"failed validation", func() error { return second(st.CreateUser(ctx, &adminv1.User{})) }, false},
		{"read", func() error { return second(st.ListProviderAccounts(ctx)) }, false},
		{"snapshot", func() error { return second(st.SnapshotConfig(ctx)) }, false},
		{"create user", func() error { return second(st.CreateUser(ctx, &adminv1.User{Name: "u"})) }, true},
		{"update user", func() error { return second(st.UpdateUser(ctx, &adminv1.User{Name: "u", Admin: true})) }, true},
		{"create key", func() error {
			return second3(st.CreateAPIKey(ctx, &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "u"}}))
		}, true},
		{"set admin token", func() error { return st.SetAdminTokenHash(ctx, "h") }, true},
		{"delete user", func() error { return st.DeleteUser(ctx, "u") }, true},
		{"delete account", func() error { return st.DeleteProviderAccount(ctx, "a") }, true},
	}
	for _, s := range steps {
		before := h.changes.Load()
		err := s.do()
		if s.changed && err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := h.changes.Load() - before; (got == 1) != s.changed || got > 1 {
			t.Errorf("%s: OnChange called %d times, want changed=%v", s.name, got, s.changed)
		}
	}
}

func testSnapshot(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	must(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "zeta", Provider: "anthropic", ApiKey: "sk-z"}))(t)
	must(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "acme", Provider: "openai", BaseUrl: "http://acme"}))(t)
	must(st.CreateModel(ctx, &adminv1.Model{Account: "zeta", Name: "b", Types: []string{"chat"}}))(t)
	must(st.CreateModel(ctx, &adminv1.Model{Account: "acme", Name: "m2", UpstreamModel: "up", ApiKey: "sk-m"}))(t)
	must(st.CreateModel(ctx, &adminv1.Model{Account: "acme", Name: "m1"}))(t)
	must(st.CreateTeam(ctx, &adminv1.Team{Name: "web"}))(t)
	must(st.CreateTeam(ctx, &adminv1.Team{Name: "ml"}))(t)
	must(st.CreateUser(ctx, &adminv1.User{Name: "zed", Teams: []string{"web", "ml"}, Disabled: true}))(t)
	must(st.CreateUser(ctx, &adminv1.User{Name: "amy", Admin: true}))(t)
	must(st.CreateVirtualAccount(ctx, &adminv1.VirtualAccount{Name: "svc", Team: "ml"}))(t)
	must(st.CreateAuthzRule(ctx, &adminv1.AuthzRule{Name: "r", Models: []string{"*"}, Users: []string{"*"}}))(t)
	k, secret := must2(st.CreateAPIKey(ctx, &adminv1.ApiKey{Owner: &adminv1.ApiKey_VirtualAccount{VirtualAccount: "svc"}}))(t)

	want := &snapshot.Config{
		Accounts: []snapshot.Account{
			{Name: "acme", Provider: "openai", BaseURL: "http://acme"},
			{Name: "zeta", Provider: "anthropic", APIKey: "sk-z"},
		},
		Models: []snapshot.Model{
			{Account: "acme", Name: "m1"},
			{Account: "acme", Name: "m2", UpstreamModel: "up", APIKey: "sk-m"},
			{Account: "zeta", Name: "b", Types: []string{"chat"}},
		},
		Users: []snapshot.User{
			{Name: "amy", Admin: true, Roles: []string{"admin"}},
			{Name: "zed", Teams: []string{"ml", "web"}, Disabled: true},
		},
		Teams:           []snapshot.Team{{Name: "ml"}, {Name: "web"}},
		VirtualAccounts: []snapshot.VirtualAccount{{Name: "svc", Team: "ml"}},
		Keys:            []snapshot.Key{{ID: k.GetId(), Hash: snapshot.KeyHash(secret), VirtualAccount: "svc"}},
		Rules:           []snapshot.Rule{{Name: "r", Models: []string{"*"}, Users: []string{"*"}}},
	}
	got := snap(t, st)
	rev, err := st.Revision(ctx)
	if err != nil || rev == 0 || got.Revision != rev {
		t.Errorf("snapshot revision %d, store revision %d (%v): want the same, after the writes above", got.Revision, rev, err)
	}
	want.Revision = rev
	if d := cmp.Diff(want, got, cmpEmpty); d != "" {
		t.Errorf("snapshot mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(got, snap(t, st)); d != "" {
		t.Errorf("two snapshots differ:\n%s", d)
	}
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmp.FilterValues(func(x, y []string) bool { return len(x) == 0 && len(y) == 0 }, cmp.Comparer(func(_, _ []string) bool { return true }))

// testAdapterCheck: model writes and account updates build the adapter of the models they
// touch from the merged config (the account's settings and secret, the model's overrides) and
// are refused, changing nothing, when it cannot be built.
func testAdapterCheck(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	must(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "aws", Provider: "bedrock", ApiKey: "account-secret", Settings: map[string]string{"region": "eu-west-1", "access_key_id": "AKIA"}}))(t)
	must(st.CreateModel(ctx, &adminv1.Model{Account: "aws", Name: "haiku", UpstreamModel: "anthropic.claude-3-haiku", Settings: map[string]string{"role_arn": "arn:aws:iam::1:role/r"}}))(t)
	want := provider.Config{Kind: "bedrock", APIKey: "account-secret", Model: "anthropic.claude-3-haiku",
		Settings: map[string]string{"region": "eu-west-1", "access_key_id": "AKIA", "role_arn": "arn:aws:iam::1:role/r"}}
	if d := cmp.Diff(want, h.lastChecked(t)); d != "" {
		t.Errorf("ValidateModel was given (-want +got):\n%s", d)
	}

	before := snap(t, st)
	_, err := st.CreateModel(ctx, &adminv1.Model{Account: "aws", Name: "sonnet", Settings: map[string]string{"region": "us_east_1"}})
	wantErr(t, err, apierr.KindInvalidRequest, "model")
	_, err = st.UpdateModel(ctx, &adminv1.Model{Account: "aws", Name: "haiku", UpstreamModel: "anthropic.claude-3-haiku", Settings: map[string]string{"region": "us_east_1"}})
	wantErr(t, err, apierr.KindInvalidRequest, "model")
	// The account's own setting reaches its models.
	_, err = st.UpdateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "aws", Provider: "bedrock", Settings: map[string]string{"region": "us_east_1", "access_key_id": "AKIA"}})
	wantErr(t, err, apierr.KindInvalidRequest, "provider_account")
	if d := cmp.Diff(before, snap(t, st)); d != "" {
		t.Errorf("refused writes changed the configuration (-before +after):\n%s", d)
	}

	// An update that keeps the stored secret checks with it.
	must(st.UpdateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "aws", Provider: "bedrock", Settings: map[string]string{"region": "eu-central-1", "access_key_id": "AKIA"}}))(t)
	if got := h.lastChecked(t); got.APIKey != "account-secret" || got.Settings["region"] != "eu-central-1" {
		t.Errorf("ValidateModel after an account update was given %+v, want the stored secret and the new region", got)
	}
}

// testGatewayTokens: a gateway token is created with a name, its secret shown once and only
// its prefix listed; it authenticates until it is revoked; names are unique.
func testGatewayTokens(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	tok, secret := must2(st.CreateGatewayToken(ctx, "edge-eu"))(t)
	if !strings.HasPrefix(secret, store.GatewayTokenPrefix) || !strings.HasPrefix(secret, tok.GetPrefix()) || len(secret) < 40 || !strings.HasPrefix(tok.GetId(), "gwt_") {
		t.Fatalf("token %v, secret of %d bytes: want a gwt_ id and a long llmgw-gw- secret that starts with the prefix", tok, len(secret))
	}
	if _, _, err := st.CreateGatewayToken(ctx, "edge-eu"); apierr.From(err).Kind != apierr.KindAlreadyExists {
		t.Errorf("second token named edge-eu: %v, want already exists", err)
	}
	if _, _, err := st.CreateGatewayToken(ctx, "Bad Name"); apierr.From(err).Kind != apierr.KindInvalidRequest {
		t.Errorf("token named %q: %v, want invalid argument", "Bad Name", err)
	}
	id, name, err := st.CheckGatewayToken(ctx, secret)
	if err != nil || id != tok.GetId() || name != "edge-eu" {
		t.Fatalf("check: %q %q %v", id, name, err)
	}
	if _, _, err := st.CheckGatewayToken(ctx, secret+"x"); apierr.From(err).Kind != apierr.KindUnauthenticated {
		t.Errorf("check of a wrong secret: %v, want unauthenticated", err)
	}
	list := must(st.ListGatewayTokens(ctx))(t)
	if len(list) != 1 || list[0].GetId() != tok.GetId() || list[0].GetRevokeTime() != nil {
		t.Fatalf("list: %v", list)
	}
	before := h.changes.Load()
	revoked := must(st.RevokeGatewayToken(ctx, tok.GetId()))(t)
	if revoked.GetRevokeTime() == nil || h.changes.Load() != before+1 {
		t.Errorf("revoke: %v, %d changes; want a revoke time and one OnChange (it wakes the streams)", revoked, h.changes.Load()-before)
	}
	if _, _, err := st.CheckGatewayToken(ctx, secret); apierr.From(err).Kind != apierr.KindUnauthenticated {
		t.Errorf("check of a revoked token: %v, want unauthenticated", err)
	}
	if _, err := st.RevokeGatewayToken(ctx, "gwt_nope"); apierr.From(err).Kind != apierr.KindNotFound {
		t.Errorf("revoke of an unknown token: %v, want not found", err)
	}
}

// testRevision: every configuration write adds one to the revision, concurrent writes
// included; state saves, which are not configuration, do not.
func testRevision(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	r0, err := st.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	must(st.CreateTeam(ctx, &adminv1.Team{Name: "t0"}))(t)
	if r, _ := st.Revision(ctx); r != r0+1 {
		t.Fatalf("revision after one write: %d, want %d", r, r0+1)
	}
	if err := st.SaveState(ctx, "x", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if r, _ := st.Revision(ctx); r != r0+1 {
		t.Errorf("revision after a state save: %d, want %d (state is not configuration)", r, r0+1)
	}
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := st.CreateTeam(ctx, &adminv1.Team{Name: fmt.Sprint("c", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if r, _ := st.Revision(ctx); r != r0+1+n {
		t.Errorf("revision after %d concurrent writes: %d, want %d", n, r, r0+1+n)
	}
	if cfg := snap(t, st); cfg.Revision != r0+1+n {
		t.Errorf("snapshot revision %d, want %d", cfg.Revision, r0+1+n)
	}
}
