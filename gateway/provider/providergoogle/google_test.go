package providergoogle

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

const (
	testKey     = "AIza-test-key"
	testModel   = "gemini-2.5-flash"
	testProject = "test-project"
	testToken   = "ya29.test-access-token"
	// upstreamSecret is planted in upstream error messages; it must never reach a public message.
	upstreamSecret = "upstream-secret-detail"
)

var testNow = time.Unix(1_700_000_000, 0)

// testRSAKey is generated once: RSA key generation is slow enough to matter under -race.
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// serviceAccountJSON is a key file for the test key whose token_uri is tokenURI.
func serviceAccountJSON(t *testing.T, tokenURI string) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(testRSAKey())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     testProject,
		"private_key_id": "key-id-1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "gateway@test-project.iam.gserviceaccount.com",
		"client_id":      "1234567890",
		"token_uri":      tokenURI,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeGoogle is the Gemini API, Vertex AI and Google's OAuth2 token endpoint in one server. It
// checks every request as Google would (path, method, credential, JSON body) and answers model
// requests with respond.
type fakeGoogle struct {
	t       *testing.T
	srv     *httptest.Server
	respond http.HandlerFunc
	// tokenStatus, when set, is the token endpoint's error status.
	tokenStatus atomic.Int32
	exchanges   atomic.Int32

	mu     sync.Mutex
	paths  []string // path?query of each model request
	bodies []map[string]any
}

func newFake(t *testing.T, respond http.HandlerFunc) *fakeGoogle {
	t.Helper()
	f := &fakeGoogle{t: t, respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// Model paths of the two kinds for testModel, without the method.
const (
	geminiPath = "/v1beta/models/" + testModel
	vertexPath = "/v1/projects/" + testProject + "/locations/us-central1/publishers/google/models/" + testModel
)

func (f *fakeGoogle) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.t.Errorf("upstream got %s %s, want POST", r.Method, r.URL.Path)
	}
	if r.URL.Path == "/token" {
		f.serveToken(w, r)
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, geminiPath+":"):
		if got := r.Header.Get("x-goog-api-key"); got != testKey {
			f.t.Errorf("gemini request has x-goog-api-key %q, want %q", got, testKey)
		}
		if got := r.Header.Get("Authorization"); got != "" {
			f.t.Errorf("gemini request has Authorization %q", got)
		}
	case strings.HasPrefix(r.URL.Path, vertexPath+":"):
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			f.t.Errorf("vertex request has Authorization %q, want the bearer token", got)
		}
		if got := r.Header.Get("x-goog-api-key"); got != "" {
			f.t.Errorf("vertex request has x-goog-api-key %q", got)
		}
	default:
		f.t.Errorf("upstream got path %s", r.URL.Path)
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such model")
		return
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		f.t.Errorf("Content-Type %q", got)
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.t.Errorf("upstream body is not JSON: %v", err)
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "bad json")
		return
	}
	f.mu.Lock()
	p := r.URL.Path
	if r.URL.RawQuery != "" {
		p += "?" + r.URL.RawQuery
	}
	f.paths = append(f.paths, p)
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	f.respond(w, r)
}

