package pipeline

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// native is a scripted adapter that also speaks the Messages API: its stream yields events,
// then err (io.EOF for a clean end).
type native struct {
	scripted
	events []provider.MessagesEvent
	calls  []*provider.MessagesCall
}

var _ provider.MessagesAdapter = (*native)(nil)

func (n *native) Messages(_ context.Context, c *provider.MessagesCall) (*provider.MessagesResult, error) {
	n.calls = append(n.calls, c)
	if n.err != nil && n.err != io.EOF {
		return nil, n.err
	}
	return &provider.MessagesResult{JSON: []byte(`{"type":"message"}`), Usage: usageChunk}, nil
}

func (n *native) MessagesStream(_ context.Context, c *provider.MessagesCall) (provider.MessagesStream, error) {
	n.calls = append(n.calls, c)
	return &nativeStream{n: n}, nil
}

func (n *native) CountTokens(_ context.Context, c *provider.MessagesCall) (*provider.CountTokensResult, error) {
	n.calls = append(n.calls, c)
	return &provider.CountTokensResult{JSON: []byte(`{"input_tokens":3}`)}, nil
}

type nativeStream struct {
	n *native
	i int
}

func (st *nativeStream) Recv() (provider.MessagesEvent, error) {
	if st.i < len(st.n.events) {
		st.i++
		return st.n.events[st.i-1], nil
	}
	return provider.MessagesEvent{}, st.n.err
}

func (st *nativeStream) Close() error { st.n.closed++; return nil }

func TestMessagesChoosesNativeOrTranslatedPerTarget(t *testing.T) {
	tests := []struct {
		name       string
		adapter    provider.Adapter
		model      string
		translated bool
		kind       apierr.Kind // checked when not KindInternal
	}{
		{"a Messages adapter is native", &native{}, "acct/m", false, apierr.KindInternal},
		{"a chat-only adapter is translated", &scripted{}, "acct/m", true, apierr.KindInternal},
		{"an unknown model is not found", &native{}, "acct/none", false, apierr.KindNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, _ := setup(t, tt.adapter)
			c, _ := p.Admit("secret", "r")
			var translated bool
			tr := &Translation{
				Request: func() (*provider.ChatCall, error) {
					translated = true
					return &provider.ChatCall{Request: &chat.Request{Model: tt.model}}, nil
				},
				Answer: func(res *provider.ChatResult) ([]byte, error) { return []byte(`{"type":"message"}`), nil },
			}
			res, err := p.Messages(context.Background(), c, &provider.MessagesCall{Model: tt.model, Body: []byte(`{}`)}, tr)
			if tt.kind != apierr.KindInternal {
				if apierr.From(err).Kind != tt.kind {
					t.Fatalf("error %v, want kind %v", err, tt.kind)
				}
				return
			}
			if err != nil || translated != tt.translated {
				t.Fatalf("Messages: %v; translated %v, want %v", err, translated, tt.translated)
			}
			if want := `{"model":"acct/m","type":"message"}`; !tt.translated && string(res.JSON) != want {
				t.Errorf("native answer %s, want %s", res.JSON, want)
			}
		})
	}
}

