package conformance

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Google fakes' credentials and the environment variables the documents refer to them by.
const (
	// GeminiKeyEnv holds the Gemini API key the Gemini fake accepts.
	GeminiKeyEnv = "LLMGW_CONFORMANCE_GEMINI_KEY"
	// VertexKeyEnv holds the service-account key file (JSON) of the Vertex fake.
	VertexKeyEnv = "LLMGW_CONFORMANCE_VERTEX_SA"
	// VertexProject and VertexLocation are the project and location the Vertex document
	// configures; the fake answers 404 for any other path.
	VertexProject  = "llmgw-conformance"
	VertexLocation = "europe-west4"

	// geminiKey is a canary, shaped like a Google API key, that the fake's errors quote.
	geminiKey   = "AIzaSyCanaryGemini-Kq7Zt2Vm9Wx4Lp8Rb3Nd"
	vertexEmail = "conformance@llmgw-conformance.iam.gserviceaccount.com"
	vertexKeyID = "conformance-key-1"
	// vertexScope is the OAuth2 scope a Vertex AI caller must ask for.
	vertexScope = "https://www.googleapis.com/auth/cloud-platform"
	// googleMaxBody bounds a request body the Google fakes read.
	googleMaxBody = 8 << 20
)

// Gemini returns the fake Gemini API (kind "gemini"): POST
// /v1beta/models/{scenario}:generateContent and :streamGenerateContent?alt=sse, with the key in
// the x-goog-api-key header (a wrong key is Gemini's 400 INVALID_ARGUMENT with reason
// API_KEY_INVALID). Answers are GenerateContentResponses; streams are SSE events of the same
// shape, text in two events.
//
// What the suite must know: Gemini sends a function call whole, so a streamed ScenarioTools
// has one tool call delta with the complete arguments, not fragments. A 429 says when to retry
// in a google.rpc.RetryInfo detail (retryDelay "7s"), not in a Retry-After header. Usage is
// promptTokenCount 20 (cached tokens included, as Gemini counts them), cachedContentTokenCount
// 5 and candidatesTokenCount 8.
func Gemini() Provider {
	return Provider{
		Name: "Google Gemini",
		Kind: "gemini",
		Document: func(account, baseURL string, scenarios []string) string {
			return googleDocument(account, "gemini", baseURL, GeminiKeyEnv, "", scenarios)
		},
		Env: map[string]string{GeminiKeyEnv: geminiKey},
		Handler: func(testing.TB) http.Handler {
			return newGoogleFake(func(r *http.Request) *googleError {
				if subtle.ConstantTimeCompare([]byte(r.Header.Get("x-goog-api-key")), []byte(geminiKey)) == 1 {
					return nil
				}
				return &googleError{status: http.StatusBadRequest, message: "API key not valid. Please pass a valid API key.", reason: "API_KEY_INVALID"}
			}, func(r *http.Request) string { return r.Header.Get("x-goog-api-key") }, "POST /v1beta/models/{call}")
		},
	}
}

// Vertex returns the fake Vertex AI (kind "vertex"): POST
// /v1/projects/[VertexProject]/locations/[VertexLocation]/publishers/google/models/{scenario}
// :generateContent and :streamGenerateContent?alt=sse, answering as [Gemini] does. Requests
// must carry "Authorization: Bearer <token>" with a token the fake's OAuth2 endpoint issued
// (else 401 UNAUTHENTICATED).
//
// The token endpoint verifies the JWT-bearer assertion as Google does: RS256 signed with the
// service account's key, iss the account's email, aud the token URI, the cloud-platform scope,
// and not expired. Env holds the service-account key file, whose private key is generated
// here and whose token_uri names that endpoint. Because Env is fixed before the suite knows
// the fake's base URL, the token endpoint cannot live in Handler: Vertex starts it at once on
// a loopback port of its own and it serves for the life of the process (tokens it issues are
// accepted by every Handler of this Provider). Each call generates a key and starts an
// endpoint that is never stopped, so a suite calls Vertex once.
//
// Vertex panics if it cannot generate the key or listen, which only a broken machine causes.
func Vertex() Provider {
	issuer := newVertexIssuer()
	return Provider{
		Name: "Google Vertex AI",
		Kind: "vertex",
		Document: func(account, baseURL string, scenarios []string) string {
			settings := fmt.Sprintf("{project: %s, location: %s}", VertexProject, VertexLocation)
			return googleDocument(account, "vertex", baseURL, VertexKeyEnv, settings, scenarios)
		},
		Env: map[string]string{VertexKeyEnv: issuer.keyFile},
		Handler: func(testing.TB) http.Handler {
			return newGoogleFake(issuer.check, func(r *http.Request) string { return r.Header.Get("Authorization") },
				"POST /v1/projects/"+VertexProject+"/locations/"+VertexLocation+"/publishers/google/models/{call}")
		},
	}
}

