package admin_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"

	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/services/admin"
	"github.com/llmgw/llmgw/store"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newClient(t *testing.T) (adminv1connect.AdminServiceClient, *store.Store, *syncBuffer) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "llmgw.db"), store.Options{MasterKey: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mux := http.NewServeMux()
	mux.Handle(adminv1connect.NewAdminServiceHandler(admin.New(st, logger)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return adminv1connect.NewAdminServiceClient(srv.Client(), srv.URL), st, logs
}

var ignoreTimes = cmp.Options{
	protocmp.Transform(),
	protocmp.IgnoreFields(&adminv1.ProviderAccount{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.Model{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.User{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.Team{}, "create_time", "update_time"),
	protocmp.IgnoreFields(&adminv1.ApiKey{}, "create_time", "revoke_time"),
}

// TestFlow walks an administrator through a realistic setup. Steps share state and run in order.
func TestFlow(t *testing.T) {
	c, st, logs := newClient(t)
	ctx := context.Background()
	const accountKey = "sk-upstream-very-secret"

	var (
		keyID, secret string
	)
	steps := []struct {
		name string
		call func() (proto.Message, error)
		// want is compared with the response, ignoring output-only times; nil skips it.
		want proto.Message
		// code is the wanted Connect error code; 0 wants success.
		code connect.Code
		// check runs extra assertions on a success.
		check func(t *testing.T, resp proto.Message)
	}{
		{
			name: "create account with key",
			call: func() (proto.Message, error) {
				return c.CreateProviderAccount(ctx, &adminv1.CreateProviderAccountRequest{ProviderAccount: &adminv1.ProviderAccount{Name: "openai", Provider: "openai", ApiKey: accountKey}})
			},
			want: &adminv1.CreateProviderAccountResponse{ProviderAccount: &adminv1.ProviderAccount{Name: "openai", Provider: "openai", HasApiKey: true}},
		},
		{
			name: "get account shows has_api_key and no key",
			call: func() (proto.Message, error) {
				return c.GetProviderAccount(ctx, &adminv1.GetProviderAccountRequest{Name: "openai"})
			},
			want: &adminv1.GetProviderAccountResponse{ProviderAccount: &adminv1.ProviderAccount{Name: "openai", Provider: "openai", HasApiKey: true}},
		},
		{
			name: "duplicate account",
			call: func() (proto.Message, error) {
				return c.CreateProviderAccount(ctx, &adminv1.CreateProviderAccountRequest{ProviderAccount: &adminv1.ProviderAccount{Name: "openai", Provider: "openai"}})
			},
			code: connect.CodeAlreadyExists,
		},
		{
			name: "account without provider",
			call: func() (proto.Message, error) {
				return c.CreateProviderAccount(ctx, &adminv1.CreateProviderAccountRequest{ProviderAccount: &adminv1.ProviderAccount{Name: "x"}})
			},
			code: connect.CodeInvalidArgument,
		},
		{
			name: "create model",
			call: func() (proto.Message, error) {
				return c.CreateModel(ctx, &adminv1.CreateModelRequest{Model: &adminv1.Model{Account: "openai", Name: "gpt-4o", Types: []string{"chat"}}})
			},
			want: &adminv1.CreateModelResponse{Model: &adminv1.Model{Account: "openai", Name: "gpt-4o", Fqn: "openai/gpt-4o", Types: []string{"chat"}}},
		},
		{
			name: "model of unknown account",
			call: func() (proto.Message, error) {
				return c.CreateModel(ctx, &adminv1.CreateModelRequest{Model: &adminv1.Model{Account: "nope", Name: "m"}})
			},
			code: connect.CodeInvalidArgument,
		},
		{
			name: "list models",
			call: func() (proto.Message, error) {
				return c.ListModels(ctx, &adminv1.ListModelsRequest{Account: "openai"})
			},
			want: &adminv1.ListModelsResponse{Models: []*adminv1.Model{{Account: "openai", Name: "gpt-4o", Fqn: "openai/gpt-4o", Types: []string{"chat"}}}},
		},
		{
			name: "create team",
			call: func() (proto.Message, error) {
				return c.CreateTeam(ctx, &adminv1.CreateTeamRequest{Team: &adminv1.Team{Name: "ml"}})
			},
			want: &adminv1.CreateTeamResponse{Team: &adminv1.Team{Name: "ml"}},
		},
		{
			name: "create user in team",
			call: func() (proto.Message, error) {
				return c.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "alice", Teams: []string{"ml"}}})
			},
			want: &adminv1.CreateUserResponse{User: &adminv1.User{Name: "alice", Teams: []string{"ml"}}},
		},
		{
			name: "user in unknown team",
			call: func() (proto.Message, error) {
				return c.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "bob", Teams: []string{"nope"}}})
			},
			code: connect.CodeInvalidArgument,
		},
		{
			name: "team lists its members",
			call: func() (proto.Message, error) {
				return c.GetTeam(ctx, &adminv1.GetTeamRequest{Name: "ml"})
			},
			want: &adminv1.GetTeamResponse{Team: &adminv1.Team{Name: "ml", Members: []string{"alice"}}},
		},
		{
			name: "create api key returns the secret once",
			call: func() (proto.Message, error) {
				return c.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: "laptop", Owner: &adminv1.ApiKey_User{User: "alice"}}})
			},
			check: func(t *testing.T, resp proto.Message) {
				r := resp.(*adminv1.CreateApiKeyResponse)
				keyID, secret = r.GetApiKey().GetId(), r.GetSecret()
				if !strings.HasPrefix(secret, snapshot.KeyPrefix) || !strings.HasPrefix(secret, r.GetApiKey().GetPrefix()) {
					t.Fatalf("secret %q, prefix %q", secret, r.GetApiKey().GetPrefix())
				}
			},
		},
		{
			name: "list keys shows the prefix, not the secret",
			call: func() (proto.Message, error) {
				return c.ListApiKeys(ctx, &adminv1.ListApiKeysRequest{User: "alice"})
			},
			check: func(t *testing.T, resp proto.Message) {
				r := resp.(*adminv1.ListApiKeysResponse)
				if len(r.GetApiKeys()) != 1 || r.GetApiKeys()[0].GetId() != keyID {
					t.Fatalf("keys = %v, want the one key", r.GetApiKeys())
				}
				b, _ := proto.Marshal(r)
				if bytes.Contains(b, []byte(secret)) {
					t.Fatal("list response contains the secret")
				}
				if p := r.GetApiKeys()[0].GetPrefix(); p == "" || !strings.HasPrefix(secret, p) {
					t.Fatalf("prefix %q does not start the secret", p)
				}
			},
		},
		{
			name: "revoke key",
			call: func() (proto.Message, error) {
				return c.RevokeApiKey(ctx, &adminv1.RevokeApiKeyRequest{Id: keyID})
			},
			check: func(t *testing.T, resp proto.Message) {
				if resp.(*adminv1.RevokeApiKeyResponse).GetApiKey().GetRevokeTime() == nil {
					t.Fatal("revoked key has no revoke_time")
				}
				cfg, err := st.SnapshotConfig(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(cfg.Keys) != 1 || !cfg.Keys[0].Revoked || cfg.Keys[0].Hash != snapshot.KeyHash(secret) {
					t.Fatalf("snapshot keys = %+v, want the key revoked", cfg.Keys)
				}
			},
		},
		{
			name: "rotate revoked key",
			call: func() (proto.Message, error) {
				return c.RotateApiKey(ctx, &adminv1.RotateApiKeyRequest{Id: keyID})
			},
			code: connect.CodeInvalidArgument,
		},
		{
			name: "revoke unknown key",
			call: func() (proto.Message, error) {
				return c.RevokeApiKey(ctx, &adminv1.RevokeApiKeyRequest{Id: "key_nope"})
			},
			code: connect.CodeNotFound,
		},
		{
			name: "get unknown user",
			call: func() (proto.Message, error) {
				return c.GetUser(ctx, &adminv1.GetUserRequest{Name: "nope"})
			},
			code: connect.CodeNotFound,
		},
		{
			name: "virtual model to the model",
			call: func() (proto.Message, error) {
				return c.CreateVirtualModel(ctx, &adminv1.CreateVirtualModelRequest{VirtualModel: &adminv1.VirtualModel{
					Group: "prod", Name: "smart", RoutingConfig: &adminv1.Routing{Type: "weight-based-routing",
						LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "openai/gpt-4o", Weight: 100}}},
				}})
			},
			check: func(t *testing.T, resp proto.Message) {
				if got := resp.(*adminv1.CreateVirtualModelResponse).GetVirtualModel().GetFqn(); got != "prod/smart" {
					t.Fatalf("virtual model fqn = %q, want prod/smart", got)
				}
			},
		},
		{
			name: "virtual model with weights not summing to 100",
			call: func() (proto.Message, error) {
				return c.CreateVirtualModel(ctx, &adminv1.CreateVirtualModelRequest{VirtualModel: &adminv1.VirtualModel{
					Group: "prod", Name: "bad", RoutingConfig: &adminv1.Routing{Type: "weight-based-routing",
						LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "openai/gpt-4o", Weight: 90}}},
				}})
			},
			code: connect.CodeInvalidArgument,
		},
		{
			name: "routing rule for the virtual model",
			call: func() (proto.Message, error) {
				return c.CreateRoutingRule(ctx, &adminv1.CreateRoutingRuleRequest{RoutingRule: &adminv1.RoutingRule{
					Id: "ml", When: &adminv1.Condition{Subjects: []string{"team:ml"}, Models: []string{"prod/smart"}},
					RoutingConfig: &adminv1.Routing{Type: "priority-based-routing", LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "openai/gpt-4o"}}},
				}})
			},
			check: func(t *testing.T, resp proto.Message) {
				if got := resp.(*adminv1.CreateRoutingRuleResponse).GetRoutingRule().GetId(); got != "ml" {
					t.Fatalf("routing rule id = %q, want ml", got)
				}
			},
		},
		{
			name: "delete account",
			call: func() (proto.Message, error) {
				return c.DeleteProviderAccount(ctx, &adminv1.DeleteProviderAccountRequest{Name: "openai"})
			},
			want: &adminv1.DeleteProviderAccountResponse{},
		},
		{
			name: "deleted account is gone",
			call: func() (proto.Message, error) {
				return c.GetProviderAccount(ctx, &adminv1.GetProviderAccountRequest{Name: "openai"})
			},
			code: connect.CodeNotFound,
		},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			resp, err := s.call()
			if s.code != 0 {
				if got := connect.CodeOf(err); got != s.code {
					t.Fatalf("code = %v (%v), want %v", got, err, s.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if s.want != nil {
				if d := cmp.Diff(s.want, resp, ignoreTimes); d != "" {
					t.Errorf("response mismatch (-want +got):\n%s", d)
				}
			}
			if s.check != nil {
				s.check(t, resp)
			}
		})
		if !ok {
			t.FailNow()
		}
	}
	if l := logs.String(); strings.Contains(l, accountKey) || strings.Contains(l, secret) {
		t.Error("a secret reached the logs")
	}
}

