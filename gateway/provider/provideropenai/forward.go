package provideropenai

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/rawjson"
)

var _ provider.Forwarder = (*Adapter)(nil)

// forwardedHeaders are the upstream answer's headers passed on to the client: what it needs to
// read the body, nothing that identifies the gateway's account (OpenAI-Organization, rate
// limit headers) or is hop-by-hop.
var forwardedHeaders = []string{"Content-Type", "Content-Disposition", "Content-Language"}

// endpointURL returns the URL of endpoint, derived from the chat URL so that a server with its
// own layout (Azure's deployment URLs with an api-version query) gets its own form of it.
func (a *Adapter) endpointURL(endpoint string) (string, error) {
	u, err := url.Parse(a.chatURL)
	if err != nil || !strings.HasSuffix(u.Path, "/chat/completions") {
		return "", apierr.Invalid("model", "the model's provider is configured with a chat URL that has no place for %s", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "chat/completions") + endpoint
	u.RawPath = ""
	return u.String(), nil
}

// Forward implements provider.Forwarder for every OpenAI endpoint. JSON bodies get their model
// patched with rawjson (and, for a completions stream, stream_options.include_usage set, the
// usage-only event then hidden again unless the client asked for it, as for chat streams);
// multipart bodies get only their "model" field rewritten, every other part copied byte for
// byte under the same boundary. Usage is read from the answer's "usage" member as it passes:
// chat-style prompt/completion tokens, or the input/output tokens of image and transcription
// models. Binary audio, moderations and duration-billed transcriptions report none.
func (a *Adapter) Forward(ctx context.Context, c *provider.ForwardCall) (*provider.ForwardResult, error) {
	target, err := a.endpointURL(c.Endpoint)
	if err != nil {
		return nil, err
	}
	mediaType, params, err := mime.ParseMediaType(c.ContentType)
	if err != nil {
		mediaType = "application/json" // the OpenAI surface sends JSON when the client named no type
	}
	var resp *http.Response
	hideUsage := false
	if mediaType == "multipart/form-data" {
		body, err := patchMultipart(c.Body, params["boundary"], a.model)
		if err != nil {
			return nil, err
		}
		accept := ""
		if c.Stream {
			accept = "text/event-stream"
		}
		resp, err = a.send(ctx, target, c.ContentType, accept, body)
		if err != nil {
			return nil, err
		}
	} else {
		body, err := rawjson.Set(c.Body, "model", a.quotedModel)
		if err != nil {
			return nil, apierr.Invalid("", "the request body is not a JSON object")
		}
		if c.Stream && c.Endpoint == provider.EndpointCompletions {
			hideUsage = !clientAskedUsage(c.Body)
			if body, err = rawjson.Set(body, "stream_options", includeUsage); err != nil {
				return nil, apierr.Invalid("", "the request body is not a JSON object")
			}
		}
		resp, err = a.post(ctx, target, body, c.Stream)
		if err != nil {
			return nil, err
		}
	}
	res := &provider.ForwardResult{Status: resp.StatusCode, Header: http.Header{}}
	for _, k := range forwardedHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			res.Header[k] = v
		}
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case ct == "text/event-stream":
		w := &sseWatcher{ctx: ctx, body: resp.Body, hide: hideUsage}
		res.Body, res.Usage = w, w.result
	case ct == "application/json" || strings.HasSuffix(ct, "+json"):
		w := &jsonWatcher{ctx: ctx, body: resp.Body}
		res.Body, res.Usage = w, w.result
	default: // audio, or a transcript as text/plain, srt or vtt: nothing reports usage
		res.Body, res.Usage = &plainBody{ctx: ctx, body: resp.Body}, func() chat.Usage { return chat.Usage{} }
	}
	return res, nil
}

// clientAskedUsage reports whether a stream request set stream_options.include_usage.
func clientAskedUsage(body []byte) bool {
	so, ok, err := rawjson.Get(body, "stream_options")
	if err != nil || !ok || !bytes.HasPrefix(bytes.TrimSpace(so), []byte("{")) {
		return false
	}
	v, ok, err := rawjson.Get(so, "include_usage")
	return err == nil && ok && bytes.Equal(v, []byte("true"))
}

