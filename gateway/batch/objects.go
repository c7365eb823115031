package batch

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// Metadata keys the gateway writes on every batch it creates; clients cannot set them and
// never see them.
const (
	// MetaOwner holds the owner's OwnerTag.
	MetaOwner = "llmgw_owner"
	// MetaModel holds the FQN the batch was created for.
	MetaModel = "llmgw_model"
	// MetaPrefix is the prefix reserved for the gateway's keys.
	MetaPrefix = "llmgw_"
)

// UpstreamFilename is the name a file is uploaded under: the owner's tag, the model the file
// is for and the client's name, so that the owner's files can be found in the account's list
// and each gets the same id there as at its upload.
func UpstreamFilename(tag, model, name string) string {
	return filenamePrefix(tag) + base64.RawURLEncoding.EncodeToString([]byte(model)) + "." + name
}

func filenamePrefix(tag string) string { return "llmgw-" + tag + "." }

// parseFilename returns the model and the client's name of an upstream file name, ok false
// when the owner did not upload it through the gateway.
func (x *Objects) parseFilename(upstream string) (model, name string, ok bool) {
	rest, ok := strings.CutPrefix(upstream, filenamePrefix(x.Tag))
	if !ok {
		return "", "", false
	}
	enc, name, ok := strings.Cut(rest, ".")
	m, err := base64.RawURLEncoding.DecodeString(enc)
	if !ok || err != nil {
		return "", "", false
	}
	return string(m), name, true
}

// Objects rewrites the upstream's file and batch objects for one owner: ids sealed, the
// gateway's file name prefix and metadata removed. It is safe for concurrent use.
type Objects struct {
	IDs   *IDs
	Owner string // snapshot.Principal.Name
	Tag   string // IDs.OwnerTag(Owner)
}

// NewObjects returns the rewriter for owner.
func NewObjects(ids *IDs, owner string) *Objects {
	return &Objects{IDs: ids, Owner: owner, Tag: ids.OwnerTag(owner)}
}

// object is an upstream object, decoded one level deep.
type object map[string]json.RawMessage

func (o object) str(key string) string {
	var s string
	_ = json.Unmarshal(o[key], &s)
	return s
}

func (o object) setStr(key, v string) {
	b, _ := json.Marshal(v)
	o[key] = b
}

// sealField replaces the id in o[key], when it holds one, with its sealed form.
func (x *Objects) sealField(o object, key string, k Kind, route string) {
	if id := o.str(key); id != "" {
		o.setStr(key, x.IDs.Seal(k, x.Owner, route, id))
	}
}

// File rewrites one file object: the id sealed, the file name the client gave. A file the
// owner uploaded is routed to the model its name carries; another (a batch's output) to
// route, the route of the id the client named it by.
func (x *Objects) File(raw []byte, route string) ([]byte, error) {
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, provider.BadResponse(err)
	}
	x.file(o, route)
	return json.Marshal(o)
}

// file rewrites o and reports whether the owner uploaded it.
func (x *Objects) file(o object, route string) bool {
	model, name, own := x.parseFilename(o.str("filename"))
	if own {
		route = model
		o.setStr("filename", name)
	}
	x.sealField(o, "id", File, route)
	return own
}

// BatchInfo is what the gateway reads from an upstream batch object.
type BatchInfo struct {
	// UpstreamID is the provider's id of the batch.
	UpstreamID string
	// Model is the FQN the batch was created for (its MetaModel).
	Model string
	// Owned is whether the batch's MetaOwner is the owner's tag.
	Owned bool
	// Status is the batch's status: validating, in_progress, finalizing, completed, failed,
	// expired, cancelling or cancelled.
	Status string
	// Usage is the batch's usage in the gateway's terms; HasUsage is false when the upstream
	// reported none.
	Usage    chat.Usage
	HasUsage bool
	// OutputFileID is the provider's id of the batch's output file, when it has one.
	OutputFileID string
	// Ended is when the batch ended (completed_at, failed_at, expired_at or cancelled_at):
	// the same for every observer, so that records of it are identical.
	Ended time.Time
}

// Final reports whether the batch has ended: its usage will not change.
func (b *BatchInfo) Final() bool {
	switch b.Status {
	case "completed", "failed", "expired", "cancelled":
		return true
	}
	return false
}

