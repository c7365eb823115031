package anthropicapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/httpheader"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/sse"
)

// Handler serves POST /v1/messages and POST /v1/messages/count_tokens. It is safe for
// concurrent use.
type Handler struct {
	p       *pipeline.Pipeline
	logger  *slog.Logger
	maxBody int64
	mux     *http.ServeMux
}

// New returns the Messages handler. maxBody <= 0 means edge.DefaultMaxBody.
func New(p *pipeline.Pipeline, logger *slog.Logger, maxBody int64) *Handler {
	if maxBody <= 0 {
		maxBody = edge.DefaultMaxBody
	}
	h := &Handler{p: p, logger: logger, maxBody: maxBody, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /v1/messages", h.messages)
	h.mux.HandleFunc("POST /v1/messages/count_tokens", h.countTokens)
	h.mux.HandleFunc("/", h.notFound)
	return h
}

// ServeHTTP implements http.Handler.
// Behind the server's edge the request is already named; a bare handler names it here.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	er, r := edge.Ensure(r, edge.SurfaceAnthropic)
	er.SetID(w.Header())
	w.Header().Set("Request-Id", er.ID) // where Anthropic's SDKs look for it
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/messages", "/v1/messages/count_tokens":
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, r, edge.MethodNotAllowed(r))
		return
	}
	h.fail(w, r, apierr.New(apierr.KindNotFound, "unknown request URL: %s %s", r.Method, r.URL.Path))
}

// fail writes err in Anthropic's error shape; an internal error's cause is logged, once.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := apierr.From(err)
	if er := edge.FromContext(r.Context()); er != nil {
		er.Failed(e)
	}
	if e.Kind == apierr.KindInternal && e.Cause != nil {
		h.logger.LogAttrs(r.Context(), slog.LevelError, "internal error", slog.String("request_id", w.Header().Get("X-Request-Id")), slog.String("error", e.Cause.Error()))
	}
	apierr.WriteAnthropic(w, e)
}

func (h *Handler) admit(w http.ResponseWriter, r *http.Request) (*pipeline.Caller, bool) {
	er, _ := edge.Ensure(r, edge.SurfaceAnthropic)
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

// decodeFor admits the caller and reads and decodes the body.
func (h *Handler) decodeFor(w http.ResponseWriter, r *http.Request, countTokens bool) (*pipeline.Caller, *Request, []byte, bool) {
	c, ok := h.admit(w, r)
	if !ok {
		return nil, nil, nil, false
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return nil, nil, nil, false
	}
	req, err := DecodeRequest(body, countTokens)
	if err != nil {
		h.fail(w, r, err)
		return nil, nil, nil, false
	}
	return c, req, body, true
}

// messages sends the request through the pipeline, which gives it as it is to a target that
// speaks Messages and translated (ToChat, FromChat) to any other: the answer is a native stream
// or a chat stream to translate.
func (h *Handler) messages(w http.ResponseWriter, r *http.Request) {
	c, req, body, ok := h.decodeFor(w, r, false)
	if !ok {
		return
	}
	call := &provider.MessagesCall{Model: req.Model, Body: body, Beta: r.Header.Values("Anthropic-Beta")}
	tr := &pipeline.Translation{
		Request: func() (*provider.ChatCall, error) {
			creq, err := ToChat(req, body)
			if err != nil {
				return nil, err
			}
			return &provider.ChatCall{Request: creq}, nil
		},
		Answer: func(res *provider.ChatResult) ([]byte, error) {
			return fromChat(res.JSON, res.Usage.CacheWriteTokens, req.Model) // its errors are provider.BadResponse
		},
	}
	if req.Stream {
		st, err := h.p.MessagesStream(r.Context(), c, call, tr)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		defer st.Close()
		if st.Native != nil {
			h.nativeStream(w, r, st.Native)
		} else {
			h.translatedStream(w, r, st.Chat, req.Model)
		}
		return
	}
	res, err := h.p.Messages(r.Context(), c, call, tr)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpheader.SetJSON(w.Header())
	_, _ = w.Write(res.JSON)
}

// countTokens forwards to a native model's count_tokens. Other models have no token counter
// the gateway could ask, and it does not invent counts: the pipeline refuses them with a 400.
func (h *Handler) countTokens(w http.ResponseWriter, r *http.Request) {
	c, req, body, ok := h.decodeFor(w, r, true)
	if !ok {
		return
	}
	res, err := h.p.CountTokens(r.Context(), c, &provider.MessagesCall{Model: req.Model, Body: body, Beta: r.Header.Values("Anthropic-Beta")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpheader.SetJSON(w.Header())
	_, _ = w.Write(res.JSON)
}

// startStream commits the response to an event stream.
func startStream(w http.ResponseWriter) *http.ResponseController {
	httpheader.SetEventStream(w.Header())
	w.WriteHeader(http.StatusOK)
	return http.NewResponseController(w)
}

// send writes buf and flushes what was written unless more is ready: the stream's next event
// has arrived already (provider.Readier), so events that arrived together leave together and
// none waits for its successor. false means the client is gone.
func send(w http.ResponseWriter, rc *http.ResponseController, buf []byte, more bool) bool {
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return false
		}
	}
	return more || rc.Flush() == nil
}

// streamError ends a broken stream with an error event, unless the client is gone.
func streamError(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, err error) {
	if r.Context().Err() != nil {
		return
	}
	s := Streamer{}
	s.Error(err)
	send(w, rc, s.Out, false)
}

// nativeStream relays a native Messages stream; the caller closes it.
func (h *Handler) nativeStream(w http.ResponseWriter, r *http.Request, st provider.MessagesStream) {
	// Wait for the first event before committing to 200, so an upstream that fails at once
	// still gets a proper error status.
	ev, err := st.Recv()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rc := startStream(w)
	buf := make([]byte, 0, 1024)
	for err == nil {
		buf = sse.AppendEvent(buf[:0], ev.Name, ev.Data)
		if !send(w, rc, buf, provider.Ready(st)) {
			return // client gone; Close records the stream as canceled
		}
		ev, err = st.Recv()
	}
	if !errors.Is(err, io.EOF) {
		streamError(w, r, rc, err)
		return
	}
	_ = rc.Flush() // message_stop may have been written with more ready: its end
}

// translatedStream relays a chat stream translated into Messages events for the client's model;
// the caller closes it.
func (h *Handler) translatedStream(w http.ResponseWriter, r *http.Request, st provider.ChatStream, model string) {
	s := NewStreamer(model)
	// A chunk the upstream sent but s cannot translate is the upstream's bad answer, not the
	// client leaving: the pipeline records it so, with the usage that came.
	next := func() error {
		ch, err := st.Recv()
		if err != nil {
			return err
		}
		if err := s.Chunk(ch); err != nil {
			pipeline.Fail(st, err)
			return err
		}
		return nil
	}
	err := next()
	if err != nil && !errors.Is(err, io.EOF) {
		h.fail(w, r, err)
		return
	}
	rc := startStream(w)
	for err == nil {
		if !send(w, rc, s.Out, provider.Ready(st)) {
			return
		}
		s.Out = s.Out[:0]
		err = next()
	}
	if errors.Is(err, io.EOF) {
		if err = s.End(); err == nil {
			send(w, rc, s.Out, false)
			return
		}
	}
	s.Out = s.Out[:0]
	if r.Context().Err() != nil {
		return
	}
	s.Error(err)
	send(w, rc, s.Out, false)
}
