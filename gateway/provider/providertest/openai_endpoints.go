package providertest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
)

// Models the fake OpenAI's other endpoints treat specially, besides the failure models.
const (
	// ModelWhisper is a transcription model billed by duration: its answers report
	// {"type":"duration"} usage, which carries no tokens.
	ModelWhisper = "whisper-1"
	// ModelDallE is an image model whose answers report no usage.
	ModelDallE = "dall-e-3"
)

// Usage the fake reports on its other endpoints.
const (
	// CompletionPromptTokens and CompletionOutputTokens are every completion's usage.
	CompletionPromptTokens, CompletionOutputTokens = 4, 6
	// ImageInputTokens and ImageOutputTokens are a gpt-image answer's usage.
	ImageInputTokens, ImageOutputTokens = 50, 100
	// TranscriptionInputTokens and TranscriptionOutputTokens are a token-billed transcription's usage.
	TranscriptionInputTokens, TranscriptionOutputTokens = 14, 45
)

// FakeImage is the content of every image the fake returns (base64-encoded as b64_json):
// the prompt after this prefix.
const FakeImage = "fake-png:"

// FakeSpeech prefixes the audio/speech answer: the input follows it, as audio/mpeg.
const FakeSpeech = "ID3fake-mp3:"

// routes registers the endpoints beyond chat and embeddings, in OpenAI's documented shapes:
// legacy completions (and their stream), moderations, image generations and edits, audio
// transcriptions, translations and speech.
func (f *OpenAI) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/completions", f.completions)
	mux.HandleFunc("POST /v1/moderations", f.moderations)
	mux.HandleFunc("POST /v1/images/generations", f.images)
	mux.HandleFunc("POST /v1/images/edits", f.images)
	mux.HandleFunc("POST /v1/audio/transcriptions", f.transcriptions)
	mux.HandleFunc("POST /v1/audio/translations", f.transcriptions)
	mux.HandleFunc("POST /v1/audio/speech", f.speech)
}

// recordAny records a JSON or multipart/form-data request. A multipart request is recorded
// with its fields as strings and its files as {"filename","content_type","data"} objects, data
// holding the file's bytes as a string.
func (f *OpenAI) recordAny(r *http.Request) (Request, bool) {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return f.record(r)
	}
	raw, _ := io.ReadAll(r.Body)
	req := Request{Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Header: r.Header.Clone(), Raw: raw, Body: map[string]any{}}
	mr := multipart.NewReader(strings.NewReader(string(raw)), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return req, false
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return req, false
		}
		if p.FileName() != "" {
			req.Body[p.FormName()] = map[string]any{"filename": p.FileName(), "content_type": p.Header.Get("Content-Type"), "data": string(b)}
		} else {
			req.Body[p.FormName()] = string(b)
		}
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	return req, true
}

// begin records the request and answers the failure models; it returns the model, or false
// when the request has been answered.
func (f *OpenAI) begin(w http.ResponseWriter, r *http.Request) (Request, string, bool) {
	req, ok := f.recordAny(r)
	if !ok {
		writeError(w, 400, "invalid_request_error", "", "We could not parse the body of your request.")
		return req, "", false
	}
	model, _ := req.Body["model"].(string)
	if model == "" {
		writeError(w, 400, "invalid_request_error", "", "you must provide a model parameter")
		return req, "", false
	}
	if f.failFor(w, r, model) {
		return req, "", false
	}
	return req, model, true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *OpenAI) completions(w http.ResponseWriter, r *http.Request) {
	req, model, ok := f.begin(w, r)
	if !ok {
		return
	}
	prompt, _ := req.Body["prompt"].(string)
	text := "echo: " + prompt
	usage := map[string]any{"prompt_tokens": CompletionPromptTokens, "completion_tokens": CompletionOutputTokens, "total_tokens": CompletionPromptTokens + CompletionOutputTokens}
	created := time.Now().Unix()
	completion := func(choices []any, u any) map[string]any {
		m := map[string]any{"id": "cmpl-fake", "object": "text_completion", "created": created, "model": model, "system_fingerprint": "fp_fake", "choices": choices}
		if u != nil {
			m["usage"] = u
		}
		return m
	}
	choice := func(text string, finish any) []any {
		return []any{map[string]any{"text": text, "index": 0, "logprobs": nil, "finish_reason": finish}}
	}
	if stream, _ := req.Body["stream"].(bool); !stream {
		writeJSON(w, completion(choice(text, "stop"), usage))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher := w.(http.Flusher)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		flusher.Flush()
	}
	for i, wd := range strings.Fields(text) {
		if i > 0 {
			wd = " " + wd
		}
		if model == ModelCut && i == 1 {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
				}
			}
			return
		}
		send(completion(choice(wd, nil), nil))
	}
	send(completion(choice("", "stop"), nil))
	if so, _ := req.Body["stream_options"].(map[string]any); so["include_usage"] == true {
		send(completion([]any{}, usage))
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	flusher.Flush()
}

