package openaiapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/batches"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/rawjson"
)

// DefaultMaxFile is the default size limit of an uploaded batch input file: OpenAI's own.
const DefaultMaxFile = 200 << 20

// maxObject bounds an upstream file, batch or list answer read into memory.
const maxObject = 16 << 20

// maxMetadata is the number of metadata keys a batch may carry upstream (OpenAI's limit); the
// gateway uses two of them.
const maxMetadata = 16

// routeBatches registers OpenAI's Files and Batch APIs. The gateway keeps no state for them:
// an id it returns is sealed (batches.IDs) with the model or account it belongs to and its
// owner, so any replica can route it and only its owner can use it.
//
// Each call, an upload or a download included, is bounded by the upstream timeout.
func (h *Handler) routeBatches() {
	for pattern, fn := range map[string]http.HandlerFunc{
		"POST /v1/files":               h.uploadFile,
		"GET /v1/files":                h.listFiles,
		"GET /v1/files/{id}":           h.getFile,
		"DELETE /v1/files/{id}":        h.deleteFile,
		"GET /v1/files/{id}/content":   h.fileContent,
		"POST /v1/batches":             h.createBatch,
		"GET /v1/batches":              h.listBatches,
		"GET /v1/batches/{id}":         h.getBatch,
		"POST /v1/batches/{id}/cancel": h.cancelBatch,
	} {
		h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), h.p.UpstreamTimeout())
			defer cancel()
			fn(w, r.WithContext(ctx))
		})
	}
}

// newBatchKey is the id key of a handler given none: ids then hold for this process only.
func newBatchKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

func (h *Handler) objects(c *pipeline.Caller) *batches.Objects {
	return batches.NewObjects(h.ids, c.Principal.Name())
}

// uploadFile relays a batch input file. The multipart body is read as it arrives; the file
// part is rewritten line by line (each line's model checked for the caller and replaced by
// its upstream name) into a temporary file, which is then uploaded to the model's account
// under the owner's tag, with a known length.
func (h *Handler) uploadFile(w http.ResponseWriter, r *http.Request) {
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	limit := h.maxFile + 64<<10 // the form's other fields and boundaries
	if r.ContentLength > limit {
		h.fail(w, r, tooLarge(h.maxFile), 0)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		h.fail(w, r, apierr.Invalid("", "upload a file as multipart/form-data with the fields file and purpose"), 0)
		return
	}
	tmp, err := os.CreateTemp("", "llmgw-upload-*")
	if err != nil {
		h.fail(w, r, &apierr.Error{Kind: apierr.KindInternal, Message: "could not store the upload", Cause: err}, 0)
		return
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()

	objs := h.objects(c)
	out := multipart.NewWriter(tmp)
	var (
		purpose string
		fields  = url.Values{}
		sawFile bool
		in      batches.Input
		batcher provider.Batcher
	)
	resolve := func(model, endpoint string) (batches.Target, error) {
		_, b, err := h.p.Batcher(c, model, endpoint)
		if err != nil {
			return batches.Target{}, err
		}
		batcher = b
		return batches.Target{Model: b.BatchModel(), URL: b.BatchEndpoint(endpoint)}, nil
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			h.fail(w, r, readErr(err, h.maxFile, "the multipart/form-data request is malformed"), 0)
			return
		}
		name := part.FormName()
		switch {
		case name == "file" && part.FileName() != "":
			if sawFile {
				h.fail(w, r, apierr.Invalid("file", "upload one file per request"), 0)
				return
			}
			sawFile = true
			hdr := textproto.MIMEHeader{}
			hdr.Set("Content-Disposition", `form-data; name="file"; filename="`+escapeQuotes(batches.UpstreamFilename(objs.Tag, part.FileName()))+`"`)
			hdr.Set("Content-Type", "application/jsonl")
			dst, err := out.CreatePart(hdr)
			if err == nil {
				// The file alone is held to the limit (a *http.MaxBytesError past it).
				in, err = batches.RewriteInput(http.MaxBytesReader(nil, part, h.maxFile), dst, resolve)
			}
			if err != nil {
				h.fail(w, r, readErr(err, h.maxFile, "could not read the uploaded file"), 0)
				return
			}
		case part.FileName() != "":
			h.fail(w, r, apierr.Invalid(name, "unexpected file field %q; send the file as the field \"file\"", name), 0)
			return
		default:
			v, err := io.ReadAll(io.LimitReader(part, maxFieldSize+1))
			if err != nil {
				h.fail(w, r, readErr(err, h.maxFile, "the multipart/form-data request is malformed"), 0)
				return
			}
			if len(v) > maxFieldSize {
				h.fail(w, r, apierr.Invalid(name, "the %s field is too long", name), 0)
				return
			}
			if name == "purpose" {
				purpose = string(v)
			} else {
				fields.Add(name, string(v)) // expires_after[anchor], expires_after[seconds]
			}
		}
	}
	switch {
	case purpose != "batch":
		h.fail(w, r, apierr.Invalid("purpose", "llmgw relays files for batches only: set purpose to \"batch\" (got %q)", purpose), 0)
		return
	case !sawFile:
		h.fail(w, r, apierr.Invalid("file", "you must provide a file"), 0)
		return
	}
	for name, vs := range fields {
		for _, v := range vs {
			if err := out.WriteField(name, v); err != nil {
				h.fail(w, r, &apierr.Error{Kind: apierr.KindInternal, Message: "could not store the upload", Cause: err}, 0)
				return
			}
		}
	}
	if err := errors.Join(out.WriteField("purpose", "batch"), out.Close()); err != nil {
		h.fail(w, r, &apierr.Error{Kind: apierr.KindInternal, Message: "could not store the upload", Cause: err}, 0)
		return
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		h.fail(w, r, &apierr.Error{Kind: apierr.KindInternal, Message: "could not store the upload", Cause: err}, 0)
		return
	}
	raw, err := callObject(r, batcher, &provider.BatchRequest{Method: http.MethodPost, Path: "files", ContentType: out.FormDataContentType(), Body: tmp, Size: size})
	if err != nil {
		h.fail(w, r, err, 0)
		return
	}
	h.writeObject(w, r, func() ([]byte, error) { return objs.File(raw, in.Model) })
}

