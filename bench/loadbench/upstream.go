package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// completionBody is the fixed answer of the fake upstream: a realistic
// non-streaming chat.completion of about 600 bytes, shaped like OpenAI's,
// with the usage object a gateway reads to meter tokens.
const completionBody = `{"id":"chatcmpl-bench0000000000000000000001","object":"chat.completion",` +
	`"created":1767225600,"model":"bench-model","system_fingerprint":"fp_bench01",` +
	`"choices":[{"index":0,"message":{"role":"assistant",` +
	`"content":"Hello! It is nice to hear from you. How can I help you today?",` +
	`"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":9,"completion_tokens":16,"total_tokens":25,` +
	`"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},` +
	`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,` +
	`"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},` +
	`"service_tier":"default"}`

// streamChunks is how many chat.completion.chunk events a streamed answer
// carries before its usage chunk: issue 11's goal is stated for 20.
const streamChunks = 20

// streamBody builds the fake upstream's streamed answer as SSE events, in
// OpenAI's chat.completion.chunk format: streamChunks chunks (the first
// carries the role, the last the finish_reason, each carries a word), then,
// when includeUsage, a chunk with empty choices and the usage object, then
// "data: [DONE]". Each element is one event, written and flushed on its own,
// as a model server sends tokens as they come.
func streamBody(includeUsage bool) [][]byte {
	const head = `{"id":"chatcmpl-bench0000000000000000000002","object":"chat.completion.chunk",` +
		`"created":1767225600,"model":"bench-model","system_fingerprint":"fp_bench01",`
	words := strings.Fields("Hello! It is nice to hear from you. How can I help you today? " +
		"Ask me anything at all, I am here.")
	events := make([][]byte, 0, streamChunks+2)
	for i := range streamChunks {
		delta := `{"content":` + strconv.Quote(words[i%len(words)]+" ") + `}`
		if i == 0 {
			delta = `{"role":"assistant","content":` + strconv.Quote(words[0]+" ") + `,"refusal":null}`
		}
		finish := "null"
		if i == streamChunks-1 {
			delta, finish = `{}`, `"stop"`
		}
		events = append(events, []byte("data: "+head+`"service_tier":"default","choices":[{"index":0,"delta":`+
			delta+`,"logprobs":null,"finish_reason":`+finish+`}]}`+"\n\n"))
	}
	if includeUsage {
		events = append(events, []byte("data: "+head+`"service_tier":"default","choices":[],`+
			`"usage":{"prompt_tokens":9,"completion_tokens":19,"total_tokens":28,`+
			`"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},`+
			`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,`+
			`"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`+"\n\n"))
	}
	return append(events, []byte("data: [DONE]\n\n"))
}

// streamSize is the length in bytes of the fake upstream's stream with its
// usage chunk, the stream every streamed request of the benchmark asks for.
func streamSize() int {
	n := 0
	for _, e := range streamBody(true) {
		n += len(e)
	}
	return n
}

// streamFlags is the part of a chat request that decides the answer's shape.
type streamFlags struct {
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// maxRequestBody bounds what the fake upstream reads of a request.
const maxRequestBody = 1 << 20

// newUpstream returns the fake OpenAI-compatible upstream. It answers
// POST /v1/chat/completions and POST /chat/completions (for clients whose base
// URL already ends in /v1) with completionBody, or, when the request has
// "stream": true, with streamBody (its usage chunk only when
// stream_options.include_usage is true), and GET /healthz with 200 for
// readiness checks. It is safe for concurrent use.
func newUpstream() http.Handler {
	body := []byte(completionBody)
	contentLength := strconv.Itoa(len(body))
	withUsage, withoutUsage := streamBody(true), streamBody(false)
	complete := func(w http.ResponseWriter, r *http.Request) {
		// The body is read and decoded like a real server would, so the
		// client's write side costs the same as against a real upstream.
		data, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		var flags streamFlags
		if err := json.Unmarshal(data, &flags); err != nil {
			http.Error(w, "body is not JSON", http.StatusBadRequest)
			return
		}
		h := w.Header()
		if !flags.Stream {
			h.Set("Content-Type", "application/json")
			h.Set("Content-Length", contentLength)
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
			return
		}
		events := withoutUsage
		if flags.StreamOptions != nil && flags.StreamOptions.IncludeUsage {
			events = withUsage
		}
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for _, e := range events {
			if _, err := w.Write(e); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", complete)
	mux.HandleFunc("POST /chat/completions", complete)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// runUpstream is the "upstream" subcommand: it serves newUpstream on -listen.
func runUpstream(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadbench upstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return serve(ctx, *listen, newUpstream(), newLogger(stderr, "upstream"))
}
