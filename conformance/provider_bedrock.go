package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The Bedrock account of the matrix. The secret access key is not a real one: the fake checks
// every request's SigV4 signature against it.
const (
	// BedrockRegion is the region setting of the Bedrock account; requests are signed for it.
	BedrockRegion = "us-east-1"
	// BedrockAccessKeyID is the access_key_id setting of the Bedrock account.
	BedrockAccessKeyID = "AKIACONFORMANCE"
	// BedrockSecretEnv is the environment variable that holds the secret access key.
	BedrockSecretEnv = "LLMGW_CONFORMANCE_BEDROCK_SECRET_ACCESS_KEY"
	// bedrockSecret is the secret access key the fake verifies signatures with, a canary its
	// error bodies quote (KeyQuote).
	bedrockSecret = "canaryBedrockSecretKey/Xq7Zr2Vm9Tk4Wp+8L"
	// bedrockToolUseID is the toolUseId of the tool call the fake answers.
	bedrockToolUseID = "tooluse_conformance01"
)

// bedrockUsage is conformance.Usage in Bedrock's fields. Bedrock's inputTokens excludes the
// tokens read from the prompt cache (cacheReadInputTokens is additional, as Anthropic's is),
// so inputTokens is Usage.InputTokens less Usage.CachedTokens; the adapter adds them back.
var bedrockUsage = map[string]int64{
	"inputTokens":          Usage.InputTokens - Usage.CachedTokens,
	"outputTokens":         Usage.OutputTokens,
	"totalTokens":          Usage.InputTokens + Usage.OutputTokens,
	"cacheReadInputTokens": Usage.CachedTokens,
}

// bedrockErrorTypes are the x-amzn-ErrorType values of the error statuses, as the Bedrock
// runtime API reference names them. AWS answers a key it does not know with
// UnrecognizedClientException and status 403; the matrix needs a 401 as well, so 401 carries
// that type with the status the scenario asks for.
var bedrockErrorTypes = map[int]string{
	http.StatusBadRequest:          "ValidationException",
	http.StatusUnauthorized:        "UnrecognizedClientException",
	http.StatusForbidden:           "AccessDeniedException",
	http.StatusNotFound:            "ResourceNotFoundException",
	http.StatusTooManyRequests:     "ThrottlingException",
	http.StatusInternalServerError: "InternalServerException",
	http.StatusServiceUnavailable:  "ServiceUnavailableException",
}

// bedrockRequestFields are the top-level fields of a Converse request. Bedrock refuses any
// other with a ValidationException, and so does the fake.
var bedrockRequestFields = map[string]bool{
	"messages": true, "system": true, "inferenceConfig": true, "toolConfig": true,
	"guardrailConfig": true, "additionalModelRequestFields": true, "promptVariables": true,
	"additionalModelResponseFieldPaths": true, "requestMetadata": true, "performanceConfig": true,
	"outputConfig": true,
}

// bedrockImageFormats are the image formats Converse takes.
var bedrockImageFormats = map[string]bool{"png": true, "jpeg": true, "gif": true, "webp": true}

