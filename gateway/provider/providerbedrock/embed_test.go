package providerbedrock

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

const (
	titanModel  = "amazon.titan-embed-text-v2:0"
	cohereModel = "cohere.embed-english-v3"
)

// embedder returns the adapter for an embeddings model on f.
func (f *fakeBedrock) embedder(t *testing.T, model string) provider.Embedder {
	t.Helper()
	e, ok := adapterFor(t, f.config(model)).(provider.Embedder)
	if !ok {
		t.Fatalf("adapter for %s does not implement provider.Embedder", model)
	}
	return e
}

func embedCall(t *testing.T, js string) *provider.EmbedCall {
	t.Helper()
	r, err := chat.DecodeEmbeddingRequest([]byte(js))
	if err != nil {
		t.Fatalf("DecodeEmbeddingRequest(%s): %v", js, err)
	}
	return &provider.EmbedCall{Request: r}
}

// titanUpstream answers as Titan: the vector is [len(inputText), 0.5], the count its words.
// An input "fail" gets a ValidationException.
func titanUpstream(w http.ResponseWriter, r *http.Request) {
	var req titanEmbedRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if req.InputText == "fail" {
		respondError(http.StatusBadRequest, "ValidationException")(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"embedding":[%d,0.5],"inputTextTokenCount":%d,"embeddingsByType":{"float":[%d,0.5]}}`,
		len(req.InputText), len(strings.Fields(req.InputText)), len(req.InputText))
}

func TestEmbedTitan(t *testing.T) {
	f := newFake(t, titanUpstream)
	res, err := f.embedder(t, titanModel).Embed(context.Background(), embedCall(t, `{"model":"e","input":["one","two words","three little words"],"dimensions":256}`))
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	want := `{"object":"list","model":"amazon.titan-embed-text-v2:0","data":[
		{"object":"embedding","index":0,"embedding":[3,0.5]},
		{"object":"embedding","index":1,"embedding":[9,0.5]},
		{"object":"embedding","index":2,"embedding":[18,0.5]}],
		"usage":{"prompt_tokens":6,"total_tokens":6}}`
	if diff := cmp.Diff(jsonValue(t, want), jsonValue(t, string(res.JSON))); diff != "" {
		t.Errorf("embeddings mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(chat.Usage{PromptTokens: 6, TotalTokens: 6}, res.Usage); diff != "" {
		t.Errorf("usage mismatch (-want +got):\n%s", diff)
	}
	reqs := f.requests()
	var bodies []string
	for _, r := range reqs {
		if want := "/model/amazon.titan-embed-text-v2%3A0/invoke"; r.path != want {
			t.Errorf("path = %q, want %q", r.path, want)
		}
		bodies = append(bodies, string(r.body))
	}
	sort.Strings(bodies) // the calls run concurrently
	wantBodies := []string{
		`{"inputText":"one","dimensions":256}`,
		`{"inputText":"three little words","dimensions":256}`,
		`{"inputText":"two words","dimensions":256}`,
	}
	if diff := cmp.Diff(wantBodies, bodies); diff != "" {
		t.Errorf("request bodies mismatch (-want +got):\n%s", diff)
	}
}

func TestEmbedTitanFailure(t *testing.T) {
	f := newFake(t, titanUpstream)
	inputs := make([]string, 12)
	for i := range inputs {
		inputs[i] = fmt.Sprintf("%q", fmt.Sprint("text ", i))
	}
	inputs[5] = `"fail"`
	_, err := f.embedder(t, titanModel).Embed(context.Background(), embedCall(t, `{"model":"e","input":[`+strings.Join(inputs, ",")+`]}`))
	e := asAPIErr(t, err)
	if e.Kind != apierr.KindInvalidRequest || strings.Contains(e.Message, upstreamSecret) {
		t.Errorf("error = %v (kind %v), want an invalid request without upstream text", e, e.Kind)
	}
}

func TestEmbedCohere(t *testing.T) {
	var calls int
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		var req cohereEmbedRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		calls++
		vecs := make([]string, len(req.Texts))
		for i, s := range req.Texts {
			vecs[i] = fmt.Sprintf("[%d,0.25]", len(s))
		}
		embeddings := "[" + strings.Join(vecs, ",") + "]"
		if calls == 2 { // the answer by embedding type, as newer models give it
			embeddings = `{"float":` + embeddings + `}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", fmt.Sprint(len(req.Texts)*2))
		fmt.Fprintf(w, `{"id":"e1","response_type":"embeddings_floats","texts":[],"embeddings":%s}`, embeddings)
	})
	inputs := make([]string, 100)
	for i := range inputs {
		inputs[i] = strings.Repeat("x", i+1)
	}
	b, _ := json.Marshal(inputs)
	res, err := f.embedder(t, cohereModel).Embed(context.Background(), embedCall(t, `{"model":"e","input":`+string(b)+`}`))
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream got %d calls, want 2 (96 + 4 texts)", len(reqs))
	}
	first, _ := json.Marshal(cohereEmbedRequest{Texts: inputs[:96], InputType: "search_document"})
	second, _ := json.Marshal(cohereEmbedRequest{Texts: inputs[96:], InputType: "search_document"})
	if diff := cmp.Diff([]string{string(first), string(second)}, []string{string(reqs[0].body), string(reqs[1].body)}); diff != "" {
		t.Errorf("request bodies mismatch (-want +got):\n%s", diff)
	}
	if want := "/model/cohere.embed-english-v3/invoke"; reqs[0].path != want {
		t.Errorf("path = %q, want %q", reqs[0].path, want)
	}
	var out chat.EmbeddingResponse
	if err := json.Unmarshal(res.JSON, &out); err != nil {
		t.Fatalf("answer is not an embeddings list: %v", err)
	}
	if len(out.Data) != 100 || out.Object != "list" || out.Model != cohereModel {
		t.Fatalf("answer has %d embeddings, object %q, model %q", len(out.Data), out.Object, out.Model)
	}
	for i, d := range out.Data {
		if d.Index != int64(i) || !cmp.Equal(d.Embedding, []float32{float32(i + 1), 0.25}) {
			t.Errorf("data[%d] = index %d %v, want index %d [%d 0.25]", i, d.Index, d.Embedding, i, i+1)
		}
	}
	if want := (chat.Usage{PromptTokens: 200, TotalTokens: 200}); !cmp.Equal(res.Usage, want) {
		t.Errorf("usage = %+v, want %+v", res.Usage, want)
	}
}

