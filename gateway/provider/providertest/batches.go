package providertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BatchLayout is where a fake serves the Files and Batch APIs and how it checks the caller.
type BatchLayout struct {
	// Prefix is the path the APIs are under: "/v1" (OpenAI) or "/openai" (Azure OpenAI).
	Prefix string
	// AuthHeader and AuthValue are the credential every request must carry.
	AuthHeader, AuthValue string
	// APIVersion, when set, must be every request's api-version query parameter (Azure).
	APIVersion string
	// TrimV1 is whether a batch and its lines name endpoints without "/v1" (Azure).
	TrimV1 bool
	// NoUsage leaves the usage member out of batch objects (as older Azure api-versions do);
	// the usage is then only in the output file's lines.
	NoUsage bool
}

// OpenAIBatchLayout is OpenAI's layout for the key.
func OpenAIBatchLayout(key string) BatchLayout {
	return BatchLayout{Prefix: "/v1", AuthHeader: "Authorization", AuthValue: "Bearer " + key}
}

// AzureBatchLayout is Azure OpenAI's layout for the api-key and api-version.
func AzureBatchLayout(key, version string) BatchLayout {
	return BatchLayout{Prefix: "/openai", AuthHeader: "Api-Key", AuthValue: key, APIVersion: version, TrimV1: true, NoUsage: true}
}

// Batches is a fake of OpenAI's Files and Batch APIs as documented: multipart upload, file
// objects and content, batch objects moving from validating to completed (on the first read
// after creation) with an output file of one answer per input line, cancellation, cursor
// pagination (newest first) and errors in OpenAI's shape. Each answered line reports usage of
// 10 prompt and 5 completion tokens. It is safe for concurrent use.
type Batches struct {
	*httptest.Server
	layout BatchLayout

	mu      sync.Mutex
	seq     int
	files   []*fakeFile // in creation order
	batches []*fakeBatch
}

type fakeFile struct {
	obj     map[string]any
	content []byte
}

type fakeBatch struct {
	obj   map[string]any
	lines [][]byte
	reads int
}

// NewBatches starts the fake; its API root is URL()+layout.Prefix.
func NewBatches(t testing.TB, layout BatchLayout) *Batches {
	f := &Batches{layout: layout}
	mux := http.NewServeMux()
	p := layout.Prefix
	mux.HandleFunc("POST "+p+"/files", f.upload)
	mux.HandleFunc("GET "+p+"/files", f.listFiles)
	mux.HandleFunc("GET "+p+"/files/{id}", f.getFile)
	mux.HandleFunc("DELETE "+p+"/files/{id}", f.deleteFile)
	mux.HandleFunc("GET "+p+"/files/{id}/content", f.content)
	mux.HandleFunc("POST "+p+"/batches", f.create)
	mux.HandleFunc("GET "+p+"/batches", f.listBatches)
	mux.HandleFunc("GET "+p+"/batches/{id}", f.getBatch)
	mux.HandleFunc("POST "+p+"/batches/{id}/cancel", f.cancel)
	f.Server = httptest.NewServer(f.check(mux))
	t.Cleanup(f.Close)
	return f
}

// Root is the API root an adapter is configured with.
func (f *Batches) Root() string { return f.URL + f.layout.Prefix }

// Uploaded returns the content of every file uploaded so far, as the fake received it.
func (f *Batches) Uploaded() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]byte
	for _, file := range f.files {
		if file.obj["purpose"] == "batch" {
			out = append(out, file.content)
		}
	}
	return out
}

// Filenames returns the name of every file the fake holds.
func (f *Batches) Filenames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, file := range f.files {
		out = append(out, file.obj["filename"].(string))
	}
	return out
}

// BatchMetadata returns the metadata of every batch, in creation order.
func (f *Batches) BatchMetadata() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]string
	for _, b := range f.batches {
		out = append(out, b.obj["metadata"].(map[string]string))
	}
	return out
}

// SeedForeign adds n batches that belong to nobody the gateway knows (another owner's tag), as
// newer than every batch so far, so that a caller's own batches sit behind them in the list.
func (f *Batches) SeedForeign(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.batches = append(f.batches, &fakeBatch{obj: map[string]any{
			"id": f.nextID("batch_foreign"), "object": "batch", "status": "completed", "endpoint": "/v1/chat/completions",
			"metadata": map[string]string{"llmgw_owner": "0123456789abcdef", "llmgw_model": "oai/mini"},
		}})
	}
}

// LastBatchID returns the upstream id of the newest batch.
func (f *Batches) LastBatchID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) == 0 {
		return ""
	}
	return f.batches[len(f.batches)-1].obj["id"].(string)
}

