package providerbedrock

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/llmgw/llmgw/gateway/provider"
)

// The settings the adapter reads from provider.Config.Settings. Any other key is refused.
const (
	// SettingRegion is the AWS region of the Bedrock runtime endpoint, such as "us-east-1".
	// Required.
	SettingRegion = "region"
	// SettingAccessKeyID is the access key id whose secret access key is provider.Config.APIKey.
	// Required.
	SettingAccessKeyID = "access_key_id"
	// SettingRoleARN is an IAM role to assume with STS AssumeRole before calling Bedrock.
	SettingRoleARN = "role_arn"
	// SettingExternalID is the ExternalId of AssumeRole; it requires SettingRoleARN.
	SettingExternalID = "external_id"
	// SettingRoleSessionName is the RoleSessionName of AssumeRole, [DefaultRoleSessionName]
	// when not given; it requires SettingRoleARN.
	SettingRoleSessionName = "role_session_name"
)

// signingService is the SigV4 service name of the Bedrock runtime.
const signingService = "bedrock"

const (
	// maxErrorBody bounds how much of an error answer is read (for the log only).
	maxErrorBody = 64 << 10
	// maxResponseBody bounds a non-streaming answer; a longer one is a bad response.
	maxResponseBody = 16 << 20
)

// regionPattern accepts AWS region names; it keeps a setting from changing the endpoint's host.
var regionPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)

// adapter is one Bedrock model. It holds no per-request state.
type adapter struct {
	base         *url.URL // the runtime endpoint; its path is a prefix
	model        string   // the model id, inference profile id or ARN
	escapedModel string   // model escaped as one path segment
	region       string
	creds        credentialSource
	signer       *v4.Signer
	client       *http.Client
	now          func() time.Time // signing time and the created time of answers; a field so tests can fix it
}

var _ provider.Adapter = (*adapter)(nil)

// New returns an adapter for the Bedrock model cfg.Model: a foundation model id, an inference
// profile id such as "us.anthropic.claude-3-5-sonnet-20240620-v1:0", or an ARN. The settings
// are documented on the Setting constants; cfg.APIKey is the secret access key, plain or as
// JSON (see the package doc). cfg.BaseURL overrides the runtime endpoint
// https://bedrock-runtime.{region}.amazonaws.com. cfg.HTTPClient is required.
//
// When the model is an embeddings model (see the package doc) the adapter also implements
// provider.Embedder. The adapter is safe for concurrent use.
func New(cfg provider.Config) (provider.Adapter, error) {
	a, err := newAdapter(cfg)
	if err != nil {
		return nil, err
	}
	if f := embedFamilyOf(cfg.Model); f != embedNone {
		return &embedAdapter{adapter: a, family: f}, nil
	}
	return a, nil
}

func newAdapter(cfg provider.Config) (*adapter, error) {
	if err := checkSettings(cfg.Settings); err != nil {
		return nil, err
	}
	region := cfg.Settings[SettingRegion]
	keyID := cfg.Settings[SettingAccessKeyID]
	roleARN := cfg.Settings[SettingRoleARN]
	switch {
	case cfg.Model == "":
		return nil, errors.New("bedrock: model is required")
	case cfg.HTTPClient == nil:
		return nil, errors.New("bedrock: http client is required")
	case region == "":
		return nil, errors.New("bedrock: setting region is required")
	case !regionPattern.MatchString(region):
		return nil, fmt.Errorf("bedrock: setting region %q is not an AWS region name", region)
	case keyID == "":
		return nil, errors.New("bedrock: setting access_key_id is required")
	case cfg.APIKey == "":
		return nil, errors.New("bedrock: api key (the secret access key) is required")
	case roleARN == "" && (cfg.Settings[SettingExternalID] != "" || cfg.Settings[SettingRoleSessionName] != ""):
		return nil, errors.New("bedrock: settings external_id and role_session_name need role_arn")
	}
	secret, token, err := parseSecret(cfg.APIKey)
	if err != nil {
		return nil, fmt.Errorf("bedrock: %w", err)
	}
	base := cfg.BaseURL
	if base == "" {
		base = "https://bedrock-runtime." + region + ".amazonaws.com"
	}
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("bedrock: base url %q must be an absolute http or https url without a query", base)
	}
	client := provider.NoRedirects(cfg.HTTPClient)
	signer := v4.NewSigner()
	static := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret, SessionToken: token, Source: "llmgw provider account"}
	var creds credentialSource = staticCredentials{creds: static}
	if roleARN != "" {
		// One assumed role per credential and role, kept across rebuilds, whatever model uses it.
		key := provider.CredentialKey("bedrock-role", keyID, secret, token, region, roleARN, cfg.Settings[SettingExternalID], cfg.Settings[SettingRoleSessionName])
		creds = provider.SharedCredential(cfg.Credentials, key, func() *roleCredentials {
			return newRoleCredentials(static, region, roleARN, cfg.Settings[SettingExternalID], cfg.Settings[SettingRoleSessionName], client, signer)
		})
	}
	return &adapter{
		base:         u,
		model:        cfg.Model,
		escapedModel: escapeSegment(cfg.Model),
		region:       region,
		creds:        creds,
		signer:       signer,
		client:       client,
		now:          time.Now,
	}, nil
}

