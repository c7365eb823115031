package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"testing/iotest"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/catalog"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// forwarder is a Forwarder whose answer is body, then readErr (nil: a clean end), reporting
// usage at the end.
type forwarder struct {
	scripted
	body    []byte
	readErr error
	usage   chat.Usage
	err     error // returned by Forward itself
	ctx     context.Context
	closed  int
}

func (f *forwarder) Forward(ctx context.Context, c *provider.ForwardCall) (*provider.ForwardResult, error) {
	f.ctx = ctx
	if f.err != nil {
		return nil, f.err
	}
	var r io.Reader = bytes.NewReader(f.body)
	if f.readErr != nil {
		r = io.MultiReader(r, iotest.ErrReader(f.readErr))
	}
	return &provider.ForwardResult{
		Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body:  fakeBody{Reader: r, f: f},
		Usage: func() chat.Usage { return f.usage },
	}, nil
}

type fakeBody struct {
	io.Reader
	f *forwarder
}

func (b fakeBody) Close() error { b.f.closed++; return nil }

// setupForward serves acct/chat (a chat model) and acct/emb (an embedding model), both by a.
func setupForward(t *testing.T, a provider.Adapter) (*Pipeline, *recorder) {
	t.Helper()
	cat, err := catalog.Parse([]byte("version: 1\nmodels:\n  - {provider: x, model: chat, type: chat, prices: [{effective: 2020-01-01, input: 2, output: 10}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &snapshot.Config{
		Accounts: []snapshot.Account{{Name: "acct", Provider: "x"}},
		Models: []snapshot.Model{
			{Account: "acct", Name: "chat", Types: []string{snapshot.TypeChat}},
			{Account: "acct", Name: "emb", Types: []string{snapshot.TypeEmbedding}},
			{Account: "acct", Name: "secret"},
		},
		Users: []snapshot.User{{Name: "u"}},
		Keys:  []snapshot.Key{{ID: "k1", Hash: snapshot.KeyHash("secret"), User: "u"}},
		Rules: []snapshot.Rule{{Name: "r", Models: []string{"acct/chat", "acct/emb"}, Users: []string{"u"}}},
	}
	var h snapshot.Holder
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h.Store(snapshot.Compile(cfg, builder{a}, cat, logger))
	rec := &recorder{}
	return New(&h, rec, logger), rec
}

func TestForwardRecordsUsageExactlyOnce(t *testing.T) {
	answer := []byte(`{"object":"text_completion","usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`)
	u := chat.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}
	tests := []struct {
		name        string
		f           *forwarder
		stream      bool
		read        int // bytes read before Close; -1 reads to the end
		wantStatus  string
		wantHTTP    int
		wantMissing bool
	}{
		{"read to the end", &forwarder{body: answer, usage: u}, false, -1, "ok", 200, false},
		{"streamed to the end", &forwarder{body: answer, usage: u}, true, -1, "ok", 200, false},
		{"no usage reported (speech)", &forwarder{body: []byte("ID3...")}, false, -1, "ok", 200, true},
		{"broken mid-way", &forwarder{body: answer, usage: u, readErr: provider.BadResponse(errors.New("cut"))}, true, -1, "upstream_bad_response", 502, true},
		{"client leaves early", &forwarder{body: answer, usage: u}, true, 5, "canceled", 499, true},
		{"client leaves before a byte", &forwarder{body: answer, usage: u}, false, 0, "canceled", 499, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rec := setupForward(t, tt.f)
			c, err := p.Admit("secret", "req-1")
			if err != nil {
				t.Fatal(err)
			}
			res, err := p.Forward(context.Background(), c, "acct/chat", &provider.ForwardCall{Endpoint: provider.EndpointCompletions, Body: []byte(`{}`), Stream: tt.stream})
			if err != nil {
				t.Fatal(err)
			}
			if res.Header.Get("Content-Type") != "application/json" || res.Status != 200 {
				t.Errorf("result %d %v", res.Status, res.Header)
			}
			if tt.read < 0 {
				got, _ := io.ReadAll(res.Body)
				if !bytes.Equal(got, tt.f.body) {
					t.Errorf("body %q, want %q", got, tt.f.body)
				}
				_, _ = res.Body.Read(make([]byte, 8)) // reading past the end records nothing more
			} else if tt.read > 0 {
				if _, err := io.ReadFull(res.Body, make([]byte, tt.read)); err != nil {
					t.Fatal(err)
				}
			}
			if len(rec.evs) > 1 || (tt.read < 0) != (len(rec.evs) == 1) {
				t.Fatalf("%d events before Close (read %d)", len(rec.evs), tt.read)
			}
			res.Body.Close()
			res.Body.Close()
			if len(rec.evs) != 1 {
				t.Fatalf("%d events, want exactly 1: %+v", len(rec.evs), rec.evs)
			}
			ev := rec.evs[0]
			if ev.Status != tt.wantStatus || ev.HTTPStatus != tt.wantHTTP || ev.UsageMissing != tt.wantMissing || ev.Operation != provider.EndpointCompletions ||
				ev.Stream != tt.stream || ev.Model != "acct/chat" || ev.RequestID != "req-1" || ev.User != "u" {
				t.Errorf("event %+v", ev)
			}
			if !tt.wantMissing && (ev.Usage != u || !ev.Priced || ev.CostUSD == 0) {
				t.Errorf("usage %+v priced %v cost %v, want %+v costed", ev.Usage, ev.Priced, ev.CostUSD, u)
			}
			if (!tt.stream && ev.TimeToFirstToken != 0) || (tt.stream && tt.read != 0 && ev.TimeToFirstToken == 0) {
				t.Errorf("time to first token %v for stream=%v read=%d", ev.TimeToFirstToken, tt.stream, tt.read)
			}
			if tt.f.closed != 1 || tt.f.ctx.Err() == nil {
				t.Errorf("upstream body closed %d times, its context %v: want closed once and done", tt.f.closed, tt.f.ctx.Err())
			}
		})
	}
}

