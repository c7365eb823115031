// Package openaiapi serves the OpenAI-compatible HTTP surface under /v1: chat completions
// (streamed and not), the Responses API, embeddings, models, rerank, and the model-scoped
// endpoints forwarded to providers that have them (legacy completions, moderations, images,
// audio). Clients use the official OpenAI SDKs with only the base URL and key changed.
//
// Requests are read once under a size limit and decoded once; OpenAI-compatible upstreams get
// the raw body with the model patched. Streams are forwarded chunk by chunk, flushed whenever
// the upstream has nothing more ready (provider.Readier). Errors are written in OpenAI's error
// shape by apierr.
package openaiapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/batch"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/httpheader"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/sse"
)

// Handler serves /v1. It is safe for concurrent use.
type Handler struct {
	p       *pipeline.Pipeline
	logger  *slog.Logger
	maxBody int64
	mux     *http.ServeMux
	created int64 // reported as every model's creation time
	ids     *batch.IDs
	maxFile int64
}

// Option configures a Handler.
type Option func(*Handler)

// WithBatchKey seals the ids of files and batches with key, which must be the same on every
// replica and across restarts (it is derived from the master key). Without it the handler
// draws a random key: its ids hold for the life of the process only.
func WithBatchKey(key []byte) Option {
	return func(h *Handler) { h.ids = batch.NewIDs(key) }
}

// WithMaxFile limits an uploaded batch input file to n bytes (default DefaultMaxFile).
func WithMaxFile(n int64) Option {
	return func(h *Handler) {
		if n > 0 {
			h.maxFile = n
		}
	}
}

// New returns the /v1 handler. maxBody <= 0 means edge.DefaultMaxBody.
func New(p *pipeline.Pipeline, logger *slog.Logger, maxBody int64, opts ...Option) *Handler {
	if maxBody <= 0 {
		maxBody = edge.DefaultMaxBody
	}
	h := &Handler{p: p, logger: logger, maxBody: maxBody, mux: http.NewServeMux(), created: time.Now().Unix(), maxFile: DefaultMaxFile}
	for _, o := range opts {
		o(h)
	}
	if h.ids == nil {
		h.ids = batch.NewIDs(newBatchKey())
	}
	h.mux.HandleFunc("POST /v1/chat/completions", h.chatCompletions)
	h.mux.HandleFunc("POST /v1/embeddings", h.embeddings)
	h.mux.HandleFunc("/v1/rerank", h.rerank) // every method: rerank answers a wrong one with 405
	h.mux.HandleFunc("POST /v1/responses", h.responses)
	h.routeForwarded() // completions, moderations, images and audio: endpoints.go
	h.routeBatches()   // files and batches: batches.go
	h.mux.HandleFunc("GET /v1/models", h.listModels)
	h.mux.HandleFunc("GET /v1/models/{model...}", h.getModel)
	h.mux.HandleFunc("/v1/", h.notFound)
	return h
}

// ServeHTTP implements http.Handler.
// Behind the server's edge the request is already named; a bare handler names it here.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	er, r := edge.Ensure(r, edge.SurfaceOpenAI)
	er.SetID(w.Header())
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	// Match OpenAI: an unknown route or a wrong method is a 404 in its error shape, except a
	// known path with the wrong method, which is 405.
	switch r.URL.Path {
	case "/v1/chat/completions", "/v1/embeddings", "/v1/responses":
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, r, edge.MethodNotAllowed(r))
		return
	}
	h.fail(w, r, &apierr.Error{Kind: apierr.KindNotFound, Code: "unknown_url", Message: "unknown request URL: " + r.Method + " " + r.URL.Path})
}

// fail writes err in OpenAI's error shape; an internal error's cause is logged, once.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := apierr.From(err)
	if er := edge.FromContext(r.Context()); er != nil {
		er.Failed(e)
	}
	if e.Kind == apierr.KindInternal && e.Cause != nil {
		h.logger.LogAttrs(r.Context(), slog.LevelError, "internal error", slog.String("request_id", w.Header().Get("X-Request-Id")), slog.String("error", e.Cause.Error()))
	}
	apierr.WriteOpenAI(w, e)
}

func (h *Handler) admit(w http.ResponseWriter, r *http.Request) (*pipeline.Caller, bool) {
	er, _ := edge.Ensure(r, edge.SurfaceOpenAI)
	c, err := h.p.AdmitEdge(er, edge.Secret(r.Header))
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	c.Header = w.Header() // the guards' headers go out with the answer or the refusal
	return c, true
}