// googleDocument is the config document of a Google account, one mapping in the form the
// other rows use; settings is a YAML flow mapping or empty.
func googleDocument(account, kind, baseURL, keyEnv, settings string, scenarios []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ntype: provider-account/%s\nbase_url: %q\n", account, kind, baseURL)
	fmt.Fprintf(&b, "auth_data: {type: api-key, api_key: \"env://%s\"}\n", keyEnv)
	if settings != "" {
		fmt.Fprintf(&b, "settings: %s\n", settings)
	}
	b.WriteString("integrations:\n")
	for _, s := range scenarios {
		fmt.Fprintf(&b, "  - {name: %s, type: integration/model/%s, model_id: %s, model_types: [chat]}\n", s, kind, s)
	}
	return b.String()
}

// googleFake serves the generateContent methods of one Google API layout. It holds no
// per-request state and is safe for concurrent use.
type googleFake struct {
	// auth checks a request's credential and returns the error to answer, or nil.
	auth func(r *http.Request) *googleError
	// key is the credential a request carries, which scenario errors quote (KeyQuote).
	key func(r *http.Request) string
}

// newGoogleFake serves pattern, whose {call} wildcard is "<model>:<method>".
func newGoogleFake(auth func(r *http.Request) *googleError, key func(r *http.Request) string, pattern string) http.Handler {
	f := &googleFake{auth: auth, key: key}
	mux := http.NewServeMux()
	mux.HandleFunc(pattern, f.serve)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeGoogleError(w, &googleError{status: http.StatusNotFound, message: "The requested URL " + r.URL.Path + " was not found on this server."})
	})
	return mux
}

// googleRequest is the part of a GenerateContentRequest the fake checks.
type googleRequest struct {
	Contents []struct {
		Role  string `json:"role"`
		Parts []struct {
			Text         *string         `json:"text"`
			InlineData   json.RawMessage `json:"inlineData"`
			FileData     json.RawMessage `json:"fileData"`
			FunctionCall json.RawMessage `json:"functionCall"`
		} `json:"parts"`
	} `json:"contents"`
	Tools []struct {
		FunctionDeclarations []struct {
			Name string `json:"name"`
		} `json:"functionDeclarations"`
	} `json:"tools"`
	GenerationConfig *struct {
		ResponseMimeType string `json:"responseMimeType"`
	} `json:"generationConfig"`
}

// hasTool reports whether the request declares a function named name.
func (r *googleRequest) hasTool(name string) bool {
	for _, t := range r.Tools {
		for _, d := range t.FunctionDeclarations {
			if d.Name == name {
				return true
			}
		}
	}
	return false
}

// lastUserHasImage reports whether the last user turn has an inlineData or fileData part.
func (r *googleRequest) lastUserHasImage() bool {
	for i := len(r.Contents) - 1; i >= 0; i-- {
		c := r.Contents[i]
		if c.Role != "user" {
			continue
		}
		for _, p := range c.Parts {
			if p.InlineData != nil || p.FileData != nil {
				return true
			}
		}
		return false
	}
	return false
}