func (f *OpenAI) moderations(w http.ResponseWriter, r *http.Request) {
	req, model, ok := f.begin(w, r)
	if !ok {
		return
	}
	var inputs []string
	switch in := req.Body["input"].(type) {
	case string:
		inputs = []string{in}
	case []any:
		for _, v := range in {
			s, _ := v.(string)
			inputs = append(inputs, s)
		}
	}
	results := []any{}
	for _, in := range inputs {
		flagged := strings.Contains(in, "violent")
		score := 0.001
		if flagged {
			score = 0.97
		}
		results = append(results, map[string]any{
			"flagged":                      flagged,
			"categories":                   map[string]any{"harassment": false, "hate": false, "self-harm": false, "sexual": false, "violence": flagged},
			"category_scores":              map[string]any{"harassment": 0.001, "hate": 0.001, "self-harm": 0.001, "sexual": 0.001, "violence": score},
			"category_applied_input_types": map[string]any{"harassment": []string{"text"}, "violence": []string{"text"}},
		})
	}
	writeJSON(w, map[string]any{"id": "modr-fake", "model": model, "results": results})
}

func (f *OpenAI) images(w http.ResponseWriter, r *http.Request) {
	req, model, ok := f.begin(w, r)
	if !ok {
		return
	}
	prompt, _ := req.Body["prompt"].(string)
	img := FakeImage + prompt
	if file, ok := req.Body["image"].(map[string]any); ok {
		img += fmt.Sprintf(" (edited %d bytes)", len(file["data"].(string)))
	}
	answer := map[string]any{"created": time.Now().Unix(), "data": []any{map[string]any{"b64_json": base64.StdEncoding.EncodeToString([]byte(img))}}}
	if model != ModelDallE {
		answer["usage"] = map[string]any{"input_tokens": ImageInputTokens, "output_tokens": ImageOutputTokens, "total_tokens": ImageInputTokens + ImageOutputTokens,
			"input_tokens_details": map[string]any{"text_tokens": ImageInputTokens, "image_tokens": 0}}
	}
	writeJSON(w, answer)
}

func (f *OpenAI) transcriptions(w http.ResponseWriter, r *http.Request) {
	req, model, ok := f.begin(w, r)
	if !ok {
		return
	}
	file, ok := req.Body["file"].(map[string]any)
	if !ok {
		writeError(w, 400, "invalid_request_error", "", "you must provide a file")
		return
	}
	text := fmt.Sprintf("heard %d bytes of %s", len(file["data"].(string)), file["filename"])
	if req.Body["response_format"] == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, text)
		return
	}
	answer := map[string]any{"text": text}
	switch {
	case strings.HasSuffix(r.URL.Path, "/translations"):
	case model == ModelWhisper:
		answer["usage"] = map[string]any{"type": "duration", "seconds": 3}
	default:
		answer["usage"] = map[string]any{"type": "tokens", "input_tokens": TranscriptionInputTokens, "output_tokens": TranscriptionOutputTokens,
			"total_tokens": TranscriptionInputTokens + TranscriptionOutputTokens, "input_token_details": map[string]any{"text_tokens": 0, "audio_tokens": TranscriptionInputTokens}}
	}
	writeJSON(w, answer)
}

func (f *OpenAI) speech(w http.ResponseWriter, r *http.Request) {
	req, _, ok := f.begin(w, r)
	if !ok {
		return
	}
	input, _ := req.Body["input"].(string)
	w.Header().Set("Content-Type", "audio/mpeg")
	_, _ = io.WriteString(w, FakeSpeech+input)
}
