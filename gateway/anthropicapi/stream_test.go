package anthropicapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider/providertest"
	"github.com/llmgw/llmgw/gateway/provider/registry"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/sse"
)

// TestStreamsNeverHoldAReadyEvent: every event that came is flushed to the client before the
// gateway waits for the upstream's next one, on a native Messages stream and on one translated
// from an OpenAI upstream. Each gated upstream sends all its text but the last word, then
// waits; the client must see that text while it waits.
func TestStreamsNeverHoldAReadyEvent(t *testing.T) {
	ant := providertest.NewAnthropic(t, "sk-ant-test")
	oai := providertest.NewOpenAI(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var snaps snapshot.Holder
	snaps.Store(snapshot.Compile(&snapshot.Config{
		Accounts: []snapshot.Account{
			{Name: "ant", Provider: "anthropic", BaseURL: ant.URL, APIKey: "sk-ant-test"},
			{Name: "oai", Provider: "openai", BaseURL: oai.BaseURL(), APIKey: "sk-oai"},
		},
		Models: []snapshot.Model{
			{Account: "ant", Name: "gated", UpstreamModel: providertest.ModelGated},
			{Account: "oai", Name: "gated", UpstreamModel: providertest.ModelGated},
		},
		AdminTokenHash: snapshot.KeyHash("tok"),
	}, registry.New(http.DefaultClient), nil, logger))
	srv := httptest.NewServer(New(pipeline.New(&snaps, discard{}, logger), logger, 1<<20))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		model string
		gate  chan struct{}
	}{
		{"ant/gated", ant.Gate}, // native
		{"oai/gated", oai.Gate}, // translated
	} {
		t.Run(tc.model, func(t *testing.T) {
			// The bound only turns a held event into a failure instead of a hung test.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			defer release(tc.gate)
			body := `{"model":"` + tc.model + `","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"one two three four five"}]}`
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(body))
			req.Header.Set("x-api-key", "tok")
			req.Header.Set("anthropic-version", "2023-06-01")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			r := sse.NewReader(resp.Body)
			var text strings.Builder
			for want := "echo: one two three four"; text.String() != want; {
				ev, err := r.Next()
				if err != nil {
					t.Fatalf("after %q: %v (an event the upstream sent was held back)", text.String(), err)
				}
				var d struct {
					Delta struct {
						Text string `json:"text"`
					} `json:"delta"`
				}
				if ev.Name == "content_block_delta" && json.Unmarshal(ev.Data, &d) == nil {
					text.WriteString(d.Delta.Text)
				}
			}
			select {
			case tc.gate <- struct{}{}:
			case <-ctx.Done():
				t.Fatal("the upstream never reached its gate")
			}
			rest, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(rest, []byte(`" five"`)) || !bytes.Contains(rest, []byte("event: message_stop")) {
				t.Errorf("after the gate: %s", rest)
			}
		})
	}
}

// release lets a gated upstream that is still waiting finish, so that a failed test's stream
// ends and its server can close.
func release(gate chan struct{}) {
	select {
	case gate <- struct{}{}:
	case <-time.After(100 * time.Millisecond): // nobody waits: the stream was let go already
	}
}