func (f *googleFake) serve(w http.ResponseWriter, r *http.Request) {
	if e := f.auth(r); e != nil {
		writeGoogleError(w, e)
		return
	}
	model, method, _ := strings.Cut(r.PathValue("call"), ":")
	stream := false
	switch method {
	case "generateContent":
	case "streamGenerateContent":
		// Without alt=sse the API streams one JSON array, which the gateway does not read.
		if r.URL.Query().Get("alt") != "sse" {
			writeGoogleError(w, &googleError{status: http.StatusBadRequest, message: "the conformance fake streams only with alt=sse"})
			return
		}
		stream = true
	default:
		writeGoogleError(w, &googleError{status: http.StatusNotFound, message: "Method not found: " + method})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, googleMaxBody))
	var req googleRequest
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || len(req.Contents) == 0 {
		writeGoogleError(w, &googleError{status: http.StatusBadRequest, message: "Invalid JSON payload received, or contents is not specified."})
		return
	}

	var a googleAnswer
	switch model {
	case ScenarioText:
		a.text = Text
	case ScenarioTools:
		if !req.hasTool(ToolName) {
			writeGoogleError(w, &googleError{status: http.StatusBadRequest, message: "the request declares no function " + ToolName})
			return
		}
		a.call = true
	case ScenarioImage:
		if !req.lastUserHasImage() {
			writeGoogleError(w, &googleError{status: http.StatusBadRequest, message: "the last user turn has no inlineData or fileData part"})
			return
		}
		a.text = ImageReply
	case ScenarioJSON:
		if req.GenerationConfig == nil || req.GenerationConfig.ResponseMimeType != "application/json" {
			writeGoogleError(w, &googleError{status: http.StatusBadRequest, message: "generationConfig.responseMimeType is not application/json"})
			return
		}
		a.text = JSONReply
	case ScenarioHang:
		<-r.Context().Done()
		return
	case ScenarioCut:
		a.text, a.cut = Text, true
	case ScenarioMalformed:
		writeMalformed(w, stream, f.key(r))
		return
	case ScenarioStreamError:
		if !stream {
			writeGoogleError(w, &googleError{status: http.StatusInternalServerError, message: "Internal error. " + KeyQuote(f.key(r))})
			return
		}
		a.text, a.failKey = Text, f.key(r)
	default:
		status, ok := strings.CutPrefix(model, ScenarioErrorPrefix)
		code, err := strconv.Atoi(status)
		if !ok || err != nil || code < 400 || code > 599 {
			writeGoogleError(w, &googleError{status: http.StatusNotFound, message: "models/" + model + " is not found for API version v1beta, or is not supported for generateContent."})
			return
		}
		writeGoogleError(w, &googleError{status: code, message: "the conformance fake answers " + status + ". " + KeyQuote(f.key(r))})
		return
	}
	a.model = model
	if stream {
		a.stream(w)
	} else {
		a.write(w)
	}
}

// googleAnswer is a canonical answer to render: text, or one call of ToolName with ToolArgs.
type googleAnswer struct {
	model string
	text  string
	call  bool
	cut   bool // drop the connection part way through
	// failKey, when set, ends the stream after its first event with an error object
	// quoting it (KeyQuote).
	failKey string
}

// Gemini's answer shapes, the fields the fake sends.
type (
	googleResponse struct {
		Candidates    []googleCandidate `json:"candidates"`
		UsageMetadata *googleUsage      `json:"usageMetadata,omitempty"`
		ModelVersion  string            `json:"modelVersion"`
		ResponseID    string            `json:"responseId"`
	}
	googleCandidate struct {
		Content      googleContent `json:"content"`
		FinishReason string        `json:"finishReason,omitempty"`
	}
	googleContent struct {
		Role  string       `json:"role"`
		Parts []googlePart `json:"parts"`
	}
	googlePart struct {
		Text         string              `json:"text,omitempty"`
		FunctionCall *googleFunctionCall `json:"functionCall,omitempty"`
	}
	googleFunctionCall struct {
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	}
	// googleUsage is usageMetadata. Gemini's promptTokenCount includes the cached tokens.
	googleUsage struct {
		PromptTokenCount        int64 `json:"promptTokenCount"`
		CandidatesTokenCount    int64 `json:"candidatesTokenCount,omitempty"`
		TotalTokenCount         int64 `json:"totalTokenCount"`
		CachedContentTokenCount int64 `json:"cachedContentTokenCount,omitempty"`
	}
)

// googleResponseID is the responseId of every answer.
const googleResponseID = "conformance-response"

// usage is the final usageMetadata, from the canonical Usage.
func (googleAnswer) usage() *googleUsage {
	return &googleUsage{
		PromptTokenCount:        Usage.InputTokens,
		CandidatesTokenCount:    Usage.OutputTokens,
		TotalTokenCount:         Usage.InputTokens + Usage.OutputTokens,
		CachedContentTokenCount: Usage.CachedTokens,
	}
}

// response is one GenerateContentResponse with the given parts.
func (a googleAnswer) response(parts []googlePart, finish string, u *googleUsage) googleResponse {
	return googleResponse{
		Candidates:    []googleCandidate{{Content: googleContent{Role: "model", Parts: parts}, FinishReason: finish}},
		UsageMetadata: u,
		ModelVersion:  a.model,
		ResponseID:    googleResponseID,
	}
}

