package openaiapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/provider"
)

// rerankFields are the members of a rerank request: the ones Cohere, Jina and vLLM share.
// Another member (rank_fields, max_tokens_per_doc, ...) would change the answer in a way no
// adapter promises to honour, so it is refused by name rather than dropped.
var rerankFields = map[string]bool{"model": true, "query": true, "documents": true, "top_n": true, "return_documents": true}

// rerank serves POST /v1/rerank: {"model","query","documents":[string | {"text"}],"top_n"?,
// "return_documents"?} answered in the shape provider.RerankResult documents. It is registered
// for every method so that a wrong method is a 405, as on the other POST routes.
func (h *Handler) rerank(w http.ResponseWriter, r *http.Request) {
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
	call, err := decodeRerank(body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.p.Rerank(r.Context(), c, call)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(res.JSON)
}

// decodeRerank decodes and validates a rerank request body. Errors are *apierr.Error of kind
// InvalidRequest naming the offending member.
func decodeRerank(body []byte) (*provider.RerankCall, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, apierr.Invalid("", "the request body must be a JSON object")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return nil, &apierr.Error{Kind: apierr.KindInvalidRequest, Message: "the request body is not valid JSON", Cause: err}
	}
	unknown := make([]string, 0)
	for k := range members {
		if !rerankFields[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, apierr.Invalid(unknown[0], "%s is not supported by the rerank endpoint", unknown[0])
	}
	call := &provider.RerankCall{}
	if err := member(members, "model", &call.Model); err != nil {
		return nil, err
	}
	if call.Model == "" {
		return nil, apierr.Invalid("model", "you must provide a model parameter")
	}
	if err := member(members, "query", &call.Query); err != nil {
		return nil, err
	}
	if call.Query == "" {
		return nil, apierr.Invalid("query", "query must be a non-empty string")
	}
	var docs []json.RawMessage
	if err := member(members, "documents", &docs); err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, apierr.Invalid("documents", "documents must be a non-empty array")
	}
	call.Documents = make([]string, len(docs))
	for i, d := range docs {
		text, err := documentText(d)
		if err != nil {
			param := fmt.Sprintf("documents[%d]", i)
			return nil, &apierr.Error{Kind: apierr.KindInvalidRequest, Param: param, Message: param + ` must be a string or {"text": string}`, Cause: err}
		}
		call.Documents[i] = text
	}
	if err := member(members, "top_n", &call.TopN); err != nil {
		return nil, err
	}
	if call.TopN != nil && *call.TopN < 1 {
		return nil, apierr.Invalid("top_n", "top_n must be at least 1")
	}
	if err := member(members, "return_documents", &call.ReturnDocuments); err != nil {
		return nil, err
	}
	return call, nil
}

// member decodes members[name] into v when present; a JSON null leaves v unset.
func member(members map[string]json.RawMessage, name string, v any) error {
	raw, ok := members[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &apierr.Error{Kind: apierr.KindInvalidRequest, Param: name, Message: name + " has the wrong type", Cause: err}
	}
	return nil
}

// documentText reads a document: a string, or an object whose text member is a string.
func documentText(raw json.RawMessage) (string, error) {
	var text string
	if len(raw) > 0 && raw[0] == '"' {
		err := json.Unmarshal(raw, &text)
		return text, err
	}
	var obj struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", err
	}
	if obj.Text == nil {
		return "", fmt.Errorf("document object has no text")
	}
	return *obj.Text, nil
}
