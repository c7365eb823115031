package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/snapshot"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

func testIdentityProviders(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	corp := &adminv1.IdentityProvider{Name: "corp", Issuer: "https://login.example.com", Audiences: []string{"llmgw"}, GroupsClaim: "groups",
		CreateUsers: true, ClientId: "llmgw-cli", AllowedDomains: []string{"@Example.com"}}
	wantCorp := &adminv1.IdentityProvider{Name: "corp", Issuer: "https://login.example.com", Audiences: []string{"llmgw"}, GroupsClaim: "groups",
		CreateUsers: true, ClientId: "llmgw-cli", AllowedDomains: []string{"example.com"}}
	diff(t, "created", wantCorp, must(st.CreateIdentityProvider(ctx, corp))(t))
	diff(t, "get", wantCorp, must(st.GetIdentityProvider(ctx, "corp"))(t))
	dev := &adminv1.IdentityProvider{Name: "dev", Issuer: "http://127.0.0.1:5556/dex", Audiences: []string{"a", "b"}, UserClaim: "sub", JwksUrl: "http://localhost:5556/keys"}
	must(st.CreateIdentityProvider(ctx, dev))(t)
	diff(t, "list", []*adminv1.IdentityProvider{wantCorp, dev}, must(st.ListIdentityProviders(ctx))(t))

	upd := &adminv1.IdentityProvider{Name: "corp", Issuer: "https://login2.example.com", Audiences: []string{"llmgw", "x"}, UserClaim: "preferred_username"}
	diff(t, "updated", upd, must(st.UpdateIdentityProvider(ctx, upd))(t))

	cfg := must(st.SnapshotConfig(ctx))(t)
	wantCfg := []snapshot.IdentityProvider{
		{Name: "corp", Issuer: "https://login2.example.com", Audiences: []string{"llmgw", "x"}, UserClaim: "preferred_username"},
		{Name: "dev", Issuer: "http://127.0.0.1:5556/dex", Audiences: []string{"a", "b"}, UserClaim: "sub", JWKSURL: "http://localhost:5556/keys"},
	}
	if d := cmp.Diff(wantCfg, cfg.IdentityProviders); d != "" {
		t.Errorf("snapshot config (-want +got):\n%s", d)
	}

	errs := []struct {
		name  string
		err   error
		kind  apierr.Kind
		param string
	}{
		{"duplicate", second(st.CreateIdentityProvider(ctx, dev)), apierr.KindAlreadyExists, ""},
		{"no issuer", second(st.CreateIdentityProvider(ctx, &adminv1.IdentityProvider{Name: "x", Audiences: []string{"a"}})), apierr.KindInvalidRequest, "identity_provider.issuer"},
		{"plain http issuer", second(st.CreateIdentityProvider(ctx, &adminv1.IdentityProvider{Name: "x", Issuer: "http://login.example.com", Audiences: []string{"a"}})), apierr.KindInvalidRequest, "identity_provider.issuer"},
		{"no audiences", second(st.CreateIdentityProvider(ctx, &adminv1.IdentityProvider{Name: "x", Issuer: "https://login.example.com"})), apierr.KindInvalidRequest, "identity_provider.audiences"},
		{"bad jwks url", second(st.CreateIdentityProvider(ctx, &adminv1.IdentityProvider{Name: "x", Issuer: "https://login.example.com", Audiences: []string{"a"}, JwksUrl: "keys"})), apierr.KindInvalidRequest, "identity_provider.jwks_url"},
		{"bad name", second(st.CreateIdentityProvider(ctx, &adminv1.IdentityProvider{Name: "-x", Issuer: "https://login.example.com", Audiences: []string{"a"}})), apierr.KindInvalidRequest, "identity_provider.name"},
		{"get missing", second(st.GetIdentityProvider(ctx, "nope")), apierr.KindNotFound, ""},
		{"update missing", second(st.UpdateIdentityProvider(ctx, &adminv1.IdentityProvider{Name: "nope", Issuer: "https://login.example.com", Audiences: []string{"a"}})), apierr.KindNotFound, ""},
		{"delete missing", st.DeleteIdentityProvider(ctx, "nope"), apierr.KindNotFound, ""},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) { wantErr(t, e.err, e.kind, e.param) })
	}

	ok(t, st.DeleteIdentityProvider(ctx, "corp"))
	diff(t, "list after delete", []*adminv1.IdentityProvider{dev}, must(st.ListIdentityProviders(ctx))(t))
}