// checkSettings refuses keys the adapter does not read, naming the first in sorted order.
func checkSettings(settings map[string]string) error {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case SettingRegion, SettingAccessKeyID, SettingRoleARN, SettingExternalID, SettingRoleSessionName:
		case "session_token", "secret_access_key":
			return fmt.Errorf(`bedrock: setting %q is a secret and settings are not: give it in the api key as {"secret_access_key":...,"session_token":...}`, k)
		default:
			return fmt.Errorf("bedrock: unknown setting %q; known: region, access_key_id, role_arn, external_id, role_session_name", k)
		}
	}
	return nil
}

// escapeSegment escapes s as one URI path segment the way AWS does: every byte but the
// unreserved characters, so ":" and "/" in inference profile ids and ARNs are escaped too.
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// url returns the URL of the model's operation op ("converse", "converse-stream", "invoke").
func (a *adapter) url(op string) *url.URL {
	u := *a.base
	u.Path = a.base.Path + "/model/" + a.model + "/" + op
	// With RawPath a valid encoding of Path, Go sends RawPath as written, and the signer
	// signs it (escaped once more, as SigV4 wants for every service but S3).
	u.RawPath = a.base.EscapedPath() + "/model/" + a.escapedModel + "/" + op
	return &u
}

// post signs and sends body to the model's operation op and returns the response if its status
// is 2xx; the caller closes its body.
func (a *adapter) post(ctx context.Context, op, accept string, body []byte) (*http.Response, error) {
	creds, err := a.creds.retrieve(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url(op).String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("bedrock: build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	if err := sign(ctx, a.signer, creds, req, body, signingService, a.region, a.now()); err != nil {
		return nil, err
	}
	resp, err := provider.Send(a.client, req)
	if err != nil {
		return nil, provider.TransportError(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, statusError(resp.StatusCode, resp.Header, b)
	}
	return resp, nil
}

// Chat sends a Converse request and returns the answer as a chat.completion.
func (a *adapter) Chat(ctx context.Context, c *provider.ChatCall) (*provider.ChatResult, error) {
	body, err := encodeChat(c)
	if err != nil {
		return nil, err
	}
	resp, err := a.post(ctx, "converse", "application/json", body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := provider.ReadAnswer(ctx, resp, maxResponseBody)
	if err != nil {
		return nil, err
	}
	var m converseResponse
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, provider.BadResponse(fmt.Errorf("decode converse answer: %w", err))
	}
	if m.Output.Message == nil {
		return nil, provider.BadResponse(errors.New("converse answer has no output.message"))
	}
	out, u, err := completion(&m, completionID(resp.Header), a.model, a.now())
	if err != nil {
		return nil, err
	}
	return &provider.ChatResult{JSON: out, Usage: u}, nil
}

// ChatStream sends a ConverseStream request and returns its events as OpenAI chunks. The
// caller closes the stream.
func (a *adapter) ChatStream(ctx context.Context, c *provider.ChatCall) (provider.ChatStream, error) {
	body, err := encodeChat(c)
	if err != nil {
		return nil, err
	}
	resp, err := a.post(ctx, "converse-stream", "application/vnd.amazon.eventstream", body)
	if err != nil {
		return nil, err
	}
	return newStream(ctx, resp.Body, completionID(resp.Header), a.model, a.now().Unix()), nil
}

// encodeChat translates the call's request into a Converse request body.
func encodeChat(c *provider.ChatCall) ([]byte, error) {
	if c == nil || c.Request == nil {
		return nil, errors.New("bedrock: chat call has no request")
	}
	r, err := translateRequest(c.Request)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("bedrock: encode request: %w", err)
	}
	return b, nil
}

// completionID names an answer. Converse answers carry no id, so it is made of Bedrock's
// request id (x-amzn-RequestId), or of random bytes when there is none.
func completionID(h http.Header) string {
	if id := h.Get("X-Amzn-Requestid"); id != "" {
		return "chatcmpl-" + id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "chatcmpl-" + hex.EncodeToString(b[:])
}