func TestEmbedBase64(t *testing.T) {
	f := newFake(t, titanUpstream)
	res, err := f.embedder(t, titanModel).Embed(context.Background(), embedCall(t, `{"model":"e","input":"four","encoding_format":"base64"}`))
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	var out struct {
		Data []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(res.JSON, &out); err != nil || len(out.Data) != 1 {
		t.Fatalf("answer %s: %v", res.JSON, err)
	}
	raw, err := base64.StdEncoding.DecodeString(out.Data[0].Embedding)
	if err != nil || len(raw) != 8 {
		t.Fatalf("embedding %q is not base64 of two float32s: %v", out.Data[0].Embedding, err)
	}
	got := []float32{math.Float32frombits(binary.LittleEndian.Uint32(raw)), math.Float32frombits(binary.LittleEndian.Uint32(raw[4:]))}
	if !cmp.Equal(got, []float32{4, 0.5}) {
		t.Errorf("decoded embedding = %v, want [4 0.5]", got)
	}
}

func TestEmbedRefused(t *testing.T) {
	dims := int64(256)
	tests := []struct {
		name, model string
		request     *chat.EmbeddingRequest // built directly: the decoder refuses some of these itself
		wantParam   string
	}{
		{"cohere dimensions", cohereModel, &chat.EmbeddingRequest{Input: chat.Input{"x"}, Dimensions: &dims}, "dimensions"},
		{"empty input", titanModel, &chat.EmbeddingRequest{Input: chat.Input{}}, "input"},
		{"unknown encoding", titanModel, &chat.EmbeddingRequest{Input: chat.Input{"x"}, EncodingFormat: "int8"}, "encoding_format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, titanUpstream)
			_, err := f.embedder(t, tt.model).Embed(context.Background(), &provider.EmbedCall{Request: tt.request})
			if e := asAPIErr(t, err); e.Kind != apierr.KindInvalidRequest || e.Param != tt.wantParam {
				t.Errorf("error %v (kind %v, param %q), want invalid request naming %s", e, e.Kind, e.Param, tt.wantParam)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("upstream got %d calls, want none", n)
			}
		})
	}
}
