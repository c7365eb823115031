package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
	inferencev1 "github.com/llmgw/llmgw/gen/go/llmgw/inference/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/inference/v1/inferencev1connect"
)

// leakWindow is the length of the pieces of a canary the leak test looks for: any piece
// found is a leak, so a key cut short (the first half of it in a clipped excerpt) counts too.
const leakWindow = 16

// vertexTokenMarker starts every access token the Vertex fake issues (ya29.conformance-...),
// a secret the gateway derives from its service-account key.
const vertexTokenMarker = "ya29.conformance-"

// TestNoSecretLeaks runs a gateway whose provider accounts hold canary keys (one per row,
// every adapter kind the matrix covers) against fakes whose error bodies quote the key they
// were sent, provokes every upstream failure (each error status, 529, a malformed answer, an
// error event in the middle of a stream, a cut stream) through every client surface (OpenAI
// chat completions and responses, Anthropic messages, Connect inference; streamed and not),
// and reads the Admin listings. No canary, nor any 16-byte piece of one, may appear in the
// log (text and JSON formats, at debug level, with the request log) or in anything a client
// received.
func TestNoSecretLeaks(t *testing.T) {
	providers := Providers()
	canaries := canaryValues(t, providers)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			got := &lockedBuffer{} // everything clients received
			var gw *gateway
			// Registered first, so it runs last: after the gateway has shut down and logged
			// all it will.
			t.Cleanup(func() {
				logs := gw.logs.String()
				for _, leak := range leaks(logs, canaries) {
					t.Errorf("the log (%s) holds %s", format, leak)
				}
				for _, leak := range leaks(got.String(), canaries) {
					t.Errorf("a client received %s", leak)
				}
				// The failures were logged, with what the upstream said masked: the test
				// reached the paths it means to check.
				for _, want := range []string{"request failed", "upstream_status", "upstream status 401", "[REDACTED]", "Incorrect API key provided"} {
					if !strings.Contains(logs, want) {
						t.Errorf("the log (%s) has no %q: the failures were not logged as expected", format, want)
					}
				}
			})
			gw = startGateway(t, providers, "--log-format", format, "--log-level", "debug", "--request-log=true")
			scenarios := []string{ScenarioCut, ScenarioMalformed, ScenarioStreamError}
			for _, status := range append(ErrorStatuses, LeakStatuses...) {
				scenarios = append(scenarios, ScenarioErrorPrefix+strconv.Itoa(status))
			}
			inference := inferencev1connect.NewInferenceServiceClient(http.DefaultClient, gw.url, connect.WithInterceptors(bearerToken(adminToken)))
			for _, p := range providers {
				t.Run(p.Name, func(t *testing.T) {
					t.Parallel()
					for _, s := range scenarios {
						model := slug(p.Name) + "/" + s
						for _, stream := range []bool{false, true} {
							for _, r := range surfaceRequests(model, stream) {
								_, _ = got.Write([]byte(r.send(t, gw.url)))
							}
							_, _ = got.Write([]byte(connectChat(t, inference, model, stream)))
						}
					}
				})
			}
			t.Run("admin listings", func(t *testing.T) {
				t.Parallel()
				for _, path := range []string{"/api/v1/provider-accounts", "/api/v1/models"} {
					body := (&surfaceRequest{method: http.MethodGet, path: path}).send(t, gw.url)
					_, _ = got.Write([]byte(body))
					if path == "/api/v1/provider-accounts" && !strings.Contains(body, `"hasApiKey":true`) {
						t.Errorf("the account listing does not say the keys are stored: %.300s", body)
					}
				}
				admin := adminv1connect.NewAdminServiceClient(http.DefaultClient, gw.url, connect.WithInterceptors(bearerToken(adminToken)))
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				accounts, err := admin.ListProviderAccounts(ctx, &adminv1.ListProviderAccountsRequest{})
				if err != nil {
					t.Fatalf("ListProviderAccounts: %v", err)
				}
				models, err := admin.ListModels(ctx, &adminv1.ListModelsRequest{})
				if err != nil {
					t.Fatalf("ListModels: %v", err)
				}
				for _, m := range []interface{ String() string }{accounts, models} {
					_, _ = got.Write([]byte(m.String()))
				}
				for _, a := range accounts.GetProviderAccounts() {
					if a.GetApiKey() != "" {
						t.Errorf("account %s is listed with its api_key", a.GetName())
					}
				}
			})
		})
	}
}