// parts is the whole answer's parts.
func (a googleAnswer) parts() []googlePart {
	if a.call {
		return []googlePart{{FunctionCall: &googleFunctionCall{Name: ToolName, Args: json.RawMessage(ToolArgs)}}}
	}
	return []googlePart{{Text: a.text}}
}

// write answers generateContent; a cut answer sends half of the body and drops the connection.
func (a googleAnswer) write(w http.ResponseWriter) {
	b, err := json.Marshal(a.response(a.parts(), "STOP", a.usage()))
	if err != nil {
		panic(err) // static shapes: cannot happen
	}
	if a.cut {
		writeCut(w, "application/json; charset=UTF-8", b)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// stream answers streamGenerateContent?alt=sse. Text comes in two events, the second with the
// finish reason and the final usage (every event carries the running usage, as Gemini's do). A
// function call comes whole in one event. A cut answer drops the connection after the first
// text event.
func (a googleAnswer) stream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	send := func(r googleResponse) {
		b, err := json.Marshal(r)
		if err != nil {
			panic(err) // static shapes: cannot happen
		}
		// Gemini ends its events with CRLF pairs.
		_, _ = fmt.Fprintf(w, "data: %s\r\n\r\n", b)
		_ = http.NewResponseController(w).Flush()
	}
	if a.call {
		send(a.response(a.parts(), "STOP", a.usage()))
		return
	}
	parts := splitText(a.text)
	first, second := parts[0], parts[1]
	running := &googleUsage{PromptTokenCount: Usage.InputTokens, TotalTokenCount: Usage.InputTokens, CachedContentTokenCount: Usage.CachedTokens}
	send(a.response([]googlePart{{Text: first}}, "", running))
	if a.failKey != "" {
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": 500, "status": "INTERNAL", "message": "Internal error encountered. " + KeyQuote(a.failKey)}})
		_, _ = fmt.Fprintf(w, "data: %s\r\n\r\n", b)
		return
	}
	if a.cut {
		dropConnection(w)
		return
	}
	send(a.response([]googlePart{{Text: second}}, "STOP", a.usage()))
}

// googleError is an error answer: {"error":{"code","message","status","details"}}.
type googleError struct {
	status  int
	message string
	reason  string // an ErrorInfo reason, such as API_KEY_INVALID; may be empty
}

// googleStatusNames are the canonical google.rpc status names of HTTP statuses.
var googleStatusNames = map[int]string{
	http.StatusBadRequest:          "INVALID_ARGUMENT",
	http.StatusUnauthorized:        "UNAUTHENTICATED",
	http.StatusForbidden:           "PERMISSION_DENIED",
	http.StatusNotFound:            "NOT_FOUND",
	http.StatusConflict:            "ABORTED",
	http.StatusTooManyRequests:     "RESOURCE_EXHAUSTED",
	http.StatusInternalServerError: "INTERNAL",
	http.StatusNotImplemented:      "UNIMPLEMENTED",
	http.StatusServiceUnavailable:  "UNAVAILABLE",
	http.StatusGatewayTimeout:      "DEADLINE_EXCEEDED",
}

// writeGoogleError writes e in Google's error shape. The message always carries
// UpstreamMessage. A 429 says when to retry as Gemini does, in a RetryInfo detail
// (RetryAfterSeconds), with a QuotaFailure beside it.
func writeGoogleError(w http.ResponseWriter, e *googleError) {
	name, ok := googleStatusNames[e.status]
	if !ok {
		name = "UNKNOWN"
	}
	var details []map[string]any
	if e.reason != "" {
		details = append(details, map[string]any{
			"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
			"reason": e.reason,
			"domain": "googleapis.com",
		})
	}
	if e.status == http.StatusTooManyRequests {
		details = append(details,
			map[string]any{
				"@type": "type.googleapis.com/google.rpc.QuotaFailure",
				"violations": []map[string]any{{
					"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
					"quotaId":     "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
				}},
			},
			map[string]any{
				"@type":      "type.googleapis.com/google.rpc.RetryInfo",
				"retryDelay": strconv.Itoa(RetryAfterSeconds) + "s",
			})
	}
	body := map[string]any{"error": map[string]any{
		"code":    e.status,
		"message": e.message + " (" + UpstreamMessage + ")",
		"status":  name,
		"details": details,
	}}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(body)
}

// vertexIssuer is the fake Google OAuth2 token endpoint of the Vertex fake: it holds the
// service account's key, verifies assertions and remembers the tokens it issued. It is safe
// for concurrent use.
type vertexIssuer struct {
	key      *rsa.PrivateKey
	tokenURI string
	keyFile  string // the service-account key file, JSON

	mu     sync.Mutex
	issued map[string]time.Time // access token -> expiry
}

// newVertexIssuer generates the service account's key and starts the token endpoint.
func newVertexIssuer() *vertexIssuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("conformance: generate the vertex service-account key: %v", err))
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(fmt.Sprintf("conformance: encode the vertex service-account key: %v", err))
	}
	v := &vertexIssuer{key: key, issued: make(map[string]time.Time)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", v.token)
	srv := httptest.NewServer(mux) // serves for the life of the process; see Vertex
	v.tokenURI = srv.URL + "/token"
	keyFile, err := json.Marshal(map[string]string{
		"type":                        "service_account",
		"project_id":                  VertexProject,
		"private_key_id":              vertexKeyID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                vertexEmail,
		"client_id":                   "100000000000000000001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   v.tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
	})
	if err != nil {
		panic(err) // a map of strings: cannot happen
	}
	v.keyFile = string(keyFile)
	return v
}

