package secretrefvault_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/secretref"
	"github.com/llmgw/llmgw/secretref/secretreftest"
	"github.com/llmgw/llmgw/secretref/secretrefvault"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestVault(t *testing.T) {
	fake := secretreftest.NewVault("s.test-token")
	srv := httptest.NewServer(fake)
	defer srv.Close()
	f := secretrefvault.New(env(map[string]string{"VAULT_ADDR": srv.URL, "VAULT_TOKEN": "s.test-token"}), secretrefvault.WithMaxRetries(0))
	secretreftest.Run(t, f, "vault://secret/llmgw/openai#api_key", fake.Backend("secret/llmgw/openai", "api_key"))
}

func TestVaultErrors(t *testing.T) {
	fake := secretreftest.NewVault("s.good")
	fake.Put("secret/app", map[string]string{"api_key": "sk-x"})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	tests := []struct {
		name, ref, token, want string
	}{
		{"wrong token", "vault://secret/app#api_key", "s.bad", "permission denied"},
		{"no such secret", "vault://secret/missing#api_key", "s.good", "secret not found"},
		{"no such key", "vault://secret/app#other", "s.good", `no key "other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := secretrefvault.New(env(map[string]string{"VAULT_ADDR": srv.URL, "VAULT_TOKEN": tt.token}), secretrefvault.WithMaxRetries(0))
			ref, err := secretref.Parse(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Fetch(context.Background(), ref)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Fetch error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	f := secretrefvault.New(env(nil))
	if _, err := f.Fetch(context.Background(), secretref.Ref{Scheme: "vault", Path: "secret/app", Key: "api_key"}); err == nil || !strings.Contains(err.Error(), "VAULT_ADDR") {
		t.Errorf("without VAULT_ADDR: %v", err)
	}
}
