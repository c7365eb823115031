// Package secretrefazure reads azure-kv:// references from Azure Key Vault with the official
// client (azsecrets) and DefaultAzureCredential. It is a secretref.Fetcher.
package secretrefazure

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/llmgw/llmgw/secretref"
)

// Fetcher reads azure-kv:// references. The credential is DefaultAzureCredential
// (environment, workload identity, managed identity, Azure CLI), made at the first Fetch;
// one client is kept per vault. It is safe for concurrent use.
type Fetcher struct {
	newCred  func() (azcore.TokenCredential, error)
	vaultURL func(vault string) string
	opts     azsecrets.ClientOptions

	mu      sync.Mutex
	cred    azcore.TokenCredential
	clients map[string]*azsecrets.Client
}

var _ secretref.Fetcher = (*Fetcher)(nil)

// Option configures a Fetcher.
type Option func(*Fetcher)

// WithCredential uses cred instead of DefaultAzureCredential.
func WithCredential(cred azcore.TokenCredential) Option {
	return func(f *Fetcher) { f.newCred = func() (azcore.TokenCredential, error) { return cred, nil } }
}

// WithVaultURL replaces how a reference's vault becomes the vault's URL (default VaultURL).
func WithVaultURL(u func(vault string) string) Option { return func(f *Fetcher) { f.vaultURL = u } }

// WithClientOptions sets the clients' options (transport, retries, challenge verification).
func WithClientOptions(o azsecrets.ClientOptions) Option { return func(f *Fetcher) { f.opts = o } }

// VaultURL is https://<vault>.vault.azure.net/ for a vault name, or https://<vault>/ when
// vault is a host name (it has a dot: a vault of another Azure cloud).
func VaultURL(vault string) string {
	if strings.Contains(vault, ".") {
		return "https://" + vault + "/"
	}
	return "https://" + vault + ".vault.azure.net/"
}

// New returns a Fetcher.
func New(opts ...Option) *Fetcher {
	f := &Fetcher{vaultURL: VaultURL, clients: map[string]*azsecrets.Client{},
		newCred: func() (azcore.TokenCredential, error) { return azidentity.NewDefaultAzureCredential(nil) }}
	for _, o := range opts {
		o(f)
	}
	return f
}

func (f *Fetcher) client(vault string) (*azsecrets.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.clients[vault]; c != nil {
		return c, nil
	}
	if f.cred == nil {
		cred, err := f.newCred()
		if err != nil {
			return nil, fmt.Errorf("azure credential: %w", err)
		}
		f.cred = cred
	}
	opts := f.opts
	c, err := azsecrets.NewClient(f.vaultURL(vault), f.cred, &opts)
	if err != nil {
		return nil, fmt.Errorf("key vault client: %w", err)
	}
	f.clients[vault] = c
	return c, nil
}

// Fetch returns the current version of the secret ref names.
func (f *Fetcher) Fetch(ctx context.Context, ref secretref.Ref) (string, error) {
	c, err := f.client(ref.Vault)
	if err != nil {
		return "", err
	}
	resp, err := c.GetSecret(ctx, ref.Path, "", nil)
	if err != nil {
		return "", err
	}
	if resp.Value == nil {
		return "", errors.New("the secret has no value")
	}
	return *resp.Value, nil
}