func (f *Batches) check(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(f.layout.AuthHeader) != f.layout.AuthValue {
			writeError(w, 401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.")
			return
		}
		if f.layout.APIVersion != "" && r.URL.Query().Get("api-version") != f.layout.APIVersion {
			writeError(w, 404, "invalid_request_error", "404", "Resource not found")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func notFound(w http.ResponseWriter, kind, id string) {
	writeError(w, 404, "invalid_request_error", "", "No such "+kind+" object: "+id)
}

func (f *Batches) nextID(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s%03d", prefix, f.seq)
}

func (f *Batches) endpoint(path string) string {
	if f.layout.TrimV1 {
		return strings.TrimPrefix(path, "/v1")
	}
	return path
}

func (f *Batches) upload(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength <= 0 {
		writeError(w, 411, "invalid_request_error", "", "Content-Length required")
		return
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		writeError(w, 400, "invalid_request_error", "", "malformed multipart body")
		return
	}
	purpose := r.FormValue("purpose")
	file, hdr, err := r.FormFile("file")
	if err != nil || purpose == "" {
		writeError(w, 400, "invalid_request_error", "", "file and purpose are required")
		return
	}
	content, _ := io.ReadAll(file)
	if purpose == "batch" {
		sc := bufio.NewScanner(bytes.NewReader(content))
		for n := 1; sc.Scan(); n++ {
			var line struct {
				CustomID string `json:"custom_id"`
				Method   string `json:"method"`
				URL      string `json:"url"`
				Body     struct {
					Model string `json:"model"`
				} `json:"body"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.CustomID == "" || line.Method != "POST" || line.Body.Model == "" {
				writeError(w, 400, "invalid_request_error", "", fmt.Sprintf("line %d is not a valid batch request", n))
				return
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	obj := map[string]any{
		"id": f.nextID("file-up"), "object": "file", "bytes": len(content), "created_at": time.Now().Unix() + int64(f.seq),
		"filename": hdr.Filename, "purpose": purpose, "status": "processed", "expires_at": nil, "status_details": nil,
	}
	f.files = append(f.files, &fakeFile{obj: obj, content: content})
	writeJSON(w, obj)
}

func (f *Batches) file(id string) *fakeFile {
	for _, file := range f.files {
		if file.obj["id"] == id {
			return file
		}
	}
	return nil
}

func (f *Batches) getFile(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	file := f.file(r.PathValue("id"))
	if file == nil {
		notFound(w, "File", r.PathValue("id"))
		return
	}
	writeJSON(w, file.obj)
}

func (f *Batches) deleteFile(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := r.PathValue("id")
	i := slices.IndexFunc(f.files, func(file *fakeFile) bool { return file.obj["id"] == id })
	if i < 0 {
		notFound(w, "File", id)
		return
	}
	f.files = slices.Delete(f.files, i, i+1)
	writeJSON(w, map[string]any{"id": id, "object": "file", "deleted": true})
}

func (f *Batches) content(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	file := f.file(r.PathValue("id"))
	if file == nil {
		notFound(w, "File", r.PathValue("id"))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(file.content)))
	_, _ = w.Write(file.content)
}

// page writes objs (oldest first) newest first, after the cursor, up to limit.
func page(w http.ResponseWriter, r *http.Request, objs []map[string]any) {
	q := r.URL.Query()
	limit := 20
	if v, err := strconv.Atoi(q.Get("limit")); err == nil {
		limit = v
	}
	desc := slices.Clone(objs)
	if q.Get("order") != "asc" {
		slices.Reverse(desc)
	}
	if after := q.Get("after"); after != "" {
		i := slices.IndexFunc(desc, func(o map[string]any) bool { return o["id"] == after })
		if i < 0 {
			writeError(w, 400, "invalid_request_error", "", "after: no such object")
			return
		}
		desc = desc[i+1:]
	}
	more := len(desc) > limit
	if more {
		desc = desc[:limit]
	}
	out := map[string]any{"object": "list", "data": desc, "has_more": more, "first_id": nil, "last_id": nil}
	if len(desc) > 0 {
		out["first_id"], out["last_id"] = desc[0]["id"], desc[len(desc)-1]["id"]
	}
	writeJSON(w, out)
}

func (f *Batches) listFiles(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var objs []map[string]any
	for _, file := range f.files {
		if p := r.URL.Query().Get("purpose"); p == "" || file.obj["purpose"] == p {
			objs = append(objs, file.obj)
		}
	}
	page(w, r, objs)
}

func (f *Batches) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		InputFileID      string            `json:"input_file_id"`
		Endpoint         string            `json:"endpoint"`
		CompletionWindow string            `json:"completion_window"`
		Metadata         map[string]string `json:"metadata"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.CompletionWindow != "24h" || len(req.Metadata) > 16 {
		writeError(w, 400, "invalid_request_error", "", "input_file_id, endpoint and completion_window 24h are required; at most 16 metadata keys")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	file := f.file(req.InputFileID)
	if file == nil {
		notFound(w, "File", req.InputFileID)
		return
	}
	var lines [][]byte
	model := ""
	sc := bufio.NewScanner(bytes.NewReader(file.content))
	for sc.Scan() {
		var line struct {
			URL  string `json:"url"`
			Body struct {
				Model string `json:"model"`
			} `json:"body"`
		}
		_ = json.Unmarshal(sc.Bytes(), &line)
		if line.URL != req.Endpoint || line.URL != f.endpoint(line.URL) {
			writeError(w, 400, "invalid_request_error", "", "every line's url must be the batch's endpoint "+req.Endpoint)
			return
		}
		model = line.Body.Model
		lines = append(lines, slices.Clone(sc.Bytes()))
	}
	if req.Metadata == nil {
		req.Metadata = map[string]string{}
	}
	now := time.Now().Unix()
	obj := map[string]any{
		"id": f.nextID("batch_up"), "object": "batch", "endpoint": req.Endpoint, "errors": nil, "input_file_id": req.InputFileID,
		"completion_window": "24h", "status": "validating", "output_file_id": nil, "error_file_id": nil, "created_at": now,
		"in_progress_at": nil, "expires_at": now + 86400, "completed_at": nil, "failed_at": nil, "expired_at": nil,
		"cancelling_at": nil, "cancelled_at": nil, "request_counts": map[string]int{"total": len(lines), "completed": 0, "failed": 0},
		"metadata": req.Metadata, "model": model,
	}
	f.batches = append(f.batches, &fakeBatch{obj: obj, lines: lines})
	writeJSON(w, obj)
}

// advance moves a batch on one read: validating batches complete, cancelling ones cancel.
func (f *Batches) advance(b *fakeBatch) {
	b.reads++
	now := time.Now().Unix()
	switch b.obj["status"] {
	case "validating":
		var out bytes.Buffer
		for i, raw := range b.lines {
			var line struct {
				CustomID string `json:"custom_id"`
				Body     struct {
					Model string `json:"model"`
				} `json:"body"`
			}
			_ = json.Unmarshal(raw, &line)
			body := map[string]any{
				"id": fmt.Sprintf("chatcmpl-b%d", i), "object": "chat.completion", "created": now, "model": line.Body.Model,
				"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": "batched " + line.CustomID}}},
				"usage":   map[string]any{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
			}
			res := map[string]any{"id": fmt.Sprintf("batch_req_%d", i), "custom_id": line.CustomID, "error": nil,
				"response": map[string]any{"status_code": 200, "request_id": fmt.Sprintf("req_%d", i), "body": body}}
			b, _ := json.Marshal(res)
			out.Write(append(b, '\n'))
		}
		outID := f.nextID("file-out")
		f.files = append(f.files, &fakeFile{content: out.Bytes(), obj: map[string]any{
			"id": outID, "object": "file", "bytes": out.Len(), "created_at": now, "filename": "batch_output.jsonl", "purpose": "batch_output", "status": "processed",
		}})
		n := int64(len(b.lines))
		b.obj["status"], b.obj["output_file_id"], b.obj["completed_at"], b.obj["in_progress_at"] = "completed", outID, now, now
		b.obj["request_counts"] = map[string]int{"total": len(b.lines), "completed": len(b.lines), "failed": 0}
		if !f.layout.NoUsage {
			b.obj["usage"] = map[string]any{
				"input_tokens": 10 * n, "input_tokens_details": map[string]int64{"cached_tokens": 0},
				"output_tokens": 5 * n, "output_tokens_details": map[string]int64{"reasoning_tokens": 0}, "total_tokens": 15 * n,
			}
		}
	case "cancelling":
		b.obj["status"], b.obj["cancelled_at"] = "cancelled", now
	}
}

func (f *Batches) batch(id string) *fakeBatch {
	for _, b := range f.batches {
		if b.obj["id"] == id {
			return b
		}
	}
	return nil
}

func (f *Batches) getBatch(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.batch(r.PathValue("id"))
	if b == nil {
		notFound(w, "Batch", r.PathValue("id"))
		return
	}
	f.advance(b)
	writeJSON(w, b.obj)
}

func (f *Batches) cancel(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.batch(r.PathValue("id"))
	if b == nil {
		notFound(w, "Batch", r.PathValue("id"))
		return
	}
	if b.obj["status"] != "validating" && b.obj["status"] != "in_progress" {
		writeError(w, 409, "invalid_request_error", "", "Cannot cancel a batch with status "+b.obj["status"].(string))
		return
	}
	b.obj["status"], b.obj["cancelling_at"] = "cancelling", time.Now().Unix()
	writeJSON(w, b.obj)
}

func (f *Batches) listBatches(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var objs []map[string]any
	for _, b := range f.batches {
		objs = append(objs, b.obj)
	}
	page(w, r, objs)
}