// bedrockAuthPattern is the shape of a SigV4 Authorization header.
var bedrockAuthPattern = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$`)

// Bedrock returns the fake of Amazon Bedrock's runtime API (kind "bedrock"): Converse
// (POST /model/{modelId}/converse, JSON) and ConverseStream (.../converse-stream, an
// application/vnd.amazon.eventstream binary stream). The scenario is the path's model id.
//
// Every request must carry a valid SigV4 signature by BedrockAccessKeyID and the secret in
// Env for the service "bedrock" in BedrockRegion, or the fake answers 403 as AWS does
// (UnrecognizedClientException for another key, InvalidSignatureException for a bad
// signature). Requests Converse would refuse (unknown fields, no messages, turns that do not
// alternate from user, empty content) are a 400 ValidationException.
//
// Converse has no JSON mode: ScenarioJSON needs structured output (outputConfig.textFormat
// with a JSON schema, as a string). Usage reports Usage with the cached tokens as
// cacheReadInputTokens, apart from inputTokens. A 429 carries Retry-After: Bedrock does not
// document one, but the adapter passes it on when an upstream (or a proxy in front of it)
// sends it, and the scenario contract asks for it.
func Bedrock() Provider {
	return Provider{
		Name:     "AWS Bedrock",
		Kind:     "bedrock",
		Document: bedrockDocument,
		Env:      map[string]string{BedrockSecretEnv: bedrockSecret},
		Handler: func(t testing.TB) http.Handler {
			return &bedrockFake{t: t}
		},
	}
}

// bedrockDocument is the config-file document of a Bedrock account with one chat model per
// scenario.
func bedrockDocument(account, baseURL string, scenarios []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- name: %q\n  type: provider-account/bedrock\n  base_url: %q\n", account, baseURL)
	fmt.Fprintf(&b, "  settings: {region: %q, access_key_id: %q}\n", BedrockRegion, BedrockAccessKeyID)
	fmt.Fprintf(&b, "  auth_data: {type: api-key, api_key: %q}\n  integrations:\n", "env://"+BedrockSecretEnv)
	for _, s := range scenarios {
		fmt.Fprintf(&b, "    - {name: %q, type: integration/model/bedrock, model_id: %q, model_types: [chat]}\n", s, s)
	}
	return b.String()
}

// bedrockFake serves the Bedrock runtime for one test run. It is safe for concurrent use.
type bedrockFake struct {
	t    testing.TB
	reqs atomic.Int64 // numbers the x-amzn-RequestId of answers
}

// bedrockRequest is the part of a Converse request the fake checks.
type bedrockRequest struct {
	Messages []struct {
		Role    string                       `json:"role"`
		Content []map[string]json.RawMessage `json:"content"`
	} `json:"messages"`
	ToolConfig *struct {
		Tools []struct {
			ToolSpec *struct {
				Name string `json:"name"`
			} `json:"toolSpec"`
		} `json:"tools"`
	} `json:"toolConfig"`
	OutputConfig *struct {
		TextFormat *struct {
			Type      string `json:"type"`
			Structure struct {
				JSONSchema *struct {
					Schema string `json:"schema"` // the schema as a JSON string
				} `json:"jsonSchema"`
			} `json:"structure"`
		} `json:"textFormat"`
	} `json:"outputConfig"`
}

// bedrockImage is a Converse image block.
type bedrockImage struct {
	Format string `json:"format"`
	Source struct {
		Bytes string `json:"bytes"`
	} `json:"source"`
}

func (f *bedrockFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("conformance-%d", f.reqs.Add(1)))
	model, op, ok := bedrockRoute(r.URL)
	if !ok || r.Method != http.MethodPost {
		f.refuse(w, http.StatusNotFound, "UnknownOperationException", fmt.Sprintf("no operation %s %s", r.Method, r.URL.EscapedPath()))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return // the client went away
	}
	if status, typ, err := bedrockVerify(r, body); err != nil {
		f.refuse(w, status, typ, err.Error())
		return
	}
	stream := op == "converse-stream"
	if stream && r.Header.Get("Accept") != "application/vnd.amazon.eventstream" {
		f.refuse(w, http.StatusBadRequest, "ValidationException", "converse-stream without Accept: application/vnd.amazon.eventstream")
		return
	}
	req, err := bedrockDecode(body)
	if err != nil {
		f.refuse(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}

	switch {
	case model == ScenarioText:
		f.answer(w, stream, bedrockText(Text))
	case model == ScenarioTools:
		if !req.declares(ToolName) {
			f.refuse(w, http.StatusBadRequest, "ValidationException", "the request declares no tool "+ToolName)
			return
		}
		f.answer(w, stream, bedrockToolAnswer())
	case model == ScenarioImage:
		if err := req.lastUserImage(); err != nil {
			f.refuse(w, http.StatusBadRequest, "ValidationException", err.Error())
			return
		}
		f.answer(w, stream, bedrockText(ImageReply))
	case model == ScenarioJSON:
		// Converse has no JSON mode; only structured output asks for JSON, by schema.
		if oc := req.OutputConfig; oc == nil || oc.TextFormat == nil || oc.TextFormat.Type != "json_schema" ||
			oc.TextFormat.Structure.JSONSchema == nil || !isJSONObject([]byte(oc.TextFormat.Structure.JSONSchema.Schema)) {
			f.refuse(w, http.StatusBadRequest, "ValidationException", "the request asks for no JSON output (outputConfig.textFormat)")
			return
		}
		f.answer(w, stream, bedrockText(JSONReply))
	case model == ScenarioHang:
		<-r.Context().Done()
	case model == ScenarioCut:
		f.cut(w, stream)
	case model == ScenarioMalformed:
		writeMalformed(w, stream, bedrockSecret)
	case model == ScenarioStreamError:
		if !stream {
			bedrockError(w, http.StatusInternalServerError, bedrockErrorType(http.StatusInternalServerError))
			return
		}
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		if !f.send(w, bedrockEvent{"messageStart", map[string]any{"role": "assistant"}}) || !f.send(w, bedrockTextDelta(Text[:5])) {
			return
		}
		var m eventstream.Message
		m.Headers.Set(":message-type", eventstream.StringValue("exception"))
		m.Headers.Set(":exception-type", eventstream.StringValue("internalServerException"))
		m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		m.Payload, _ = json.Marshal(map[string]string{"message": "The system encountered an unexpected error. " + KeyQuote(bedrockSecret)})
		_ = eventstream.NewEncoder().Encode(w, m)
	case strings.HasPrefix(model, ScenarioErrorPrefix):
		status, err := strconv.Atoi(strings.TrimPrefix(model, ScenarioErrorPrefix))
		if err != nil || status < 400 || status > 599 {
			f.refuse(w, http.StatusBadRequest, "ValidationException", "the provided model identifier is invalid: "+model)
			return
		}
		bedrockError(w, status, bedrockErrorType(status))
	default:
		f.refuse(w, http.StatusBadRequest, "ValidationException", "the provided model identifier is invalid: "+model)
	}
}

// refuse answers a request the fake will not serve, as Bedrock answers it, and logs why.
func (f *bedrockFake) refuse(w http.ResponseWriter, status int, typ, why string) {
	f.t.Logf("bedrock fake: %d %s: %s", status, typ, why)
	bedrockError(w, status, typ)
}

// bedrockRoute returns the model id (path-unescaped) and operation of a runtime request path,
// which ends in /model/{modelId}/{operation}.
func bedrockRoute(u *url.URL) (model, op string, ok bool) {
	parts := strings.Split(u.EscapedPath(), "/")
	n := len(parts)
	if n < 4 || parts[n-3] != "model" || (parts[n-1] != "converse" && parts[n-1] != "converse-stream") {
		return "", "", false
	}
	model, err := url.PathUnescape(parts[n-2])
	if err != nil || model == "" {
		return "", "", false
	}
	return model, parts[n-1], true
}

// bedrockVerify checks the request's SigV4 signature as AWS does: a well-formed Authorization
// header by the known key for bedrock in the account's region, whose signature is the one the
// secret gives for what arrived. It returns the status and error type AWS answers otherwise.
func bedrockVerify(r *http.Request, body []byte) (int, string, error) {
	auth := r.Header.Get("Authorization")
	m := bedrockAuthPattern.FindStringSubmatch(auth)
	if m == nil {
		return http.StatusForbidden, "MissingAuthenticationTokenException", fmt.Errorf("authorization %q is not a SigV4 header", auth)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return http.StatusForbidden, "IncompleteSignatureException", fmt.Errorf("X-Amz-Date %q: %w", r.Header.Get("X-Amz-Date"), err)
	}
	scope := strings.Split(m[1], "/")
	if len(scope) != 5 || scope[0] != BedrockAccessKeyID {
		return http.StatusForbidden, "UnrecognizedClientException", fmt.Errorf("credential %q is not by access key %s", m[1], BedrockAccessKeyID)
	}
	if want := []string{BedrockAccessKeyID, at.Format("20060102"), BedrockRegion, "bedrock", "aws4_request"}; strings.Join(scope, "/") != strings.Join(want, "/") {
		return http.StatusForbidden, "InvalidSignatureException", fmt.Errorf("credential scope %q, want %q", m[1], strings.Join(want, "/"))
	}
	// Sign what arrived again, with the headers the client signed, and compare.
	u, err := url.Parse("http://" + r.Host + r.RequestURI)
	if err != nil {
		return http.StatusForbidden, "InvalidSignatureException", fmt.Errorf("request uri %q: %w", r.RequestURI, err)
	}
	re, err := http.NewRequest(r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return http.StatusForbidden, "InvalidSignatureException", fmt.Errorf("rebuild request: %w", err)
	}
	re.URL, re.Host = u, r.Host
	for _, h := range strings.Split(m[2], ";") {
		switch h {
		case "host", "content-length", "x-amz-date":
		default:
			re.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: BedrockAccessKeyID, SecretAccessKey: bedrockSecret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, re, hex.EncodeToString(sum[:]), "bedrock", BedrockRegion, at); err != nil {
		return http.StatusForbidden, "InvalidSignatureException", fmt.Errorf("re-sign: %w", err)
	}
	if want := re.Header.Get("Authorization"); auth != want {
		return http.StatusForbidden, "InvalidSignatureException", fmt.Errorf("signature does not verify: got %s, want %s", auth, want)
	}
	return 0, "", nil
}

// bedrockDecode decodes a Converse request and refuses what Converse refuses.
func bedrockDecode(body []byte) (*bedrockRequest, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, fmt.Errorf("the body is not a JSON object: %w", err)
	}
	for k := range fields {
		if !bedrockRequestFields[k] {
			return nil, fmt.Errorf("extraneous key [%s] is not permitted", k)
		}
	}
	var req bedrockRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("malformed request: %w", err)
	}
	if len(req.Messages) == 0 {
		return nil, fmt.Errorf("messages must not be empty")
	}
	for i, m := range req.Messages {
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if m.Role != want {
			return nil, fmt.Errorf("messages[%d].role is %q: a conversation must alternate between user and assistant roles, starting with user", i, m.Role)
		}
		if len(m.Content) == 0 {
			return nil, fmt.Errorf("messages[%d].content must not be empty", i)
		}
		for j, b := range m.Content {
			if len(b) != 1 {
				return nil, fmt.Errorf("messages[%d].content[%d] must hold exactly one member, has %d", i, j, len(b))
			}
			if t, ok := b["text"]; ok && (string(t) == `""` || string(t) == "null") {
				return nil, fmt.Errorf("messages[%d].content[%d].text must not be blank", i, j)
			}
		}
	}
	return &req, nil
}

// declares reports whether the request declares the tool name.
func (r *bedrockRequest) declares(name string) bool {
	if r.ToolConfig == nil {
		return false
	}
	for _, t := range r.ToolConfig.Tools {
		if t.ToolSpec != nil && t.ToolSpec.Name == name {
			return true
		}
	}
	return false
}

// lastUserImage checks that the last user turn holds an image given by its bytes.
func (r *bedrockRequest) lastUserImage() error {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		m := r.Messages[i]
		if m.Role != "user" {
			continue
		}
		for _, b := range m.Content {
			raw, ok := b["image"]
			if !ok {
				continue
			}
			var img bedrockImage
			if err := json.Unmarshal(raw, &img); err != nil {
				return fmt.Errorf("malformed image block: %w", err)
			}
			if !bedrockImageFormats[img.Format] {
				return fmt.Errorf("image format %q is not png, jpeg, gif or webp", img.Format)
			}
			if data, err := base64.StdEncoding.DecodeString(img.Source.Bytes); err != nil || len(data) == 0 {
				return fmt.Errorf("image source bytes are not base64 image data")
			}
			return nil
		}
		return fmt.Errorf("the last user turn holds no image")
	}
	return fmt.Errorf("the request has no user turn")
}

// bedrockAnswer is a canonical answer: text, or one tool call.
type bedrockAnswer struct {
	text     string
	toolName string // set for a tool call, whose input is toolArgs
	toolArgs string
}

func bedrockText(s string) bedrockAnswer { return bedrockAnswer{text: s} }

func bedrockToolAnswer() bedrockAnswer { return bedrockAnswer{toolName: ToolName, toolArgs: ToolArgs} }

// stopReason is the answer's Converse stop reason.
func (a bedrockAnswer) stopReason() string {
	if a.toolName != "" {
		return "tool_use"
	}
	return "end_turn"
}

// answer writes a as a Converse answer, or as a ConverseStream event stream.
func (f *bedrockFake) answer(w http.ResponseWriter, stream bool, a bedrockAnswer) {
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bedrockConverse(a))
		return
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	events := []bedrockEvent{{"messageStart", map[string]any{"role": "assistant"}}}
	if a.toolName != "" {
		half := len(a.toolArgs) / 2
		events = append(events,
			bedrockEvent{"contentBlockStart", map[string]any{"contentBlockIndex": 0, "start": map[string]any{"toolUse": map[string]any{"toolUseId": bedrockToolUseID, "name": a.toolName}}}},
			bedrockToolDelta(a.toolArgs[:half]),
			bedrockToolDelta(a.toolArgs[half:]),
		)
	} else {
		half := len(a.text) / 2
		events = append(events, bedrockTextDelta(a.text[:half]), bedrockTextDelta(a.text[half:]))
	}
	events = append(events,
		bedrockEvent{"contentBlockStop", map[string]any{"contentBlockIndex": 0}},
		bedrockEvent{"messageStop", map[string]any{"stopReason": a.stopReason()}},
		bedrockEvent{"metadata", map[string]any{"usage": bedrockUsage, "metrics": map[string]any{"latencyMs": 1}}},
	)
	for _, e := range events {
		if !f.send(w, e) {
			return
		}
	}
}

// bedrockConverse renders a as a Converse answer body.
func bedrockConverse(a bedrockAnswer) []byte {
	block := map[string]any{"text": a.text}
	if a.toolName != "" {
		block = map[string]any{"toolUse": map[string]any{"toolUseId": bedrockToolUseID, "name": a.toolName, "input": json.RawMessage(a.toolArgs)}}
	}
	b, _ := json.Marshal(map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": []any{block}}},
		"stopReason": a.stopReason(),
		"usage":      bedrockUsage,
		"metrics":    map[string]any{"latencyMs": 1},
	})
	return b
}

// bedrockEvent is one ConverseStream event: its :event-type and its JSON payload.
type bedrockEvent struct {
	typ     string
	payload any
}

func bedrockTextDelta(s string) bedrockEvent {
	return bedrockEvent{"contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"text": s}}}
}

func bedrockToolDelta(s string) bedrockEvent {
	return bedrockEvent{"contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"toolUse": map[string]any{"input": s}}}}
}

// send writes e as one event stream message and flushes it; it reports whether the write
// succeeded.
func (f *bedrockFake) send(w http.ResponseWriter, e bedrockEvent) bool {
	payload, err := json.Marshal(e.payload)
	if err != nil {
		f.t.Errorf("bedrock fake: encode %s: %v", e.typ, err)
		return false
	}
	var m eventstream.Message
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	m.Headers.Set(":event-type", eventstream.StringValue(e.typ))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Payload = payload
	if err := eventstream.NewEncoder().Encode(w, m); err != nil {
		return false
	}
	return http.NewResponseController(w).Flush() == nil
}

// cut starts the text answer and drops the connection: streamed after the first text delta,
// non-streamed in the middle of the body (whose Content-Length promises all of it).
func (f *bedrockFake) cut(w http.ResponseWriter, stream bool) {
	if stream {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		if !f.send(w, bedrockEvent{"messageStart", map[string]any{"role": "assistant"}}) ||
			!f.send(w, bedrockTextDelta(Text[:len(Text)/2])) {
			return
		}
	} else {
		writeCut(w, "application/json", bedrockConverse(bedrockText(Text)))
		return
	}
	dropConnection(w)
}

// bedrockErrorType is the x-amzn-ErrorType of an error status.
func bedrockErrorType(status int) string {
	if t, ok := bedrockErrorTypes[status]; ok {
		return t
	}
	if status >= 500 {
		return "InternalServerException"
	}
	return "ValidationException"
}

// bedrockError writes a Bedrock error answer: {"message": ...} with the x-amzn-ErrorType
// header, and Retry-After for a 429.
func bedrockError(w http.ResponseWriter, status int, typ string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", typ+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	if status == http.StatusTooManyRequests {
		h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"message": typ + ": " + UpstreamMessage + " " + KeyQuote(bedrockSecret)})
	_, _ = w.Write(b)
}