// patchMultipart returns body with every "model" form field set to model and every other part
// (its headers and bytes) copied unchanged under the same boundary, so the client's
// Content-Type still describes it. Parts are raw: a transfer encoding is not undone. A body
// without a model field gets one appended.
func patchMultipart(body []byte, boundary, model string) ([]byte, error) {
	if boundary == "" {
		return nil, apierr.Invalid("", "the multipart request has no boundary")
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	var out bytes.Buffer
	out.Grow(len(body) + len(model))
	w := multipart.NewWriter(&out)
	if err := w.SetBoundary(boundary); err != nil {
		return nil, apierr.Invalid("", "the multipart boundary is invalid")
	}
	sawModel := false
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, apierr.Invalid("", "the multipart request is malformed")
		}
		dst, err := w.CreatePart(p.Header)
		if err != nil {
			return nil, err
		}
		if p.FormName() == "model" && p.FileName() == "" {
			sawModel = true
			_, err = io.WriteString(dst, model)
		} else {
			_, err = io.Copy(dst, p)
		}
		if err != nil {
			return nil, apierr.Invalid("", "the multipart request is malformed")
		}
	}
	if !sawModel {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="model"`)
		dst, err := w.CreatePart(h)
		if err != nil {
			return nil, err
		}
		_, _ = io.WriteString(dst, model)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// wireUsage is the usage shape of OpenAI's endpoints that count input and output tokens
// (gpt-image, gpt-4o-transcribe) rather than chat's prompt and completion tokens.
type wireUsage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// usageOf returns the usage member of one JSON object in the gateway's terms, or zero when it
// has none in tokens (a missing or null usage, or whisper's {"type":"duration","seconds":n}).
func usageOf(obj []byte) chat.Usage {
	raw, ok, err := rawjson.Get(obj, "usage")
	if err != nil || !ok || bytes.Equal(raw, nullJSON) {
		return chat.Usage{}
	}
	var u chat.Usage
	if decodeUsage(raw, &u) != nil {
		return chat.Usage{}
	}
	if u.PromptTokens == 0 && u.CompletionTokens == 0 {
		// The Responses and image APIs' shape: input_tokens and output_tokens.
		var w wireUsage
		if json.Unmarshal(raw, &w) != nil {
			return chat.Usage{}
		}
		u.PromptTokens, u.CompletionTokens = w.InputTokens, w.OutputTokens
	}
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return u
}

// readErr maps an upstream body's read error; io.EOF passes unchanged.
func readErr(ctx context.Context, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return provider.TransportError(ctx, err)
}

// plainBody passes an answer on with read errors mapped.
type plainBody struct {
	ctx  context.Context
	body io.ReadCloser
}

func (b *plainBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	return n, readErr(b.ctx, err)
}

func (b *plainBody) Close() error { return b.body.Close() }

// jsonWatcher passes a JSON answer on as it arrives and keeps a copy (up to maxResponse, the
// bound on any answer held in memory) to read its usage from at the end.
type jsonWatcher struct {
	ctx   context.Context
	body  io.ReadCloser
	buf   []byte
	over  bool // the answer outgrew maxResponse, or has been read: buf is no longer kept
	usage chat.Usage
}

func (w *jsonWatcher) Read(p []byte) (int, error) {
	n, err := w.body.Read(p)
	if !w.over {
		if len(w.buf)+n > maxResponse {
			w.over, w.buf = true, nil
		} else {
			w.buf = append(w.buf, p[:n]...)
		}
	}
	if err == io.EOF && !w.over {
		w.usage = usageOf(w.buf)
		w.over, w.buf = true, nil
	}
	return n, readErr(w.ctx, err)
}

func (w *jsonWatcher) Close() error { return w.body.Close() }

func (w *jsonWatcher) result() chat.Usage { return w.usage }

// sseWatcher passes an event stream on and reads usage from each data line that carries one
// (the last report wins, as they are cumulative). A line longer than maxResponse is passed on
// without being read. With hide set, a usage-only event (no choices) is dropped along with its
// blank line, because the gateway asked for it on the client's behalf; the rest is passed on
// line by line, byte for byte. Without hide, bytes are passed on as they arrive.
type sseWatcher struct {
	ctx   context.Context
	body  io.ReadCloser
	hide  bool
	buf   []byte // hide: read buffer
	out   []byte // hide: bytes ready for the caller
	err   error  // hide: the upstream's final error, returned once out is drained
	line  []byte // the current line, up to maxResponse
	long  bool   // the current line outgrew line: it is passed on unread
	drop  bool   // hide: the next blank line ends a dropped event
	usage chat.Usage
}

var dataPrefix = []byte("data:")

func (w *sseWatcher) Read(p []byte) (int, error) {
	if !w.hide {
		n, err := w.body.Read(p)
		w.scan(p[:n])
		return n, readErr(w.ctx, err)
	}
	for len(w.out) == 0 && w.err == nil {
		if w.buf == nil {
			w.buf = make([]byte, 32<<10)
		}
		n, err := w.body.Read(w.buf)
		w.scan(w.buf[:n])
		if err != nil {
			w.out = append(w.out, w.line...) // a stream cut mid-line: pass on what came
			w.line, w.err = nil, readErr(w.ctx, err)
		}
	}
	if len(w.out) > 0 {
		n := copy(p, w.out)
		w.out = w.out[n:]
		return n, nil
	}
	return 0, w.err
}

// scan splits b into lines, reading usage from complete data lines and, with hide, queueing
// the bytes that are to be passed on.
func (w *sseWatcher) scan(b []byte) {
	for len(b) > 0 {
		seg := b
		i := bytes.IndexByte(b, '\n')
		if i >= 0 {
			seg = b[:i+1]
		}
		b = b[len(seg):]
		if !w.long && len(w.line)+len(seg) > maxResponse {
			if w.hide {
				w.out = append(w.out, w.line...)
			}
			w.line, w.long = w.line[:0], true
		}
		if w.long {
			if w.hide {
				w.out = append(w.out, seg...)
			}
		} else {
			w.line = append(w.line, seg...)
		}
		if i >= 0 {
			if !w.long {
				w.endLine(w.line)
			}
			w.line, w.long = w.line[:0], false
		}
	}
}

func (w *sseWatcher) endLine(line []byte) {
	content := bytes.TrimRight(line, "\r\n")
	if w.drop && len(content) == 0 {
		w.drop = false
		return
	}
	w.drop = false
	if data, ok := bytes.CutPrefix(content, dataPrefix); ok && bytes.Contains(data, usageMarker) {
		data = bytes.TrimSpace(data)
		if u := usageOf(data); u.TotalTokens != 0 {
			w.usage = u
		}
		if w.hide && usageOnly(data) {
			w.drop = true
			return
		}
	}
	if w.hide {
		w.out = append(w.out, line...)
	}
}

// usageOnly reports whether a completions chunk carries no choices.
func usageOnly(data []byte) bool {
	choices, ok, err := rawjson.Get(data, "choices")
	return err == nil && (!ok || len(bytes.TrimSpace(bytes.Trim(bytes.TrimSpace(choices), "[]"))) == 0)
}

func (w *sseWatcher) Close() error { return w.body.Close() }

func (w *sseWatcher) result() chat.Usage { return w.usage }
