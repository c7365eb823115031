// Package secretrefvault reads vault:// references from HashiCorp Vault's KV version 2
// secrets engine with the official client (github.com/hashicorp/vault/api). It is a
// secretref.Fetcher; it is not for Vault's other engines.
package secretrefvault

import (
	"context"
	"errors"
	"fmt"
	"sync"

	vault "github.com/hashicorp/vault/api"

	"github.com/llmgw/llmgw/secretref"
)

// Fetcher reads vault:// references. The client is made at the first Fetch from VAULT_ADDR,
// VAULT_TOKEN and VAULT_NAMESPACE (and the client's other VAULT_* settings, such as
// VAULT_CACERT). It is safe for concurrent use.
type Fetcher struct {
	getenv     func(string) string
	maxRetries int // <0: the client's default

	mu     sync.Mutex
	client *vault.Client
}

var _ secretref.Fetcher = (*Fetcher)(nil)

// Option configures a Fetcher.
type Option func(*Fetcher)

// WithMaxRetries sets how many times the client retries a 5xx or a connection error
// (default the client's, 2).
func WithMaxRetries(n int) Option { return func(f *Fetcher) { f.maxRetries = n } }

// New returns a Fetcher that reads its settings with getenv.
func New(getenv func(string) string, opts ...Option) *Fetcher {
	f := &Fetcher{getenv: getenv, maxRetries: -1}
	for _, o := range opts {
		o(f)
	}
	return f
}

func (f *Fetcher) vault() (*vault.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.client != nil {
		return f.client, nil
	}
	addr := f.getenv("VAULT_ADDR")
	if addr == "" {
		return nil, errors.New("VAULT_ADDR is not set")
	}
	cfg := vault.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("vault client settings: %w", cfg.Error)
	}
	cfg.Address = addr
	if f.maxRetries >= 0 {
		cfg.MaxRetries = f.maxRetries
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	// The token is set from getenv even when empty, so a token only the process
	// environment holds is never picked up behind the injected one's back.
	c.SetToken(f.getenv("VAULT_TOKEN"))
	if ns := f.getenv("VAULT_NAMESPACE"); ns != "" {
		c.SetNamespace(ns)
	}
	f.client = c
	return c, nil
}

// Fetch returns key ref.Key of the latest version of the KV v2 secret ref names.
func (f *Fetcher) Fetch(ctx context.Context, ref secretref.Ref) (string, error) {
	c, err := f.vault()
	if err != nil {
		return "", err
	}
	s, err := c.KVv2(ref.Mount()).Get(ctx, ref.SecretPath())
	if err != nil {
		return "", err
	}
	raw, ok := s.Data[ref.Key]
	if !ok {
		return "", fmt.Errorf("the secret has no key %q", ref.Key)
	}
	v, ok := raw.(string)
	if !ok {
		return "", fmt.Errorf("the secret's key %q is not a string", ref.Key)
	}
	return v, nil
}
