package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"connectrpc.com/connect"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
)

// batchInput is a batch input file as a client writes it, every line naming model.
func batchInput(model, url string, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"custom_id":"req-%d","method":"POST","url":%q,"body":{"model":%q,"messages":[{"role":"user","content":"question %d"}],"max_tokens":50}}`+"\n", i, url, model, i)
	}
	return b.Bytes()
}

// TestBatchesThroughTheGateway runs OpenAI's batch workflow with the official SDK through a
// started gateway, against fakes of OpenAI's and Azure OpenAI's Files and Batch APIs: upload
// an input file, create a batch, poll it, download its output, list, cancel, delete. It
// checks what the upstream received (upstream model names, Azure's endpoint names, the
// owner's tag), that ids are usable only by their owner, that authorization applies to the
// file's model, and that each ended batch's usage is recorded once at the batch price.
func TestBatchesThroughTheGateway(t *testing.T) {
	oai := providertest.NewBatches(t, providertest.OpenAIBatchLayout("sk-oai-batch"))
	az := providertest.NewBatches(t, providertest.AzureBatchLayout("az-batch-key", "2024-10-21"))
	cfg := fmt.Sprintf(`
- name: oai
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://OAI_KEY}
  integrations:
    - {name: mini, type: integration/model/openai, model_id: gpt-4o-mini, model_types: [chat]}
    - {name: secret-model, type: integration/model/openai, model_id: gpt-4o, model_types: [chat]}
- name: az
  type: provider-account/azure-openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://AZ_KEY}
  integrations:
    - {name: gpt4o, type: integration/model/azure-openai, model_id: gpt-4o, model_types: [chat], settings: {deployment: gpt4o-global-batch}}
- name: mock
  type: provider-account/mock
  integrations:
    - {name: echo, type: integration/model/mock, model_id: echo, model_types: [chat]}
- authz_rules:
    - models: [oai/mini, az/gpt4o, mock/echo]
      users: [alice, bob]
