package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/catalog"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

// scripted is an adapter whose stream yields fixed chunks, then err (io.EOF for a clean end).
type scripted struct {
	chunks []provider.Chunk
	err    error
	closed int
}

func (s *scripted) Chat(context.Context, *provider.ChatCall) (*provider.ChatResult, error) {
	if s.err != nil && s.err != io.EOF {
		return nil, s.err
	}
	return &provider.ChatResult{JSON: []byte(`{}`), Usage: chat.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}}, nil
}

func (s *scripted) ChatStream(context.Context, *provider.ChatCall) (provider.ChatStream, error) {
	return &scriptedStream{s: s}, nil
}

type scriptedStream struct {
	s *scripted
	i int
}

func (st *scriptedStream) Recv() (provider.Chunk, error) {
	if st.i < len(st.s.chunks) {
		st.i++
		return st.s.chunks[st.i-1], nil
	}
	return provider.Chunk{}, st.s.err
}

func (st *scriptedStream) Close() error { st.s.closed++; return nil }

type builder struct{ a provider.Adapter }

func (b builder) Build(provider.Config) (provider.Adapter, error) { return b.a, nil }

type recorder struct {
	mu  sync.Mutex
	evs []usage.Event
}

func (r *recorder) Record(_ context.Context, e *usage.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, *e)
	r.mu.Unlock()
}

type keyUses map[string]time.Time

func (k keyUses) Used(id string, at time.Time) { k[id] = at }

func setup(t *testing.T, a provider.Adapter) (*Pipeline, *recorder, keyUses) {
	t.Helper()
	var h snapshot.Holder
	cat, err := catalog.Parse([]byte("version: 1\nmodels:\n  - {provider: x, model: m, type: chat, prices: [{effective: 2020-01-01, input: 2, output: 10}]}\n  - {provider: x, model: m2, type: chat, prices: [{effective: 2099-01-01, input: 2, output: 10}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &snapshot.Config{
		Accounts: []snapshot.Account{{Name: "acct", Provider: "x"}},
		Models: []snapshot.Model{
			{Account: "acct", Name: "m"},
			{Account: "acct", Name: "unpriced"},
			{Account: "acct", Name: "future", UpstreamModel: "m2"}, // its only price starts in 2099
			{Account: "acct", Name: "override", UpstreamModel: "m", Pricing: &snapshot.Pricing{Input: 1, Output: 1}},
		},
		Users: []snapshot.User{{Name: "u"}},
		Keys:  []snapshot.Key{{ID: "k1", Hash: snapshot.KeyHash("secret"), User: "u"}},
		Rules: []snapshot.Rule{{Name: "r", Models: []string{"*"}, Users: []string{"u"}}},
	}
	h.Store(snapshot.Compile(cfg, builder{a}, cat, slog.New(slog.NewTextHandler(io.Discard, nil))))
	rec := &recorder{}
	keys := keyUses{}
	return New(&h, rec, slog.New(slog.NewTextHandler(io.Discard, nil)), WithKeyUse(keys)), rec, keys
}

var usageChunk = chat.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}

