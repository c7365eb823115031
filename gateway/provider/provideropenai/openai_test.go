package provideropenai

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
)

func adapter(t *testing.T, up *providertest.OpenAI, model string) *Adapter {
	t.Helper()
	a, err := New(provider.Config{Kind: "openai", BaseURL: up.BaseURL() + "/", APIKey: "sk-central", Model: model, HTTPClient: http.DefaultClient}, DefaultBaseURL)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func call(t *testing.T, body string) *provider.ChatCall {
	t.Helper()
	r, err := chat.DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return &provider.ChatCall{Request: r, Body: []byte(body)}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  provider.Config
		def  string
	}{
		{"self-hosted without url", provider.Config{Kind: "self-hosted-model", Model: "m", HTTPClient: http.DefaultClient}, ""},
		{"bad scheme", provider.Config{Kind: "openai", BaseURL: "ftp://x", Model: "m", HTTPClient: http.DefaultClient}, DefaultBaseURL},
		{"no model", provider.Config{Kind: "openai", HTTPClient: http.DefaultClient}, DefaultBaseURL},
		{"no client", provider.Config{Kind: "openai", Model: "m"}, DefaultBaseURL},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg, tt.def); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
}

func TestChatPassthroughPatchesOnlyTheModel(t *testing.T) {
	up := providertest.NewOpenAI(t)
	a := adapter(t, up, "gpt-4o-mini")
	body := `{"model":"acct/gpt","messages":[{"role":"user","content":"hi"}],"logit_bias":{"50256":-100},"store":true}`
	res, err := a.Chat(context.Background(), call(t, body))
	if err != nil {
		t.Fatal(err)
	}
	got := up.LastRequest()
	want := strings.Replace(body, `"acct/gpt"`, `"gpt-4o-mini"`, 1)
	if string(got.Raw) != want || got.Authorization != "Bearer sk-central" || got.Path != "/v1/chat/completions" {
		t.Errorf("upstream got %s %q %s; want %s", got.Path, got.Authorization, got.Raw, want)
	}
	if res.Usage.TotalTokens != 18 || res.Usage.CachedTokens() != 3 || res.Usage.ReasoningTokens() != 2 {
		t.Errorf("usage %+v", res.Usage)
	}
	if !strings.Contains(string(res.JSON), `"echo: hi"`) {
		t.Errorf("answer %s", res.JSON)
	}
}

func TestChatFromTypedRequestEncodesIt(t *testing.T) {
	up := providertest.NewOpenAI(t)
	a := adapter(t, up, "gpt-4o-mini")
	temp := 0.5
	r := &chat.Request{Model: "acct/gpt", Temperature: &temp, Messages: []chat.Message{{Role: "user", Content: chat.TextContent("typed")}}}
	if _, err := a.Chat(context.Background(), &provider.ChatCall{Request: r}); err != nil {
		t.Fatal(err)
	}
	got := up.LastRequest().Body
	if got["model"] != "gpt-4o-mini" || got["temperature"] != 0.5 || got["stream"] != nil {
		t.Errorf("upstream body %v", got)
	}
	if r.Model != "acct/gpt" {
		t.Errorf("the caller's request was modified: model %q", r.Model)
	}
}