// token is the JWT-bearer exchange (RFC 7523) as Google's token endpoint answers it: a bad
// assertion is 400 invalid_grant.
func (v *vertexIssuer) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		writeOAuthError(w, "unsupported_grant_type", "Invalid grant_type.")
		return
	}
	if err := v.verify(r.PostForm.Get("assertion"), time.Now()); err != nil {
		writeOAuthError(w, "invalid_grant", err.Error())
		return
	}
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	access := "ya29.conformance-" + base64.RawURLEncoding.EncodeToString(tok)
	const lifetime = time.Hour
	v.mu.Lock()
	v.issued[access] = time.Now().Add(lifetime)
	v.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": access,
		"expires_in":   int(lifetime.Seconds()) - 1,
		"token_type":   "Bearer",
	})
}

// verify checks a signed JWT assertion: RS256 under the service account's key, the key id,
// and the claims Google checks.
func (v *vertexIssuer) verify(assertion string, now time.Time) error {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return errors.New("assertion is not a JWT")
	}
	var header struct {
		Alg, Kid string
	}
	var claims struct {
		Iss, Scope, Aud string
		Iat, Exp        int64
	}
	if err := decodeJWTPart(parts[0], &header); err != nil {
		return err
	}
	if err := decodeJWTPart(parts[1], &claims); err != nil {
		return err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errors.New("signature is not base64url")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch {
	case header.Alg != "RS256":
		return fmt.Errorf("alg %q, want RS256", header.Alg)
	case header.Kid != "" && header.Kid != vertexKeyID:
		return fmt.Errorf("unknown key id %q", header.Kid)
	case rsa.VerifyPKCS1v15(&v.key.PublicKey, crypto.SHA256, sum[:], sig) != nil:
		return errors.New("invalid JWT signature")
	case claims.Iss != vertexEmail:
		return fmt.Errorf("iss %q is not the service account", claims.Iss)
	case claims.Aud != v.tokenURI:
		return fmt.Errorf("aud %q is not the token URI", claims.Aud)
	case !strings.Contains(" "+claims.Scope+" ", " "+vertexScope+" "):
		return fmt.Errorf("scope %q lacks %s", claims.Scope, vertexScope)
	case claims.Exp <= now.Unix() || claims.Iat > now.Add(time.Minute).Unix() || claims.Exp-claims.Iat > 3600:
		return errors.New("invalid JWT: the token must be short-lived (60 minutes) and in a reasonable timeframe")
	}
	return nil
}

// decodeJWTPart decodes one base64url JSON part of a JWT.
func decodeJWTPart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return errors.New("JWT part is not base64url")
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		return errors.New("JWT part is not JSON")
	}
	return nil
}

// check accepts a request whose bearer token the issuer issued and that has not expired.
func (v *vertexIssuer) check(r *http.Request) *googleError {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok {
		v.mu.Lock()
		exp, known := v.issued[tok]
		v.mu.Unlock()
		if known && time.Now().Before(exp) {
			return nil
		}
	}
	return &googleError{
		status:  http.StatusUnauthorized,
		message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
		reason:  "ACCESS_TOKEN_TYPE_UNSUPPORTED",
	}
}

// writeOAuthError writes an OAuth2 error answer (RFC 6749 section 5.2) with status 400.
func writeOAuthError(w http.ResponseWriter, code, description string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}