func TestStreamRecordsUsageExactlyOnce(t *testing.T) {
	u := usageChunk
	text := provider.Chunk{JSON: []byte(`{"choices":[{"delta":{"content":"hi"}}]}`)}
	last := provider.Chunk{JSON: []byte(`{"choices":[],"usage":{}}`), Usage: &u, UsageOnly: true}
	tests := []struct {
		name        string
		chunks      []provider.Chunk
		end         error
		readAll     bool
		wantStatus  string
		wantMissing bool
	}{
		{"clean end", []provider.Chunk{text, last}, io.EOF, true, "ok", false},
		{"broken after a chunk", []provider.Chunk{text}, provider.BadResponse(errors.New("cut")), true, "upstream_bad_response", true},
		{"client leaves early", []provider.Chunk{text, text, last}, io.EOF, false, "canceled", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &scripted{chunks: tt.chunks, err: tt.end}
			p, rec, keys := setup(t, a)
			c, err := p.Admit("secret", "req-1")
			if err != nil {
				t.Fatal(err)
			}
			st, err := p.ChatStream(context.Background(), c, &provider.ChatCall{Request: &chat.Request{Model: "acct/m"}})
			if err != nil {
				t.Fatal(err)
			}
			if tt.readAll {
				for {
					if _, err := st.Recv(); err != nil {
						break
					}
				}
				_, _ = st.Recv() // reading past the end records nothing more
			} else if _, err := st.Recv(); err != nil {
				t.Fatal(err)
			}
			st.Close()
			st.Close()
			if len(rec.evs) != 1 {
				t.Fatalf("%d events, want exactly 1: %+v", len(rec.evs), rec.evs)
			}
			ev := rec.evs[0]
			if ev.Status != tt.wantStatus || ev.UsageMissing != tt.wantMissing || ev.RequestID != "req-1" || ev.User != "u" || !ev.Stream {
				t.Errorf("event %+v", ev)
			}
			if !tt.wantMissing && ev.Usage != usageChunk {
				t.Errorf("usage %+v, want %+v", ev.Usage, usageChunk)
			}
			if a.closed != 1 {
				t.Errorf("upstream stream closed %d times, want 1", a.closed)
			}
			if _, ok := keys["k1"]; !ok {
				t.Error("key use not reported")
			}
		})
	}
}

func TestChatRecordsUsageAndErrors(t *testing.T) {
	p, rec, _ := setup(t, &scripted{err: io.EOF})
	c, _ := p.Admit("secret", "r")
	if _, err := p.Chat(context.Background(), c, &provider.ChatCall{Request: &chat.Request{Model: "acct/m"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Chat(context.Background(), c, &provider.ChatCall{Request: &chat.Request{Model: "acct/none"}}); !errors.Is(err, err) || apierr.From(err).Kind != apierr.KindNotFound {
		t.Fatalf("unknown model: %v", err)
	}
	p2, rec2, _ := setup(t, &scripted{err: provider.StatusError(429, "3", []byte("slow"))})
	c2, _ := p2.Admit("secret", "r2")
	_, err := p2.Chat(context.Background(), c2, &provider.ChatCall{Request: &chat.Request{Model: "acct/m"}})
	if e := apierr.From(err); e.Kind != apierr.KindRateLimited || e.RetryAfter != 3*time.Second {
		t.Fatalf("upstream 429: %+v", e)
	}
	if len(rec.evs) != 1 || rec.evs[0].Usage.TotalTokens != 7 || rec.evs[0].Status != "ok" {
		t.Errorf("events %+v: want one ok event with usage (a 404 is not an inference)", rec.evs)
	}
	if len(rec2.evs) != 1 || rec2.evs[0].HTTPStatus != 429 || !rec2.evs[0].UsageMissing {
		t.Errorf("events %+v", rec2.evs)
	}
	if _, err := p.Admit("wrong", "r3"); apierr.From(err).Kind != apierr.KindUnauthenticated {
		t.Errorf("wrong key: %v", err)
	}
}

func TestAdmitBeforeFirstSnapshot(t *testing.T) {
	p := New(&snapshot.Holder{}, &recorder{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := p.Admit("secret", "r"); apierr.From(err).Kind != apierr.KindUpstreamUnavailable {
		t.Errorf("got %v, want unavailable", err)
	}
}

func TestUsageIsCostedOrFlaggedUnpriced(t *testing.T) {
	tests := []struct {
		model  string
		cost   float64
		priced bool
	}{
		{"acct/m", (3*2 + 4*10) / 1e6, true}, // catalog price: 3 prompt, 4 completion tokens
		{"acct/override", (3 + 4) / 1e6, true},
		{"acct/unpriced", 0, false},
		{"acct/future", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			p, rec, _ := setup(t, &scripted{err: io.EOF})
			c, _ := p.Admit("secret", "r")
			if _, err := p.Chat(context.Background(), c, &provider.ChatCall{Request: &chat.Request{Model: tt.model}}); err != nil {
				t.Fatal(err)
			}
			ev := rec.evs[0]
			if ev.Priced != tt.priced || math.Abs(ev.CostUSD-tt.cost) > 1e-12 {
				t.Errorf("cost %v priced %v, want %v %v", ev.CostUSD, ev.Priced, tt.cost, tt.priced)
			}
		})
	}
}
