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
	"slices"
	"strconv"
	"strings"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/batch"
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

// uploadFields are the form fields of an upload besides the file: purpose, and the two of
// expires_after, which are passed on. Any other field is refused by name.
var uploadFields = []string{"purpose", "expires_after[anchor]", "expires_after[seconds]"}

// routeBatches registers OpenAI's Files and Batch APIs. The gateway keeps no state for them:
// an id it returns is sealed (batch.IDs) with the model it belongs to and its owner, so any
// replica can route it and only its owner can use it.
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

func (h *Handler) objects(c *pipeline.Caller) *batch.Objects {
	return batch.NewObjects(h.ids, c.Principal.Name())
}

func internal(err error) error {
	return &apierr.Error{Kind: apierr.KindInternal, Message: "could not store the upload", Cause: err}
}

// spool is the temporary file an upload is rewritten into; its write errors are the
// gateway's (a full disk), not the client's.
type spool struct{ f *os.File }

func (s spool) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	if err != nil {
		err = internal(err)
	}
	return n, err
}

// uploadFile relays a batch input file. The multipart body is read as it arrives; the file
// part is rewritten line by line (each line's model checked for the caller and replaced by its
// upstream name) into a temporary file, which is then uploaded to the model's account, named
// for its owner and model, with a known length. Nothing reaches the provider unless every line
// passed.
func (h *Handler) uploadFile(w http.ResponseWriter, r *http.Request) {
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	limit := h.maxFile + 64<<10 // the form's other fields and boundaries
	if r.ContentLength > limit {
		h.fail(w, r, tooLarge(h.maxFile))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		h.fail(w, r, apierr.Invalid("", "upload a file as multipart/form-data with the fields file and purpose"))
		return
	}
	tmp, err := os.CreateTemp("", "llmgw-upload-*")
	if err != nil {
		h.fail(w, r, internal(err))
		return
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()

	var (
		fields   = map[string]string{}
		filename string
		in       batch.Input
	)
	resolve := func(model, endpoint string) (batch.Target, error) {
		_, b, err := h.p.Batcher(c, model, endpoint)
		if err != nil {
			return batch.Target{}, err
		}
		m, u := b.BatchTarget(endpoint)
		return batch.Target{Model: m, URL: u}, nil
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			h.fail(w, r, readErr(err, h.maxFile, "the multipart/form-data request is malformed"))
			return
		}
		name := part.FormName()
		switch {
		case name == "file":
			if part.FileName() == "" {
				h.fail(w, r, apierr.Invalid("file", "file must be a file part (with a filename)"))
				return
			}
			if filename != "" {
				h.fail(w, r, apierr.Invalid("file", "upload one file per request"))
				return
			}
			if p, ok := fields["purpose"]; ok && p != "batch" {
				h.fail(w, r, wrongPurpose(p)) // before reading the file, when purpose came first
				return
			}
			filename = part.FileName()
			// The file alone is held to the limit (a *http.MaxBytesError past it), and each
			// line to the limit of a request.
			in, err = batch.RewriteInput(http.MaxBytesReader(nil, part, h.maxFile), spool{tmp}, int(h.maxBody), resolve)
			if err != nil {
				h.fail(w, r, readErr(err, h.maxFile, "could not read the uploaded file"))
				return
			}
		case part.FileName() != "" || !slices.Contains(uploadFields, name):
			h.fail(w, r, apierr.Invalid(name, "unexpected field %q; an upload has the fields file, purpose and expires_after", name))
			return
		default:
			v, err := io.ReadAll(io.LimitReader(part, maxFieldSize+1))
			if err != nil {
				h.fail(w, r, readErr(err, h.maxFile, "the multipart/form-data request is malformed"))
				return
			}
			if len(v) > maxFieldSize {
				h.fail(w, r, apierr.Invalid(name, "the %s field is too long", name))
				return
			}
			fields[name] = string(v)
		}
	}
	switch {
	case fields["purpose"] != "batch":
		h.fail(w, r, wrongPurpose(fields["purpose"]))
		return
	case filename == "":
		h.fail(w, r, apierr.Invalid("file", "you must provide a file"))
		return
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		h.fail(w, r, internal(err))
		return
	}
	objs := h.objects(c)
	head, tail, contentType, err := uploadFraming(fields, batch.UpstreamFilename(objs.Tag, in.Model, filename))
	if err != nil {
		h.fail(w, r, internal(err))
		return
	}
	var raw []byte
	err = h.p.Batch(r.Context(), c, pipeline.OpFile, in.Model, "", func(ctx context.Context, b provider.Batcher) error {
		raw, err = callObject(ctx, b, &provider.BatchRequest{
			Method: http.MethodPost, Path: "files", ContentType: contentType, Size: int64(len(head)) + size + int64(len(tail)),
			Body: func() io.Reader {
				return io.MultiReader(bytes.NewReader(head), io.NewSectionReader(tmp, 0, size), bytes.NewReader(tail))
			},
		})
		return err
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeObject(w, r, func() ([]byte, error) { return objs.File(raw, in.Model) })
}

func wrongPurpose(p string) error {
	return apierr.Invalid("purpose", "llmgw relays files for batches only: set purpose to \"batch\" (got %q)", p)
}

// uploadFraming returns the multipart body of an upload around its file's bytes: the form
// fields and the file part's header before them, the closing boundary after.
func uploadFraming(fields map[string]string, filename string) (head, tail []byte, contentType string, err error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, name := range uploadFields { // in a fixed order
		if v, ok := fields[name]; ok {
			if err := mw.WriteField(name, v); err != nil {
				return nil, nil, "", err
			}
		}
	}
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", `form-data; name="file"; filename="`+strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "").Replace(filename)+`"`)
	hdr.Set("Content-Type", "application/jsonl")
	if _, err := mw.CreatePart(hdr); err != nil {
		return nil, nil, "", err
	}
	n := buf.Len()
	if err := mw.Close(); err != nil {
		return nil, nil, "", err
	}
	b := buf.Bytes()
	return b[:n:n], b[n:], mw.FormDataContentType(), nil
}

func tooLarge(limit int64) error {
	return apierr.New(apierr.KindTooLarge, "the file is larger than the limit of %d bytes", limit)
}

// readErr maps an error reading the client's upload: over the limit is a 413, a malformed
// body a 400; an *apierr.Error (a bad line, a failed spool write) is kept.
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
func callObject(ctx context.Context, b provider.Batcher, req *provider.BatchRequest) ([]byte, error) {
	resp, err := b.BatchDo(ctx, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return provider.ReadAnswer(ctx, resp, maxObject)
}

// writeObject writes the JSON that rewrite returns.
func (h *Handler) writeObject(w http.ResponseWriter, r *http.Request, rewrite func() ([]byte, error)) {
	b, err := rewrite()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func noSuch(kind, param, id string) error {
	return &apierr.Error{Kind: apierr.KindNotFound, Param: param, Code: "not_found", Message: "No such " + kind + " object: " + id}
}

// objectErr maps the provider's refusal of a call on an object the client named by id: 404
// (deleted, expired) is the client's 404, 409 (a batch that can no longer be cancelled) the
// client's 400; other errors are kept.
func objectErr(err error, kind, param, id string) error {
	var e *apierr.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.UpstreamStatus {
	case http.StatusNotFound:
		return noSuch(kind, param, id)
	case http.StatusConflict:
		return &apierr.Error{Kind: apierr.KindInvalidRequest, Param: param, Message: "the provider refused: the " + strings.ToLower(kind) + "'s state does not allow this (status 409)", Cause: e.Cause}
	}
	return err
}

// sealed is an id from the request's path, opened.
type sealed struct {
	c         *pipeline.Caller
	b         provider.Batcher
	id, route string
	upstream  string // the provider's id
}

// open admits the caller and opens the id of the request's path as kind, returning the batch
// API it lives at: the model's, when the caller may still use it, else any of the account's
// that the caller may use.
func (h *Handler) open(w http.ResponseWriter, r *http.Request, kind batch.Kind) (*sealed, bool) {
	c, ok := h.admit(w, r)
	if !ok {
		return nil, false
	}
	s := &sealed{c: c, id: r.PathValue("id")}
	var found bool
	if s.route, s.upstream, found = h.ids.Open(kind, c.Principal.Name(), s.id); !found {
		if kind == batch.Batch {
			h.fail(w, r, noSuch("Batch", "batch_id", s.id))
		} else {
			h.fail(w, r, noSuch("File", "file_id", s.id))
		}
		return nil, false
	}
	var err error
	if _, s.b, err = h.p.Batcher(c, s.route, ""); err != nil {
		s.b, err = h.p.AccountBatcher(c, batch.Account(s.route))
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return s, true
}

func (h *Handler) getFile(w http.ResponseWriter, r *http.Request) {
	s, ok := h.open(w, r, batch.File)
	if !ok {
		return
	}
	raw, err := callObject(r.Context(), s.b, &provider.BatchRequest{Method: http.MethodGet, Path: "files/" + url.PathEscape(s.upstream)})
	if err != nil {
		h.fail(w, r, objectErr(err, "File", "file_id", s.id))
		return
	}
	h.writeObject(w, r, func() ([]byte, error) { return h.objects(s.c).File(raw, s.route) })
}

func (h *Handler) deleteFile(w http.ResponseWriter, r *http.Request) {
	s, ok := h.open(w, r, batch.File)
	if !ok {
		return
	}
	raw, err := callObject(r.Context(), s.b, &provider.BatchRequest{Method: http.MethodDelete, Path: "files/" + url.PathEscape(s.upstream)})
	if err != nil {
		h.fail(w, r, objectErr(err, "File", "file_id", s.id))
		return
	}
	h.writeObject(w, r, func() ([]byte, error) {
		// {"id": ..., "object": "file", "deleted": true}: the id is the client's.
		return rawjson.SetString(raw, "id", s.id)
	})
}

// fileContent streams a file's bytes (a batch's output or errors) as the upstream sends them.
func (h *Handler) fileContent(w http.ResponseWriter, r *http.Request) {
	s, ok := h.open(w, r, batch.File)
	if !ok {
		return
	}
	resp, err := s.b.BatchDo(r.Context(), &provider.BatchRequest{Method: http.MethodGet, Path: "files/" + url.PathEscape(s.upstream) + "/content"})
	if err != nil {
		h.fail(w, r, objectErr(err, "File", "file_id", s.id))
		return
	}
	defer resp.Body.Close()
	res := &provider.ForwardResult{Status: resp.StatusCode, Header: http.Header{}, Body: resp.Body}
	for _, k := range []string{"Content-Type", "Content-Length"} {
		if v := resp.Header.Get(k); v != "" {
			res.Header.Set(k, v)
		}
	}
	res.Header.Set("X-Content-Type-Options", "nosniff")
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
		h.fail(w, r, apierr.Invalid("", "we could not parse the JSON body of your request: input_file_id, endpoint and completion_window are required"))
		return
	}
	route, up, ok := h.ids.Open(batch.File, c.Principal.Name(), req.InputFileID)
	switch {
	case req.InputFileID == "":
		h.fail(w, r, apierr.Invalid("input_file_id", "you must provide an input_file_id"))
		return
	case !ok:
		h.fail(w, r, noSuch("File", "input_file_id", req.InputFileID))
		return
	case !strings.Contains(route, "/"):
		h.fail(w, r, apierr.Invalid("input_file_id", "the file is not a batch input file uploaded through llmgw"))
		return
	case req.Endpoint == "":
		h.fail(w, r, apierr.Invalid("endpoint", "you must provide an endpoint"))
		return
	}
	if _, _, err := h.p.Batcher(c, route, req.Endpoint); err != nil {
		h.fail(w, r, err)
		return
	}
	if len(req.Metadata) > maxMetadata-2 {
		h.fail(w, r, apierr.Invalid("metadata", "a batch may carry at most %d metadata keys through llmgw", maxMetadata-2))
		return
	}
	meta := map[string]string{}
	for k, v := range req.Metadata {
		if strings.HasPrefix(k, batch.MetaPrefix) {
			h.fail(w, r, apierr.Invalid("metadata", "metadata keys starting with %q are reserved for llmgw", batch.MetaPrefix))
			return
		}
		meta[k] = v
	}
	objs := h.objects(c)
	meta[batch.MetaOwner], meta[batch.MetaModel] = objs.Tag, route
	mb, _ := json.Marshal(meta)
	// The creation is an attempt of the request's plan: the guards admit it, and the body names
	// the target's endpoint.
	var raw []byte
	err := h.p.Batch(r.Context(), c, pipeline.OpBatch, route, req.Endpoint, func(ctx context.Context, b provider.Batcher) error {
		_, endpoint := b.BatchTarget(req.Endpoint)
		out, err := rawjson.SetString(body, "input_file_id", up)
		if err == nil {
			out, err = rawjson.SetString(out, "endpoint", endpoint)
		}
		if err == nil {
			out, err = rawjson.Set(out, "metadata", mb)
		}
		if err != nil {
			return apierr.Invalid("", "the request body is not a JSON object")
		}
		raw, err = callObject(ctx, b, &provider.BatchRequest{
			Method: http.MethodPost, Path: "batches", ContentType: "application/json", Size: int64(len(out)),
			Body: func() io.Reader { return bytes.NewReader(out) },
		})
		return objectErr(err, "File", "input_file_id", req.InputFileID)
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The gateway just wrote the batch's owner: it is the caller's whatever the answer echoes.
	h.writeObject(w, r, func() ([]byte, error) {
		out, _, err := objs.Batch(raw)
		return out, err
	})
}

// batchCall gets or cancels the batch of the request's path. An ended batch's usage is
// recorded (see pipeline.RecordBatch).
func (h *Handler) batchCall(w http.ResponseWriter, r *http.Request, method, suffix string) {
	s, ok := h.open(w, r, batch.Batch)
	if !ok {
		return
	}
	req := &provider.BatchRequest{Method: method, Path: "batches/" + url.PathEscape(s.upstream) + suffix}
	if method == http.MethodPost {
		req.ContentType, req.Body = "application/json", func() io.Reader { return strings.NewReader("{}") }
		req.Size = 2
	}
	raw, err := callObject(r.Context(), s.b, req)
	if err != nil {
		h.fail(w, r, objectErr(err, "Batch", "batch_id", s.id))
		return
	}
	out, info, err := h.objects(s.c).Batch(raw)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !info.Owned {
		h.fail(w, r, noSuch("Batch", "batch_id", s.id))
		return
	}
	if info.Final() {
		h.recordBatch(r, s, info)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// recordBatch records an ended batch's usage: the batch object's, or, when the provider
// reports none there (Azure), the sum of its output file's answers, read even if the client
// goes away and within its own upstream timeout.
func (h *Handler) recordBatch(r *http.Request, s *sealed, info batch.BatchInfo) {
	err := h.p.RecordBatch(r.Context(), s.c, &pipeline.EndedBatch{
		Model: info.Model, Account: batch.Account(info.Model), UpstreamID: info.UpstreamID, Status: info.Status, Ended: info.Ended,
		Usage: func() (*chat.Usage, error) {
			if info.HasUsage {
				return &info.Usage, nil
			}
			if info.OutputFileID == "" {
				return nil, nil
			}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.p.UpstreamTimeout())
			defer cancel()
			resp, err := s.b.BatchDo(ctx, &provider.BatchRequest{Method: http.MethodGet, Path: "files/" + url.PathEscape(info.OutputFileID) + "/content"})
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			u, ok, err := batch.SumOutputUsage(resp.Body)
			if err != nil || !ok {
				return nil, err
			}
			return &u, nil
		},
	})
	if err != nil {
		h.logger.LogAttrs(r.Context(), slog.LevelWarn, "batch usage not recorded yet: could not read its output file", slog.String("batch", info.UpstreamID), slog.String("error", apierr.From(err).Error()))
	}
}

func (h *Handler) getBatch(w http.ResponseWriter, r *http.Request) {
	h.batchCall(w, r, http.MethodGet, "")
}

func (h *Handler) cancelBatch(w http.ResponseWriter, r *http.Request) {
	h.batchCall(w, r, http.MethodPost, "/cancel")
}

// listKind is what list reads: the path, the upstream's largest page and the parameters passed on.
type listKind struct {
	kind     batch.Kind
	path     string
	maxLimit int
	pass     []string
	add      func(*batch.Objects, *batch.Page, *batch.List) ([]string, error)
}

var (
	fileList  = listKind{batch.File, "files", 10000, []string{"purpose", "order"}, (*batch.Objects).Files}
	batchList = listKind{batch.Batch, "batches", 100, nil, (*batch.Objects).Batches}
)

// maxListPages bounds the upstream pages (each the upstream's largest) one list call reads
// while looking for the caller's own objects among the account's.
const maxListPages = 10

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

// list answers a list call with the caller's own objects of one account, newest first (or as
// the client's order says), reading upstream pages until it has the client's limit, the
// upstream has no more, or maxListPages were read.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, lk listKind) {
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	account, b, err := h.listAccount(c, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	limit := 20
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > lk.maxLimit {
			h.fail(w, r, apierr.Invalid("limit", "limit must be an integer from 1 to %d", lk.maxLimit))
			return
		}
	}
	up := url.Values{"limit": {strconv.Itoa(lk.maxLimit)}}
	for _, k := range lk.pass {
		if v := q.Get(k); v != "" {
			up.Set(k, v)
		}
	}
	if after := q.Get("after"); after != "" {
		route, id, ok := h.ids.Open(lk.kind, c.Principal.Name(), after)
		if !ok || batch.Account(route) != account {
			h.fail(w, r, apierr.Invalid("after", "after must be the id of an object from an earlier page"))
			return
		}
		up.Set("after", id)
	}
	objs := h.objects(c)
	page := batch.Page{Object: "list", Data: []json.RawMessage{}}
	for range maxListPages {
		raw, err := callObject(r.Context(), b, &provider.BatchRequest{Method: http.MethodGet, Path: lk.path, Query: up})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		var l batch.List
		if err := json.Unmarshal(raw, &l); err != nil {
			h.fail(w, r, provider.BadResponse(err))
			return
		}
		seen, err := lk.add(objs, &page, &l)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		page.HasMore = l.HasMore
		if cursor := up.Get("after"); cursor != "" && slices.Contains(seen, cursor) {
			page.HasMore = false // the upstream ignored the cursor: paging on would never end
			break
		}
		if len(page.Data) >= limit || !l.HasMore || len(seen) == 0 {
			break
		}
		up.Set("after", seen[len(seen)-1])
	}
	if len(page.Data) > limit {
		page.Data, page.HasMore = page.Data[:limit], true
		var last struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(page.Data[limit-1], &last)
		page.LastID = &last.ID
	}
	out, _ := json.Marshal(&page)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// listFiles lists the files the caller uploaded through the gateway to one account.
func (h *Handler) listFiles(w http.ResponseWriter, r *http.Request) { h.list(w, r, fileList) }

// listBatches lists the caller's batches of one account. Their usage is recorded when each is
// read (GET /v1/batches/{id}), not here: a list would re-read every ended batch.
func (h *Handler) listBatches(w http.ResponseWriter, r *http.Request) { h.list(w, r, batchList) }
