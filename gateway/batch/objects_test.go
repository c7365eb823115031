package batch

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestBatchObject(t *testing.T) {
	ids := NewIDs(bytes.Repeat([]byte{7}, 32))
	alice, bob := NewObjects(ids, "user:alice"), NewObjects(ids, "user:bob")
	raw := []byte(`{"id":"batch_1","object":"batch","status":"completed","completed_at":1700000000,"model":"gpt-4o-mini-2024-07-18",
		"input_file_id":"file-in","output_file_id":"file-out","error_file_id":null,
		"metadata":{"job":"nightly","llmgw_owner":"` + alice.Tag + `","llmgw_model":"oai/mini"},
		"usage":{"input_tokens":30,"input_tokens_details":{"cached_tokens":4},"output_tokens":15,"output_tokens_details":{"reasoning_tokens":2},"total_tokens":45}}`)
	out, info, err := alice.Batch(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Owned || info.Model != "oai/mini" || info.UpstreamID != "batch_1" || !info.Final() || !info.HasUsage || info.OutputFileID != "file-out" ||
		info.Usage.PromptTokens != 30 || info.Usage.CompletionTokens != 15 || info.Usage.TotalTokens != 45 || info.Usage.CachedTokens() != 4 || info.Usage.ReasoningTokens() != 2 {
		t.Errorf("info %+v", info)
	}
	var got struct {
		ID           string            `json:"id"`
		Model        string            `json:"model"`
		InputFileID  string            `json:"input_file_id"`
		OutputFileID string            `json:"output_file_id"`
		ErrorFileID  *string           `json:"error_file_id"`
		Metadata     map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Model != "oai/mini" || len(got.Metadata) != 1 || got.Metadata["job"] != "nightly" || got.ErrorFileID != nil || !info.Ended.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("rewritten %s", out)
	}
	for _, c := range []struct {
		kind     Kind
		id, want string
	}{{Batch, got.ID, "batch_1"}, {File, got.InputFileID, "file-in"}, {File, got.OutputFileID, "file-out"}} {
		if route, up, ok := ids.Open(c.kind, "user:alice", c.id); !ok || route != "oai/mini" || up != c.want {
			t.Errorf("id %q opens to %q %q %v; want oai/mini %s", c.id, route, up, ok, c.want)
		}
	}
	if strings.Contains(string(out), "llmgw_") || strings.Contains(string(out), alice.Tag) {
		t.Errorf("the gateway's metadata leaked: %s", out)
	}
	if _, info, _ := bob.Batch(raw); info.Owned {
		t.Error("bob owns alice's batch")
	}
	out, info, _ = alice.Batch([]byte(`{"id":"b","status":"in_progress","usage":null,"metadata":{"llmgw_owner":"x"}}`))
	if info.Final() || info.HasUsage || info.Owned || !strings.Contains(string(out), `"metadata":null`) {
		t.Errorf("a foreign running batch without usage: %+v %s", info, out)
	}
}

func TestFileListKeepsTheOwnersFiles(t *testing.T) {
	ids := NewIDs(bytes.Repeat([]byte{7}, 32))
	alice := NewObjects(ids, "user:alice")
	l := &List{Data: []json.RawMessage{
		json.RawMessage(`{"id":"file-3","filename":"` + UpstreamFilename(alice.Tag, "oai/mini", "b.v2.jsonl") + `"}`),
		json.RawMessage(`{"id":"file-2","filename":"batch_output.jsonl"}`),
		json.RawMessage(`{"id":"file-1","filename":"` + UpstreamFilename(NewObjects(ids, "user:bob").Tag, "oai/mini", "a.jsonl") + `"}`),
		json.RawMessage(`{"id":"file-0","filename":"llmgw-` + alice.Tag + `.!!.forged.jsonl"}`),
	}, HasMore: true}
	var p Page
	seen, err := alice.Files(&p, l)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 4 || seen[3] != "file-0" || len(p.Data) != 1 || p.FirstID == nil || *p.FirstID != *p.LastID {
		t.Fatalf("page %+v, ids %q", p, seen)
	}
	var f struct{ ID, Filename string }
	_ = json.Unmarshal(p.Data[0], &f)
	// The same id as the upload's: routed to the model the name carries.
	if f.ID != ids.Seal(File, "user:alice", "oai/mini", "file-3") || f.Filename != "b.v2.jsonl" {
		t.Errorf("listed %s", p.Data[0])
	}
}

func TestSumOutputUsage(t *testing.T) {
	out := `{"custom_id":"a","response":{"status_code":200,"body":{"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":2}}}},"error":null}
{"custom_id":"b","response":{"status_code":200,"body":{"usage":{"input_tokens":7,"output_tokens":3,"output_tokens_details":{"reasoning_tokens":1}}}},"error":null}
{"custom_id":"c","response":null,"error":{"code":"x","message":"failed"}}

`
	u, ok, err := SumOutputUsage(strings.NewReader(out))
	if err != nil || !ok || u.PromptTokens != 17 || u.CompletionTokens != 8 || u.TotalTokens != 25 || u.CachedTokens() != 2 || u.ReasoningTokens() != 1 {
		t.Errorf("got %+v %v %v", u, ok, err)
	}
	if _, ok, _ := SumOutputUsage(strings.NewReader(`{"custom_id":"c","error":{}}`)); ok {
		t.Error("usage found in a file without any")
	}
}
