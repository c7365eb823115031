package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"strconv"
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

// newUpstream returns the fake OpenAI-compatible upstream. It answers
// POST /v1/chat/completions and POST /chat/completions (for clients whose base
// URL already ends in /v1) with completionBody after reading and discarding
// the request body, and GET /healthz with 200 for readiness checks.
// It is safe for concurrent use.
func newUpstream() http.Handler {
	body := []byte(completionBody)
	contentLength := strconv.Itoa(len(body))
	complete := func(w http.ResponseWriter, r *http.Request) {
		// The body is read like a real server would, so the client's write
		// side costs the same as against a real upstream.
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", contentLength)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
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