// batchUsage is the usage member of a batch object.
type batchUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int64 `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int64 `json:"total_tokens"`
}

// Batch rewrites one batch object: the batch and file ids sealed (routed to the batch's
// model), the gateway's metadata removed, the model shown as the FQN the client used.
func (x *Objects) Batch(raw []byte) ([]byte, BatchInfo, error) {
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, BatchInfo{}, provider.BadResponse(err)
	}
	info := x.batch(o)
	b, err := json.Marshal(o)
	return b, info, err
}

func (x *Objects) batch(o object) BatchInfo {
	info := BatchInfo{UpstreamID: o.str("id"), Status: o.str("status"), OutputFileID: o.str("output_file_id")}
	var meta map[string]json.RawMessage
	_ = json.Unmarshal(o["metadata"], &meta)
	_ = json.Unmarshal(meta[MetaModel], &info.Model)
	var tag string
	_ = json.Unmarshal(meta[MetaOwner], &tag)
	info.Owned = tag == x.Tag
	for k := range meta {
		if strings.HasPrefix(k, MetaPrefix) {
			delete(meta, k)
		}
	}
	if len(meta) == 0 {
		o["metadata"] = json.RawMessage("null") // as OpenAI shows a batch created without metadata
	} else {
		o["metadata"], _ = json.Marshal(meta)
	}
	if info.Final() {
		var at int64
		_ = json.Unmarshal(o[info.Status+"_at"], &at) // completed_at, failed_at, expired_at, cancelled_at
		if at > 0 {
			info.Ended = time.Unix(at, 0).UTC()
		}
	}
	var u batchUsage
	if raw, ok := o["usage"]; ok && json.Unmarshal(raw, &u) == nil && (u.InputTokens != 0 || u.OutputTokens != 0) {
		info.HasUsage = true
		info.Usage = chat.Usage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.TotalTokens}
		if info.Usage.TotalTokens == 0 {
			info.Usage.TotalTokens = u.InputTokens + u.OutputTokens
		}
		if u.InputTokensDetails.CachedTokens != 0 {
			info.Usage.PromptTokensDetails = &chat.PromptTokensDetails{CachedTokens: u.InputTokensDetails.CachedTokens}
		}
		if u.OutputTokensDetails.ReasoningTokens != 0 {
			info.Usage.CompletionTokensDetails = &chat.CompletionTokensDetails{ReasoningTokens: u.OutputTokensDetails.ReasoningTokens}
		}
	}
	route := info.Model
	x.sealField(o, "id", Batch, route)
	for _, k := range []string{"input_file_id", "output_file_id", "error_file_id"} {
		x.sealField(o, k, File, route)
	}
	if info.Model != "" {
		o.setStr("model", info.Model)
	}
	return info
}

// List is a page of an upstream list ({"object":"list","data":[...],"has_more":...}).
type List struct {
	Data    []json.RawMessage `json:"data"`
	HasMore bool              `json:"has_more"`
}

// Page is a list page as the gateway returns it: only the owner's objects, rewritten.
type Page struct {
	Object  string            `json:"object"`
	Data    []json.RawMessage `json:"data"`
	FirstID *string           `json:"first_id"`
	LastID  *string           `json:"last_id"`
	HasMore bool              `json:"has_more"`
}

// Files appends the files of an upstream page that the owner uploaded to p, and returns the
// upstream ids of the page's objects: the last is the cursor for the next upstream page.
func (x *Objects) Files(p *Page, l *List) (ids []string, err error) {
	return p.keep(l, func(o object) bool { return x.file(o, "") })
}

// Batches appends the owner's batches of an upstream page to p, as Files does.
func (x *Objects) Batches(p *Page, l *List) (ids []string, err error) {
	return p.keep(l, func(o object) bool {
		info := x.batch(o)
		return info.Owned && info.Model != ""
	})
}

// keep appends the objects of l that rewrite (which rewrites them in place) keeps, and returns
// the upstream ids of all of them, taken before rewriting.
func (p *Page) keep(l *List, rewrite func(object) bool) (ids []string, err error) {
	for _, raw := range l.Data {
		var o object
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, provider.BadResponse(err)
		}
		ids = append(ids, o.str("id"))
		if !rewrite(o) {
			continue
		}
		b, _ := json.Marshal(o)
		p.add(b, o.str("id"))
	}
	return ids, nil
}

func (p *Page) add(obj []byte, id string) {
	p.Data = append(p.Data, obj)
	if p.FirstID == nil {
		p.FirstID = &id
	}
	p.LastID = &id
}

// outputUsage is the usage of one answer in a batch output file: chat-style (chat
// completions, completions, embeddings) or Responses-style tokens.
type outputUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	InputTokens         int64 `json:"input_tokens"`
	OutputTokens        int64 `json:"output_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

// maxOutputLine bounds one answer of an output file read by SumOutputUsage.
const maxOutputLine = 64 << 20

// SumOutputUsage adds up the usage of every answer in a batch output file (JSONL: one
// {"custom_id", "response": {"status_code", "body"}, "error"} per line), for providers whose
// batch objects report none. ok is false when no line reported usage.
func SumOutputUsage(r io.Reader) (u chat.Usage, ok bool, err error) {
	var cached, reasoning int64
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for {
		var rerr error
		line, rerr = readLine(br, line[:0], maxOutputLine)
		if len(bytes.TrimSpace(line)) > 0 {
			var res struct {
				Response struct {
					Body struct {
						Usage *outputUsage `json:"usage"`
					} `json:"body"`
				} `json:"response"`
			}
			if json.Unmarshal(line, &res) == nil && res.Response.Body.Usage != nil {
				w := res.Response.Body.Usage
				ok = true
				u.PromptTokens += w.PromptTokens + w.InputTokens
				u.CompletionTokens += w.CompletionTokens + w.OutputTokens
				cached += w.PromptTokensDetails.CachedTokens + w.InputTokensDetails.CachedTokens
				reasoning += w.CompletionTokensDetails.ReasoningTokens + w.OutputTokensDetails.ReasoningTokens
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return chat.Usage{}, false, rerr
		}
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	if cached != 0 {
		u.PromptTokensDetails = &chat.PromptTokensDetails{CachedTokens: cached}
	}
	if reasoning != 0 {
		u.CompletionTokensDetails = &chat.CompletionTokensDetails{ReasoningTokens: reasoning}
	}
	return u, ok, nil
}
