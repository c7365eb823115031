package provider

import (
	"context"
	"io"
	"net/http"
	"net/url"
)

// Batcher is a model whose provider account serves OpenAI's Files and Batch APIs (OpenAI,
// Azure OpenAI). The gateway keeps no state for them: the ids it hands out name the model,
// and every call is relayed to the account with the account's credential.
//
// It is optional, discovered with a type assertion on the Adapter as Forwarder is. A provider
// without batches does not implement it, and its models are refused in a batch input file
// with a 400 naming the line. Implementations are safe for concurrent use.
type Batcher interface {
	// BatchTarget returns what a batch for the OpenAI endpoint path ("/v1/chat/completions")
	// names upstream: the model its input lines carry (OpenAI's model id, Azure's deployment
	// name) and the endpoint the batch and each line's url name.
	BatchTarget(path string) (model, endpoint string)
	// BatchPriceFactor is what the provider bills a batch token at, as a fraction of the
	// model's standard price (OpenAI and Azure: 0.5).
	BatchPriceFactor() float64
	// BatchDo sends one request to the account's Files or Batch API and returns the
	// upstream's successful answer, whose body the caller must close. An upstream error
	// status is returned as an error (see StatusError), never as a response.
	BatchDo(ctx context.Context, r *BatchRequest) (*http.Response, error)
}

// BatchRequest is one call to a Batcher.
type BatchRequest struct {
	Method string
	// Path is relative to the API root: "files", "files/<id>", "files/<id>/content",
	// "batches", "batches/<id>", "batches/<id>/cancel".
	Path string
	// Query holds the client's list parameters (limit, after, order, purpose); the adapter
	// adds its own (Azure's api-version).
	Query url.Values
	// ContentType, Body and Size describe the body; Body is nil for GET and DELETE. Body
	// returns a new reader of the same bytes on every call, so that a request can be sent
	// again (net/http retries a request whose reused connection failed). Size is sent as
	// Content-Length.
	ContentType string
	Body        func() io.Reader
	Size        int64
}
