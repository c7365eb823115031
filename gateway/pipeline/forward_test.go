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
	err     error  // returned by Forward itself
	ctype   string // the answer's Content-Type; application/json when empty
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
	ct := f.ctype
	if ct == "" {
		ct = "application/json"
	}
	return &provider.ForwardResult{
		Status: http.StatusOK, Header: http.Header{"Content-Type": {ct}},
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
	events := []byte("data: {\"choices\":[{\"text\":\"Hello\",\"index\":0}]}\n\ndata: {\"choices\":[{\"text\":\" world\",\"index\":0}]}\n\n")
	u := chat.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}
	// The estimate of a completions stream of a model without a tokenizer: the prompt
	// "Say hi" is 2 tokens, "Hello world" 3.
	estimated := chat.Usage{PromptTokens: 2, CompletionTokens: 3, TotalTokens: 5}
	cut := provider.BadResponse(errors.New("cut"))
	tests := []struct {
		name          string
		f             *forwarder
		stream        bool
		read          int // bytes read before Close; -1 reads to the end
		wantStatus    string
		wantHTTP      int
		wantUsage     chat.Usage
		wantMissing   bool
		wantEstimated bool
	}{
		{name: "read to the end", f: &forwarder{body: answer, usage: u}, read: -1, wantStatus: "ok", wantHTTP: 200, wantUsage: u},
		{name: "streamed to the end", f: &forwarder{body: answer, usage: u}, stream: true, read: -1, wantStatus: "ok", wantHTTP: 200, wantUsage: u},
		{name: "no usage reported (speech)", f: &forwarder{body: []byte("ID3..."), ctype: "audio/mpeg"}, read: -1, wantStatus: "ok", wantHTTP: 200, wantMissing: true},
		{name: "broken mid-way", f: &forwarder{body: answer, usage: u, readErr: cut}, stream: true, read: -1, wantStatus: "upstream_bad_response", wantHTTP: 502, wantMissing: true},
		{name: "completions stream broken mid-way", f: &forwarder{body: events, readErr: cut, ctype: "text/event-stream"}, stream: true, read: -1,
			wantStatus: "upstream_bad_response", wantHTTP: 502, wantUsage: estimated, wantEstimated: true},
		{name: "client leaves early: read on to the usage", f: &forwarder{body: answer, usage: u}, stream: true, read: 5, wantStatus: "canceled", wantHTTP: 499, wantUsage: u},
		{name: "client leaves before a byte: read on to the usage", f: &forwarder{body: answer, usage: u}, read: 0, wantStatus: "canceled", wantHTTP: 499, wantUsage: u},
		{name: "client leaves a completions stream that then breaks", f: &forwarder{body: events, readErr: cut, ctype: "text/event-stream"}, stream: true, read: 5,
			wantStatus: "canceled", wantHTTP: 499, wantUsage: estimated, wantEstimated: true},
		{name: "client leaves audio: not read on", f: &forwarder{body: []byte("ID3..."), ctype: "audio/mpeg"}, read: 2, wantStatus: "canceled", wantHTTP: 499, wantMissing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rec := setupForward(t, tt.f)
			c, err := p.Admit("secret", "req-1")
			if err != nil {
				t.Fatal(err)
			}
			res, err := p.Forward(context.Background(), c, "acct/chat", &provider.ForwardCall{Endpoint: provider.EndpointCompletions, Body: []byte(`{"prompt":"Say hi"}`), Stream: tt.stream})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 200 {
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
			p.Drain(context.Background())
			if len(rec.evs) != 1 {
				t.Fatalf("%d events, want exactly 1: %+v", len(rec.evs), rec.evs)
			}
			ev := rec.evs[0]
			if ev.Status != tt.wantStatus || ev.HTTPStatus != tt.wantHTTP || ev.UsageMissing != tt.wantMissing || ev.UsageEstimated != tt.wantEstimated ||
				ev.Operation != provider.EndpointCompletions || ev.Stream != tt.stream || ev.Model != "acct/chat" || ev.RequestID != "req-1" || ev.User != "u" {
				t.Errorf("event %+v", ev)
			}
			if ev.Usage != tt.wantUsage {
				t.Errorf("usage %+v, want %+v", ev.Usage, tt.wantUsage)
			}
			if !tt.wantMissing && (!ev.Priced || ev.CostUSD == 0) {
				t.Errorf("priced %v cost %v: want costed", ev.Priced, ev.CostUSD)
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
