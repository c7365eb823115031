package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/catalog"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/tokens"
	"github.com/llmgw/llmgw/gateway/usage"
)

// scripted is an adapter whose stream yields fixed chunks, then err (io.EOF for a clean end).
// With hang, the stream instead waits after its chunks until its context ends; with repeat, it
// yields its last chunk forever; with hangOpen, opening it waits until its context ends.
type scripted struct {
	chunks   []provider.Chunk
	err      error
	hang     bool
	repeat   bool
	hangOpen bool
	noUsage  bool // answers report no usage
	closed   int
}

func (s *scripted) Chat(context.Context, *provider.ChatCall) (*provider.ChatResult, error) {
	if s.err != nil && s.err != io.EOF {
		return nil, s.err
	}
	if s.noUsage {
		return &provider.ChatResult{JSON: []byte(`{"choices":[{"message":{"role":"assistant","content":"Hello"}}]}`)}, nil
	}
	return &provider.ChatResult{JSON: []byte(`{}`), Usage: chat.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}}, nil
}

// Embed answers with usage unless noUsage.
func (s *scripted) Embed(_ context.Context, c *provider.EmbedCall) (*provider.EmbedResult, error) {
	if s.noUsage {
		return &provider.EmbedResult{JSON: []byte(`{}`)}, nil
	}
	return &provider.EmbedResult{JSON: []byte(`{}`), Usage: chat.Usage{PromptTokens: 5, TotalTokens: 5}}, nil
}

func (s *scripted) ChatStream(ctx context.Context, _ *provider.ChatCall) (provider.ChatStream, error) {
	if s.hangOpen {
		<-ctx.Done()
		return nil, provider.TransportError(ctx, ctx.Err())
	}
	return &scriptedStream{s: s, ctx: ctx}, nil
}

type scriptedStream struct {
	s   *scripted
	ctx context.Context
	i   int
}

func (st *scriptedStream) Recv() (provider.Chunk, error) {
	switch {
	case st.i < len(st.s.chunks):
		st.i++
		return st.s.chunks[st.i-1], nil
	case st.s.repeat:
		return st.s.chunks[len(st.s.chunks)-1], nil
	case st.s.hang:
		<-st.ctx.Done()
		return provider.Chunk{}, provider.TransportError(st.ctx, st.ctx.Err())
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

func setup(t testing.TB, a provider.Adapter, opts ...Option) (*Pipeline, *recorder, keyUses) {
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
			{Account: "acct", Name: "emb", UpstreamModel: "text-embedding-3-small", Types: []string{snapshot.TypeEmbedding}, Pricing: &snapshot.Pricing{Input: 1}},
		},
		Users: []snapshot.User{{Name: "u"}},
		Keys:  []snapshot.Key{{ID: "k1", Hash: snapshot.KeyHash("secret"), User: "u"}},
		Rules: []snapshot.Rule{{Name: "r", Models: []string{"*"}, Users: []string{"u"}}},
		// prod/v is the virtual model of the routing tests, which make its plans by hand.
		VirtualModels: []snapshot.VirtualModel{{Account: "prod", Name: "v", Strategy: snapshot.RoutingPriority, Targets: []snapshot.VirtualTarget{{Model: "acct/m"}}}},
	}
	h.Store(snapshot.Compile(cfg, builder{a}, cat, slog.New(slog.NewTextHandler(io.Discard, nil))))
	rec := &recorder{}
	keys := keyUses{}
	return New(&h, rec, slog.New(slog.NewTextHandler(io.Discard, nil)), append([]Option{WithKeyUse(keys)}, opts...)...), rec, keys
}

var usageChunk = chat.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}

