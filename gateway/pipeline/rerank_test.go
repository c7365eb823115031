package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// reranker is a chat adapter that also reranks, answering usage or err.
type reranker struct {
	scripted
	usage chat.Usage
	err   error
	calls []*provider.RerankCall
}

var _ provider.Reranker = (*reranker)(nil)

func (r *reranker) Rerank(_ context.Context, c *provider.RerankCall) (*provider.RerankResult, error) {
	r.calls = append(r.calls, c)
	if r.err != nil {
		return nil, r.err
	}
	return &provider.RerankResult{JSON: []byte(`{"results":[]}`), Usage: r.usage}, nil
}

// setupRerank returns a pipeline over a snapshot with a rerank model (acct/rr, priced at 1000
// per million units) and a chat model (acct/chat), both built as a.
func setupRerank(t *testing.T, a provider.Adapter) (*Pipeline, *recorder, *Caller) {
	t.Helper()
	cfg := &snapshot.Config{
		Accounts: []snapshot.Account{{Name: "acct", Provider: "x"}},
		Models: []snapshot.Model{
			{Account: "acct", Name: "rr", Types: []string{snapshot.TypeRerank}, Pricing: &snapshot.Pricing{Input: 1000}},
			{Account: "acct", Name: "chat"},
		},
		Users: []snapshot.User{{Name: "u"}},
		Keys:  []snapshot.Key{{ID: "k1", Hash: snapshot.KeyHash("secret"), User: "u"}},
		Rules: []snapshot.Rule{{Name: "r", Models: []string{"acct/rr", "acct/chat"}, Users: []string{"u"}}},
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var h snapshot.Holder
	h.Store(snapshot.Compile(cfg, builder{a}, nil, logger))
	rec := &recorder{}
	p := New(&h, rec, logger)
	c, err := p.Admit("secret", "req-r")
	if err != nil {
		t.Fatal(err)
	}
	return p, rec, c
}

func TestRerankRecordsUsageOnce(t *testing.T) {
	tests := []struct {
		name        string
		usage       chat.Usage
		err         error
		wantStatus  int
		wantMissing bool
		wantCost    float64
	}{
		{"search units", chat.Usage{PromptTokens: 2, TotalTokens: 2}, nil, http.StatusOK, false, 2 * 1000 / 1e6},
		{"no usage reported", chat.Usage{}, nil, http.StatusOK, true, 0},
		{"upstream error", chat.Usage{}, provider.StatusError(http.StatusInternalServerError, "", []byte("boom")), http.StatusBadGateway, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &reranker{usage: tt.usage, err: tt.err}
			p, rec, c := setupRerank(t, a)
			call := &provider.RerankCall{Model: "acct/rr", Query: "q", Documents: []string{"a", "b"}}
			res, err := p.Rerank(context.Background(), c, call)
			if (err != nil) != (tt.err != nil) {
				t.Fatalf("Rerank error = %v, want %v", err, tt.err)
			}
			if err == nil && string(res.JSON) != `{"results":[]}` {
				t.Errorf("result = %s", res.JSON)
			}
			if len(a.calls) != 1 || a.calls[0] != call {
				t.Errorf("adapter calls = %v, want the call once", a.calls)
			}
			if len(rec.evs) != 1 {
				t.Fatalf("%d events, want exactly 1: %+v", len(rec.evs), rec.evs)
			}
			ev := rec.evs[0]
			if ev.Operation != snapshot.TypeRerank || ev.Model != "acct/rr" || ev.RequestID != "req-r" || ev.User != "u" || ev.Stream {
				t.Errorf("event = %+v", ev)
			}
			if ev.HTTPStatus != tt.wantStatus || ev.UsageMissing != tt.wantMissing || ev.Usage != tt.usage {
				t.Errorf("status, missing, usage = %d, %v, %+v; want %d, %v, %+v", ev.HTTPStatus, ev.UsageMissing, ev.Usage, tt.wantStatus, tt.wantMissing, tt.usage)
			}
			if !ev.Priced || ev.CostUSD != tt.wantCost {
				t.Errorf("cost = %v (priced %v), want %v", ev.CostUSD, ev.Priced, tt.wantCost)
			}
		})
	}
}

func TestRerankRefusals(t *testing.T) {
	tests := []struct {
		name    string
		adapter provider.Adapter
		model   string
		want    apierr.Kind
	}{
		{"unknown model", &reranker{}, "acct/none", apierr.KindNotFound},
		{"not a rerank model", &reranker{}, "acct/chat", apierr.KindInvalidRequest},
		{"adapter cannot rerank", &scripted{}, "acct/rr", apierr.KindInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rec, c := setupRerank(t, tt.adapter)
			_, err := p.Rerank(context.Background(), c, &provider.RerankCall{Model: tt.model, Query: "q", Documents: []string{"a"}})
			var e *apierr.Error
			if !errors.As(err, &e) || e.Kind != tt.want || e.Param != "model" {
				t.Fatalf("error = %v, want kind %v naming model", err, tt.want)
			}
			if len(rec.evs) != 0 {
				t.Errorf("a refused request recorded %d events, want none", len(rec.evs))
			}
			if r, ok := tt.adapter.(*reranker); ok && len(r.calls) != 0 {
				t.Errorf("the adapter was called for a refused request")
			}
		})
	}
}