// canaryValues are the secrets of the rows: every value in their Env, and for a JSON value
// (the Vertex service-account key file) the lines of its private key.
func canaryValues(t *testing.T, providers []Provider) []string {
	t.Helper()
	var out []string
	for _, p := range providers {
		for _, v := range p.Env {
			var keyFile struct {
				PrivateKey string `json:"private_key"`
			}
			if json.Unmarshal([]byte(v), &keyFile) != nil {
				out = append(out, v)
				continue
			}
			for _, line := range strings.Split(keyFile.PrivateKey, "\n") {
				if len(line) >= leakWindow && !strings.HasPrefix(line, "-----") {
					out = append(out, line)
				}
			}
		}
	}
	if len(out) < len(providers) {
		t.Fatalf("only %d canaries for %d rows", len(out), len(providers))
	}
	return out
}

// leaks lists the canaries of which text holds a piece of leakWindow bytes, and the Vertex
// access tokens it holds.
func leaks(text string, canaries []string) []string {
	var out []string
	for _, c := range canaries {
		for i := 0; i+leakWindow <= len(c); i++ {
			if j := strings.Index(text, c[i:i+leakWindow]); j >= 0 {
				out = append(out, fmt.Sprintf("a piece of the canary %q: ...%s...", c, text[max(0, j-80):min(len(text), j+80)]))
				break
			}
		}
	}
	if j := strings.Index(text, vertexTokenMarker); j >= 0 {
		out = append(out, fmt.Sprintf("a Vertex access token: ...%s...", text[max(0, j-80):min(len(text), j+80)]))
	}
	return out
}

// surfaceRequest is one raw HTTP request to the gateway.
type surfaceRequest struct {
	method, path string
	header       map[string]string
	body         string
}

// surfaceRequests are the requests of model on every HTTP surface.
func surfaceRequests(model string, stream bool) []*surfaceRequest {
	anthropicHeaders := map[string]string{"X-Api-Key": adminToken, "Anthropic-Version": "2023-06-01"}
	s := strconv.FormatBool(stream)
	return []*surfaceRequest{
		{method: http.MethodPost, path: "/v1/chat/completions", body: `{"model":"` + model + `","stream":` + s + `,"messages":[{"role":"user","content":"hi"}]}`},
		{method: http.MethodPost, path: "/v1/responses", body: `{"model":"` + model + `","stream":` + s + `,"input":"hi"}`},
		{method: http.MethodPost, path: "/v1/messages", header: anthropicHeaders, body: `{"model":"` + model + `","stream":` + s + `,"max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`},
	}
}

// send sends r with the admin token and returns all the client received: status, headers and
// body (to its end, streams included).
func (r *surfaceRequest) send(t *testing.T, base string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.method, base+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", r.method, r.path, err)
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Logf("%s %s %s: reading the answer: %v", r.method, r.path, r.body, err) // a stream the gateway ended abruptly
	}
	var head strings.Builder
	_ = resp.Header.Write(&head)
	return fmt.Sprintf("%s %s -> %s\n%s\n%s\n", r.method, r.path, resp.Status, head.String(), b)
}

// connectChat sends model a chat request over Connect, streamed or not, and returns what the
// client received: the answers as JSON, or the error.
func connectChat(t *testing.T, c inferencev1connect.InferenceServiceClient, model string, stream bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := &inferencev1.ChatCompletionRequest{Model: model, Messages: []*inferencev1.Message{
		{Role: inferencev1.Role_ROLE_USER, Content: []*inferencev1.ContentPart{{Part: &inferencev1.ContentPart_Text{Text: "hi"}}}},
	}}
	var b strings.Builder
	if !stream {
		resp, err := c.ChatCompletion(ctx, req)
		if err != nil {
			fmt.Fprintf(&b, "connect %s: %v %v\n", model, err, connectDetails(err))
			return b.String()
		}
		b.WriteString(protojson.Format(resp))
		return b.String()
	}
	st, err := c.StreamChatCompletion(ctx, &inferencev1.StreamChatCompletionRequest{Request: req})
	if err != nil {
		return fmt.Sprintf("connect stream %s: %v %v\n", model, err, connectDetails(err))
	}
	defer st.Close()
	for st.Receive() {
		b.WriteString(protojson.Format(st.Msg()))
	}
	if err := st.Err(); err != nil {
		fmt.Fprintf(&b, "connect stream %s: %v %v\n", model, err, connectDetails(err))
	}
	return b.String()
}

// connectDetails is the text of a Connect error's details and metadata.
func connectDetails(err error) string {
	ce, ok := err.(*connect.Error)
	if !ok {
		return ""
	}
	var b strings.Builder
	for _, d := range ce.Details() {
		b.WriteString(string(d.Bytes()))
	}
	_ = ce.Meta().Write(&b)
	return b.String()
}

// bearerToken sends token as a bearer token on every Connect call, unary and streaming.
type bearerToken string

func (b bearerToken) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearerToken) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearerToken) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