// serveToken is the token endpoint: it verifies the assertion's signature with the service
// account's public key and its claims, then grants testToken for an hour.
func (f *fakeGoogle) serveToken(w http.ResponseWriter, r *http.Request) {
	f.exchanges.Add(1)
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("token request form: %v", err)
	}
	if got := r.PostForm.Get("grant_type"); got != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		f.t.Errorf("grant_type %q", got)
	}
	if err := verifyAssertion(r.PostForm.Get("assertion"), &testRSAKey().PublicKey, f.srv.URL+"/token"); err != nil {
		f.t.Errorf("assertion: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
		return
	}
	if s := f.tokenStatus.Load(); s != 0 {
		w.WriteHeader(int(s))
		_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"`+upstreamSecret+`"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"access_token":"`+testToken+`","expires_in":3599,"token_type":"Bearer"}`)
}

// verifyAssertion checks an RS256 JWT as Google's token endpoint does.
func verifyAssertion(jwt string, pub *rsa.PublicKey, aud string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("not three parts")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return err
	}
	var header struct{ Alg, Typ, Kid string }
	var claims struct {
		Iss, Scope, Aud string
		Iat, Exp        int64
	}
	for i, v := range []any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return err
		}
	}
	switch {
	case header.Alg != "RS256" || header.Kid != "key-id-1":
		return errors.New("bad header")
	case claims.Iss != "gateway@test-project.iam.gserviceaccount.com":
		return errors.New("bad iss " + claims.Iss)
	case claims.Scope != "https://www.googleapis.com/auth/cloud-platform":
		return errors.New("bad scope " + claims.Scope)
	case claims.Aud != aud:
		return errors.New("bad aud " + claims.Aud)
	case claims.Exp-claims.Iat != 3600 || claims.Iat == 0:
		return errors.New("bad iat/exp")
	}
	return nil
}

// requests returns the paths and bodies of the model requests the upstream received.
func (f *fakeGoogle) requests() ([]string, []map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...), append([]map[string]any(nil), f.bodies...)
}

// kinds are the two kinds, run through the same tests.
var kinds = []string{"gemini", "vertex"}

// adapter returns an adapter of kind on the fake whose clock is testNow.
func (f *fakeGoogle) adapter(t *testing.T, kind string) *adapter {
	t.Helper()
	cfg := provider.Config{Kind: kind, BaseURL: f.srv.URL, APIKey: testKey, Model: testModel, HTTPClient: f.srv.Client()}
	newFn := NewGemini
	if kind == "vertex" {
		cfg.APIKey = serviceAccountJSON(t, f.srv.URL+"/token")
		newFn = NewVertex
	}
	a, err := newFn(cfg)
	if err != nil {
		t.Fatalf("New %s: %v", kind, err)
	}
	ad := a.(*adapter)
	ad.now = func() time.Time { return testNow }
	return ad
}

// modelPath is the kind's model path on the fake.
func modelPath(kind string) string {
	if kind == "vertex" {
		return vertexPath
	}
	return geminiPath
}

func writeError(w http.ResponseWriter, status int, st, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": status, "message": msg, "status": st}})
	_, _ = w.Write(b)
}

// respondJSON answers with a documented non-streaming answer.
func respondJSON(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

const minimalAnswer = `{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP","index":0}],
"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":2,"totalTokenCount":12},
"modelVersion":"gemini-2.5-flash","responseId":"resp-1"}`

func decodeRequest(t *testing.T, js string) *chat.Request {
	t.Helper()
	r, err := chat.DecodeRequest([]byte(js))
	if err != nil {
		t.Fatalf("DecodeRequest(%s): %v", js, err)
	}
	return r
}

func jsonValue(t *testing.T, js string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("bad JSON in test: %v\n%s", err, js)
	}
	return v
}

func asAPIErr(t *testing.T, err error) *apierr.Error {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *apierr.Error", err, err)
	}
	return e
}

func TestNew(t *testing.T) {
	client := http.DefaultClient
	sa := serviceAccountJSON(t, "https://oauth2.googleapis.com/token")
	tests := []struct {
		name    string
		kind    string
		cfg     provider.Config
		wantURL string
		wantErr string // a substring of the error; empty means success
	}{
		{"gemini default", "gemini", provider.Config{APIKey: "k", Model: "gemini-2.5-pro", HTTPClient: client},
			"https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro", ""},
		{"gemini models prefix and base", "gemini", provider.Config{BaseURL: "http://localhost:9/", APIKey: "k", Model: "models/gemini-2.5-pro", HTTPClient: client},
			"http://localhost:9/v1beta/models/gemini-2.5-pro", ""},
		{"gemini refuses any setting", "gemini", provider.Config{APIKey: "k", Model: "m", HTTPClient: client, Settings: map[string]string{"location": "us"}},
			"", `unknown setting "location"`},
		{"vertex defaults", "vertex", provider.Config{APIKey: sa, Model: "gemini-2.5-pro", HTTPClient: client},
			"https://us-central1-aiplatform.googleapis.com/v1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-pro", ""},
		{"vertex settings", "vertex", provider.Config{APIKey: sa, Model: "gemini-2.5-pro", HTTPClient: client, Settings: map[string]string{"project": "other-proj", "location": "europe-west4"}},
			"https://europe-west4-aiplatform.googleapis.com/v1/projects/other-proj/locations/europe-west4/publishers/google/models/gemini-2.5-pro", ""},
		{"vertex global", "vertex", provider.Config{APIKey: sa, Model: "gemini-2.5-pro", HTTPClient: client, Settings: map[string]string{"location": "global"}},
			"https://aiplatform.googleapis.com/v1/projects/test-project/locations/global/publishers/google/models/gemini-2.5-pro", ""},
		{"vertex base url", "vertex", provider.Config{BaseURL: "http://127.0.0.1:1", APIKey: sa, Model: "gemini-2.5-pro", HTTPClient: client},
			"http://127.0.0.1:1/v1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-pro", ""},
		{"vertex unknown setting", "vertex", provider.Config{APIKey: sa, Model: "m", HTTPClient: client, Settings: map[string]string{"region": "us"}},
			"", `unknown setting "region"`},
		{"vertex bad location", "vertex", provider.Config{APIKey: sa, Model: "m", HTTPClient: client, Settings: map[string]string{"location": "evil.com/x"}},
			"", `setting "location"`},
		{"vertex bad project", "vertex", provider.Config{APIKey: sa, Model: "m", HTTPClient: client, Settings: map[string]string{"project": "a/b"}},
			"", `setting "project"`},
		{"vertex key not json", "vertex", provider.Config{APIKey: "AIza-not-a-key-file", Model: "m", HTTPClient: client},
			"", "service-account key file"},
		{"vertex key without private key", "vertex", provider.Config{APIKey: `{"type":"service_account","client_email":"a@b"}`, Model: "m", HTTPClient: client},
			"", "private_key"},
		{"no model", "gemini", provider.Config{APIKey: "k", HTTPClient: client}, "", "model is required"},
		{"no key", "vertex", provider.Config{Model: "m", HTTPClient: client}, "", "api key is required"},
		{"no client", "gemini", provider.Config{APIKey: "k", Model: "m"}, "", "http client is required"},
		{"relative base", "gemini", provider.Config{BaseURL: "generativelanguage.googleapis.com", APIKey: "k", Model: "m", HTTPClient: client}, "", "base url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newFn := NewGemini
			if tt.kind == "vertex" {
				newFn = NewVertex
			}
			a, err := newFn(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, want an error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "AIza-not-a-key-file") {
					t.Errorf("error quotes the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := a.(*adapter).modelURL; got != tt.wantURL {
				t.Errorf("model url = %q, want %q", got, tt.wantURL)
			}
			if _, ok := a.(provider.Embedder); !ok {
				t.Errorf("adapter does not implement provider.Embedder")
			}
		})
	}
}

func TestChatAnswers(t *testing.T) {
	tests := []struct {
		name      string
		request   string
		answer    string // Gemini
		want      string // OpenAI
		wantUsage chat.Usage
	}{
		{
			name:    "text",
			request: `{"model":"m","messages":[{"role":"user","content":"Hello"}]}`,
			answer:  minimalAnswer,
			want: `{"id":"resp-1","object":"chat.completion","created":1700000000,"model":"gemini-2.5-flash",
				"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],
				"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,
					"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`,
			wantUsage: chat.Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12,
				PromptTokensDetails: &chat.PromptTokensDetails{}, CompletionTokensDetails: &chat.CompletionTokensDetails{}},
		},
		{
			name:    "usage with cached and thoughts tokens, thought summary left out",
			request: `{"model":"m","messages":[{"role":"user","content":"Think"}]}`,
			answer: `{"candidates":[{"content":{"parts":[{"text":"Let me think...","thought":true},{"text":"42"}],"role":"model"},"finishReason":"STOP"}],
				"usageMetadata":{"promptTokenCount":1000,"candidatesTokenCount":5,"totalTokenCount":1305,"cachedContentTokenCount":800,"thoughtsTokenCount":300},
				"modelVersion":"gemini-2.5-pro","responseId":"resp-2"}`,
			want: `{"id":"resp-2","object":"chat.completion","created":1700000000,"model":"gemini-2.5-pro",
				"choices":[{"index":0,"message":{"role":"assistant","content":"42"},"finish_reason":"stop"}],
				"usage":{"prompt_tokens":1000,"completion_tokens":305,"total_tokens":1305,
					"prompt_tokens_details":{"cached_tokens":800},"completion_tokens_details":{"reasoning_tokens":300}}}`,
			wantUsage: chat.Usage{PromptTokens: 1000, CompletionTokens: 305, TotalTokens: 1305,
				PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: 800}, CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: 300}},
		},
		{
			name:    "function calls finish with tool_calls",
			request: `{"model":"m","messages":[{"role":"user","content":"Weather in Paris and Rome?"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}`,
			answer: `{"candidates":[{"content":{"parts":[{"text":"Checking."},{"functionCall":{"name":"get_weather","args":{"city": "Paris"}}},{"functionCall":{"name":"get_weather","args":{"city":"Rome"}}}],"role":"model"},"finishReason":"STOP"}],
				"usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":10,"totalTokenCount":30},"modelVersion":"gemini-2.5-flash","responseId":"resp-3"}`,
			want: `{"id":"resp-3","object":"chat.completion","created":1700000000,"model":"gemini-2.5-flash",
				"choices":[{"index":0,"message":{"role":"assistant","content":"Checking.","tool_calls":[
					{"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
					{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},"finish_reason":"tool_calls"}],
				"usage":{"prompt_tokens":20,"completion_tokens":10,"total_tokens":30,
					"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`,
			wantUsage: chat.Usage{PromptTokens: 20, CompletionTokens: 10, TotalTokens: 30,
				PromptTokensDetails: &chat.PromptTokensDetails{}, CompletionTokensDetails: &chat.CompletionTokensDetails{}},
		},
		{
			name:    "a Gemini 3 thought signature rides in the call's id",
			request: `{"model":"m","messages":[{"role":"user","content":"Weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}`,
			answer: `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"CiQB0e2Kb/sig=="},{"functionCall":{"name":"get_weather","args":{"city":"Rome"}}}],"role":"model"},"finishReason":"STOP"}],
				"usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":10,"totalTokenCount":30},"modelVersion":"gemini-3-pro-preview","responseId":"resp-sig"}`,
			want: `{"id":"resp-sig","object":"chat.completion","created":1700000000,"model":"gemini-3-pro-preview",
				"choices":[{"index":0,"message":{"role":"assistant","tool_calls":[
					{"id":"call_0__thought__Q2lRQjBlMktiL3NpZz09","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
					{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},"finish_reason":"tool_calls"}],
				"usage":{"prompt_tokens":20,"completion_tokens":10,"total_tokens":30,
					"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`,
			wantUsage: chat.Usage{PromptTokens: 20, CompletionTokens: 10, TotalTokens: 30,
				PromptTokensDetails: &chat.PromptTokensDetails{}, CompletionTokensDetails: &chat.CompletionTokensDetails{}},
		},
		{
			name:    "function call without args or text has null content",
			request: `{"model":"m","messages":[{"role":"user","content":"Time?"}],"tools":[{"type":"function","function":{"name":"now"}}]}`,
			answer:  `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"now"}}],"role":"model"},"finishReason":"STOP"}],"responseId":"r"}`,
			want: `{"id":"r","object":"chat.completion","created":1700000000,"model":"gemini-2.5-flash",
				"choices":[{"index":0,"message":{"role":"assistant","tool_calls":[{"id":"call_0","type":"function","function":{"name":"now","arguments":"{}"}}]},"finish_reason":"tool_calls"}],
				"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0,
					"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`,
			wantUsage: chat.Usage{PromptTokens: 0, PromptTokensDetails: &chat.PromptTokensDetails{}, CompletionTokensDetails: &chat.CompletionTokensDetails{}},
		},
		{
			name:    "safety stop and max tokens across two candidates",
			request: `{"model":"m","messages":[{"role":"user","content":"Hi"}],"n":2}`,
			answer: `{"candidates":[{"finishReason":"SAFETY","safetyRatings":[{"category":"HARM_CATEGORY_HARASSMENT","probability":"HIGH","blocked":true}]},
				{"content":{"parts":[{"text":"Hel"}],"role":"model"},"finishReason":"MAX_TOKENS","index":1}],
				"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4},"responseId":"r4"}`,
			want: `{"id":"r4","object":"chat.completion","created":1700000000,"model":"gemini-2.5-flash",
				"choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"content_filter"},
					{"index":1,"message":{"role":"assistant","content":"Hel"},"finish_reason":"length"}],
				"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4,
					"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`,
			wantUsage: chat.Usage{PromptTokens: 3, CompletionTokens: 1, TotalTokens: 4,
				PromptTokensDetails: &chat.PromptTokensDetails{}, CompletionTokensDetails: &chat.CompletionTokensDetails{}},
		},
		{
			name:    "blocked prompt",
			request: `{"model":"m","messages":[{"role":"user","content":"something bad"}]}`,
			answer:  `{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4},"responseId":"r5"}`,
			want: `{"id":"r5","object":"chat.completion","created":1700000000,"model":"gemini-2.5-flash",
				"choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"content_filter"}],
				"usage":{"prompt_tokens":4,"completion_tokens":0,"total_tokens":4,
					"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`,
			wantUsage: chat.Usage{PromptTokens: 4, TotalTokens: 4, PromptTokensDetails: &chat.PromptTokensDetails{}, CompletionTokensDetails: &chat.CompletionTokensDetails{}},
		},
	}
	for _, kind := range kinds {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				f := newFake(t, respondJSON(tt.answer))
				res, err := f.adapter(t, kind).Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, tt.request)})
				if err != nil {
					t.Fatalf("Chat: %v", err)
				}
				var got map[string]any
				if err := json.Unmarshal(res.JSON, &got); err != nil {
					t.Fatalf("answer is not JSON: %v", err)
				}
				if diff := cmp.Diff(jsonValue(t, tt.want), got); diff != "" {
					t.Errorf("answer (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantUsage, res.Usage); diff != "" {
					t.Errorf("usage (-want +got):\n%s", diff)
				}
				paths, _ := f.requests()
				if want := []string{modelPath(kind) + ":generateContent"}; !cmp.Equal(paths, want) {
					t.Errorf("paths %v, want %v", paths, want)
				}
			})
		}
	}
}

