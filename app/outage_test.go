package app

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
	"github.com/llmgw/llmgw/store/pgtest"
)

// tcpProxy forwards connections to a database or a control plane so a test can cut it off
// (stop) or stall it (pause: every byte is held, connections stay open).
type tcpProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	paused atomic.Bool
}

// pause holds (on) or releases every byte in both directions.
func (p *tcpProxy) pause(on bool) { p.paused.Store(on) }

// pipe copies src to dst, holding bytes while the proxy is paused.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.paused.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go p.pipe(u, c)
			go p.pipe(c, u)
		}
	}()
	t.Cleanup(func() { p.pause(false); p.stop() })
	return p
}

// stop refuses new connections and cuts the open ones: the database is gone.
func (p *tcpProxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// proxiedDSN returns dsn with its host replaced by a proxy's.
func proxiedDSN(t *testing.T, dsn string) (string, *tcpProxy) {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := newTCPProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	return u.String(), p
}

func TestPostgresNeedsMigrateFirst(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg, err := parseFlags("serve", []string{"--db", dsn, "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), cfg, func(string) string { return "" }, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "llmgw migrate") {
		t.Fatalf("serve on an unmigrated Postgres: %v; want an error that says to run llmgw migrate", err)
	}
}

func TestInferenceSurvivesDatabaseOutage(t *testing.T) {
	dsn, db := proxiedDSN(t, pgtest.DSN(t))
	dataDir := t.TempDir()
	var out strings.Builder
	if err := Run(context.Background(), []string{"migrate", "--db", dsn, "--data-dir", dataDir}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("llmgw migrate: %v", err)
	}
	// Running it again is a no-op.
	if err := Run(context.Background(), []string{"migrate", "--db", dsn, "--data-dir", dataDir}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("second llmgw migrate: %v", err)
	}
	g := startGateway(t, nil, "--db", dsn, "--data-dir", dataDir)
	ctx := context.Background()
	admin := adminv1connect.NewAdminServiceClient(h2cClient(), g.URL, connect.WithInterceptors(bearer(g.Token)))
	if _, err := admin.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "dana"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateAuthzRule(ctx, &adminv1.CreateAuthzRuleRequest{AuthzRule: &adminv1.AuthzRule{Name: "dana-mock", Models: []string{"mock/*"}, Users: []string{"dana"}}}); err != nil {
		t.Fatal(err)
	}
	k, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{Name: "k", Owner: &adminv1.ApiKey_User{User: "dana"}}})
	if err != nil {
		t.Fatal(err)
	}
	client := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(k.GetSecret()), option.WithMaxRetries(0))
	chat := func() error {
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "mock/echo",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("still here")},
		})
		if err == nil && resp.Choices[0].Message.Content != "still here" {
			t.Errorf("content %q", resp.Choices[0].Message.Content)
		}
		return err
	}
	if err := chat(); err != nil {
		t.Fatalf("before the outage: %v", err)
	}

	db.stop()

	for i := range 20 {
		if err := chat(); err != nil {
			t.Fatalf("request %d during the outage failed: %v", i, err)
		}
	}
	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    "mock/echo",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("streaming without a database")},
	})
	var text strings.Builder
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if stream.Err() != nil || text.String() != "streaming without a database" {
		t.Errorf("stream during the outage: %q, %v", text.String(), stream.Err())
	}
	resp, body := g.do(t, "GET", "/readyz", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"database":"unreachable"`) {
		t.Errorf("readyz during the outage: %d %s", resp.StatusCode, body)
	}
	// Admin calls fail cleanly with 503 / unavailable and say why (the control plane needs its
	// database); the data plane is unaffected.
	const unreachable = "configuration database unreachable; inference continues on the last configuration"
	_, err = admin.CreateUser(ctx, &adminv1.CreateUserRequest{User: &adminv1.User{Name: "erin"}})
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeUnavailable || ce.Message() != unreachable {
		t.Errorf("a Connect write during the outage: %v; want unavailable: %s", err, unreachable)
	}
	_, err = admin.RotateApiKey(ctx, &adminv1.RotateApiKeyRequest{Id: k.GetApiKey().GetId()})
	if !errors.As(err, &ce) || ce.Code() != connect.CodeUnavailable || ce.Message() != unreachable {
		t.Errorf("a key rotation during the outage: %v; want unavailable: %s", err, unreachable)
	}
	_, err = admin.ListUsers(ctx, &adminv1.ListUsersRequest{})
	if !errors.As(err, &ce) || ce.Code() != connect.CodeUnavailable || ce.Message() != unreachable {
		t.Errorf("a Connect read during the outage: %v; want unavailable: %s", err, unreachable)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v1/users", `{"name":"erin"}`},
		{"GET", "/api/v1/users", ""},
	} {
		resp, body := g.do(t, c.method, c.path, g.Token, c.body)
		if resp.StatusCode != 503 || !strings.Contains(body, unreachable) {
			t.Errorf("REST %s %s during the outage: %d %s; want 503: %s", c.method, c.path, resp.StatusCode, body, unreachable)
		}
		if strings.Contains(body, "127.0.0.1") || strings.Contains(strings.ToLower(body), "sql") {
			t.Errorf("REST %s %s leaks database details: %s", c.method, c.path, body)
		}
	}
	if err := chat(); err != nil {
		t.Fatalf("after a failed write: %v", err)
	}
}
