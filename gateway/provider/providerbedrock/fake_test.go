package providerbedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

const (
	testKeyID  = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testRegion = "us-west-2"
	// testModel is an inference profile id: its ":" must be escaped in the path.
	testModel = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
	// testModelPath is how Bedrock expects testModel in the path.
	testModelPath = "/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/"
	// upstreamSecret is planted in upstream error messages; it must never reach a public message.
	upstreamSecret = "upstream-secret-detail"
)

var testNow = time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)

// authPattern is the shape of a SigV4 Authorization header.
var authPattern = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$`)

// checkSigV4 fails t unless r, whose body is body, carries a valid SigV4 signature.
func checkSigV4(t *testing.T, r *http.Request, body []byte, creds aws.Credentials, service, region string, at time.Time) {
	t.Helper()
	if err := verifySigV4(r, body, creds, service, region, at); err != nil {
		t.Error(err)
	}
}

// verifySigV4 checks that r, whose body is body, carries a well-formed SigV4 signature by creds
// for service in region, made at at, and that recomputing it gives the same one.
func verifySigV4(r *http.Request, body []byte, creds aws.Credentials, service, region string, at time.Time) error {
	auth := r.Header.Get("Authorization")
	m := authPattern.FindStringSubmatch(auth)
	if m == nil {
		return fmt.Errorf("authorization %q is not a SigV4 header", auth)
	}
	if date, want := r.Header.Get("X-Amz-Date"), at.Format("20060102T150405Z"); date != want {
		return fmt.Errorf("X-Amz-Date = %q, want %q", date, want)
	}
	if want := fmt.Sprintf("%s/%s/%s/%s/aws4_request", creds.AccessKeyID, at.Format("20060102"), region, service); m[1] != want {
		return fmt.Errorf("credential = %q, want %q", m[1], want)
	}
	signed := strings.Split(m[2], ";")
	wantSigned := []string{"host", "x-amz-date"}
	if creds.SessionToken != "" {
		wantSigned = append(wantSigned, "x-amz-security-token")
		if got := r.Header.Get("X-Amz-Security-Token"); got != creds.SessionToken {
			return fmt.Errorf("X-Amz-Security-Token = %q, want %q", got, creds.SessionToken)
		}
	} else if got := r.Header.Get("X-Amz-Security-Token"); got != "" {
		return fmt.Errorf("X-Amz-Security-Token = %q, want none", got)
	}
	for _, h := range wantSigned {
		if !contains(signed, h) {
			return fmt.Errorf("SignedHeaders %q lack %s", m[2], h)
		}
	}

	// Recompute the signature from what arrived, as AWS does.
	u, err := url.Parse("http://" + r.Host + r.RequestURI)
	if err != nil {
		return fmt.Errorf("parse request uri: %w", err)
	}
	re, err := http.NewRequest(r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("rebuild request: %w", err)
	}
	re.URL = u
	re.Host = r.Host
	for _, h := range signed {
		if h != "host" && h != "content-length" && h != "x-amz-date" && h != "x-amz-security-token" {
			re.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, re, sha256Hex(body), service, region, at); err != nil {
		return fmt.Errorf("re-sign: %w", err)
	}
	if want := re.Header.Get("Authorization"); auth != want {
		return fmt.Errorf("signature does not verify:\n got  %s\n want %s", auth, want)
	}
	return nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// recorded is one request the fake received.
type recorded struct {
	path string // as sent, escaped
	body []byte
}

// fakeBedrock is the Bedrock runtime: it checks every request's signature (with creds) and
// records its path and body, then answers with respond.
type fakeBedrock struct {
	t       *testing.T
	srv     *httptest.Server
	respond http.HandlerFunc

	mu    sync.Mutex
	creds aws.Credentials
	reqs  []recorded
}

func newFake(t *testing.T, respond http.HandlerFunc) *fakeBedrock {
	t.Helper()
	f := &fakeBedrock{t: t, respond: respond, creds: aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeBedrock) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read body: %v", err)
		return
	}
	if r.Method != http.MethodPost {
		f.t.Errorf("method = %s, want POST", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("Content-Type = %q, want application/json", ct)
	}
	f.mu.Lock()
	creds := f.creds
	f.reqs = append(f.reqs, recorded{path: r.URL.EscapedPath(), body: body})
	f.mu.Unlock()
	checkSigV4(f.t, r, body, creds, "bedrock", testRegion, testNow)
	if !json.Valid(body) {
		f.t.Errorf("body is not JSON: %s", body)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.respond(w, r)
}

// requests returns what the fake received.
func (f *fakeBedrock) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// expectCreds sets the credentials requests must be signed with.
func (f *fakeBedrock) expectCreds(c aws.Credentials) {
	f.mu.Lock()
	f.creds = c
	f.mu.Unlock()
}

// config returns a config for model on the fake.
func (f *fakeBedrock) config(model string) provider.Config {
	return provider.Config{
		Kind:       "bedrock",
		BaseURL:    f.srv.URL,
		APIKey:     testSecret,
		Model:      model,
		Settings:   map[string]string{SettingRegion: testRegion, SettingAccessKeyID: testKeyID},
		HTTPClient: f.srv.Client(),
	}
}

// adapterFor builds the adapter for cfg with its clocks fixed at testNow.
func adapterFor(t *testing.T, cfg provider.Config) provider.Adapter {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var ad *adapter
	switch v := a.(type) {
	case *adapter:
		ad = v
	case *embedAdapter:
		ad = v.adapter
	}
	ad.now = func() time.Time { return testNow }
	if rc, ok := ad.creds.(*roleCredentials); ok {
		rc.now = func() time.Time { return testNow }
	}
	return a
}

// chatAdapter returns an adapter for testModel on the fake.
func (f *fakeBedrock) chatAdapter(t *testing.T) provider.Adapter {
	t.Helper()
	return adapterFor(t, f.config(testModel))
}

// respondJSON answers with a documented Converse (or InvokeModel) JSON body.
func respondJSON(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-RequestId", "0b1a6f8e-0c2f-4a0b-9d7e-2f1f1c3d4e5f")
		_, _ = io.WriteString(w, body)
	}
}

// respondError answers as Bedrock answers an error.
func respondError(status int, typ string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", typ+":http://internal.amazon.com/coral/com.amazon.bedrock/")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"message":"%s: %s"}`, typ, upstreamSecret)
	}
}