func TestChatBadAnswers(t *testing.T) {
	tests := []struct {
		name     string
		answer   string
		wantCode string
	}{
		{"malformed function call", `{"candidates":[{"finishReason":"MALFORMED_FUNCTION_CALL","finishMessage":"Malformed function call: ` + upstreamSecret + `"}]}`, "upstream_malformed_function_call"},
		{"no candidates", `{"usageMetadata":{"promptTokenCount":1}}`, "upstream_bad_response"},
		{"not json", `<html>` + upstreamSecret, "upstream_bad_response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, respondJSON(tt.answer))
			_, err := f.adapter(t, "gemini").Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`)})
			e := asAPIErr(t, err)
			if e.Kind != apierr.KindUpstreamBadResponse || e.Code != tt.wantCode {
				t.Errorf("error kind %v code %q, want bad response %q", e.Kind, e.Code, tt.wantCode)
			}
			if strings.Contains(e.Message, upstreamSecret) {
				t.Errorf("public message leaks upstream text: %q", e.Message)
			}
		})
	}
}

func TestErrorStatuses(t *testing.T) {
	tests := []struct {
		name           string
		status         int
		body           string
		wantKind       apierr.Kind
		wantHTTP       int
		wantRetryAfter time.Duration
	}{
		{"400 invalid argument", 400, `{"error":{"code":400,"message":"Invalid value at 'contents' ` + upstreamSecret + `","status":"INVALID_ARGUMENT"}}`, apierr.KindInvalidRequest, 400, 0},
		{"400 bad api key", 400, `{"error":{"code":400,"message":"API key not valid. ` + upstreamSecret + `","status":"INVALID_ARGUMENT",
			"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}`, apierr.KindUpstreamBadResponse, 502, 0},
		{"403 permission denied", 403, `{"error":{"code":403,"message":"Permission denied on resource project ` + upstreamSecret + `","status":"PERMISSION_DENIED"}}`, apierr.KindUpstreamBadResponse, 502, 0},
		{"404 not found", 404, `{"error":{"code":404,"message":"models/x is not found ` + upstreamSecret + `","status":"NOT_FOUND"}}`, apierr.KindUpstreamBadResponse, 502, 0},
		{"429 with retry info", 429, `{"error":{"code":429,"message":"Quota exceeded ` + upstreamSecret + `","status":"RESOURCE_EXHAUSTED",
			"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}`, apierr.KindRateLimited, 429, 37 * time.Second},
		{"500 internal", 500, `{"error":{"code":500,"message":"An internal error has occurred ` + upstreamSecret + `","status":"INTERNAL"}}`, apierr.KindUpstreamBadResponse, 502, 0},
		{"503 unavailable", 503, `{"error":{"code":503,"message":"The model is overloaded ` + upstreamSecret + `","status":"UNAVAILABLE"}}`, apierr.KindUpstreamUnavailable, 503, 0},
	}
	for _, kind := range kinds {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					_, _ = io.WriteString(w, tt.body)
				})
				a := f.adapter(t, kind)
				req := decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`)
				_, chatErr := a.Chat(context.Background(), &provider.ChatCall{Request: req})
				_, streamErr := a.ChatStream(context.Background(), &provider.ChatCall{Request: req})
				_, embedErr := a.Embed(context.Background(), &provider.EmbedCall{Request: &chat.EmbeddingRequest{Input: chat.Input{"x"}}})
				for _, err := range []error{chatErr, streamErr, embedErr} {
					e := asAPIErr(t, err)
					if e.Kind != tt.wantKind || e.Kind.HTTPStatus() != tt.wantHTTP {
						t.Errorf("kind %v (HTTP %d), want %v (HTTP %d)", e.Kind, e.Kind.HTTPStatus(), tt.wantKind, tt.wantHTTP)
					}
					if e.RetryAfter != tt.wantRetryAfter {
						t.Errorf("RetryAfter %v, want %v", e.RetryAfter, tt.wantRetryAfter)
					}
					if strings.Contains(e.Message, upstreamSecret) {
						t.Errorf("public message leaks upstream text: %q", e.Message)
					}
					if !strings.Contains(e.Error(), upstreamSecret) {
						t.Errorf("cause lost the upstream text for the log: %v", e)
					}
				}
			})
		}
	}
}

func TestVertexTokenCachedAndShared(t *testing.T) {
	f := newFake(t, respondJSON(minimalAnswer))
	a := f.adapter(t, "vertex")
	ts := a.cred.(*tokenSource)
	var mu sync.Mutex
	now := testNow
	ts.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	req := decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`)

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := a.Chat(context.Background(), &provider.ChatCall{Request: req}); err != nil {
				t.Errorf("Chat: %v", err)
			}
		})
	}
	wg.Wait()
	if got := f.exchanges.Load(); got != 1 {
		t.Fatalf("20 concurrent calls made %d token exchanges, want 1", got)
	}
	// 50 minutes on, the token still has more than the margin left.
	mu.Lock()
	now = testNow.Add(50 * time.Minute)
	mu.Unlock()
	if _, err := a.Chat(context.Background(), &provider.ChatCall{Request: req}); err != nil {
		t.Fatal(err)
	}
	if got := f.exchanges.Load(); got != 1 {
		t.Fatalf("%d exchanges at 50 minutes, want 1", got)
	}
	// 56 minutes on, within five minutes of expiry: a new token.
	mu.Lock()
	now = testNow.Add(56 * time.Minute)
	mu.Unlock()
	for range 3 {
		if _, err := a.Chat(context.Background(), &provider.ChatCall{Request: req}); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.exchanges.Load(); got != 2 {
		t.Fatalf("%d exchanges at 56 minutes, want 2", got)
	}
}

