// Package secretrefgcp reads gcp-sm:// references from Google Cloud Secret Manager with the
// official client (cloud.google.com/go/secretmanager) and Application Default Credentials.
// It is a secretref.Fetcher.
package secretrefgcp

import (
	"context"
	"fmt"
	"hash/crc32"
	"sync"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"

	"github.com/llmgw/llmgw/secretref"
)

// Fetcher reads gcp-sm:// references. The client is made at the first Fetch, with
// Application Default Credentials unless options say otherwise. It is safe for concurrent
// use; Close closes the client.
type Fetcher struct {
	opts []option.ClientOption

	mu     sync.Mutex
	client *secretmanager.Client
}

var _ secretref.Fetcher = (*Fetcher)(nil)

// New returns a Fetcher whose client is made with opts (an endpoint, credentials).
func New(opts ...option.ClientOption) *Fetcher { return &Fetcher{opts: opts} }

func (f *Fetcher) secretManager(ctx context.Context) (*secretmanager.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.client != nil {
		return f.client, nil
	}
	// The client outlives this call's context: it is kept for every later Fetch.
	c, err := secretmanager.NewClient(context.WithoutCancel(ctx), f.opts...)
	if err != nil {
		return nil, fmt.Errorf("gcp secret manager client: %w", err)
	}
	f.client = c
	return c, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Fetch returns the payload of the secret version ref names (versions/latest by default).
// A payload whose checksum does not match is refused.
func (f *Fetcher) Fetch(ctx context.Context, ref secretref.Ref) (string, error) {
	c, err := f.secretManager(ctx)
	if err != nil {
		return "", err
	}
	out, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: ref.Path})
	if err != nil {
		return "", err
	}
	p := out.GetPayload()
	if p == nil {
		return "", fmt.Errorf("the secret version has no payload")
	}
	if p.DataCrc32C != nil && int64(crc32.Checksum(p.Data, castagnoli)) != p.GetDataCrc32C() {
		return "", fmt.Errorf("the secret version's payload does not match its checksum")
	}
	return string(p.Data), nil
}

// Close closes the client, if one was made.
func (f *Fetcher) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.client == nil {
		return nil
	}
	return f.client.Close()
}