// frame encodes one eventstream message with string headers.
func frame(t *testing.T, payload string, headers ...string) []byte {
	t.Helper()
	var m eventstream.Message
	for i := 0; i+1 < len(headers); i += 2 {
		m.Headers.Set(headers[i], eventstream.StringValue(headers[i+1]))
	}
	m.Payload = []byte(payload)
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, m); err != nil {
		t.Fatalf("encode frame: %v", err)
	}
	return buf.Bytes()
}

// event encodes a ConverseStream event.
func event(t *testing.T, typ, payload string) []byte {
	t.Helper()
	return frame(t, payload, ":message-type", "event", ":event-type", typ, ":content-type", "application/json")
}

// exception encodes a ConverseStream exception event.
func exception(t *testing.T, typ string) []byte {
	t.Helper()
	return frame(t, `{"message":"`+upstreamSecret+`"}`, ":message-type", "exception", ":exception-type", typ, ":content-type", "application/json")
}

// respondStream answers with eventstream frames, each flushed on its own.
func respondStream(frames ...[]byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Accept"); got != "application/vnd.amazon.eventstream" {
			http.Error(w, "bad accept "+got, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		w.Header().Set("X-Amzn-RequestId", "req-stream-1")
		for _, f := range frames {
			_, _ = w.Write(f)
			w.(http.Flusher).Flush()
		}
	}
}

func decodeRequest(t *testing.T, js string) *chat.Request {
	t.Helper()
	r, err := chat.DecodeRequest([]byte(js))
	if err != nil {
		t.Fatalf("DecodeRequest(%s): %v", js, err)
	}
	return r
}

func jsonValue(t *testing.T, js string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, js)
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

// call is a chat call with the request js.
func call(t *testing.T, js string) *provider.ChatCall {
	t.Helper()
	return &provider.ChatCall{Request: decodeRequest(t, js)}
}

const simpleRequest = `{"model":"client-name","messages":[{"role":"user","content":"Hi"}]}`

// minimalAnswer is a documented Converse answer.
const minimalAnswer = `{"output":{"message":{"role":"assistant","content":[{"text":"Hello"}]}},"stopReason":"end_turn",
"usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":120}}`
