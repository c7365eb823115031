package providerbedrock

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/provider"
)

// TestVerifySigV4 shows that the fake's signature check fails on a request it must refuse.
func TestVerifySigV4(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	body := []byte(`{"messages":[]}`)
	signed := func(t *testing.T, c aws.Credentials, region string) *http.Request {
		t.Helper()
		r, err := http.NewRequest(http.MethodPost, "http://bedrock.test"+testModelPath+"converse", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/json")
		if err := v4.NewSigner().SignHTTP(context.Background(), c, r, sha256Hex(body), "bedrock", region, testNow); err != nil {
			t.Fatal(err)
		}
		r.RequestURI = r.URL.RequestURI()
		return r
	}
	if err := verifySigV4(signed(t, creds, testRegion), body, creds, "bedrock", testRegion, testNow); err != nil {
		t.Fatalf("a valid signature fails the check: %v", err)
	}
	tests := []struct {
		name   string
		req    *http.Request
		body   []byte
		expect aws.Credentials
		region string
	}{
		{"tampered body", signed(t, creds, testRegion), []byte(`{"messages":[1]}`), creds, testRegion},
		{"wrong secret", signed(t, aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: "other"}, testRegion), body, creds, testRegion},
		{"wrong region", signed(t, creds, "eu-west-1"), body, creds, testRegion},
		{"missing session token", signed(t, creds, testRegion), body, aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: "tok"}, testRegion},
	}
	tests = append(tests, struct {
		name   string
		req    *http.Request
		body   []byte
		expect aws.Credentials
		region string
	}{"unsigned", func() *http.Request { r := signed(t, creds, testRegion); r.Header.Del("Authorization"); return r }(), body, creds, testRegion})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := verifySigV4(tt.req, tt.body, tt.expect, "bedrock", tt.region, testNow); err == nil {
				t.Errorf("check passed, want it to fail")
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	tests := []struct {
		key                   string
		wantSecret, wantToken string
		wantErr               bool
	}{
		{key: testSecret, wantSecret: testSecret},
		{key: `{"secret_access_key":"s3cr3t","session_token":"tok"}`, wantSecret: "s3cr3t", wantToken: "tok"},
		{key: ` {"secret_access_key":"s3cr3t"} `, wantSecret: "s3cr3t"},
		{key: `{"session_token":"tok"}`, wantErr: true},
		{key: `{"secret_access_key":"s3cr3t","extra":1}`, wantErr: true},
		{key: `{"secret_access_key":"s3cr3t"`, wantErr: true},
	}
	for _, tt := range tests {
		secret, token, err := parseSecret(tt.key)
		if tt.wantErr {
			if err == nil {
				t.Errorf("parseSecret(%q) succeeded, want an error", tt.key)
			} else if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("parseSecret error %q quotes the secret", err)
			}
			continue
		}
		if err != nil || secret != tt.wantSecret || token != tt.wantToken {
			t.Errorf("parseSecret(%q) = %q, %q, %v; want %q, %q", tt.key, secret, token, err, tt.wantSecret, tt.wantToken)
		}
	}
}

func TestSessionToken(t *testing.T) {
	f := newFake(t, respondJSON(minimalAnswer))
	f.expectCreds(aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: "temp-secret", SessionToken: "FwoGZXIvYXdzEXAMPLE"})
	cfg := f.config(testModel)
	cfg.APIKey = `{"secret_access_key":"temp-secret","session_token":"FwoGZXIvYXdzEXAMPLE"}`
	if _, err := adapterFor(t, cfg).Chat(context.Background(), call(t, simpleRequest)); err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Fatalf("upstream got %d requests, want 1", n)
	}
}

// testClock is a clock tests move; safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeSTS is STS's AssumeRole: it checks the signature (by the base keys) and the form, and
// issues credentials numbered by call, valid for an hour from the clock's time.
type fakeSTS struct {
	t     *testing.T
	srv   *httptest.Server
	clock *testClock

	mu         sync.Mutex
	calls      int
	failStatus int // when set, answer this status with an STS error
}

