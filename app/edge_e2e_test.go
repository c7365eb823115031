package app

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// lazyBody produces n bytes of a JSON-looking body without holding them, and counts how many
// the transport took, so a test sees how much of it the server read.
type lazyBody struct {
	n, sent int64
	taken   atomic.Int64
	prefix  []byte
}

func (b *lazyBody) Read(p []byte) (int, error) {
	if b.sent >= b.n {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n-b.sent {
		p = p[:b.n-b.sent]
	}
	i := 0
	for ; i < len(p) && b.sent+int64(i) < int64(len(b.prefix)); i++ {
		p[i] = b.prefix[b.sent+int64(i)]
	}
	for ; i < len(p); i++ {
		p[i] = 'a'
	}
	b.sent += int64(len(p))
	b.taken.Add(int64(len(p)))
	return len(p), nil
}

// route is one way into the gateway, with the headers its protocol needs.
type route struct {
	name, path, contentType string
	grpc                    bool // the answer's code is in grpc-status, not the HTTP status
}

func bodyRoutes() []route {
	return []route{
		{name: "openai chat", path: "/v1/chat/completions", contentType: "application/json"},
		{name: "anthropic messages", path: "/v1/messages", contentType: "application/json"},
		{name: "files upload", path: "/v1/files", contentType: "multipart/form-data; boundary=x"},
		{name: "connect inference", path: "/llmgw.inference.v1.InferenceService/ChatCompletion", contentType: "application/json"},
		{name: "grpc inference", path: "/llmgw.inference.v1.InferenceService/ChatCompletion", contentType: "application/grpc", grpc: true},
		{name: "grpc-web inference", path: "/llmgw.inference.v1.InferenceService/ChatCompletion", contentType: "application/grpc-web+proto", grpc: true},
		{name: "connect admin", path: "/llmgw.admin.v1.AdminService/CreateUser", contentType: "application/json"},
		{name: "grpc admin", path: "/llmgw.admin.v1.AdminService/CreateUser", contentType: "application/grpc", grpc: true},
		{name: "rest inference", path: "/api/v1/inference/chat-completions", contentType: "application/json"},
		{name: "rest admin", path: "/api/v1/users", contentType: "application/json"},
		{name: "connect usage", path: "/llmgw.usage.v1.UsageService/ListRequests", contentType: "application/json"},
		{name: "grpc usage", path: "/llmgw.usage.v1.UsageService/ListRequests", contentType: "application/grpc", grpc: true},
		{name: "rest usage", path: "/api/v1/usage/requests:search", contentType: "application/json"},
	}
}

// send posts body to rt with key (none when empty); chunked says whether to hide the length.
// It returns the HTTP status and, for gRPC, the grpc-status.
func send(t *testing.T, client *http.Client, base string, rt route, key string, body io.Reader, length int64) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+rt.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length // -1: chunked (HTTP/1.1) or no length (HTTP/2)
	req.Header.Set("Content-Type", rt.contentType)
	if rt.grpc {
		req.Header.Set("TE", "trailers")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", rt.name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	code := resp.Trailer.Get("Grpc-Status")
	if code == "" {
		code = resp.Header.Get("Grpc-Status")
	}
	return resp.StatusCode, code
}

// grpcFrame is a gRPC length-prefixed message of n payload bytes, the payload left lazy.
func grpcFrame(n int64) io.Reader {
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[1:], uint32(n))
	return io.MultiReader(bytes.NewReader(hdr[:]), &lazyBody{n: n})
}

func clientFor(rt route) *http.Client {
	if rt.grpc {
		return h2cClient()
	}
	return http.DefaultClient
}

