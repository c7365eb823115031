package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
)

// TestOpenAIEndpoints drives the forwarded endpoints (legacy completions, moderations, image
// generation and edits, transcription, speech) with the official SDK through a started
// gateway, against the fake OpenAI, and checks the answers, the upstream model names and the
// usage recorded once per request.
func TestOpenAIEndpoints(t *testing.T) {
	up := providertest.NewOpenAI(t)
	cfg := fmt.Sprintf(`
- name: oai
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://OAI_KEY}
  integrations:
    - {name: instruct, type: integration/model/openai, model_id: gpt-3.5-turbo-instruct, model_types: [chat]}
    - {name: cut, type: integration/model/openai, model_id: fake-cut}
    - {name: mod, type: integration/model/openai, model_id: omni-moderation-latest}
    - {name: img, type: integration/model/openai, model_id: gpt-image-1}
    - {name: stt, type: integration/model/openai, model_id: gpt-4o-transcribe}
    - {name: tts, type: integration/model/openai, model_id: gpt-4o-mini-tts}
    - {name: emb, type: integration/model/openai, model_id: text-embedding-3-small, model_types: [embedding]}
`, up.BaseURL())
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, map[string]string{"OAI_KEY": "sk-oai-endpoints"}, "--config", path)
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.Token), option.WithMaxRetries(0))
	ctx := context.Background()
	id := func(name string) option.RequestOption {
		return option.WithHeader("X-Request-Id", "req-endpoints-"+name)
	}

	// checkUpstream asserts the last upstream request went to path with the upstream model and
	// the account's key.
	checkUpstream := func(t *testing.T, path, model string) {
		t.Helper()
		got := up.LastRequest()
		if got.Path != path || got.Body["model"] != model || got.Authorization != "Bearer sk-oai-endpoints" {
			t.Errorf("upstream got %s model %v auth %q; want %s %s", got.Path, got.Body["model"], got.Authorization, path, model)
		}
	}
	// checkEvent asserts the request's one usage event.
	checkEvent := func(t *testing.T, name, model, op string, prompt, completion int64) {
		t.Helper()
		ev := g.Events.waitFor(t, "req-endpoints-"+name)
		missing := prompt == 0 && completion == 0
		if ev.Status != "ok" || ev.Model != model || ev.Operation != op || ev.Usage.PromptTokens != prompt || ev.Usage.CompletionTokens != completion || ev.UsageMissing != missing {
			t.Errorf("event %+v; want ok %s %s usage %d/%d", ev, model, op, prompt, completion)
		}
	}

	t.Run("completions", func(t *testing.T) {
		res, err := c.Completions.New(ctx, openai.CompletionNewParams{
			Model:  "oai/instruct",
			Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("hello legacy")},
		}, id("completion"))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Choices) != 1 || res.Choices[0].Text != "echo: hello legacy" || res.Usage.TotalTokens != 10 {
			t.Errorf("completion %+v", res)
		}
		checkUpstream(t, "/v1/completions", "gpt-3.5-turbo-instruct")
		checkEvent(t, "completion", "oai/instruct", "completions", providertest.CompletionPromptTokens, providertest.CompletionOutputTokens)
	})

	t.Run("completions stream", func(t *testing.T) {
		st := c.Completions.NewStreaming(ctx, openai.CompletionNewParams{
			Model:  "oai/instruct",
			Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("one two three")},
		}, id("completion-stream"))
		var text strings.Builder
		for st.Next() {
			ch := st.Current()
			if len(ch.Choices) == 0 {
				t.Errorf("a chunk without choices reached a client that did not ask for usage: %s", ch.RawJSON())
			}
			for _, choice := range ch.Choices {
				text.WriteString(choice.Text)
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != "echo: one two three" {
			t.Errorf("text %q", text.String())
		}
		checkEvent(t, "completion-stream", "oai/instruct", "completions", providertest.CompletionPromptTokens, providertest.CompletionOutputTokens)
	})

	t.Run("completions stream cut", func(t *testing.T) {
		st := c.Completions.NewStreaming(ctx, openai.CompletionNewParams{
			Model:  "oai/cut",
			Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("one two three")},
		}, id("completion-cut"))
		for st.Next() {
		}
		if st.Err() == nil {
			t.Error("a cut stream ended cleanly")
		}
		// The upstream never reported usage: the gateway counts the prompt and the text streamed.
		if ev := g.Events.waitFor(t, "req-endpoints-completion-cut"); ev.Status == "ok" || ev.UsageMissing || !ev.UsageEstimated || ev.Usage.PromptTokens == 0 || ev.Usage.CompletionTokens == 0 {
			t.Errorf("event %+v", ev)
		}
	})

	t.Run("moderations", func(t *testing.T) {
		res, err := c.Moderations.New(ctx, openai.ModerationNewParams{
			Model: "oai/mod",
			Input: openai.ModerationNewParamsInputUnion{OfStringArray: []string{"a violent threat", "a kind word"}},
		}, id("moderation"))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 2 || !res.Results[0].Flagged || !res.Results[0].Categories.Violence || res.Results[1].Flagged {
			t.Errorf("moderation %+v", res.Results)
		}
		checkUpstream(t, "/v1/moderations", "omni-moderation-latest")
		checkEvent(t, "moderation", "oai/mod", "moderations", 0, 0) // moderations report no usage
	})

	t.Run("image generation", func(t *testing.T) {
		res, err := c.Images.Generate(ctx, openai.ImageGenerateParams{Model: "oai/img", Prompt: "a red fox"}, id("image"))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Data) != 1 || res.Data[0].B64JSON != base64.StdEncoding.EncodeToString([]byte(providertest.FakeImage+"a red fox")) {
			t.Errorf("images %+v", res.Data)
		}
		if res.Usage.InputTokens != providertest.ImageInputTokens {
			t.Errorf("usage %+v", res.Usage)
		}
		checkUpstream(t, "/v1/images/generations", "gpt-image-1")
		checkEvent(t, "image", "oai/img", "images/generations", providertest.ImageInputTokens, providertest.ImageOutputTokens)
	})

	t.Run("image edit", func(t *testing.T) {
		png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 0xff, '\r', '\n', '-', '-'}, 4096)...)
		res, err := c.Images.Edit(ctx, openai.ImageEditParams{
			Model:  "oai/img",
			Prompt: "add a hat",
			Image:  openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader(png), "fox.png", "image/png")},
		}, id("edit"))
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%sadd a hat (edited %d bytes)", providertest.FakeImage, len(png))
		if len(res.Data) != 1 || res.Data[0].B64JSON != base64.StdEncoding.EncodeToString([]byte(want)) {
			t.Errorf("images %+v", res.Data)
		}
		checkUpstream(t, "/v1/images/edits", "gpt-image-1")
		file, _ := up.LastRequest().Body["image"].(map[string]any)
		if file["data"] != string(png) || file["filename"] != "fox.png" || file["content_type"] != "image/png" {
			t.Errorf("the image reached the upstream changed: %v %v, %d bytes", file["filename"], file["content_type"], len(fmt.Sprint(file["data"])))
		}
		checkEvent(t, "edit", "oai/img", "images/edits", providertest.ImageInputTokens, providertest.ImageOutputTokens)
	})

	t.Run("transcription", func(t *testing.T) {
		audio := bytes.Repeat([]byte{0x52, 0x49, 0x46, 0x46, 0, 1, 2, 3}, 1000)
		res, err := c.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{
			Model: "oai/stt",
			File:  openai.File(bytes.NewReader(audio), "speech.wav", "audio/wav"),
		}, id("transcription"))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("heard %d bytes of speech.wav", len(audio)); res.Text != want {
			t.Errorf("text %q, want %q", res.Text, want)
		}
		checkUpstream(t, "/v1/audio/transcriptions", "gpt-4o-transcribe")
		if file, _ := up.LastRequest().Body["file"].(map[string]any); file["data"] != string(audio) {
			t.Error("the audio reached the upstream changed")
		}
		checkEvent(t, "transcription", "oai/stt", "audio/transcriptions", providertest.TranscriptionInputTokens, providertest.TranscriptionOutputTokens)
	})

	t.Run("speech", func(t *testing.T) {
		resp, err := c.Audio.Speech.New(ctx, openai.AudioSpeechNewParams{
			Model: "oai/tts",
			Input: "hello speech",
			Voice: openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String("alloy")},
		}, id("speech"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != providertest.FakeSpeech+"hello speech" || resp.Header.Get("Content-Type") != "audio/mpeg" {
			t.Errorf("speech %q %q", resp.Header.Get("Content-Type"), b)
		}
		checkUpstream(t, "/v1/audio/speech", "gpt-4o-mini-tts")
		checkEvent(t, "speech", "oai/tts", "audio/speech", 0, 0) // binary audio reports no usage
	})

	t.Run("refusals", func(t *testing.T) {
		before := len(up.Requests())
		_, err := c.Audio.Speech.New(ctx, openai.AudioSpeechNewParams{Model: "mock/echo", Input: "x", Voice: openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String("alloy")}})
		if e := apiError(t, err); e.StatusCode != 400 || e.Param != "model" || !strings.Contains(e.Message, `"mock/echo" does not support audio/speech`) {
			t.Errorf("a provider without speech: %d %q %q", e.StatusCode, e.Param, e.Message)
		}
		_, err = c.Completions.New(ctx, openai.CompletionNewParams{Model: "oai/emb", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("x")}})
		if e := apiError(t, err); e.StatusCode != 400 || e.Param != "model" {
			t.Errorf("completions on an embedding model: %d %q %q", e.StatusCode, e.Param, e.Message)
		}
		_, err = c.Moderations.New(ctx, openai.ModerationNewParams{Model: "oai/nope", Input: openai.ModerationNewParamsInputUnion{OfString: openai.String("x")}})
		if e := apiError(t, err); e.StatusCode != 404 || e.Code != "model_not_found" {
			t.Errorf("unknown model: %d %q", e.StatusCode, e.Code)
		}
		if n := len(up.Requests()); n != before {
			t.Errorf("%d refused requests reached the upstream", n-before)
		}
	})
}
