package admin_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/services/admin"
)

// stepClock returns a time step later at every call: a test request's latency is one step.
func stepClock(step time.Duration) func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(step)
		return t
	}
}

// TestTestModel sends TestModel's request through the adapter the data plane built for each
// model, against the fake OpenAI upstream: an answer is ok with its status and latency; a
// failure gives the upstream's status and a sanitized class, never its text (the leaky model's
// error quotes a key); a hanging upstream is cut at the timeout.
func TestTestModel(t *testing.T) {
	fake := providertest.NewOpenAI(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens there any more
	cfg := &snapshot.Config{
		Accounts: []snapshot.Account{
			{Name: "acme", Provider: "openai", BaseURL: fake.URL + "/v1", APIKey: "sk-test-key"},
			{Name: "gone", Provider: "openai", BaseURL: closed.URL + "/v1", APIKey: "sk-test-key"},
			{Name: "broken", Provider: "no-such-provider", BaseURL: fake.URL + "/v1"},
		},
		Models: []snapshot.Model{
			{Account: "acme", Name: "ok", UpstreamModel: "gpt-4o-mini"},
			{Account: "acme", Name: "leaky", UpstreamModel: providertest.ModelLeaky},
			{Account: "acme", Name: "busy", UpstreamModel: providertest.ModelErrorPrefix + "429"},
			{Account: "acme", Name: "down", UpstreamModel: providertest.ModelErrorPrefix + "503"},
			{Account: "acme", Name: "hang", UpstreamModel: providertest.ModelHang},
			{Account: "acme", Name: "garbled", UpstreamModel: providertest.ModelGarbled},
			{Account: "gone", Name: "m"},
			{Account: "broken", Name: "m"},
		},
		VirtualModels: []snapshot.VirtualModel{{Account: "team", Name: "chat", Strategy: snapshot.RoutingPriority, Targets: []snapshot.VirtualTarget{snapshot.NewTarget("acme/ok")}}},
	}
	var snaps snapshot.Holder
	snaps.Store(snapshot.Compile(cfg, registry.New(http.DefaultClient), nil, slog.New(slog.DiscardHandler)))
	c := newGovernanceClient(t, admin.WithModelTest(&snaps, 2*time.Second, stepClock(42*time.Millisecond)))
	ctx := t.Context()

	for _, tt := range []struct {
		model string
		want  *adminv1.TestModelResponse
	}{
		{"acme/ok", &adminv1.TestModelResponse{Ok: true, HttpStatus: 200, Latency: durationpb.New(42 * time.Millisecond)}},
		{"acme/leaky", &adminv1.TestModelResponse{HttpStatus: 401, ErrorClass: "auth_failed", Latency: durationpb.New(42 * time.Millisecond)}},
		{"acme/busy", &adminv1.TestModelResponse{HttpStatus: 429, ErrorClass: "rate_limited", Latency: durationpb.New(42 * time.Millisecond)}},
		{"acme/down", &adminv1.TestModelResponse{HttpStatus: 503, ErrorClass: "unavailable", Latency: durationpb.New(42 * time.Millisecond)}},
		{"acme/garbled", &adminv1.TestModelResponse{ErrorClass: "bad_response", Latency: durationpb.New(42 * time.Millisecond)}},
		{"gone/m", &adminv1.TestModelResponse{ErrorClass: "unreachable", Latency: durationpb.New(42 * time.Millisecond)}},
		{"broken/m", &adminv1.TestModelResponse{ErrorClass: "invalid_config", Latency: durationpb.New(0)}},
	} {
		t.Run(tt.model, func(t *testing.T) {
			resp, err := c.TestModel(ctx, &adminv1.TestModelRequest{Model: tt.model})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, resp, protocmp.Transform()); d != "" {
				t.Errorf("TestModel(%s) (-want +got):\n%s", tt.model, d)
			}
			if b, _ := protojson.Marshal(resp); strings.Contains(string(b), providertest.LeakedKey) || strings.Contains(string(b), "sk-") {
				t.Errorf("TestModel(%s) answered upstream text: %s", tt.model, b)
			}
		})
	}

	// The request is one tiny chat with the model's own upstream name and key.
	var sent *providertest.Request
	for _, r := range fake.Requests() {
		if r.Body["model"] == "gpt-4o-mini" {
			sent = &r
		}
	}
	if sent == nil || sent.Authorization != "Bearer sk-test-key" || sent.Body["max_tokens"] != float64(16) || !strings.Contains(string(sent.Raw), `"ping"`) {
		t.Errorf("the upstream got %+v; want one ping of at most 16 tokens to gpt-4o-mini with the account's key", sent)
	}

	t.Run("timeout", func(t *testing.T) {
		c := newGovernanceClient(t, admin.WithModelTest(&snaps, 50*time.Millisecond, nil))
		resp, err := c.TestModel(ctx, &adminv1.TestModelRequest{Model: "acme/hang"})
		if err != nil || resp.GetOk() || resp.GetErrorClass() != "timeout" || resp.GetHttpStatus() != 0 || resp.GetLatency().AsDuration() < 50*time.Millisecond {
			t.Errorf("a hanging upstream: %v, %v; want a timeout after at least 50ms", resp, err)
		}
	})

	for _, tt := range []struct {
		name  string
		c     func() *adminv1.TestModelRequest
		code  connect.Code
		opts  []admin.Option
		match string
	}{
		{"unknown model", func() *adminv1.TestModelRequest { return &adminv1.TestModelRequest{Model: "acme/nope"} }, connect.CodeNotFound, []admin.Option{admin.WithModelTest(&snaps, 0, nil)}, `model "acme/nope" does not exist`},
		{"virtual model", func() *adminv1.TestModelRequest { return &adminv1.TestModelRequest{Model: "team/chat"} }, connect.CodeInvalidArgument, []admin.Option{admin.WithModelTest(&snaps, 0, nil)}, "virtual model"},
		{"not wired", func() *adminv1.TestModelRequest { return &adminv1.TestModelRequest{Model: "acme/ok"} }, connect.CodeUnavailable, nil, "no data plane"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newGovernanceClient(t, tt.opts...).TestModel(ctx, tt.c())
			if connect.CodeOf(err) != tt.code || !strings.Contains(err.Error(), tt.match) {
				t.Errorf("TestModel: %v; want %v containing %q", err, tt.code, tt.match)
			}
		})
	}
}