func newFakeSTS(t *testing.T, clock *testClock) *fakeSTS {
	t.Helper()
	s := &fakeSTS{t: t, clock: clock}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// tempCreds are the credentials of the n-th AssumeRole call.
func tempCreds(n int) aws.Credentials {
	return aws.Credentials{AccessKeyID: fmt.Sprintf("ASIATEMP%d", n), SecretAccessKey: fmt.Sprintf("temp-secret-%d", n), SessionToken: fmt.Sprintf("temp-token-%d", n)}
}

func (s *fakeSTS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	checkSigV4(s.t, r, body, aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}, "sts", testRegion, s.clock.now())
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.t.Errorf("sts body is not a form: %v", err)
	}
	want := url.Values{
		"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {"arn:aws:iam::123456789012:role/bedrock-invoker"},
		"RoleSessionName": {"gateway-eu"}, "ExternalId": {"ext-42"}, "DurationSeconds": {"3600"},
	}
	for k, v := range want {
		if got := form.Get(k); got != v[0] {
			s.t.Errorf("sts form %s = %q, want %q", k, got, v[0])
		}
	}
	s.mu.Lock()
	s.calls++
	n, fail := s.calls, s.failStatus
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	if fail != 0 {
		w.WriteHeader(fail)
		code := "AccessDenied"
		if fail >= 500 {
			code = "ServiceUnavailable"
		}
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, code, upstreamSecret)
		return
	}
	c := tempCreds(n)
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>gw</SourceIdentity>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/bedrock-invoker/gateway-eu</Arn><AssumedRoleId>AROA3XFRBF535PLBIFPI4:gateway-eu</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <SessionToken>%s</SessionToken>
      <SecretAccessKey>%s</SecretAccessKey>
      <Expiration>%s</Expiration>
      <AccessKeyId>%s</AccessKeyId>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>`, c.SessionToken, c.SecretAccessKey, s.clock.now().Add(time.Hour).Format(time.RFC3339), c.AccessKeyID)
}

func (s *fakeSTS) numCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *fakeSTS) fail(status int) {
	s.mu.Lock()
	s.failStatus = status
	s.mu.Unlock()
}

// roleAdapter returns an adapter on f that assumes the test role with sts, on clock.
func roleAdapter(t *testing.T, f *fakeBedrock, sts *fakeSTS, clock *testClock) provider.Adapter {
	t.Helper()
	cfg := f.config(testModel)
	cfg.Settings[SettingRoleARN] = "arn:aws:iam::123456789012:role/bedrock-invoker"
	cfg.Settings[SettingExternalID] = "ext-42"
	cfg.Settings[SettingRoleSessionName] = "gateway-eu"
	a := adapterFor(t, cfg)
	rc := a.(*adapter).creds.(*roleCredentials)
	rc.endpoint = sts.srv.URL + "/"
	rc.now = clock.now
	return a
}

func TestAssumeRole(t *testing.T) {
	clock := &testClock{t: testNow}
	sts := newFakeSTS(t, clock)
	f := newFake(t, respondJSON(minimalAnswer))
	a := roleAdapter(t, f, sts, clock)
	chatOK := func(t *testing.T) {
		t.Helper()
		if _, err := a.Chat(context.Background(), call(t, simpleRequest)); err != nil {
			t.Fatalf("Chat: %v", err)
		}
	}

	// Concurrent first requests share one AssumeRole.
	f.expectCreds(tempCreds(1))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { chatOK(t) })
	}
	wg.Wait()
	chatOK(t)
	if n := sts.numCalls(); n != 1 {
		t.Fatalf("AssumeRole called %d times for 9 requests, want 1", n)
	}

	// Shortly before expiry the credentials are replaced.
	clock.add(54 * time.Minute)
	chatOK(t)
	if n := sts.numCalls(); n != 1 {
		t.Fatalf("AssumeRole called %d times 6 minutes before expiry, want 1", n)
	}
	clock.add(2 * time.Minute) // 4 minutes before expiry
	f.expectCreds(tempCreds(2))
	chatOK(t)
	chatOK(t)
	if n := sts.numCalls(); n != 2 {
		t.Fatalf("AssumeRole called %d times, want 2 after the refresh", n)
	}

	// STS down while the cached credentials are still valid: they are used.
	clock.add(56 * time.Minute) // credentials 2 expire in 4 minutes
	sts.fail(http.StatusServiceUnavailable)
	chatOK(t)

	// STS down and the credentials expired: the request fails, without upstream text.
	clock.add(5 * time.Minute)
	_, err := a.Chat(context.Background(), call(t, simpleRequest))
	e := asAPIErr(t, err)
	if e.Kind != apierr.KindUpstreamUnavailable {
		t.Errorf("kind = %v, want upstream unavailable", e.Kind)
	}
	if strings.Contains(e.Message, upstreamSecret) {
		t.Errorf("public message %q shows upstream text", e.Message)
	}
	if n := len(f.requests()); n != 13 {
		t.Errorf("bedrock got %d requests, want 13 (none after the failed AssumeRole)", n)
	}
}

func TestAssumeRoleDenied(t *testing.T) {
	clock := &testClock{t: testNow}
	sts := newFakeSTS(t, clock)
	sts.fail(http.StatusForbidden)
	f := newFake(t, respondJSON(minimalAnswer))
	a := roleAdapter(t, f, sts, clock)
	_, err := a.Chat(context.Background(), call(t, simpleRequest))
	e := asAPIErr(t, err)
	if e.Kind != apierr.KindUpstreamBadResponse || e.Code != "upstream_auth_failed" {
		t.Errorf("error kind %v code %q, want upstream bad response upstream_auth_failed", e.Kind, e.Code)
	}
	if strings.Contains(e.Message, upstreamSecret) || strings.Contains(e.Message, "AccessDenied") {
		t.Errorf("public message %q shows upstream text", e.Message)
	}
	if !strings.Contains(e.Error(), "AccessDenied") {
		t.Errorf("cause %q lacks the STS error code", e.Error())
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("bedrock got %d requests, want none", n)
	}
}
