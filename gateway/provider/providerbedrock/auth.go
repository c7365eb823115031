package providerbedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/llmgw/llmgw/gateway/provider"
)

const (
	// DefaultRoleSessionName is the RoleSessionName of AssumeRole when the role_session_name
	// setting is not given.
	DefaultRoleSessionName = "llmgw"
	// roleDuration is the lifetime asked of STS for assumed-role credentials.
	roleDuration = time.Hour
	// refreshMargin is how long before their expiry assumed-role credentials are replaced, so
	// that no request is signed with credentials that expire while it runs.
	refreshMargin = 5 * time.Minute
	// maxSTSBody bounds how much of an STS answer is read.
	maxSTSBody = 64 << 10
)

// credentialSource yields the credentials a request is signed with.
type credentialSource interface {
	retrieve(ctx context.Context) (aws.Credentials, error)
}

// staticCredentials are an IAM user's (or a caller-provided session's) long-lived keys.
type staticCredentials struct {
	creds aws.Credentials
}

func (s staticCredentials) retrieve(context.Context) (aws.Credentials, error) { return s.creds, nil }

// parseSecret reads the APIKey: the plain secret access key, or a JSON object
// {"secret_access_key": "...", "session_token": "..."} for temporary credentials. Errors never
// quote the key.
func parseSecret(key string) (secret, token string, err error) {
	trimmed := strings.TrimSpace(key)
	if !strings.HasPrefix(trimmed, "{") {
		return key, "", nil
	}
	var v struct {
		SecretAccessKey string `json:"secret_access_key"`
		SessionToken    string `json:"session_token"`
	}
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if dec.Decode(&v) != nil || dec.More() {
		return "", "", errors.New(`api key starts with "{" but is not a JSON object with only secret_access_key and session_token`)
	}
	if v.SecretAccessKey == "" {
		return "", "", errors.New("api key JSON has no secret_access_key")
	}
	return v.SecretAccessKey, v.SessionToken, nil
}

// cachedCredentials are assumed-role credentials and the time to replace them.
type cachedCredentials struct {
	creds     aws.Credentials
	refreshAt time.Time
}

// roleCredentials assume an IAM role with STS and cache the temporary credentials until
// refreshMargin before they expire. It is safe for concurrent use: requests read the cache
// without locking, and one request at a time refreshes it while the others wait for it (or for
// their own context).
type roleCredentials struct {
	base        aws.Credentials
	region      string
	roleARN     string
	externalID  string
	sessionName string
	signer      *v4.Signer
	client      *http.Client
	// endpoint is STS's URL, https://sts.{region}.amazonaws.com/. It is a field so that tests
	// can point it at a fake STS; nothing else sets it.
	endpoint string
	// now is the clock for expiry and signing; a field so that tests can move it.
	now func() time.Time

	cache   atomic.Pointer[cachedCredentials]
	refresh chan struct{} // a one-slot lock held while calling STS
}

func newRoleCredentials(base aws.Credentials, region, roleARN, externalID, sessionName string, client *http.Client, signer *v4.Signer) *roleCredentials {
	if sessionName == "" {
		sessionName = DefaultRoleSessionName
	}
	return &roleCredentials{
		base:        base,
		region:      region,
		roleARN:     roleARN,
		externalID:  externalID,
		sessionName: sessionName,
		signer:      signer,
		client:      client,
		endpoint:    "https://sts." + region + ".amazonaws.com/",
		now:         time.Now,
		refresh:     make(chan struct{}, 1),
	}
}

// retrieve returns the cached credentials, assuming the role again when they are due for
// replacement. If that fails while the cached credentials have not yet expired, it returns
// them: a brief STS outage must not fail requests that can still be signed.
func (r *roleCredentials) retrieve(ctx context.Context) (aws.Credentials, error) {
	if c := r.cache.Load(); c != nil && r.now().Before(c.refreshAt) {
		return c.creds, nil
	}
	select {
	case r.refresh <- struct{}{}:
	case <-ctx.Done():
		return aws.Credentials{}, provider.TransportError(ctx, ctx.Err())
	}
	defer func() { <-r.refresh }()
	old := r.cache.Load()
	if old != nil && r.now().Before(old.refreshAt) {
		return old.creds, nil // another request refreshed while this one waited
	}
	creds, err := r.assumeRole(ctx)
	if err != nil {
		if old != nil && r.now().Before(old.creds.Expires) {
			return old.creds, nil
		}
		return aws.Credentials{}, err
	}
	refreshAt := creds.Expires.Add(-refreshMargin)
	if now := r.now(); !refreshAt.After(now) {
		// Credentials shorter-lived than the margin: use them for half their remaining life.
		refreshAt = now.Add(creds.Expires.Sub(now) / 2)
	}
	r.cache.Store(&cachedCredentials{creds: creds, refreshAt: refreshAt})
	return creds, nil
}

// assumeRole calls STS AssumeRole (query protocol, XML answer) signed with the base credentials.
func (r *roleCredentials) assumeRole(ctx context.Context) (aws.Credentials, error) {
	form := url.Values{
		"Action":          {"AssumeRole"},
		"Version":         {"2011-06-15"},
		"RoleArn":         {r.roleARN},
		"RoleSessionName": {r.sessionName},
		"DurationSeconds": {fmt.Sprint(int(roleDuration / time.Second))},
	}
	if r.externalID != "" {
		form.Set("ExternalId", r.externalID)
	}
	body := []byte(form.Encode())
	// The STS exchange is not the target's request: it gets no header override.
	req, err := http.NewRequestWithContext(provider.WithoutHeaderOverride(ctx), http.MethodPost, r.endpoint, bytes.NewReader(body))
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("bedrock: build sts request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if err := sign(ctx, r.signer, r.base, req, body, "sts", r.region, r.now()); err != nil {
		return aws.Credentials{}, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return aws.Credentials{}, provider.TransportError(ctx, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSTSBody))
	if err != nil {
		return aws.Credentials{}, provider.TransportError(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		return aws.Credentials{}, stsError(resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	var out assumeRoleResponse
	if err := xml.Unmarshal(b, &out); err != nil {
		return aws.Credentials{}, provider.BadResponse(fmt.Errorf("decode sts AssumeRole answer: %w", err))
	}
	c := out.Result.Credentials
	expires, err := time.Parse(time.RFC3339, strings.TrimSpace(c.Expiration))
	if err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" {
		return aws.Credentials{}, provider.BadResponse(errors.New("sts AssumeRole answer lacks credentials or their expiration"))
	}
	return aws.Credentials{
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		SessionToken:    c.SessionToken,
		Source:          "AssumeRole",
		CanExpire:       true,
		Expires:         expires,
	}, nil
}

// sign signs req, whose body is body, with SigV4 for service in region at time t. A session
// token is sent as X-Amz-Security-Token.
func sign(ctx context.Context, signer *v4.Signer, creds aws.Credentials, req *http.Request, body []byte, service, region string, t time.Time) error {
	sum := sha256.Sum256(body)
	if err := signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, region, t); err != nil {
		return fmt.Errorf("bedrock: sign request: %w", err)
	}
	return nil
}