func TestMessagesRecordsUsageOnce(t *testing.T) {
	a := &native{}
	p, rec, _ := setup(t, a)
	c, _ := p.Admit("secret", "req-m")
	call := &provider.MessagesCall{Model: "acct/m", Body: []byte(`{}`)}
	if _, err := p.Messages(context.Background(), c, call, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CountTokens(context.Background(), c, call); err != nil {
		t.Fatal(err)
	}
	if len(a.calls) != 2 || a.calls[0] != call || a.calls[1] != call {
		t.Errorf("adapter got %d calls, want the call twice", len(a.calls))
	}
	if len(rec.evs) != 1 {
		t.Fatalf("%d events, want 1 (count_tokens records none): %+v", len(rec.evs), rec.evs)
	}
	if ev := rec.evs[0]; ev.Usage != usageChunk || ev.Status != "ok" || ev.Stream || ev.Model != "acct/m" || ev.RequestID != "req-m" || ev.UsageMissing {
		t.Errorf("event %+v", ev)
	}

	p2, rec2, _ := setup(t, &native{scripted: scripted{err: provider.StatusError(503, "", nil)}})
	c2, _ := p2.Admit("secret", "r")
	if _, err := p2.Messages(context.Background(), c2, call, nil); apierr.From(err).Kind != apierr.KindUpstreamUnavailable {
		t.Fatalf("upstream 503: %v", err)
	}
	if len(rec2.evs) != 1 || rec2.evs[0].HTTPStatus != 503 || !rec2.evs[0].UsageMissing {
		t.Errorf("events %+v", rec2.evs)
	}
}

func TestMessagesOnATranslatedModelIsRefused(t *testing.T) {
	p, rec, _ := setup(t, &scripted{})
	c, _ := p.Admit("secret", "r")
	call := &provider.MessagesCall{Model: "acct/m", Body: []byte(`{}`)}
	_, err := p.Messages(context.Background(), c, call, nil)
	if e := apierr.From(err); e.Kind != apierr.KindInvalidRequest || e.Param != "model" {
		t.Errorf("Messages: %v", err)
	}
	if _, err := p.MessagesStream(context.Background(), c, call, nil); apierr.From(err).Kind != apierr.KindInvalidRequest {
		t.Errorf("MessagesStream: %v", err)
	}
	if _, err := p.CountTokens(context.Background(), c, call); apierr.From(err).Kind != apierr.KindInvalidRequest {
		t.Errorf("CountTokens: %v", err)
	}
	if len(rec.evs) != 0 {
		t.Errorf("refused calls recorded %+v", rec.evs)
	}
}

func TestMessagesStreamRecordsUsageExactlyOnce(t *testing.T) {
	u := usageChunk
	start := provider.MessagesEvent{Name: "message_start", Data: []byte(`{"type":"message_start","message":{"content":[],"usage":{"input_tokens":5}}}`)}
	text := provider.MessagesEvent{Name: "content_block_delta", Data: []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`)}
	delta := provider.MessagesEvent{Name: "message_delta", Data: []byte(`{}`), Usage: &u}
	stop := provider.MessagesEvent{Name: "message_stop", Data: []byte(`{}`)}
	cut := provider.BadResponse(errors.New("cut"))
	// The estimate for a model without a tokenizer: the prompt's text "Be brief.Hi there" is
	// 17 bytes, 5 tokens; each "Hello" is 2.
	body := []byte(`{"model":"acct/m","max_tokens":9,"system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"Hi there"}]}]}`)
	tests := []struct {
		name          string
		events        []provider.MessagesEvent
		end           error
		readAll       bool
		fail          bool // the surface fails the stream after one event
		wantStatus    string
		wantUsage     chat.Usage
		wantEstimated bool
	}{
		{name: "clean end", events: []provider.MessagesEvent{start, text, delta, stop}, end: io.EOF, readAll: true, wantStatus: "ok", wantUsage: usageChunk},
		{name: "broken before message_delta", events: []provider.MessagesEvent{start, text}, end: cut, readAll: true,
			wantStatus: "upstream_bad_response", wantUsage: chat.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}, wantEstimated: true},
		{name: "client leaves early: read on to the usage", events: []provider.MessagesEvent{start, text, delta, stop}, end: io.EOF, wantStatus: "canceled", wantUsage: usageChunk},
		{name: "client leaves early, then the upstream breaks", events: []provider.MessagesEvent{start, text, text}, end: cut,
			wantStatus: "canceled", wantUsage: chat.Usage{PromptTokens: 5, CompletionTokens: 3, TotalTokens: 8}, wantEstimated: true},
		{name: "failed by the surface", events: []provider.MessagesEvent{start, text, delta, stop}, end: io.EOF, fail: true, wantStatus: "upstream_bad_response", wantUsage: usageChunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &native{scripted: scripted{err: tt.end}, events: tt.events}
			p, rec, _ := setup(t, a)
			c, _ := p.Admit("secret", "req-s")
			sd, err := p.MessagesStream(context.Background(), c, &provider.MessagesCall{Model: "acct/m", Body: body}, nil)
			if err != nil {
				t.Fatal(err)
			}
			st := sd.Native
			if tt.readAll {
				for {
					if _, err := st.Recv(); err != nil {
						break
					}
				}
				_, _ = st.Recv()
			} else if _, err := st.Recv(); err != nil {
				t.Fatal(err)
			}
			if tt.fail {
				Fail(st, provider.BadResponse(errors.New("untranslatable")))
			}
			st.Close()
			st.Close()
			p.Drain(context.Background())
			if len(rec.evs) != 1 {
				t.Fatalf("%d events, want exactly 1: %+v", len(rec.evs), rec.evs)
			}
			ev := rec.evs[0]
			if ev.Status != tt.wantStatus || ev.UsageMissing || ev.UsageEstimated != tt.wantEstimated || ev.RequestID != "req-s" || !ev.Stream {
				t.Errorf("event %+v", ev)
			}
			if ev.Usage != tt.wantUsage {
				t.Errorf("usage %+v, want %+v", ev.Usage, tt.wantUsage)
			}
			if ev.CostUSD <= 0 {
				t.Errorf("cost %v: usage recorded as free", ev.CostUSD)
			}
			if a.closed != 1 {
				t.Errorf("upstream stream closed %d times, want 1", a.closed)
			}
		})
	}
}