func TestVertexTokenRefused(t *testing.T) {
	f := newFake(t, respondJSON(minimalAnswer))
	f.tokenStatus.Store(http.StatusBadRequest)
	a := f.adapter(t, "vertex")
	req := decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`)
	_, err := a.Chat(context.Background(), &provider.ChatCall{Request: req})
	e := asAPIErr(t, err)
	if e.Kind != apierr.KindUpstreamBadResponse || e.Code != "upstream_auth_failed" || strings.Contains(e.Message, upstreamSecret) {
		t.Errorf("refused token: %+v", e)
	}
	if paths, _ := f.requests(); len(paths) != 0 {
		t.Errorf("model requests without a token: %v", paths)
	}
	// A failure is not cached: once the endpoint recovers, the next call gets a token.
	f.tokenStatus.Store(0)
	if _, err := a.Chat(context.Background(), &provider.ChatCall{Request: req}); err != nil {
		t.Fatalf("Chat after recovery: %v", err)
	}
	if got := f.exchanges.Load(); got != 2 {
		t.Errorf("%d exchanges, want 2", got)
	}
}

func TestVertexTokenWaitCanceled(t *testing.T) {
	release := make(chan struct{})
	var exchanges atomic.Int32
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		exchanges.Add(1)
		<-release
		_, _ = io.WriteString(w, `{"access_token":"t","expires_in":3600}`)
	}))
	defer tokenSrv.Close()
	defer close(release)
	ts, _, err := newTokenSource(serviceAccountJSON(t, tokenSrv.URL), tokenSrv.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = ts.get(ctx)
	if e := asAPIErr(t, err); e.Kind != apierr.KindUpstreamTimeout {
		t.Errorf("canceled wait: %+v", e)
	}
}

func TestEmbeddings(t *testing.T) {
	tests := []struct {
		kind      string
		request   string
		answer    string
		wantPath  string
		wantBody  string
		wantUsage int64
	}{
		{
			kind:     "gemini",
			request:  `{"model":"m","input":["hello","world"],"dimensions":3}`,
			answer:   `{"embeddings":[{"values":[0.1,0.2,0.3]},{"values":[0.4,0.5,0.6]}]}`,
			wantPath: geminiPath + ":batchEmbedContents",
			wantBody: `{"requests":[
				{"model":"models/gemini-2.5-flash","content":{"parts":[{"text":"hello"}]},"outputDimensionality":3},
				{"model":"models/gemini-2.5-flash","content":{"parts":[{"text":"world"}]},"outputDimensionality":3}]}`,
			wantUsage: 0,
		},
		{
			kind:    "vertex",
			request: `{"model":"m","input":["hello","world"],"dimensions":3}`,
			answer: `{"predictions":[{"embeddings":{"statistics":{"truncated":false,"token_count":1},"values":[0.1,0.2,0.3]}},
				{"embeddings":{"statistics":{"truncated":false,"token_count":2.0},"values":[0.4,0.5,0.6]}}],
				"metadata":{"billableCharacterCount":10}}`,
			wantPath:  vertexPath + ":predict",
			wantBody:  `{"instances":[{"content":"hello"},{"content":"world"}],"parameters":{"outputDimensionality":3}}`,
			wantUsage: 3,
		},
	}
	for _, tt := range tests {
		for _, format := range []string{"float", "base64"} {
			t.Run(tt.kind+"/"+format, func(t *testing.T) {
				f := newFake(t, respondJSON(tt.answer))
				req, err := chat.DecodeEmbeddingRequest([]byte(strings.Replace(tt.request, `"m",`, `"m","encoding_format":"`+format+`",`, 1)))
				if err != nil {
					t.Fatal(err)
				}
				res, err := f.adapter(t, tt.kind).Embed(context.Background(), &provider.EmbedCall{Request: req})
				if err != nil {
					t.Fatalf("Embed: %v", err)
				}
				paths, bodies := f.requests()
				if len(paths) != 1 || paths[0] != tt.wantPath {
					t.Fatalf("paths %v, want %s", paths, tt.wantPath)
				}
				if diff := cmp.Diff(jsonValue(t, tt.wantBody), bodies[0]); diff != "" {
					t.Errorf("upstream body (-want +got):\n%s", diff)
				}
				var got struct {
					Object string `json:"object"`
					Model  string `json:"model"`
					Data   []struct {
						Object    string          `json:"object"`
						Index     int             `json:"index"`
						Embedding json.RawMessage `json:"embedding"`
					} `json:"data"`
					Usage chat.Usage `json:"usage"`
				}
				if err := json.Unmarshal(res.JSON, &got); err != nil {
					t.Fatal(err)
				}
				want := [][]float32{{0.1, 0.2, 0.3}, {0.4, 0.5, 0.6}}
				if got.Object != "list" || got.Model != testModel || len(got.Data) != 2 {
					t.Fatalf("answer %s", res.JSON)
				}
				for i, d := range got.Data {
					var v []float32
					if format == "base64" {
						var s string
						if err := json.Unmarshal(d.Embedding, &s); err != nil {
							t.Fatalf("base64 embedding is not a string: %s", d.Embedding)
						}
						v = decodeFloats(t, s)
					} else if err := json.Unmarshal(d.Embedding, &v); err != nil {
						t.Fatal(err)
					}
					if d.Object != "embedding" || d.Index != i || !cmp.Equal(v, want[i]) {
						t.Errorf("data[%d] = %s %d %v, want %v", i, d.Object, d.Index, v, want[i])
					}
				}
				if got.Usage.PromptTokens != tt.wantUsage || got.Usage.TotalTokens != tt.wantUsage || res.Usage.PromptTokens != tt.wantUsage {
					t.Errorf("usage %+v / %+v, want %d", got.Usage, res.Usage, tt.wantUsage)
				}
			})
		}
	}
}

func decodeFloats(t *testing.T, s string) []float32 {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("bad base64 embedding %q: %v", s, err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func TestEmbeddingsCountMismatch(t *testing.T) {
	f := newFake(t, respondJSON(`{"embeddings":[{"values":[0.1]}]}`))
	_, err := f.adapter(t, "gemini").Embed(context.Background(), &provider.EmbedCall{Request: &chat.EmbeddingRequest{Input: chat.Input{"a", "b"}}})
	if e := asAPIErr(t, err); e.Kind != apierr.KindUpstreamBadResponse {
		t.Errorf("mismatch: %+v", e)
	}
}

func TestTransportError(t *testing.T) {
	f := newFake(t, respondJSON(minimalAnswer))
	a := f.adapter(t, "gemini")
	f.srv.Close()
	_, err := a.Chat(context.Background(), &provider.ChatCall{Request: decodeRequest(t, `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`)})
	if e := asAPIErr(t, err); e.Kind != apierr.KindUpstreamUnavailable {
		t.Errorf("closed server: %+v", e)
	}
}