// TestUnauthenticatedBodiesAreNeverRead sends a 200 MiB body without a key to every route:
// each answers unauthenticated from the headers, reads at most a little of the body, and the
// process allocates no more than a few MiB for it.
func TestUnauthenticatedBodiesAreNeverRead(t *testing.T) {
	f := newFixture(t)
	const size = 200 << 20
	for _, rt := range bodyRoutes() {
		t.Run(rt.name, func(t *testing.T) {
			var lb *lazyBody
			var body io.Reader
			if rt.grpc {
				lb = &lazyBody{n: size}
				var hdr [5]byte
				binary.BigEndian.PutUint32(hdr[1:], size)
				body = io.MultiReader(bytes.NewReader(hdr[:]), lb)
			} else {
				lb = &lazyBody{n: size, prefix: []byte(`{"model":"fake/gpt","messages":[{"role":"user","content":"`)}
				body = lb
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			status, grpcStatus := send(t, clientFor(rt), f.g.URL, rt, "", body, -1)
			runtime.ReadMemStats(&after)
			if rt.grpc {
				if grpcStatus != "16" { // UNAUTHENTICATED
					t.Errorf("grpc-status %q (HTTP %d), want 16", grpcStatus, status)
				}
			} else if status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", status)
			}
			if taken := lb.taken.Load(); taken > 8<<20 {
				t.Errorf("the client sent %d MiB of the body before the answer; want the body left unread", taken>>20)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
				t.Errorf("the process allocated %d MiB for one unauthenticated request, want at most 8", grew>>20)
			}
		})
	}
}

// TestOversizedBodiesAre413 sends a body one byte over --max-body (64 KiB in the fixture), with
// a valid key, declared and undeclared, to every route: each refuses it as too large, in its
// protocol's dialect (413; resource_exhausted on gRPC), never 429 and never a 200.
func TestOversizedBodiesAre413(t *testing.T) {
	f := newFixture(t)
	const limit = 65536
	for _, rt := range bodyRoutes() {
		if rt.path == "/v1/files" {
			continue // bounded by --max-file: TestBatchesThroughTheGateway
		}
		for _, declared := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s declared=%v", rt.name, declared), func(t *testing.T) {
				n := int64(limit + 1)
				var body io.Reader = &lazyBody{n: n, prefix: []byte(`{"model":"fake/gpt","messages":[{"role":"user","content":"`)}
				length := n
				if rt.grpc {
					body, length = grpcFrame(n), n+5
				}
				if !declared {
					length = -1
				}
				status, grpcStatus := send(t, clientFor(rt), f.g.URL, rt, f.g.Token, body, length)
				if rt.grpc {
					if grpcStatus != "8" { // RESOURCE_EXHAUSTED
						t.Errorf("grpc-status %q (HTTP %d), want 8", grpcStatus, status)
					}
				} else if status != http.StatusRequestEntityTooLarge {
					t.Errorf("status %d, want 413", status)
				}
			})
		}
	}
}

