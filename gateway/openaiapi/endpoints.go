package openaiapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/sse"
)

// forwarded are OpenAI's endpoints that the gateway forwards to the model's provider as they
// are (provider.Forwarder), by path under /v1.
var forwarded = []string{
	provider.EndpointCompletions,
	provider.EndpointModerations,
	provider.EndpointImageGenerations,
	provider.EndpointImageEdits,
	provider.EndpointAudioTranscriptions,
	provider.EndpointAudioTranslations,
	provider.EndpointAudioSpeech,
}

// routeForwarded registers the forwarded endpoints. Each path takes every method so that a
// method other than POST gets OpenAI's 405, not the catch-all 404.
func (h *Handler) routeForwarded() {
	for _, endpoint := range forwarded {
		h.mux.HandleFunc("/v1/"+endpoint, func(w http.ResponseWriter, r *http.Request) { h.forward(w, r, endpoint) })
	}
}

// maxFieldSize bounds a form field the gateway reads (model, stream); longer is a bad request.
const maxFieldSize = 1 << 10

// forward serves one forwarded endpoint: the body is read once under the size limit, the
// model read from it (the JSON member or the multipart form field), and the upstream's answer
// streamed back with its Content-Type, flushed event by event when it is an event stream.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, endpoint string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, r, edge.MethodNotAllowed(r))
		return
	}
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	ct := r.Header.Get("Content-Type")
	model, stream, err := modelOf(ct, body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.p.Forward(r.Context(), c, model, &provider.ForwardCall{Endpoint: endpoint, ContentType: ct, Body: body, Stream: stream})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer res.Body.Close() // before the end: the pipeline records the request as canceled
	h.relay(w, r, res)
}

// relay writes a forwarded answer as it arrives.
func (h *Handler) relay(w http.ResponseWriter, r *http.Request, res *provider.ForwardResult) {
	hdr := w.Header()
	for k, v := range res.Header {
		hdr[k] = v
	}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	events := mt == "text/event-stream"
	if events {
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("X-Accel-Buffering", "no")
	}
	w.WriteHeader(res.Status)
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // client gone; Close records the request as canceled
			}
			if events && rc.Flush() != nil {
				return
			}
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err == nil {
			continue
		}
		if r.Context().Err() != nil {
			return
		}
		if !events {
			// A JSON or audio answer cannot carry an error once it has begun: abort the
			// connection, so the client sees a broken answer rather than a short one.
			panic(http.ErrAbortHandler)
		}
		// A failure after the first byte: end with an explicit error event, never a clean
		// end; the leading newline ends any event the upstream left half-written.
		b, _ := json.Marshal(apierr.From(err).OpenAI())
		_, _ = w.Write(sse.AppendEvent([]byte("\n"), "", b))
		_ = rc.Flush()
		return
	}
}

// modelOf returns a request's model and whether it asks for a stream: the JSON members
// "model" and "stream", or the multipart form fields of those names. Only those fields are
// read; the body is already in memory under the size limit, so parsing costs no more.
func modelOf(contentType string, body []byte) (model string, stream bool, err error) {
	mt, params, _ := mime.ParseMediaType(contentType)
	if mt == "multipart/form-data" {
		return formModel(body, params["boundary"])
	}
	var req struct {
		Model  json.RawMessage `json:"model"`
		Stream json.RawMessage `json:"stream"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return "", false, apierr.Invalid("", "we could not parse the JSON body of your request; send a JSON object or multipart/form-data")
	}
	if len(req.Model) == 0 || json.Unmarshal(req.Model, &model) != nil || model == "" {
		return "", false, apierr.Invalid("model", "you must provide a model parameter")
	}
	return model, bytes.Equal(req.Stream, []byte("true")), nil
}

// formModel reads the model and stream fields of a multipart/form-data body; other parts,
// files included, are skipped without being copied.
func formModel(body []byte, boundary string) (model string, stream bool, err error) {
	if boundary == "" {
		return "", false, apierr.Invalid("", "the multipart/form-data request has no boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", false, apierr.Invalid("", "the multipart/form-data request is malformed")
		}
		name := p.FormName()
		if p.FileName() != "" || (name != "model" && name != "stream") {
			continue
		}
		v, err := io.ReadAll(io.LimitReader(p, maxFieldSize+1))
		if err != nil {
			return "", false, apierr.Invalid("", "the multipart/form-data request is malformed")
		}
		if len(v) > maxFieldSize {
			return "", false, apierr.Invalid(name, "the %s field is too long", name)
		}
		if name == "model" {
			model = string(v)
		} else {
			stream = string(v) == "true"
		}
	}
	if model == "" {
		return "", false, apierr.Invalid("model", "you must provide a model parameter")
	}
	return model, stream, nil
}