func escapeQuotes(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "").Replace(s)
}

func tooLarge(limit int64) error {
	return apierr.New(apierr.KindTooLarge, "the file is larger than the limit of %d bytes", limit)
}

// readErr maps an error reading the client's upload: over the limit is a 413, a malformed
// body a 400, a client error (a bad line) is kept.
func readErr(err error, limit int64, malformed string) error {
	var mbe *http.MaxBytesError
	var ae *apierr.Error
	switch {
	case errors.As(err, &mbe):
		return tooLarge(limit)
	case errors.As(err, &ae):
		return ae
	}
	return apierr.Invalid("", "%s", malformed)
}

// callObject sends req and reads the upstream's JSON answer.
func callObject(r *http.Request, b provider.Batcher, req *provider.BatchRequest) ([]byte, error) {
	resp, err := b.BatchDo(r.Context(), req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxObject+1))
	if err != nil {
		return nil, provider.TransportError(r.Context(), err)
	}
	if len(raw) > maxObject {
		return nil, provider.BadResponse(errors.New("answer too large"))
	}
	return raw, nil
}

// writeObject writes the JSON that rewrite returns.
func (h *Handler) writeObject(w http.ResponseWriter, r *http.Request, rewrite func() ([]byte, error)) {
	b, err := rewrite()
	if err != nil {
		h.fail(w, r, err, 0)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func noSuch(kind, param, id string) error {
	return &apierr.Error{Kind: apierr.KindNotFound, Param: param, Message: "No such " + kind + " object: " + id}
}

// gone maps the upstream's 404 for an object the client named by id (deleted, or expired) to
// the client's own 404; other errors are kept.
func gone(err error, kind, param, id string) error {
	if e := apierr.From(err); e.Code == "upstream_not_found" {
		return noSuch(kind, param, id)
	}
	return err
}

// openFile opens the file id of the request's path and returns the batch API it lives at.
func (h *Handler) openFile(w http.ResponseWriter, r *http.Request) (*pipeline.Caller, provider.Batcher, string, string, bool) {
	c, ok := h.admit(w, r)
	if !ok {
		return nil, nil, "", "", false
	}
	id := r.PathValue("id")
	route, up, ok := h.ids.Open(batches.File, c.Principal.Name(), id)
	if !ok {
		h.fail(w, r, noSuch("File", "file_id", id), 0)
		return nil, nil, "", "", false
	}
	b, err := h.routeBatcher(c, route)
	if err != nil {
		h.fail(w, r, err, 0)
		return nil, nil, "", "", false
	}
	return c, b, route, up, true
}

// routeBatcher returns the batch API of a sealed id's route: the model's, when the route
// names one the caller may still use, else any of the account's.
func (h *Handler) routeBatcher(c *pipeline.Caller, route string) (provider.Batcher, error) {
	if strings.Contains(route, "/") {
		if _, b, err := h.p.Batcher(c, route, ""); err == nil {
			return b, nil
		}
	}
	return h.p.AccountBatcher(c, batches.Account(route))
}

func (h *Handler) getFile(w http.ResponseWriter, r *http.Request) {
	c, b, route, up, ok := h.openFile(w, r)
	if !ok {
		return
	}
	raw, err := callObject(r, b, &provider.BatchRequest{Method: http.MethodGet, Path: "files/" + url.PathEscape(up)})
	if err != nil {
		h.fail(w, r, gone(err, "File", "file_id", r.PathValue("id")), 0)
		return
	}
	h.writeObject(w, r, func() ([]byte, error) { return h.objects(c).File(raw, route) })
}

func (h *Handler) deleteFile(w http.ResponseWriter, r *http.Request) {
	_, b, _, up, ok := h.openFile(w, r)
	if !ok {
		return
	}
	raw, err := callObject(r, b, &provider.BatchRequest{Method: http.MethodDelete, Path: "files/" + url.PathEscape(up)})
	if err != nil {
		h.fail(w, r, gone(err, "File", "file_id", r.PathValue("id")), 0)
		return
	}
	h.writeObject(w, r, func() ([]byte, error) {
		// {"id": ..., "object": "file", "deleted": true}: the id is the client's.
		return rawjson.SetString(raw, "id", r.PathValue("id"))
	})
}

// fileContent streams a file's bytes (a batch's output or errors) as the upstream sends them.
func (h *Handler) fileContent(w http.ResponseWriter, r *http.Request) {
	_, b, _, up, ok := h.openFile(w, r)
	if !ok {
		return
	}
	resp, err := b.BatchDo(r.Context(), &provider.BatchRequest{Method: http.MethodGet, Path: "files/" + url.PathEscape(up) + "/content"})
	if err != nil {
		h.fail(w, r, gone(err, "File", "file_id", r.PathValue("id")), 0)
		return
	}
	defer resp.Body.Close()
	res := &provider.ForwardResult{Status: resp.StatusCode, Header: http.Header{}, Body: resp.Body}
	for _, k := range []string{"Content-Type", "Content-Length"} {
		if v := resp.Header.Get(k); v != "" {
			res.Header.Set(k, v)
		}
	}
	h.relay(w, r, res)
}

// createBatch creates a batch from an input file the caller uploaded through the gateway: the
// file's id names the model, which must be allowed to the caller for the batch's endpoint.
func (h *Handler) createBatch(w http.ResponseWriter, r *http.Request) {
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	var req struct {
		InputFileID string            `json:"input_file_id"`
		Endpoint    string            `json:"endpoint"`
		Metadata    map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		h.fail(w, r, apierr.Invalid("", "we could not parse the JSON body of your request: input_file_id, endpoint and completion_window are required"), 0)
		return
	}
	route, up, ok := h.ids.Open(batches.File, c.Principal.Name(), req.InputFileID)
	switch {
	case req.InputFileID == "":
		h.fail(w, r, apierr.Invalid("input_file_id", "you must provide an input_file_id"), 0)
		return
	case !ok:
		h.fail(w, r, noSuch("File", "input_file_id", req.InputFileID), 0)
		return
	case !strings.Contains(route, "/"):
		h.fail(w, r, apierr.Invalid("input_file_id", "use the id that uploading the input file returned; it names the batch's model"), 0)
		return
	case req.Endpoint == "":
		h.fail(w, r, apierr.Invalid("endpoint", "you must provide an endpoint"), 0)
		return
	}
	_, b, err := h.p.Batcher(c, route, req.Endpoint)
	if err != nil {
		h.fail(w, r, err, 0)
		return
	}
	if len(req.Metadata) > maxMetadata-2 {
		h.fail(w, r, apierr.Invalid("metadata", "a batch may carry at most %d metadata keys through llmgw", maxMetadata-2), 0)
		return
	}
	meta := map[string]string{}
	for k, v := range req.Metadata {
		if strings.HasPrefix(k, batches.MetaPrefix) {
			h.fail(w, r, apierr.Invalid("metadata", "metadata keys starting with %q are reserved for llmgw", batches.MetaPrefix), 0)
			return
		}
		meta[k] = v
	}
	objs := h.objects(c)
	meta[batches.MetaOwner], meta[batches.MetaModel] = objs.Tag, route
	mb, _ := json.Marshal(meta)
	out, err := rawjson.SetString(body, "input_file_id", up)
	if err == nil {
		out, err = rawjson.SetString(out, "endpoint", b.BatchEndpoint(req.Endpoint))
	}
	if err == nil {
		out, err = rawjson.Set(out, "metadata", mb)
	}
	if err != nil {
		h.fail(w, r, apierr.Invalid("", "the request body is not a JSON object"), 0)
		return
	}
	raw, err := callObject(r, b, &provider.BatchRequest{Method: http.MethodPost, Path: "batches", ContentType: "application/json", Body: bytes.NewReader(out), Size: int64(len(out))})
	if err != nil {
		h.fail(w, r, gone(err, "File", "input_file_id", req.InputFileID), 0)
		return
	}
	h.writeBatch(w, r, c, b, objs, raw)
}

// writeBatch rewrites and writes one batch, recording its usage when it has ended.
func (h *Handler) writeBatch(w http.ResponseWriter, r *http.Request, c *pipeline.Caller, up provider.Batcher, objs *batches.Objects, raw []byte) {
	out, info, err := objs.Batch(raw)
	if err != nil {
		h.fail(w, r, err, 0)
		return
	}
	if !info.Owned {
		h.fail(w, r, noSuch("Batch", "batch_id", r.PathValue("id")), 0)
		return
	}
	h.recordBatch(r, c, up, info)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func (h *Handler) recordBatch(r *http.Request, c *pipeline.Caller, b provider.Batcher, info batches.BatchInfo) {
	if !info.Final() {
		return
	}
	h.p.RecordBatch(r.Context(), c, info.Model, info.UpstreamID, info.Status, func() *chat.Usage {
		if info.HasUsage {
			return &info.Usage
		}
		if info.OutputFileID == "" {
			return nil
		}
		// The batch object reports no usage (Azure): add up the output file's answers.
		resp, err := b.BatchDo(r.Context(), &provider.BatchRequest{Method: http.MethodGet, Path: "files/" + url.PathEscape(info.OutputFileID) + "/content"})
		if err != nil {
			h.logger.LogAttrs(r.Context(), slog.LevelWarn, "batch usage: could not read the output file", slog.String("batch", info.UpstreamID), slog.String("error", err.Error()))
			return nil
		}
		defer resp.Body.Close()
		u, ok, err := batches.SumOutputUsage(resp.Body)
		if err != nil || !ok {
			return nil
		}
		return &u
	})
}

// batchCall gets or cancels the batch of the request's path.
func (h *Handler) batchCall(w http.ResponseWriter, r *http.Request, method, suffix string) {
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	route, up, ok := h.ids.Open(batches.Batch, c.Principal.Name(), id)
	if !ok {
		h.fail(w, r, noSuch("Batch", "batch_id", id), 0)
		return
	}
	b, err := h.routeBatcher(c, route)
	if err != nil {
		h.fail(w, r, err, 0)
		return
	}
	req := &provider.BatchRequest{Method: method, Path: "batches/" + url.PathEscape(up) + suffix}
	if method == http.MethodPost {
		req.ContentType, req.Body = "application/json", strings.NewReader("")
	}
	raw, err := callObject(r, b, req)
	if err != nil {
		h.fail(w, r, gone(err, "Batch", "batch_id", id), 0)
		return
	}
	h.writeBatch(w, r, c, b, h.objects(c), raw)
}

func (h *Handler) getBatch(w http.ResponseWriter, r *http.Request) {
	h.batchCall(w, r, http.MethodGet, "")
}

func (h *Handler) cancelBatch(w http.ResponseWriter, r *http.Request) {
	h.batchCall(w, r, http.MethodPost, "/cancel")
}

// maxListPages bounds the upstream pages one list call reads while looking for the caller's
// own objects among the account's.
const maxListPages = 5

// listAccount returns the account a list call reads: the "account" query parameter, or the
// caller's only account with a batch API.
func (h *Handler) listAccount(c *pipeline.Caller, q url.Values) (string, provider.Batcher, error) {
	account := q.Get("account")
	if account == "" {
		accounts := h.p.BatchAccounts(c)
		switch len(accounts) {
		case 0:
			return "", nil, apierr.Invalid("", "none of the models you may use is at a provider with a batch API")
		case 1:
			account = accounts[0]
		default:
			return "", nil, apierr.Invalid("account", "several provider accounts serve your batches (%s); name one with the query parameter account", strings.Join(accounts, ", "))
		}
	}
	b, err := h.p.AccountBatcher(c, account)
	return account, b, err
}

// list reads upstream pages of path until it has the caller's limit of own objects, the
// upstream has no more, or maxListPages were read; add appends a page's own objects and
// returns the upstream cursor after it.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, c *pipeline.Caller, kind batches.Kind, path string, pass []string, add func(*batches.Page, *batches.List, string) (string, error)) {
	q := r.URL.Query()
	account, b, err := h.listAccount(c, q)
	if err != nil {
		h.fail(w, r, err, 0)
		return
	}
	limit := 20
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 10000 {
			h.fail(w, r, apierr.Invalid("limit", "limit must be an integer from 1 to 10000"), 0)
			return
		}
	}
	up := url.Values{"limit": {strconv.Itoa(limit)}}
	for _, k := range pass {
		if v := q.Get(k); v != "" {
			up.Set(k, v)
		}
	}
	if after := q.Get("after"); after != "" {
		route, id, ok := h.ids.Open(kind, c.Principal.Name(), after)
		if !ok || batches.Account(route) != account {
			h.fail(w, r, apierr.Invalid("after", "after must be the id of an object from an earlier page"), 0)
			return
		}
		up.Set("after", id)
	}
	page := batches.Page{Object: "list", Data: []json.RawMessage{}}
	for range maxListPages {
		raw, err := callObject(r, b, &provider.BatchRequest{Method: http.MethodGet, Path: path, Query: up})
		if err != nil {
			h.fail(w, r, err, 0)
			return
		}
		var l batches.List
		if err := json.Unmarshal(raw, &l); err != nil {
			h.fail(w, r, provider.BadResponse(err), 0)
			return
		}
		last, err := add(&page, &l, account)
		if err != nil {
			h.fail(w, r, err, 0)
			return
		}
		page.HasMore = l.HasMore
		if len(page.Data) >= limit || !l.HasMore || last == "" {
			break
		}
		up.Set("after", last)
	}
	if len(page.Data) > limit {
		page.Data, page.HasMore = page.Data[:limit], true
		var id struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(page.Data[limit-1], &id)
		page.LastID = &id.ID
	}
	b2, _ := json.Marshal(&page)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b2)
}

// listFiles lists the caller's files (those it uploaded through the gateway) of one account.
func (h *Handler) listFiles(w http.ResponseWriter, r *http.Request) {
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	objs := h.objects(c)
	h.list(w, r, c, batches.File, "files", []string{"purpose", "order"}, func(p *batches.Page, l *batches.List, account string) (string, error) {
		return objs.Files(p, l, account)
	})
}

// listBatches lists the caller's batches of one account, recording the usage of those ended.
func (h *Handler) listBatches(w http.ResponseWriter, r *http.Request) {
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	objs := h.objects(c)
	h.list(w, r, c, batches.Batch, "batches", nil, func(p *batches.Page, l *batches.List, account string) (string, error) {
		last, infos, err := objs.Batches(p, l)
		for _, info := range infos {
			if b, berr := h.p.AccountBatcher(c, account); berr == nil {
				h.recordBatch(r, c, b, info)
			}
		}
		return last, err
	})
}
