package secretrefazure_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/llmgw/llmgw/secretref"
	"github.com/llmgw/llmgw/secretref/secretrefazure"
	"github.com/llmgw/llmgw/secretref/secretreftest"
)

const token = "fake-access-token"

// fakeKeyVault is Key Vault's GET /secrets/{name}/{version}?api-version=... as documented,
// behind its bearer challenge: a request without a token is 401 with a WWW-Authenticate
// challenge naming the tenant's authority and the vault resource; with the token it answers
// the secret bundle {"value", "id", "attributes"} of the latest (empty version) or named
// version; an unknown secret is 404 SecretNotFound; down is 503.
type fakeKeyVault struct {
	mu       sync.Mutex
	versions map[string][]string // name -> values, version "v<n>" at n-1
	down     bool
	scopes   []string // scopes the credential was asked for
}

func (f *fakeKeyVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kvErr := func(code int, c, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": c, "message": msg}})
	}
	if r.Header.Get("Authorization") != "Bearer "+token {
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001", resource="https://vault.azure.net"`)
		kvErr(http.StatusUnauthorized, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	if f.down {
		kvErr(http.StatusServiceUnavailable, "ServiceUnavailable", "The service is unavailable.")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		kvErr(http.StatusBadRequest, "BadParameter", "api-version is required")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/secrets/")
	name, version, _ := strings.Cut(rest, "/")
	vs := f.versions[name]
	if r.Method != http.MethodGet || !ok || len(vs) == 0 {
		kvErr(http.StatusNotFound, "SecretNotFound", fmt.Sprintf("A secret with (name/id) %s was not found in this key vault.", name))
		return
	}
	n := len(vs)
	if version != "" {
		if _, err := fmt.Sscanf(version, "v%d", &n); err != nil || n < 1 || n > len(vs) {
			kvErr(http.StatusNotFound, "SecretNotFound", "version not found")
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"value": vs[n-1], "id": fmt.Sprintf("https://%s/secrets/%s/v%d", r.Host, name, n),
		"attributes": map[string]any{"enabled": true, "created": 1700000000, "updated": 1700000000, "recoveryLevel": "Recoverable+Purgeable"}})
}

// credential is a fake azcore.TokenCredential that records the scopes it is asked for.
type credential struct{ f *fakeKeyVault }

func (c credential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.scopes = append(c.f.scopes, o.Scopes...)
	return azcore.AccessToken{Token: token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

type backend struct {
	f    *fakeKeyVault
	name string
}

func (b backend) Set(v string) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	b.f.versions[b.name] = append(b.f.versions[b.name], v)
}

func (b backend) SetDown(down bool) {
	b.f.mu.Lock()
	defer b.f.mu.Unlock()
	b.f.down = down
}

func start(t *testing.T) (*fakeKeyVault, *secretrefazure.Fetcher, *[]string) {
	fake := &fakeKeyVault{versions: map[string][]string{}}
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	var vaults []string
	f := secretrefazure.New(secretrefazure.WithCredential(credential{fake}),
		secretrefazure.WithVaultURL(func(vault string) string { vaults = append(vaults, vault); return srv.URL + "/" }),
		secretrefazure.WithClientOptions(azsecrets.ClientOptions{
			ClientOptions:                        policy.ClientOptions{Transport: srv.Client(), Retry: policy.RetryOptions{MaxRetries: -1}},
			DisableChallengeResourceVerification: true,
		}))
	return fake, f, &vaults
}

func TestAzure(t *testing.T) {
	fake, f, vaults := start(t)
	secretreftest.Run(t, f, "azure-kv://prod-vault/openai-key", backend{fake, "openai-key"})
	if len(*vaults) != 1 || (*vaults)[0] != "prod-vault" {
		t.Errorf("clients made for vaults %v, want one for prod-vault", *vaults)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.scopes) == 0 || fake.scopes[0] != "https://vault.azure.net/.default" {
		t.Errorf("token scopes %v, want the challenge's resource https://vault.azure.net/.default", fake.scopes)
	}
}

func TestAzureNotFound(t *testing.T) {
	_, f, _ := start(t)
	ref, err := secretref.Parse("azure-kv://v/nope")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(context.Background(), ref); err == nil || !strings.Contains(err.Error(), "SecretNotFound") {
		t.Errorf("Fetch of an unknown secret: %v, want SecretNotFound", err)
	}
}

func TestVaultURL(t *testing.T) {
	for in, want := range map[string]string{"prod": "https://prod.vault.azure.net/", "prod.vault.azure.cn": "https://prod.vault.azure.cn/"} {
		if got := secretrefazure.VaultURL(in); got != want {
			t.Errorf("VaultURL(%q) = %q, want %q", in, got, want)
		}
	}
}