`, oai.Root(), az.URL)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, map[string]string{"OAI_KEY": "sk-oai-batch", "AZ_KEY": "az-batch-key"}, "--config", path, "--max-file", "4096")
	alice := newUserKey(t, g, "alice")
	bob := newUserKey(t, g, "bob")
	ctx := context.Background()
	client := func(key string) openai.Client {
		return openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
	}
	c := client(alice)
	account := func(name string) option.RequestOption { return option.WithQuery("account", name) }

	for _, tt := range []struct {
		name, model, upstreamModel, upstreamURL string
		fake                                    *providertest.Batches
		price                                   float64 // gpt-4o-mini / gpt-4o list price of the batch's usage, before the batch discount
	}{
		// 3 lines × (10 prompt + 5 completion) tokens.
		{"openai", "oai/mini", "gpt-4o-mini", "/v1/chat/completions", oai, (30*0.15 + 15*0.60) / 1e6},
		{"azure", "az/gpt4o", "gpt4o-global-batch", "/chat/completions", az, (30*2.50 + 15*10.0) / 1e6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file, err := c.Files.New(ctx, openai.FileNewParams{
				File:    openai.File(bytes.NewReader(batchInput(tt.model, "/v1/chat/completions", 3)), "questions.jsonl", "application/jsonl"),
				Purpose: openai.FilePurposeBatch,
			})
			if err != nil {
				t.Fatal(err)
			}
			if file.Filename != "questions.jsonl" || file.Purpose != "batch" || !strings.HasPrefix(file.ID, "file-") {
				t.Errorf("file %+v", file)
			}
			up := tt.fake.Uploaded()
			last := up[len(up)-1]
			if !bytes.Contains(last, []byte(`"model":"`+tt.upstreamModel+`"`)) || bytes.Contains(last, []byte(tt.model)) ||
				!bytes.Contains(last, []byte(`"url":"`+tt.upstreamURL+`"`)) || bytes.Count(last, []byte("\n")) != 3 {
				t.Errorf("upstream got input file:\n%s", last)
			}
			names := tt.fake.Filenames()
			if n := names[len(names)-1]; !strings.HasPrefix(n, "llmgw-") || !strings.HasSuffix(n, ".questions.jsonl") || strings.Contains(n, "alice") {
				t.Errorf("upstream file name %q does not carry the owner's tag", n)
			}

			got, err := c.Files.Get(ctx, file.ID)
			if err != nil || got.ID != file.ID || got.Filename != "questions.jsonl" {
				t.Errorf("get file: %+v, %v", got, err)
			}
			// Only the owner can use the id; to anyone else it does not exist.
			other := client(bob)
			if _, err := other.Files.Get(ctx, file.ID); apiError(t, err).StatusCode != http.StatusNotFound {
				t.Errorf("bob read alice's file: %v", err)
			}
			if _, err := other.Batches.New(ctx, openai.BatchNewParams{InputFileID: file.ID, Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions, CompletionWindow: openai.BatchNewParamsCompletionWindow24h}); apiError(t, err).StatusCode != http.StatusNotFound {
				t.Errorf("bob created a batch from alice's file: %v", err)
			}

			batch, err := c.Batches.New(ctx, openai.BatchNewParams{
				InputFileID:      file.ID,
				Endpoint:         openai.BatchNewParamsEndpointV1ChatCompletions,
				CompletionWindow: openai.BatchNewParamsCompletionWindow24h,
				Metadata:         shared.Metadata{"job": "nightly"},
			}, option.WithHeader("X-Request-Id", "req-batch-create-"+tt.name))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(batch.ID, "batch_") || batch.InputFileID != file.ID || batch.Status != "validating" ||
				batch.Model != tt.model || batch.Metadata["job"] != "nightly" || len(batch.Metadata) != 1 {
				t.Errorf("batch %+v", batch)
			}
			metas := tt.fake.BatchMetadata()
			if m := metas[len(metas)-1]; m["llmgw_model"] != tt.model || len(m["llmgw_owner"]) != 16 || m["job"] != "nightly" {
				t.Errorf("upstream batch metadata %v", m)
			}
			// Creating a batch leaves the request's one record, with no operation and no usage.
			// (The edge records it when the handler returns, which may be after the client has
			// the answer: wait for it.)
			if ev := g.Events.waitFor(t, "req-batch-create-"+tt.name); ev.Operation != "" || ev.Usage.TotalTokens != 0 || ev.Status != "ok" {
				t.Errorf("creating a batch recorded %+v, want one record without usage", ev)
			}

			// The fake completes the batch on the first read; polling again must not record twice.
			var done *openai.Batch
			for range 2 {
				if done, err = c.Batches.Get(ctx, batch.ID); err != nil {
					t.Fatal(err)
				}
			}
			if done.Status != openai.BatchStatusCompleted || done.ID != batch.ID || done.RequestCounts.Completed != 3 || !strings.HasPrefix(done.OutputFileID, "file-") {
				t.Fatalf("polled batch %+v", done)
			}
			ev := g.Events.waitFor(t, fmt.Sprintf("batch:%s:%s", strings.SplitN(tt.model, "/", 2)[0], tt.fake.LastBatchID()))
			if ev.Status != "ok" || ev.Operation != "batch" || ev.Model != tt.model || ev.User != "alice" || ev.UsageMissing ||
				ev.Usage.PromptTokens != 30 || ev.Usage.CompletionTokens != 15 || !ev.Priced || math.Abs(ev.CostUSD-tt.price/2) > 1e-12 {
				t.Errorf("batch usage event %+v; want 30/15 tokens at half of $%g", ev, tt.price)
			}

			res, err := c.Files.Content(ctx, done.OutputFileID)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(res.Body)
			res.Body.Close()
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			var first struct {
				CustomID string `json:"custom_id"`
				Response struct {
					StatusCode int                   `json:"status_code"`
					Body       openai.ChatCompletion `json:"body"`
				} `json:"response"`
			}
			if len(lines) != 3 || json.Unmarshal([]byte(lines[0]), &first) != nil || first.CustomID != "req-0" ||
				first.Response.StatusCode != 200 || first.Response.Body.Choices[0].Message.Content != "batched req-0" {
				t.Errorf("output file:\n%s", out)
			}

			acct := account(strings.SplitN(tt.model, "/", 2)[0])
			batches, err := c.Batches.List(ctx, openai.BatchListParams{}, acct)
			if err != nil || len(batches.Data) != 1 || batches.Data[0].ID != batch.ID || batches.Data[0].Status != "completed" {
				t.Errorf("list batches: %+v, %v", batches, err)
			}
			files, err := c.Files.List(ctx, openai.FileListParams{}, acct)
			// Only alice's upload: the output file is the account's, reached through the batch.
			if err != nil || len(files.Data) != 1 || files.Data[0].ID != file.ID || files.Data[0].Filename != "questions.jsonl" {
				t.Errorf("list files: %+v, %v", files, err)
			}
			if theirs, err := other.Batches.List(ctx, openai.BatchListParams{}, acct); err != nil || len(theirs.Data) != 0 {
				t.Errorf("bob listed alice's batches: %+v, %v", theirs, err)
			}

			// A second batch, cancelled before it runs: cancelled batches are billed for what they completed.
			second, err := c.Batches.New(ctx, openai.BatchNewParams{InputFileID: file.ID, Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions, CompletionWindow: openai.BatchNewParamsCompletionWindow24h})
			if err != nil {
				t.Fatal(err)
			}
			cancelled, err := c.Batches.Cancel(ctx, second.ID)
			if err != nil || cancelled.Status != "cancelling" {
				t.Fatalf("cancel: %+v, %v", cancelled, err)
			}
			if cancelled, err = c.Batches.Get(ctx, second.ID); err != nil || cancelled.Status != "cancelled" {
				t.Fatalf("cancelled batch: %+v, %v", cancelled, err)
			}
			ev = g.Events.waitFor(t, fmt.Sprintf("batch:%s:%s", strings.SplitN(tt.model, "/", 2)[0], tt.fake.LastBatchID()))
			if ev.Status != "cancelled" || !ev.UsageMissing {
				t.Errorf("cancelled batch event %+v", ev)
			}

			del, err := c.Files.Delete(ctx, file.ID)
			if err != nil || !del.Deleted || del.ID != file.ID {
				t.Errorf("delete: %+v, %v", del, err)
			}
			if _, err := c.Files.Get(ctx, file.ID); apiError(t, err).StatusCode != http.StatusNotFound {
				t.Errorf("a deleted file: %v", err)
			}
		})
	}

	upload := func(name string, body []byte, purpose openai.FilePurpose) error {
		_, err := c.Files.New(ctx, openai.FileNewParams{File: openai.File(bytes.NewReader(body), name, "application/jsonl"), Purpose: purpose})
		return err
	}
	bad := []struct {
		name    string
		body    []byte
		purpose openai.FilePurpose
		status  int
		param   string
		message string
	}{
		{"a model the caller may not use", batchInput("oai/secret-model", "/v1/chat/completions", 1), "batch", 403, "file", "line 1: you are not allowed"},
		{"an unknown model", batchInput("oai/nope", "/v1/chat/completions", 1), "batch", 404, "file", "line 1: the model"},
		{"two models", append(batchInput("oai/mini", "/v1/chat/completions", 1), batchInput("az/gpt4o", "/v1/chat/completions", 1)...), "batch", 400, "file", "line 2: the model \"az/gpt4o\" differs"},
		{"a provider without batches", batchInput("mock/echo", "/v1/chat/completions", 1), "batch", 400, "file", "line 1: the model \"mock/echo\" is at a provider without a batch API"},
		{"an endpoint that cannot be batched", batchInput("oai/mini", "/v1/audio/speech", 1), "batch", 400, "file", "cannot be batched"},
		{"a line that is not JSON", []byte("{\"custom_id\":\"a\"}\nnot json\n"), "batch", 400, "file", "line 1: url must be"},
		{"no requests", []byte("\n\n"), "batch", 400, "file", "no requests"},
		{"another purpose", batchInput("oai/mini", "/v1/chat/completions", 1), "assistants", 400, "purpose", "purpose to \"batch\""},
		{"a file over --max-file", batchInput("oai/mini", "/v1/chat/completions", 40), "batch", 413, "", "larger than the limit of 4096 bytes"},
	}
	for _, tt := range bad {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			before := len(oai.Uploaded()) + len(az.Uploaded())
			e := apiError(t, upload("bad.jsonl", tt.body, tt.purpose))
			if e.StatusCode != tt.status || e.Param != tt.param || !strings.Contains(e.Message, tt.message) {
				t.Errorf("got %d %q %q; want %d %q containing %q", e.StatusCode, e.Param, e.Message, tt.status, tt.param, tt.message)
			}
			if after := len(oai.Uploaded()) + len(az.Uploaded()); after != before {
				t.Error("a refused file reached the upstream")
			}
		})
	}

	t.Run("list needs an account when several serve batches", func(t *testing.T) {
		e := apiError(t, func() error { _, err := c.Batches.List(ctx, openai.BatchListParams{}); return err }())
		if e.StatusCode != 400 || e.Param != "account" || !strings.Contains(e.Message, "az, oai") {
			t.Errorf("got %d %q %q", e.StatusCode, e.Param, e.Message)
		}
	})
	t.Run("forged and foreign ids are unknown", func(t *testing.T) {
		for _, id := range []string{"file-up001", "file-AAAA", "batch_up001"} {
			if _, err := c.Files.Get(ctx, id); apiError(t, err).StatusCode != http.StatusNotFound {
				t.Errorf("file %s: %v", id, err)
			}
			if _, err := c.Batches.Get(ctx, id); apiError(t, err).StatusCode != http.StatusNotFound {
				t.Errorf("batch %s: %v", id, err)
			}
		}
	})
	t.Run("paging finds the caller's batches behind other owners' ones", func(t *testing.T) {
		oai.SeedForeign(250) // newer than alice's two batches: more than two upstream pages of 100
		var ids []string
		iter := c.Batches.ListAutoPaging(ctx, openai.BatchListParams{Limit: openai.Int(1)}, account("oai"))
		for iter.Next() {
			ids = append(ids, iter.Current().ID)
		}
		if err := iter.Err(); err != nil || len(ids) != 2 || ids[0] == ids[1] {
			t.Errorf("alice's batches %q, %v; want her 2", ids, err)
		}
		page, err := c.Batches.List(ctx, openai.BatchListParams{Limit: openai.Int(101)}, account("oai"))
		if e := apiError(t, err); e.StatusCode != 400 || e.Param != "limit" {
			t.Errorf("limit 101: %+v %v", page, err)
		}
	})
	t.Run("uploads with other fields are refused by name", func(t *testing.T) {
		for _, tt := range []struct{ name, field, filename, param string }{
			{"a text field named file", "file", "", "file"},
			{"an unknown field", "model", "", "model"},
			{"a second file field", "extra", "x.jsonl", "extra"},
		} {
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			_ = mw.WriteField("purpose", "batch")
			if tt.filename != "" {
				fw, _ := mw.CreateFormFile(tt.field, tt.filename)
				fw.Write(batchInput("oai/mini", "/v1/chat/completions", 1))
			} else {
				_ = mw.WriteField(tt.field, string(batchInput("oai/mini", "/v1/chat/completions", 1)))
			}
			mw.Close()
			req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/files", &body)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Authorization", "Bearer "+alice)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var e struct {
				Error struct{ Param string } `json:"error"`
			}
			_ = json.NewDecoder(res.Body).Decode(&e)
			res.Body.Close()
			if res.StatusCode != 400 || e.Error.Param != tt.param {
				t.Errorf("%s: %d %q; want 400 on %q", tt.name, res.StatusCode, e.Error.Param, tt.param)
			}
		}
	})
	t.Run("the provider key never reaches the client or the log", func(t *testing.T) {
		if logs := g.Logs.String(); strings.Contains(logs, "sk-oai-batch") || strings.Contains(logs, "az-batch-key") {
			t.Error("a provider key is in the log")
		}
	})
}

// newUserKey creates the user name and returns a new API key of theirs.
func newUserKey(t *testing.T, g *gateway, name string) string {
	t.Helper()
	admin := adminv1connect.NewAdminServiceClient(http.DefaultClient, g.URL, connect.WithInterceptors(bearer(g.Token)))
	ctx := context.Background()
	if _, err := admin.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: name}}); err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	k, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: name + "-batch", Owner: &adminv1.ApiKey_User{User: name}}})
	if err != nil {
		t.Fatalf("create key for %s: %v", name, err)
	}
	return k.GetSecret()
}
