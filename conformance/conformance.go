// Package conformance holds the provider fakes of the conformance matrix: one fake upstream
// per provider kind, each speaking that provider's documented wire format, all answering the
// same scenarios. The suite (conformance_test.go) drives every client dialect through the
// gateway to every provider with the official SDKs, and writes docs/compatibility.md from the
// results.
//
// A fake decides what to answer from the upstream model id in the request: the configured
// model id is the scenario name. What each scenario answers is fixed here, once, in canonical
// form; each fake only renders it in its provider's format.
package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
)

// Scenario names, used as the upstream model ids of the conformance accounts.
const (
	// ScenarioText answers Reply.Text; non-streamed and streamed (in at least two deltas).
	ScenarioText = "conf-text"
	// ScenarioTools answers one call to ToolName with ToolArgs. The request must declare a
	// tool named ToolName, or the fake answers 400 (so a lost tool fails the cell). Streamed,
	// the arguments come in at least two fragments.
	ScenarioTools = "conf-tools"
	// ScenarioImage answers ImageReply; the request's last user turn must carry an image (in
	// the provider's image form), or the fake answers 400.
	ScenarioImage = "conf-image"
	// ScenarioJSON answers JSONReply; the request must ask for JSON output (the provider's
	// JSON mode or schema field), or the fake answers 400.
	ScenarioJSON = "conf-json"
	// ScenarioHang accepts the request and answers nothing until the client goes away.
	ScenarioHang = "conf-hang"
	// ScenarioCut starts the answer, then drops the connection: streamed, after the first
	// text delta; non-streamed, in the middle of the body.
	ScenarioCut = "conf-cut"
	// ScenarioErrorPrefix + a status ("conf-error-429") answers that status with the
	// provider's documented error body. 429 carries RetryAfterSeconds in the provider's way
	// (a Retry-After header, or its own field).
	ScenarioErrorPrefix = "conf-error-"
	// ScenarioMalformed answers 200 with a body (or, streamed, an event) that is not the
	// provider's format and quotes the key (KeyQuote).
	ScenarioMalformed = "conf-malformed"
	// ScenarioStreamError, streamed, starts the answer and then sends the provider's error
	// event, whose message quotes the key (KeyQuote); non-streamed, it answers 500.
	ScenarioStreamError = "conf-stream-error"
)

// LeakStatuses are the upstream statuses the leak test provokes besides ErrorStatuses: 529 is
// Anthropic's "overloaded", which the other fakes answer as an unknown 5xx.
var LeakStatuses = []int{529}

// KeyQuote is how every fake's error body quotes the key the gateway sent, as OpenAI's
// "Incorrect API key provided" does: the canary that must never reach a log or a client.
func KeyQuote(key string) string { return "Incorrect API key provided: " + key + "." }

// writeMalformed answers 200 with what a broken upstream sends: a JSON body cut short or,
// streamed, an event stream whose one event is not JSON; both quote key.
func writeMalformed(w http.ResponseWriter, stream bool, key string) {
	if stream {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"unexpected\": %q\n\n", KeyQuote(key))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"unexpected": %q`, KeyQuote(key))
}

// ErrorStatuses are the upstream statuses every fake can answer.
var ErrorStatuses = []int{400, 401, 403, 404, 429, 500, 503}

// The canonical answers.
const (
	Text              = "Hello from the conformance suite."
	ImageReply        = "I see an image."
	JSONReply         = `{"city":"Paris"}`
	ToolName          = "get_weather"
	ToolArgs          = `{"city":"Paris"}`
	RetryAfterSeconds = 7
	// UpstreamMessage is in every fake error body; it must never reach a client.
	UpstreamMessage = "conformance upstream error text"
)

// Usage is what every answer reports, in the provider's usage fields: InputTokens includes
// CachedTokens where the provider counts them apart (Anthropic's cache_read_input_tokens is
// additional; OpenAI's cached_tokens is a part), so the gateway must report prompt_tokens =
// InputTokens and cached_tokens = CachedTokens to every client.
var Usage = struct {
	InputTokens, OutputTokens, CachedTokens int64
}{InputTokens: 20, OutputTokens: 8, CachedTokens: 5}

// Provider is one provider kind's fake for the matrix.
type Provider struct {
	// Name is the row name in the matrix, e.g. "OpenAI" or "AWS Bedrock".
	Name string
	// Kind is the provider kind of the config file, e.g. "openai" or "bedrock".
	Kind string
	// Document returns the config-file document (YAML) for a provider account named account
	// whose models are the given scenario names (model name = upstream model id = scenario),
	// pointing at the fake's base URL. Secrets are env:// references to the variables in Env.
	Document func(account, baseURL string, scenarios []string) string
	// Env are the environment variables the document's secrets refer to.
	Env map[string]string
	// Handler serves the provider's API for one test run.
	Handler func(t testing.TB) http.Handler
}

// isJSONObject reports whether b is a JSON object: a schema, as a structured-output request
// must carry one.
func isJSONObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}

// dropConnection flushes what the handler wrote and closes the TCP connection without ending
// the response, as an upstream that dies mid-answer does. Where hijacking is not supported
// (HTTP/2) the handler panics with http.ErrAbortHandler, which resets the stream.
func dropConnection(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// writeCut answers with half of a whole body of contentType, announced at its full length, then
// drops the connection: a body cut in the middle.
func writeCut(w http.ResponseWriter, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body[:len(body)/2])
	dropConnection(w)
}