// TestRESTInferenceCarriesTheBodyLimit: the REST hop to the gRPC service used to refuse bodies
// over gRPC's default 4 MiB with a 429; it carries --max-body (32 MiB by default) both ways.
func TestRESTInferenceCarriesTheBodyLimit(t *testing.T) {
	g := startGateway(t, nil)
	content := strings.Repeat("word ", 1<<20) // 5 MiB, echoed back: 5 MiB each way
	body := fmt.Sprintf(`{"model":"mock/echo","messages":[{"role":"ROLE_USER","content":[{"text":%q}]}]}`, content)
	resp, out := g.do(t, "POST", "/api/v1/inference/chat-completions", g.Token, body)
	if resp.StatusCode != 200 || !strings.Contains(out, "word word") || len(out) < 5<<20 {
		t.Fatalf("5 MiB through REST: %d, %d bytes: %.200s", resp.StatusCode, len(out), out)
	}
	big := fmt.Sprintf(`{"model":"mock/echo","messages":[{"role":"ROLE_USER","content":[{"text":%q}]}]}`, strings.Repeat("x", 32<<20))
	resp, out = g.do(t, "POST", "/api/v1/inference/chat-completions", g.Token, big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("33 MiB through REST: %d %.200s, want 413", resp.StatusCode, out)
	}
}

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestEveryRequestLeavesOneRecord: refused requests (400, 401, 403, 404, 413, 429) and
// successful ones on every surface leave exactly one record, found by the server's request id
// (returned as X-Request-Id): with the status, the principal (or "unauthenticated" and only
// the key's display prefix), the model asked for, and the client's own id kept apart.
func TestEveryRequestLeavesOneRecord(t *testing.T) {
	f := newFixture(t)
	chat := func(model string) string {
		return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}]}`, model)
	}
	connectChat := func(model string) string {
		return fmt.Sprintf(`{"model":%q,"messages":[{"role":"ROLE_USER","content":[{"text":"hi"}]}]}`, model)
	}
	badKey := "llmgw-NotAKeyOfThisGatewayAtAll0123456789"
	tests := []struct {
		name, path, key, body string
		wantStatus            int
		wantRecordStatus      string
		wantPrincipal         string
		wantKeyPrefix         string
		wantModel             string
		wantSurface           string
		wantOp                string
	}{
		{"401 bad key", "/v1/chat/completions", badKey, chat("fake/gpt"), 401, "invalid_api_key", "unauthenticated", "llmgw-NotAKe", "", "openai", ""},
		{"401 provider key sent by mistake", "/v1/chat/completions", "sk-proj-abcdefghijklmnopqrstuvwxyz", chat("fake/gpt"), 401, "invalid_api_key", "unauthenticated", "", "", "openai", ""},
		{"400 malformed", "/v1/chat/completions", f.alice, `{"model":`, 400, "invalid_request_error", "user:alice", "", "", "openai", ""},
		{"403 not allowed", "/v1/chat/completions", f.bob, chat("fake/gpt"), 403, "model_not_allowed", "user:bob", "", "fake/gpt", "openai", ""},
		{"404 unknown model", "/v1/chat/completions", f.alice, chat("fake/nope"), 404, "model_not_found", "user:alice", "", "fake/nope", "openai", ""},
		{"413 too large", "/v1/chat/completions", f.alice, chat(strings.Repeat("x", 70000)), 413, "request_too_large", "user:alice", "", "", "openai", ""},
		{"429 upstream", "/v1/chat/completions", f.g.Token, chat("fake/err429"), 429, "upstream_rate_limited", "admin", "", "fake/err429", "openai", "chat"},
		{"200 with the admin token", "/v1/chat/completions", f.g.Token, chat("fake/gpt"), 200, "ok", "admin", "", "fake/gpt", "openai", "chat"},
		{"200 model list", "/v1/models", f.alice, "", 200, "ok", "user:alice", "", "", "openai", ""},
		{"anthropic 401", "/v1/messages", "", `{"model":"fake/gpt","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, 401, "invalid_api_key", "unauthenticated", "", "", "anthropic", ""},
		{"anthropic 404", "/v1/messages", f.alice, `{"model":"fake/nope","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, 404, "model_not_found", "user:alice", "", "fake/nope", "anthropic", ""},
		{"connect 401", "/llmgw.inference.v1.InferenceService/ChatCompletion", badKey, connectChat("fake/gpt"), 401, "invalid_api_key", "unauthenticated", "llmgw-NotAKe", "", "connect", ""},
		{"connect 403", "/llmgw.inference.v1.InferenceService/ChatCompletion", f.bob, connectChat("fake/gpt"), 403, "model_not_allowed", "user:bob", "", "fake/gpt", "connect", ""},
		{"connect 200", "/llmgw.inference.v1.InferenceService/ChatCompletion", f.alice, connectChat("fake/gpt"), 200, "ok", "user:alice", "", "fake/gpt", "connect", "chat"},
		{"rest 401", "/api/v1/inference/chat-completions", "", connectChat("fake/gpt"), 401, "invalid_api_key", "unauthenticated", "", "", "rest", ""},
		{"rest 400 undecodable", "/api/v1/inference/chat-completions", f.alice, `{"model":`, 400, "invalid_request_error", "user:alice", "", "", "rest", ""},
		{"rest 404", "/api/v1/inference/chat-completions", f.alice, connectChat("fake/nope"), 404, "model_not_found", "user:alice", "", "fake/nope", "rest", ""},
		{"rest 200", "/api/v1/inference/chat-completions", f.alice, connectChat("fake/gpt"), 200, "ok", "user:alice", "", "fake/gpt", "rest", "chat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodPost
			if tt.body == "" {
				method = http.MethodGet
			}
			req, _ := http.NewRequest(method, f.g.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Request-Id", "client-id-"+tt.name)
			if tt.key != "" {
				req.Header.Set("Authorization", "Bearer "+tt.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, out)
			}
			id := resp.Header.Get("X-Request-Id")
			if !uuidV7.MatchString(id) {
				t.Fatalf("X-Request-Id %q, want a server-made UUIDv7", id)
			}
			ev := f.g.Events.waitFor(t, id)
			if ev.RequestID != id || ev.ClientRequestID != "client-id-"+tt.name {
				t.Errorf("ids %q / %q, want %q / the client's", ev.RequestID, ev.ClientRequestID, id)
			}
			if ev.HTTPStatus != tt.wantStatus || ev.Status != tt.wantRecordStatus || ev.Principal != tt.wantPrincipal ||
				ev.KeyPrefix != tt.wantKeyPrefix || ev.Model != tt.wantModel || ev.Surface != tt.wantSurface || ev.Operation != tt.wantOp {
				t.Errorf("record %+v\nwant status %d %q, principal %q, key prefix %q, model %q, surface %q, op %q",
					ev, tt.wantStatus, tt.wantRecordStatus, tt.wantPrincipal, tt.wantKeyPrefix, tt.wantModel, tt.wantSurface, tt.wantOp)
			}
		})
	}
	// Nothing of a refused key but its display prefix reaches the log.
	if logs := f.g.Logs.String(); strings.Contains(logs, badKey) || strings.Contains(logs, "sk-proj-abcdefghijklmnop") {
		t.Error("a refused key reached the log")
	}
}

// TestRequestIDsAreTheServers: a client that reuses one X-Request-Id gets a different server
// id each time, on every surface; its own id is kept only as the client id.
func TestRequestIDsAreTheServers(t *testing.T) {
	g := startGateway(t, nil)
	paths := map[string]string{
		"/v1/chat/completions": `{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}`,
		"/v1/messages":         `{"model":"mock/echo","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
		"/llmgw.inference.v1.InferenceService/ChatCompletion": `{"model":"mock/echo","messages":[{"role":"ROLE_USER","content":[{"text":"hi"}]}]}`,
		"/api/v1/inference/chat-completions":                  `{"model":"mock/echo","messages":[{"role":"ROLE_USER","content":[{"text":"hi"}]}]}`,
	}
	seen := map[string]bool{}
	for path, body := range paths {
		for range 2 {
			req, _ := http.NewRequest(http.MethodPost, g.URL+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+g.Token)
			req.Header.Set("X-Request-Id", "reused")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			id := resp.Header.Get("X-Request-Id")
			if resp.StatusCode != 200 || !uuidV7.MatchString(id) || seen[id] {
				t.Fatalf("%s: %d, X-Request-Id %q (seen before: %v)", path, resp.StatusCode, id, seen[id])
			}
			seen[id] = true
			if ev := g.Events.waitFor(t, id); ev.ClientRequestID != "reused" || ev.Operation != "chat" {
				t.Errorf("%s: record %+v", path, ev)
			}
		}
	}
	// gRPC carries it as response metadata.
	status, _ := send(t, h2cClient(), g.URL, route{name: "grpc", path: "/llmgw.inference.v1.InferenceService/ListModels", contentType: "application/grpc", grpc: true}, g.Token, grpcFrame(0), 5)
	if status != 200 {
		t.Fatalf("grpc ListModels: %d", status)
	}
	// A client id that is not printable ASCII, or too long, is dropped.
	for _, bad := range []string{strings.Repeat("a", 129), "bad\x80id"} {
		req, _ := http.NewRequest(http.MethodGet, g.URL+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer "+g.Token)
		req.Header["X-Request-Id"] = []string{bad}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ev := g.Events.waitFor(t, resp.Header.Get("X-Request-Id")); ev.ClientRequestID != "" {
			t.Errorf("client id %q kept", ev.ClientRequestID)
		}
	}
}

// TestSlowBodiesAreCutOff: a client that stops sending its body is answered 408 once
// --read-timeout passes, on /v1 and on Connect, instead of holding the request open.
func TestSlowBodiesAreCutOff(t *testing.T) {
	g := startGateway(t, nil, "--read-timeout", "300ms")
	for _, path := range []string{"/v1/chat/completions", "/llmgw.inference.v1.InferenceService/ChatCompletion", "/api/v1/inference/chat-completions"} {
		t.Run(path, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\":", path, g.Token)
			// The body stalls here. The server must answer by itself; the test's own bound is
			// only there so that a failure does not hang.
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer to a stalled body: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Errorf("status %d, want 408", resp.StatusCode)
			}
		})
	}
}
