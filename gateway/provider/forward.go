package provider

import (
	"context"
	"io"
	"net/http"

	"github.com/llmgw/llmgw/gateway/chat"
)

// The OpenAI endpoints a Forwarder serves, named by their path under /v1.
const (
	// EndpointCompletions is the legacy text completions API; it may stream (SSE).
	EndpointCompletions = "completions"
	// EndpointModerations classifies text (and images) against the provider's policies.
	EndpointModerations = "moderations"
	// EndpointImageGenerations creates images from a prompt; it may stream (SSE).
	EndpointImageGenerations = "images/generations"
	// EndpointImageEdits edits images; the request is multipart/form-data (or JSON); it may stream.
	EndpointImageEdits = "images/edits"
	// EndpointAudioTranscriptions turns speech into text; the request is multipart/form-data;
	// it may stream.
	EndpointAudioTranscriptions = "audio/transcriptions"
	// EndpointAudioTranslations turns speech into English text; the request is multipart/form-data.
	EndpointAudioTranslations = "audio/translations"
	// EndpointAudioSpeech turns text into audio; the answer is binary audio, not JSON.
	EndpointAudioSpeech = "audio/speech"
)

// Forwarder is a model at a provider that serves OpenAI's other endpoints (the EndpointX
// constants) in OpenAI's own wire format, so that the client's request is forwarded with only
// the model patched and the answer is passed back as the upstream wrote it.
//
// It is optional, discovered with a type assertion on the Adapter as Embedder is. A provider
// that has none of these endpoints simply does not implement it, and the client gets a 400
// naming the model. An OpenAI-compatible adapter implements it for every endpoint, whether or
// not the server behind it has that endpoint: a server that lacks one answers 404, which maps
// as any upstream error does. Implementations are safe for concurrent use.
type Forwarder interface {
	// Forward sends one request and returns the upstream's successful answer, whose body the
	// caller must close. An upstream error status is returned as an error (see StatusError),
	// never as a result.
	Forward(ctx context.Context, c *ForwardCall) (*ForwardResult, error)
}

// ForwardCall is one request to a Forwarder.
type ForwardCall struct {
	// Endpoint is one of the EndpointX constants.
	Endpoint string
	// ContentType is the client's Content-Type: application/json, or multipart/form-data with
	// its boundary.
	ContentType string
	// Body is the client's raw body. Adapters patch only the model (the JSON member or the
	// multipart form field "model") and, for a completions stream, ask for usage; every other
	// byte, file parts included, goes to the upstream as it is. Adapters do not modify it.
	Body []byte
	// Stream is whether the client asked for an event stream ("stream": true, or the form
	// field stream=true).
	Stream bool
}

// ForwardResult is an upstream's successful answer.
type ForwardResult struct {
	// Status is the upstream's 2xx status.
	Status int
	// Header holds the upstream's Content-Type and the few other headers that are safe to pass
	// on; never a credential, cookie or hop-by-hop header.
	Header http.Header
	// Body is the answer, passed on as it arrives (an event stream is not buffered). The
	// caller closes it. A read error other than io.EOF means the answer broke mid-way (an
	// *apierr.Error): the client must not be shown a clean end.
	Body io.ReadCloser
	// Usage returns the usage the answer reported; it is valid once Body has been read to
	// io.EOF, and zero when the answer reported none (binary audio, moderations, answers
	// billed by duration), which the pipeline records as usage missing.
	Usage func() chat.Usage
}