func TestStreamRecordsUsageExactlyOnce(t *testing.T) {
	u := usageChunk
	text := provider.Chunk{JSON: []byte(`{"choices":[{"delta":{"content":"hi"}}]}`)}
	last := provider.Chunk{JSON: []byte(`{"choices":[],"usage":{}}`), Usage: &u, UsageOnly: true}
	big := provider.Chunk{JSON: []byte(`{"choices":[{"delta":{"content":"` + strings.Repeat("a", 1<<20) + `"}}]}`)}
	// What the meter counts when usage never comes, for a model without a tokenizer: the
	// prompt "hello there\n" (12 bytes: 3 tokens) plus 3 for its one message and 3 for the
	// answer; "hi" (or "hihi") is one completion token.
	estimated := chat.Usage{PromptTokens: 9, CompletionTokens: 1, TotalTokens: 10}
	canceled := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	tests := []struct {
		name    string
		adapter *scripted
		opts    []Option
		// use reads the stream as a surface would and closes it.
		use           func(t *testing.T, p *Pipeline, st provider.ChatStream, leave context.CancelFunc)
		drain         context.Context // Drain's context: a done one cuts reads on short
		wantStatus    string
		wantUsage     chat.Usage
		wantEstimated bool
	}{
		{name: "clean end", adapter: &scripted{chunks: []provider.Chunk{text, last}, err: io.EOF},
			use: readAll, wantStatus: "ok", wantUsage: usageChunk},
		{name: "broken after a chunk", adapter: &scripted{chunks: []provider.Chunk{text}, err: provider.BadResponse(errors.New("cut"))},
			use: readAll, wantStatus: "upstream_bad_response", wantUsage: estimated, wantEstimated: true},
		{name: "upstream timeout mid-stream", adapter: &scripted{chunks: []provider.Chunk{text}, hang: true}, opts: []Option{WithUpstreamTimeout(20 * time.Millisecond)},
			use: readAll, wantStatus: "timeout", wantUsage: estimated, wantEstimated: true},
		{name: "closed early, read on to its usage", adapter: &scripted{chunks: []provider.Chunk{text, text, last}, err: io.EOF},
			use: readOne, wantStatus: "canceled", wantUsage: usageChunk},
		{name: "closed early, then the upstream breaks", adapter: &scripted{chunks: []provider.Chunk{text, text}, err: provider.BadResponse(errors.New("cut"))},
			use: readOne, wantStatus: "canceled", wantUsage: estimated, wantEstimated: true},
		{name: "the client's context ends mid-stream", adapter: &scripted{chunks: []provider.Chunk{text, text, last}, err: io.EOF},
			use: func(t *testing.T, p *Pipeline, st provider.ChatStream, leave context.CancelFunc) {
				if _, err := st.Recv(); err != nil {
					t.Fatal(err)
				}
				leave() // the upstream is not canceled: the next chunk arrives, the surface is told to stop
				if _, err := st.Recv(); !errors.Is(err, context.Canceled) {
					t.Errorf("Recv after the client left: %v, want context.Canceled", err)
				}
				st.Close()
			}, wantStatus: "canceled", wantUsage: usageChunk},
		{name: "shutdown cuts the read on short", adapter: &scripted{chunks: []provider.Chunk{text}, hang: true},
			use: readOne, drain: canceled(), wantStatus: "canceled", wantUsage: estimated, wantEstimated: true},
		{name: "an endless stream is read on up to the bound", adapter: &scripted{chunks: []provider.Chunk{text, big}, repeat: true},
			use: readOne, wantStatus: "canceled", wantEstimated: true,
			// "hi", then 1 MiB chunks of text until more than maxDrain bytes were read on: 32 of them.
			wantUsage: chat.Usage{PromptTokens: 9, CompletionTokens: tokens.Estimate(2 + maxDrain), TotalTokens: 9 + tokens.Estimate(2+maxDrain)}},
		{name: "failed by the surface after a good read", adapter: &scripted{chunks: []provider.Chunk{text, text, last}, err: io.EOF},
			use: func(t *testing.T, p *Pipeline, st provider.ChatStream, _ context.CancelFunc) {
				if _, err := st.Recv(); err != nil {
					t.Fatal(err)
				}
				Fail(st, provider.BadResponse(errors.New("untranslatable")))
				st.Close()
			}, wantStatus: "upstream_bad_response", wantUsage: usageChunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rec, keys := setup(t, tt.adapter, tt.opts...)
			c, err := p.Admit("secret", "req-1")
			if err != nil {
				t.Fatal(err)
			}
			ctx, leave := context.WithCancel(context.Background())
			defer leave()
			st, err := p.ChatStream(ctx, c, &provider.ChatCall{Request: &chat.Request{Model: "acct/m",
				Messages: []chat.Message{{Role: chat.RoleUser, Content: chat.TextContent("hello there")}}}})
			if err != nil {
				t.Fatal(err)
			}
			tt.use(t, p, st, leave)
			st.Close() // a second Close does nothing
			drain := tt.drain
			if drain == nil {
				drain = context.Background()
			}
			p.Drain(drain)
			if len(rec.evs) != 1 {
				t.Fatalf("%d events, want exactly 1: %+v", len(rec.evs), rec.evs)
			}
			ev := rec.evs[0]
			if ev.Status != tt.wantStatus || ev.UsageMissing || ev.UsageEstimated != tt.wantEstimated || ev.RequestID != "req-1" || ev.User != "u" || !ev.Stream {
				t.Errorf("event %+v", ev)
			}
			if ev.Usage != tt.wantUsage {
				t.Errorf("usage %+v, want %+v", ev.Usage, tt.wantUsage)
			}
			if !ev.Priced || ev.CostUSD <= 0 {
				t.Errorf("cost %v (priced %v): usage was recorded as free", ev.CostUSD, ev.Priced)
			}
			if tt.adapter.closed != 1 {
				t.Errorf("upstream stream closed %d times, want 1", tt.adapter.closed)
			}
			if _, ok := keys["k1"]; !ok {
				t.Error("key use not reported")
			}
		})
	}
}

// readAll reads st to its end, and once more past it, then closes it.
func readAll(t *testing.T, _ *Pipeline, st provider.ChatStream, _ context.CancelFunc) {
	for {
		if _, err := st.Recv(); err != nil {
			break
		}
	}
	_, _ = st.Recv() // reading past the end records nothing more
	st.Close()
}