// TestErrorsArePublic checks that an internal failure reaches the client as "internal error"
// with no database detail, and that its cause is logged.
func TestErrorsArePublic(t *testing.T) {
	c, st, logs := newClient(t)
	ctx := context.Background()
	st.Close() // Every query now fails inside database/sql.
	_, err := c.ListUsers(ctx, &adminv1.ListUsersRequest{})
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeInternal || ce.Message() != "internal error" {
		t.Fatalf("error = %v, want internal error with the public message only", err)
	}
	if !strings.Contains(logs.String(), "sql: database is closed") {
		t.Errorf("cause not logged; logs:\n%s", logs.String())
	}
}

// nopBuilder builds no adapters: the tests below compile snapshots only to authenticate.
type nopBuilder struct{}

func (nopBuilder) Build(provider.Config) (provider.Adapter, error) { return nil, errors.New("none") }

// TestRotateWithGracePeriod: over Connect, a rotation with a grace period keeps the old
// secret working until the period ends (checked on the snapshot the store produces, with the
// clock given to Authenticate), lists its prefix and end, and refuses periods out of range
// naming grace_period.
func TestRotateWithGracePeriod(t *testing.T) {
	c, st, _ := newClient(t)
	ctx := context.Background()
	if _, err := c.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "alice"}}); err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Owner: &adminv1.ApiKey_User{User: "alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	id, old := created.GetApiKey().GetId(), created.GetSecret()
	for _, tt := range []struct {
		name  string
		grace *durationpb.Duration
	}{
		{"negative", durationpb.New(-time.Minute)},
		{"over 7 days", durationpb.New(7*24*time.Hour + time.Second)},
	} {
		_, err := c.RotateApiKey(ctx, &adminv1.RotateApiKeyRequest{Id: id, GracePeriod: tt.grace})
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "grace_period") {
			t.Errorf("%s grace period: %v, want invalid argument naming grace_period", tt.name, err)
		}
	}

	rotated, err := c.RotateApiKey(ctx, &adminv1.RotateApiKeyRequest{Id: id, GracePeriod: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	end := rotated.GetApiKey().GetPreviousExpireTime().AsTime()
	if rotated.GetApiKey().GetPreviousPrefix() != created.GetApiKey().GetPrefix() || end.IsZero() {
		t.Fatalf("rotated key %v: want the old prefix and the grace period's end", rotated.GetApiKey())
	}
	listed, err := c.ListApiKeys(ctx, &adminv1.ListApiKeysRequest{User: "alice"})
	if err != nil || len(listed.GetApiKeys()) != 1 || listed.GetApiKeys()[0].GetPreviousPrefix() != created.GetApiKey().GetPrefix() {
		t.Fatalf("listing %v, %v: want the previous prefix", listed, err)
	}
	cfg, err := st.SnapshotConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshot.Compile(cfg, nopBuilder{}, nil, slog.New(slog.DiscardHandler))
	for _, tt := range []struct {
		name   string
		secret string
		at     time.Time
		ok     bool
	}{
		{"new secret", rotated.GetSecret(), end.Add(-time.Minute), true},
		{"old secret before the end", old, end.Add(-time.Minute), true},
		{"old secret after the end", old, end.Add(time.Second), false},
		{"new secret after the end", rotated.GetSecret(), end.Add(time.Second), true},
	} {
		p, err := snap.Authenticate(tt.secret, tt.at)
		if tt.ok != (err == nil) || (err == nil && p.KeyID != id) {
			t.Errorf("%s: %+v, %v; want ok %v", tt.name, p, err, tt.ok)
		}
	}
}