func TestForwardResolvesAndRefuses(t *testing.T) {
	tests := []struct {
		name, model, endpoint string
		a                     provider.Adapter
		wantKind              apierr.Kind // -1: ok
		wantEvent             bool
	}{
		{"completions on a chat model", "acct/chat", provider.EndpointCompletions, &forwarder{}, -1, true},
		{"completions need a chat model", "acct/emb", provider.EndpointCompletions, &forwarder{}, apierr.KindInvalidRequest, false},
		{"moderations take any type", "acct/emb", provider.EndpointModerations, &forwarder{}, -1, true},
		{"speech on a chat model", "acct/chat", provider.EndpointAudioSpeech, &forwarder{}, -1, true},
		{"unknown model", "acct/none", provider.EndpointImageGenerations, &forwarder{}, apierr.KindNotFound, false},
		{"model not allowed", "acct/secret", provider.EndpointImageGenerations, &forwarder{}, apierr.KindPermissionDenied, false},
		{"not allowed, not chat, either way", "acct/secret", provider.EndpointAudioSpeech, &forwarder{}, apierr.KindPermissionDenied, false},
		{"provider without the endpoints", "acct/chat", provider.EndpointModerations, &scripted{}, apierr.KindInvalidRequest, false},
		{"upstream refuses", "acct/emb", provider.EndpointAudioTranscriptions, &forwarder{err: provider.StatusError(429, "", nil)}, apierr.KindRateLimited, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rec := setupForward(t, tt.a)
			c, _ := p.Admit("secret", "r")
			res, err := p.Forward(context.Background(), c, tt.model, &provider.ForwardCall{Endpoint: tt.endpoint})
			if tt.wantKind == -1 {
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.ReadAll(res.Body)
				res.Body.Close()
			} else {
				e := apierr.From(err)
				if err == nil || e.Kind != tt.wantKind {
					t.Fatalf("err %v, want kind %v", err, tt.wantKind)
				}
				if e.Kind == apierr.KindInvalidRequest && e.Param != "model" {
					t.Errorf("param %q, want model", e.Param)
				}
			}
			if (len(rec.evs) == 1) != tt.wantEvent || len(rec.evs) > 1 {
				t.Errorf("events %+v, want one: %v", rec.evs, tt.wantEvent)
			}
			if tt.wantEvent && tt.wantKind != -1 && (rec.evs[0].HTTPStatus != tt.wantKind.HTTPStatus() || !rec.evs[0].UsageMissing) {
				t.Errorf("event %+v", rec.evs[0])
			}
		})
	}
}
