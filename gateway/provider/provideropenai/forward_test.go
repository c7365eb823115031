package provideropenai

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
)

// form builds a multipart body the way the SDKs do; fileData goes into a file part named
// fileField, with bytes no text form would survive.
func form(t *testing.T, fields [][2]string, fileField string, fileData []byte) (contentType string, body []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if fileField != "" {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+fileField+`"; filename="clip.bin"`)
		h.Set("Content-Type", "application/octet-stream")
		p, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = p.Write(fileData)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), b.Bytes()
}

// binary is file content with CR, LF, NUL and a fake boundary in it.
var binary = append([]byte("\x00\xff\r\n--notaboundary\r\n\x89PNG"), bytes.Repeat([]byte{0, 1, 2, 253}, 5000)...)

func forward(t *testing.T, a *Adapter, c *provider.ForwardCall) (*provider.ForwardResult, []byte) {
	t.Helper()
	res, err := a.Forward(context.Background(), c)
	if err != nil {
		t.Fatalf("Forward: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(iotest.OneByteReader(res.Body)) // the smallest reads: watchers must not care
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return res, b
}

func TestForward(t *testing.T) {
	heard := fmt.Sprintf("heard %d bytes of clip.bin", len(binary))
	up := providertest.NewOpenAI(t)
	imgCT, imgBody := form(t, [][2]string{{"model", "acct/img"}, {"prompt", "a red fox"}}, "image", binary)
	sttCT, sttBody := form(t, [][2]string{{"prompt", "names"}, {"model", "acct/stt"}, {"language", "en"}}, "file", binary)
	whisperCT, whisperBody := form(t, [][2]string{{"model", "acct/w"}}, "file", binary)
	textCT, textBody := form(t, [][2]string{{"model", "acct/w"}, {"response_format", "text"}}, "file", binary)
	noModelCT, noModelBody := form(t, nil, "file", binary)
	tests := []struct {
		name, model, endpoint, ct string
		body                      []byte
		wantPath, wantCT          string
		wantUsage                 chat.Usage
		check                     func(t *testing.T, got []byte)
	}{
		{
			name: "completions", model: "gpt-3.5-turbo-instruct", endpoint: provider.EndpointCompletions,
			body: []byte(`{"model":"acct/instruct","prompt":"say hi","max_tokens":5,"logit_bias":{"50256":-100}}`), wantPath: "/v1/completions", wantCT: "application/json",
			wantUsage: chat.Usage{PromptTokens: 4, CompletionTokens: 6, TotalTokens: 10},
			check: func(t *testing.T, got []byte) {
				if !bytes.Contains(got, []byte(`"text":"echo: say hi"`)) || !bytes.Contains(got, []byte(`"object":"text_completion"`)) {
					t.Errorf("answer %s", got)
				}
			},
		},
		{
			name: "moderations report no usage", model: "omni-moderation-latest", endpoint: provider.EndpointModerations,
			body: []byte(`{"model":"acct/mod","input":["a violent text","a calm one"]}`), wantPath: "/v1/moderations", wantCT: "application/json",
			check: func(t *testing.T, got []byte) {
				var m struct {
					Results []struct{ Flagged bool }
				}
				if err := json.Unmarshal(got, &m); err != nil || len(m.Results) != 2 || !m.Results[0].Flagged || m.Results[1].Flagged {
					t.Errorf("answer %s (%v)", got, err)
				}
			},
		},
		{
			name: "image generation maps input and output tokens", model: "gpt-image-1", endpoint: provider.EndpointImageGenerations,
			body: []byte(`{"prompt":"a fox","model":"acct/img","size":"1024x1024"}`), wantPath: "/v1/images/generations", wantCT: "application/json",
			wantUsage: chat.Usage{PromptTokens: 50, CompletionTokens: 100, TotalTokens: 150},
			check: func(t *testing.T, got []byte) {
				if !bytes.Contains(got, []byte(base64.StdEncoding.EncodeToString([]byte(providertest.FakeImage+"a fox")))) {
					t.Errorf("answer %s", got)
				}
			},
		},
		{
			name: "dall-e reports no usage", model: providertest.ModelDallE, endpoint: provider.EndpointImageGenerations,
			body: []byte(`{"prompt":"a fox","model":"acct/img"}`), wantPath: "/v1/images/generations", wantCT: "application/json",
		},
		{
			name: "image edit is multipart", model: "gpt-image-1", endpoint: provider.EndpointImageEdits, ct: imgCT, body: imgBody,
			wantPath: "/v1/images/edits", wantCT: "application/json", wantUsage: chat.Usage{PromptTokens: 50, CompletionTokens: 100, TotalTokens: 150},
		},
		{
			name: "transcription reports tokens", model: "gpt-4o-transcribe", endpoint: provider.EndpointAudioTranscriptions, ct: sttCT, body: sttBody,
			wantPath: "/v1/audio/transcriptions", wantCT: "application/json", wantUsage: chat.Usage{PromptTokens: 14, CompletionTokens: 45, TotalTokens: 59},
			check: func(t *testing.T, got []byte) {
				if !bytes.Contains(got, []byte(heard)) {
					t.Errorf("answer %s", got)
				}
			},
		},
		{
			name: "whisper's duration usage has no tokens", model: providertest.ModelWhisper, endpoint: provider.EndpointAudioTranscriptions, ct: whisperCT, body: whisperBody,
			wantPath: "/v1/audio/transcriptions", wantCT: "application/json",
		},
		{
			name: "a text transcript passes as text", model: providertest.ModelWhisper, endpoint: provider.EndpointAudioTranscriptions, ct: textCT, body: textBody,
			wantPath: "/v1/audio/transcriptions", wantCT: "text/plain; charset=utf-8",
			check: func(t *testing.T, got []byte) {
				if string(got) != heard+"\n" {
					t.Errorf("answer %q", got)
				}
			},
		},
		{
			name: "a form without a model gets one", model: providertest.ModelWhisper, endpoint: provider.EndpointAudioTranslations, ct: noModelCT, body: noModelBody,
			wantPath: "/v1/audio/translations", wantCT: "application/json",
		},
		{
			name: "speech is binary", model: "gpt-4o-mini-tts", endpoint: provider.EndpointAudioSpeech,
			body: []byte(`{"model":"acct/tts","input":"hello there","voice":"alloy"}`), wantPath: "/v1/audio/speech", wantCT: "audio/mpeg",
			check: func(t *testing.T, got []byte) {
				if string(got) != providertest.FakeSpeech+"hello there" {
					t.Errorf("answer %q", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.ct
			if ct == "" {
				ct = "application/json"
			}
			res, got := forward(t, adapter(t, up, tt.model), &provider.ForwardCall{Endpoint: tt.endpoint, ContentType: ct, Body: tt.body})
			req := up.LastRequest()
			if req.Path != tt.wantPath || req.Authorization != "Bearer sk-central" || req.Body["model"] != tt.model {
				t.Errorf("upstream got %s %q model %v", req.Path, req.Authorization, req.Body["model"])
			}
			if tt.ct == "" {
				want := clientModel.ReplaceAll(tt.body, []byte(`"model":"`+tt.model+`"`))
				if !bytes.Equal(req.Raw, want) {
					t.Errorf("upstream body %s, want %s (only the model patched)", req.Raw, want)
				}
			} else if file := fileOf(req.Body); file != string(binary) {
				t.Errorf("file part changed: %d bytes, want %d identical bytes", len(file), len(binary))
			}
			if res.Status != http.StatusOK || res.Header.Get("Content-Type") != tt.wantCT {
				t.Errorf("status %d content type %q", res.Status, res.Header.Get("Content-Type"))
			}
			if diff := cmp.Diff(tt.wantUsage, res.Usage()); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

var clientModel = regexp.MustCompile(`"model":"acct/[^"]*"`)

// fileOf returns the bytes of the recorded request's file part.
func fileOf(body map[string]any) string {
	for _, k := range []string{"file", "image"} {
		if f, ok := body[k].(map[string]any); ok {
			return f["data"].(string)
		}
	}
	return ""
}

func TestForwardMultipartKeepsOtherFieldsAndOrder(t *testing.T) {
	up := providertest.NewOpenAI(t)
	ct, body := form(t, [][2]string{{"prompt", "names: Zoë"}, {"model", "acct/stt"}, {"temperature", "0.2"}}, "file", binary)
	forward(t, adapter(t, up, "gpt-4o-transcribe"), &provider.ForwardCall{Endpoint: provider.EndpointAudioTranscriptions, ContentType: ct, Body: body})
	got := up.LastRequest()
	want := map[string]any{
		"prompt": "names: Zoë", "model": "gpt-4o-transcribe", "temperature": "0.2",
		"file": map[string]any{"filename": "clip.bin", "content_type": "application/octet-stream", "data": string(binary)},
	}
	if diff := cmp.Diff(want, got.Body); diff != "" {
		t.Errorf("upstream form (-want +got):\n%s", diff)
	}
	// Under the same boundary, the body differs from the client's only in the model's value.
	if wantRaw := bytes.Replace(body, []byte("\r\n\r\nacct/stt\r\n"), []byte("\r\n\r\ngpt-4o-transcribe\r\n"), 1); !bytes.Equal(got.Raw, wantRaw) {
		t.Errorf("the multipart body changed beyond the model field:\n%q\nwant\n%q", got.Raw[:200], wantRaw[:200])
	}
}

// streamText reads a completions stream's text and events.
func streamText(t *testing.T, b []byte) (text string, usageEvents int) {
	t.Helper()
	for _, line := range strings.Split(string(b), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct{ Text string }
			Usage   *chat.Usage
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		for _, ch := range c.Choices {
			text += ch.Text
		}
		if c.Usage != nil {
			usageEvents++
		}
	}
	return text, usageEvents
}

func TestForwardCompletionsStream(t *testing.T) {
	up := providertest.NewOpenAI(t)
	tests := []struct {
		name, body      string
		wantUsageEvents int
	}{
		{"client did not ask for usage: the gateway asks and hides it", `{"model":"a/b","prompt":"one two three","stream":true}`, 0},
		{"client asked for usage", `{"model":"a/b","prompt":"one two three","stream":true,"stream_options":{"include_usage":true}}`, 1},
		{"client refused usage", `{"model":"a/b","prompt":"one two three","stream":true,"stream_options":{"include_usage":false}}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, got := forward(t, adapter(t, up, "gpt-3.5-turbo-instruct"), &provider.ForwardCall{Endpoint: provider.EndpointCompletions, ContentType: "application/json", Body: []byte(tt.body), Stream: true})
			if so, _ := up.LastRequest().Body["stream_options"].(map[string]any); so["include_usage"] != true || up.LastRequest().Body["model"] != "gpt-3.5-turbo-instruct" {
				t.Errorf("upstream got %s", up.LastRequest().Raw)
			}
			text, n := streamText(t, got)
			if text != "echo: one two three" || n != tt.wantUsageEvents || !bytes.HasSuffix(got, []byte("data: [DONE]\n\n")) {
				t.Errorf("text %q, %d usage events, stream:\n%s", text, n, got)
			}
			if bytes.Contains(got, []byte("\n\n\n")) {
				t.Errorf("a dropped event left its blank line:\n%s", got)
			}
			if res.Header.Get("Content-Type") != "text/event-stream" {
				t.Errorf("content type %q", res.Header.Get("Content-Type"))
			}
			if want := (chat.Usage{PromptTokens: 4, CompletionTokens: 6, TotalTokens: 10}); res.Usage() != want {
				t.Errorf("usage %+v, want %+v", res.Usage(), want)
			}
		})
	}
}

func TestForwardStreamCutIsAnError(t *testing.T) {
	up := providertest.NewOpenAI(t)
	for _, hide := range []bool{true, false} {
		body := `{"model":"a/b","prompt":"one two three","stream":true}`
		if !hide {
			body = `{"model":"a/b","prompt":"one two three","stream":true,"stream_options":{"include_usage":true}}`
		}
		res, err := adapter(t, up, providertest.ModelCut).Forward(context.Background(), &provider.ForwardCall{Endpoint: provider.EndpointCompletions, ContentType: "application/json", Body: []byte(body), Stream: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil || apierr.From(err).Kind != apierr.KindUpstreamUnavailable {
			t.Errorf("hide=%v: read ended with %v, want the provider unavailable", hide, err)
		}
		if text, _ := streamText(t, got); text != "echo:" || res.Usage() != (chat.Usage{}) {
			t.Errorf("hide=%v: text %q usage %+v", hide, text, res.Usage())
		}
	}
}

func TestForwardUpstreamErrors(t *testing.T) {
	up := providertest.NewOpenAI(t)
	ct, body := form(t, [][2]string{{"model", "acct/x"}}, "file", binary)
	tests := []struct {
		model string
		kind  apierr.Kind
	}{
		{providertest.ModelErrorPrefix + "400", apierr.KindInvalidRequest},
		{providertest.ModelErrorPrefix + "404", apierr.KindUpstreamBadResponse},
		{providertest.ModelErrorPrefix + "429", apierr.KindRateLimited},
		{providertest.ModelLeaky, apierr.KindUpstreamBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			for _, c := range []*provider.ForwardCall{
				{Endpoint: provider.EndpointModerations, ContentType: "application/json", Body: []byte(`{"model":"acct/x","input":"x"}`)},
				{Endpoint: provider.EndpointAudioTranscriptions, ContentType: ct, Body: body},
			} {
				_, err := adapter(t, up, tt.model).Forward(context.Background(), c)
				e := apierr.From(err)
				if e.Kind != tt.kind || strings.Contains(e.Message, providertest.LeakedKey) {
					t.Errorf("%s: %v (kind %v), want kind %v with the upstream text hidden", c.Endpoint, err, e.Kind, tt.kind)
				}
			}
		})
	}
}

func TestForwardRefusesMalformedBodies(t *testing.T) {
	up := providertest.NewOpenAI(t)
	a := adapter(t, up, "m")
	for _, c := range []*provider.ForwardCall{
		{Endpoint: provider.EndpointModerations, ContentType: "application/json", Body: []byte(`["not","an","object"]`)},
		{Endpoint: provider.EndpointAudioTranscriptions, ContentType: "multipart/form-data", Body: []byte("x")},
		{Endpoint: provider.EndpointAudioTranscriptions, ContentType: "multipart/form-data; boundary=abc", Body: []byte("--abc\r\nno end")},
	} {
		if _, err := a.Forward(context.Background(), c); apierr.From(err).Kind != apierr.KindInvalidRequest {
			t.Errorf("%s %q: %v, want invalid request", c.ContentType, c.Body, err)
		}
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("%d malformed requests reached the upstream", n)
	}
}

func TestForwardURLs(t *testing.T) {
	tests := []struct {
		name, chatURL, want string
	}{
		{"base URL", "https://api.openai.com/v1/chat/completions", "https://api.openai.com/v1/audio/speech"},
		{"azure deployment with a query", "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21", "https://r.openai.azure.com/openai/deployments/d/audio/speech?api-version=2024-10-21"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := (&Adapter{chatURL: tt.chatURL}).endpointURL(provider.EndpointAudioSpeech)
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := (&Adapter{chatURL: "https://x/custom"}).endpointURL(provider.EndpointAudioSpeech); apierr.From(err).Kind != apierr.KindInvalidRequest {
		t.Errorf("a chat URL of unknown layout: %v", err)
	}
}

func TestForwardCancelAbortsUpstream(t *testing.T) {
	up := providertest.NewOpenAI(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := adapter(t, up, providertest.ModelHang).Forward(ctx, &provider.ForwardCall{Endpoint: provider.EndpointModerations, ContentType: "application/json", Body: []byte(`{"model":"a","input":"x"}`)})
		done <- err
	}()
	if m := waitRequest(t, up); m != providertest.ModelHang {
		t.Fatalf("upstream got %q", m)
	}
	cancel()
	if err := <-done; apierr.From(err).Kind != apierr.KindCanceled {
		t.Errorf("err %v, want canceled", err)
	}
	if m := <-up.Canceled; m != providertest.ModelHang {
		t.Errorf("upstream saw %q canceled", m)
	}
}

func waitRequest(t *testing.T, up *providertest.OpenAI) string {
	t.Helper()
	for len(up.Requests()) == 0 {
		select {
		case <-t.Context().Done():
			t.Fatal("no request")
		case <-time.After(time.Millisecond):
		}
	}
	m, _ := up.LastRequest().Body["model"].(string)
	return m
}
