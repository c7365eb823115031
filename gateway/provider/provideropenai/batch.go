package provideropenai

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/llmgw/llmgw/gateway/provider"
)

// BatchAPI says where an account serves OpenAI's Files and Batch APIs.
type BatchAPI struct {
	// Root is the URL "files" and "batches" are under: OpenAI's base URL, or Azure's
	// "<resource endpoint>/openai".
	Root string
	// Query is added to every call (Azure's api-version).
	Query url.Values
	// TrimV1 names endpoints without OpenAI's "/v1" prefix ("/chat/completions"), as Azure's
	// deployment-scoped batch endpoints are named.
	TrimV1 bool
	// PriceFactor is what a batch token costs as a fraction of the standard price.
	PriceFactor float64
}

// Batching returns a with the Files and Batch APIs of api: an adapter that also implements
// provider.Batcher. Kinds without batches use the adapter as New returns it, which does not.
func Batching(a *Adapter, api BatchAPI) (provider.Adapter, error) {
	if err := checkAbsolute(api.Root); err != nil {
		return nil, fmt.Errorf("batch API root %q: %w", api.Root, err)
	}
	if api.PriceFactor <= 0 || api.PriceFactor > 1 {
		return nil, fmt.Errorf("batch price factor %v must be in (0, 1]", api.PriceFactor)
	}
	api.Root = strings.TrimRight(api.Root, "/")
	return &batchAdapter{Adapter: a, api: api}, nil
}

// batchAdapter is an Adapter with the Files and Batch APIs; every other interface of Adapter
// (Embedder, Forwarder) is promoted.
type batchAdapter struct {
	*Adapter
	api BatchAPI
}

var _ provider.Batcher = (*batchAdapter)(nil)

// BaseURL is the base URL the adapter's endpoints are derived from.
func (a *Adapter) BaseURL() string { return a.base }

func (b *batchAdapter) BatchPriceFactor() float64 { return b.api.PriceFactor }

func (b *batchAdapter) BatchTarget(path string) (model, endpoint string) {
	if b.api.TrimV1 {
		if p, ok := strings.CutPrefix(path, "/v1/"); ok {
			return b.model, "/" + p
		}
	}
	return b.model, path
}

// BatchDo implements provider.Batcher: r.Path under the API root, with the adapter's
// credential, the client's query and the account's own.
func (b *batchAdapter) BatchDo(ctx context.Context, r *provider.BatchRequest) (*http.Response, error) {
	q := url.Values{}
	for k, v := range r.Query {
		q[k] = v
	}
	for k, v := range b.api.Query {
		q[k] = v
	}
	target := b.api.Root + "/" + r.Path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	if r.Body == nil {
		return b.do(ctx, r.Method, target, "", "", nil, 0, nil)
	}
	again := func() (io.ReadCloser, error) { return io.NopCloser(r.Body()), nil }
	return b.do(ctx, r.Method, target, r.ContentType, "", r.Body(), r.Size, again)
}