// readBody reads the whole body under the size limit.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := edge.ReadBody(w, r, h.maxBody)
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return body, true
}

func (h *Handler) chatCompletions(w http.ResponseWriter, r *http.Request) {
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	// The call and its request, in one allocation.
	cr := &struct {
		call provider.ChatCall
		req  chat.Request
	}{}
	if err := cr.req.Decode(body); err != nil {
		h.fail(w, r, err)
		return
	}
	call := &cr.call
	call.Request, call.Body = &cr.req, body
	if call.Request.Stream {
		h.stream(w, r, c, call)
		return
	}
	res, err := h.p.Chat(r.Context(), c, call)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpheader.SetJSON(w.Header())
	_, _ = w.Write(res.JSON)
}

var doneEvent = []byte("data: [DONE]\n\n")

func (h *Handler) stream(w http.ResponseWriter, r *http.Request, c *pipeline.Caller, call *provider.ChatCall) {
	st, err := h.p.ChatStream(r.Context(), c, call)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer st.Close()
	includeUsage := call.Request.IncludeUsage()
	// Wait for the first chunk before committing to 200, so an upstream that fails at once
	// still gets a proper error status.
	ch, err := st.Recv()
	if err != nil && !errors.Is(err, io.EOF) {
		h.fail(w, r, err)
		return
	}
	httpheader.SetEventStream(w.Header())
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	buf := make([]byte, 0, 1024)
	pending := false // written and not flushed
	for err == nil {
		if !ch.UsageOnly || includeUsage {
			buf = sse.AppendEvent(buf[:0], "", ch.JSON)
			if _, werr := w.Write(buf); werr != nil {
				return // client gone; Close records the stream as canceled
			}
			pending = true
		}
		// Flush only before a Recv that would wait for the upstream: chunks that arrived
		// together leave in one write, and none waits for its successor (provider.Readier).
		if pending && !provider.Ready(st) {
			if ferr := rc.Flush(); ferr != nil {
				return
			}
			pending = false
		}
		ch, err = st.Recv()
	}
	if errors.Is(err, io.EOF) {
		_, _ = w.Write(doneEvent)
		_ = rc.Flush()
		return
	}
	if r.Context().Err() != nil {
		return
	}
	// A failure after the first byte: end with an explicit error event, never a clean end.
	b, _ := json.Marshal(apierr.From(err).OpenAI())
	_, _ = w.Write(sse.AppendEvent(buf[:0], "", b))
	_ = rc.Flush()
}

func (h *Handler) embeddings(w http.ResponseWriter, r *http.Request) {
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	req, err := chat.DecodeEmbeddingRequest(body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.p.Embed(r.Context(), c, &provider.EmbedCall{Request: req, Body: body})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	answer := res.JSON
	if req.EncodingFormat == "base64" {
		if answer, err = embeddingsAsBase64(answer); err != nil {
			h.fail(w, r, provider.BadResponse(err))
			return
		}
	}
	httpheader.SetJSON(w.Header())
	_, _ = w.Write(answer)
}

// modelObject is OpenAI's model object.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type modelList struct {
	Object string        `json:"object"`
	Data   []modelObject `json:"data"`
}

func (h *Handler) listModels(w http.ResponseWriter, r *http.Request) {
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	list := modelList{Object: "list", Data: []modelObject{}}
	for _, m := range h.p.Models(c) {
		list.Data = append(list.Data, modelObject{ID: m.FQN, Object: "model", Created: h.created, OwnedBy: m.Account})
	}
	writeJSON(w, list)
}

func (h *Handler) getModel(w http.ResponseWriter, r *http.Request) {
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	id := r.PathValue("model")
	m, ok := c.Snapshot.Model(id)
	if !ok {
		m, ok = c.Snapshot.VirtualModel(id)
	}
	if ok && c.Snapshot.Allowed(c.Principal, m) {
		writeJSON(w, modelObject{ID: m.FQN, Object: "model", Created: h.created, OwnedBy: m.Account})
		return
	}
	h.fail(w, r, &apierr.Error{Kind: apierr.KindNotFound, Param: "model", Message: "the model " + id + " does not exist"})
}

func writeJSON(w http.ResponseWriter, v any) {
	httpheader.SetJSON(w.Header())
	b, _ := json.Marshal(v)
	_, _ = w.Write(b)
}