func TestStream(t *testing.T) {
	up := providertest.NewOpenAI(t)
	tests := []struct {
		name, model, body string
		wantText          string
		wantErr           apierr.Kind
	}{
		{"client did not ask for usage", "gpt-4o-mini", `{"model":"a/b","stream":true,"messages":[{"role":"user","content":"one two"}]}`, "echo: one two", -1},
		{"client asked for usage", "gpt-4o-mini", `{"model":"a/b","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`, "echo: x", -1},
		{"cut mid-stream", providertest.ModelCut, `{"model":"a/b","stream":true,"messages":[{"role":"user","content":"a b c d"}]}`, "echo: a", apierr.KindUpstreamUnavailable},
		{"error event mid-stream", providertest.ModelMidError, `{"model":"a/b","stream":true,"messages":[{"role":"user","content":"a b c d"}]}`, "echo:", apierr.KindUpstreamBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := adapter(t, up, tt.model).ChatStream(context.Background(), call(t, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var text strings.Builder
			var usage *chat.Usage
			usageOnly := 0
			for {
				ch, err := st.Recv()
				if errors.Is(err, io.EOF) {
					if tt.wantErr != -1 {
						t.Fatalf("clean end, want error kind %v", tt.wantErr)
					}
					break
				}
				if err != nil {
					if k := apierr.From(err).Kind; k != tt.wantErr {
						t.Fatalf("error %v (kind %v), want kind %v", err, k, tt.wantErr)
					}
					break
				}
				if ch.Usage != nil {
					usage = ch.Usage
				}
				if ch.UsageOnly {
					usageOnly++
				}
				if i := strings.Index(string(ch.JSON), `"content":"`); i >= 0 {
					rest := string(ch.JSON)[i+len(`"content":"`):]
					text.WriteString(rest[:strings.Index(rest, `"`)])
				}
			}
			so, _ := up.LastRequest().Body["stream_options"].(map[string]any)
			if so["include_usage"] != true {
				t.Errorf("upstream not asked for usage: %s", up.LastRequest().Raw)
			}
			if text.String() != tt.wantText {
				t.Errorf("text %q, want %q", text.String(), tt.wantText)
			}
			if tt.wantErr == -1 && (usage == nil || usage.TotalTokens != 18 || usageOnly != 1) {
				t.Errorf("usage %+v in %d usage-only chunks", usage, usageOnly)
			}
		})
	}
}

func TestUpstreamErrors(t *testing.T) {
	up := providertest.NewOpenAI(t)
	tests := []struct {
		model  string
		kind   apierr.Kind
		status int
	}{
		{providertest.ModelErrorPrefix + "400", apierr.KindInvalidRequest, 400},
		{providertest.ModelLeaky, apierr.KindUpstreamBadResponse, 502},
		{providertest.ModelErrorPrefix + "404", apierr.KindUpstreamBadResponse, 502},
		{providertest.ModelErrorPrefix + "429", apierr.KindRateLimited, 429},
		{providertest.ModelErrorPrefix + "500", apierr.KindUpstreamBadResponse, 502},
		{providertest.ModelErrorPrefix + "503", apierr.KindUpstreamUnavailable, 503},
		{providertest.ModelErrorPrefix + "504", apierr.KindUpstreamTimeout, 504},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			for _, stream := range []bool{false, true} {
				a := adapter(t, up, tt.model)
				var err error
				if stream {
					_, err = a.ChatStream(context.Background(), call(t, `{"model":"a/b","stream":true,"messages":[{"role":"user","content":"x"}]}`))
				} else {
					_, err = a.Chat(context.Background(), call(t, `{"model":"a/b","messages":[{"role":"user","content":"x"}]}`))
				}
				e := apierr.From(err)
				if e.Kind != tt.kind || e.Kind.HTTPStatus() != tt.status {
					t.Errorf("stream=%v: kind %v status %d, want %v %d", stream, e.Kind, e.Kind.HTTPStatus(), tt.kind, tt.status)
				}
				if strings.Contains(e.Message, providertest.LeakedKey) || strings.Contains(e.Message, "upstream") {
					t.Errorf("public message %q must hide the upstream text", e.Message)
				}
				if cause := e.Cause.Error(); strings.Contains(cause, providertest.LeakedKey) || !strings.Contains(cause, "[REDACTED]") || !strings.Contains(cause, strconv.Itoa(e.UpstreamStatus)) {
					t.Errorf("logged cause %q must keep the status and an excerpt of the upstream text, with the key it quotes masked", cause)
				}
			}
		})
	}
}

func TestCancelAbortsUpstream(t *testing.T) {
	up := providertest.NewOpenAI(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := adapter(t, up, providertest.ModelHang).Chat(ctx, call(t, `{"model":"a/b","messages":[{"role":"user","content":"x"}]}`))
		done <- err
	}()
	for len(up.Requests()) == 0 { // cancel once the upstream holds the request
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; apierr.From(err).Kind != apierr.KindCanceled {
		t.Errorf("err %v, want canceled", err)
	}
	if m := <-up.Canceled; m != providertest.ModelHang {
		t.Errorf("upstream saw %q canceled", m)
	}
}

func TestEmbed(t *testing.T) {
	up := providertest.NewOpenAI(t)
	body := `{"model":"a/emb","input":["x","y"],"dimensions":3}`
	r, err := chat.DecodeEmbeddingRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := adapter(t, up, "text-embedding-3-small").Embed(context.Background(), &provider.EmbedCall{Request: r, Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	if got := up.LastRequest(); got.Body["model"] != "text-embedding-3-small" || got.Body["dimensions"] != float64(3) || res.Usage.PromptTokens != 5 {
		t.Errorf("upstream %s, usage %+v", got.Raw, res.Usage)
	}
}