// readOne reads one chunk and closes st, as a surface does when its client goes away.
func readOne(t *testing.T, _ *Pipeline, st provider.ChatStream, _ context.CancelFunc) {
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	st.Close()
}

func TestStreamClientLeavesBeforeItOpens(t *testing.T) {
	a := &scripted{hangOpen: true}
	p, rec, _ := setup(t, a)
	c, _ := p.Admit("secret", "req-1")
	ctx, leave := context.WithCancel(context.Background())
	leave()
	_, err := p.ChatStream(ctx, c, &provider.ChatCall{Request: &chat.Request{Model: "acct/m"}})
	if apierr.From(err).Kind != apierr.KindCanceled {
		t.Fatalf("ChatStream: %v, want canceled: the upstream call ends with its client until it opens", err)
	}
	if len(rec.evs) != 1 || rec.evs[0].Status != "canceled" || !rec.evs[0].UsageMissing || rec.evs[0].UsageEstimated {
		t.Errorf("events %+v, want one canceled event without usage", rec.evs)
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

func TestAnswerWithoutUsageIsEstimated(t *testing.T) {
	hello := []chat.Message{{Role: chat.RoleUser, Content: chat.TextContent("hello there")}}
	tests := []struct {
		name          string
		a             *scripted
		call          func(p *Pipeline, c *Caller) error
		wantUsage     chat.Usage
		wantEstimated bool
		wantMissing   bool
	}{
		{name: "chat with usage", a: &scripted{}, call: func(p *Pipeline, c *Caller) error {
			_, err := p.Chat(context.Background(), c, &provider.ChatCall{Request: &chat.Request{Model: "acct/m", Messages: hello}})
			return err
		}, wantUsage: chat.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}},
		// "hello there\n" is 3 tokens by bytes, plus 3 for the message and 3 for the answer;
		// the answer "Hello" is 2.
		{name: "chat without usage", a: &scripted{noUsage: true}, call: func(p *Pipeline, c *Caller) error {
			_, err := p.Chat(context.Background(), c, &provider.ChatCall{Request: &chat.Request{Model: "acct/m", Messages: hello}})
			return err
		}, wantUsage: chat.Usage{PromptTokens: 9, CompletionTokens: 2, TotalTokens: 11}, wantEstimated: true},
		{name: "chat that failed", a: &scripted{err: provider.StatusError(500, "", nil)}, call: func(p *Pipeline, c *Caller) error {
			_, err := p.Chat(context.Background(), c, &provider.ChatCall{Request: &chat.Request{Model: "acct/m", Messages: hello}})
			if err == nil {
				return errors.New("no error")
			}
			return nil
		}, wantMissing: true},
		{name: "embeddings with usage", a: &scripted{}, call: func(p *Pipeline, c *Caller) error {
			_, err := p.Embed(context.Background(), c, &provider.EmbedCall{Request: &chat.EmbeddingRequest{Model: "acct/emb", Input: chat.Input{"hello world"}}})
			return err
		}, wantUsage: chat.Usage{PromptTokens: 5, TotalTokens: 5}},
		// text-embedding-3-small counts with cl100k_base: "hello world" is 2 tokens.
		{name: "embeddings without usage", a: &scripted{noUsage: true}, call: func(p *Pipeline, c *Caller) error {
			_, err := p.Embed(context.Background(), c, &provider.EmbedCall{Request: &chat.EmbeddingRequest{Model: "acct/emb", Input: chat.Input{"hello world", "hello world"}}})
			return err
		}, wantUsage: chat.Usage{PromptTokens: 4, TotalTokens: 4}, wantEstimated: true},
		{name: "embeddings of nothing", a: &scripted{noUsage: true}, call: func(p *Pipeline, c *Caller) error {
			_, err := p.Embed(context.Background(), c, &provider.EmbedCall{Request: &chat.EmbeddingRequest{Model: "acct/emb", Input: chat.Input{""}}})
			return err
		}, wantMissing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rec, _ := setup(t, tt.a)
			c, _ := p.Admit("secret", "r")
			if err := tt.call(p, c); err != nil {
				t.Fatal(err)
			}
			if len(rec.evs) != 1 {
				t.Fatalf("%d events, want 1", len(rec.evs))
			}
			ev := rec.evs[0]
			if ev.Usage != tt.wantUsage || ev.UsageEstimated != tt.wantEstimated || ev.UsageMissing != tt.wantMissing {
				t.Errorf("usage %+v estimated %v missing %v; want %+v %v %v", ev.Usage, ev.UsageEstimated, ev.UsageMissing, tt.wantUsage, tt.wantEstimated, tt.wantMissing)
			}
			if !tt.wantMissing && ev.CostUSD <= 0 {
				t.Errorf("cost %v: usage recorded as free", ev.CostUSD)
			}
		})
	}
}

func TestAdmitBeforeFirstSnapshot(t *testing.T) {
	p := New(&snapshot.Holder{}, &recorder{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := p.Admit("secret", "r"); apierr.From(err).Kind != apierr.KindUnavailable {
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
