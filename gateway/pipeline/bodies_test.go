package pipeline

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/redact"
)

func TestBodiesAreLoggedOnlyWhenAsked(t *testing.T) {
	body := []byte(`{"model":"acct/m","messages":[{"role":"user","content":"hi"}]}`)
	call := &provider.ChatCall{Request: &chat.Request{Model: "acct/m"}, Body: body}
	for _, asked := range []bool{false, true} {
		p, rec, _ := setup(t, &scripted{})
		c, err := p.Admit("secret", "req")
		if err != nil {
			t.Fatal(err)
		}
		c.logBodies = asked
		if _, err := p.Chat(context.Background(), c, call); err != nil {
			t.Fatal(err)
		}
		b := rec.evs[0].Bodies
		if !asked {
			if b != nil {
				t.Errorf("bodies %+v logged without being asked for", b)
			}
			continue
		}
		if b == nil || string(b.Request) != string(body) || string(b.Response) != `{"model":"acct/m"}` || b.RequestTruncated || b.ResponseTruncated {
			t.Errorf("bodies %+v, want the request and the answer (stamped with the client's model)", b)
		}
	}
}

func TestStreamBodiesAreItsEvents(t *testing.T) {
	u := usageChunk
	p, rec, _ := setup(t, &scripted{chunks: []provider.Chunk{
		{JSON: []byte(`{"choices":[{"delta":{"content":"hi"}}]}`)},
		{JSON: []byte(`{"choices":[],"usage":{}}`), Usage: &u, UsageOnly: true},
	}, err: io.EOF})
	c, err := p.Admit("secret", "req")
	if err != nil {
		t.Fatal(err)
	}
	c.logBodies = true
	// A request that came over Connect has no raw body: its decoded form is logged.
	st, err := p.ChatStream(context.Background(), c, &provider.ChatCall{Request: &chat.Request{Model: "acct/m", Stream: true}})
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, p, st, nil)
	b := rec.evs[0].Bodies
	if b == nil {
		t.Fatal("no bodies")
	}
	if got, want := string(b.Response), "data: {\"model\":\"acct/m\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"model\":\"acct/m\",\"choices\":[],\"usage\":{}}\n\n"; got != want {
		t.Errorf("response\n%q, want\n%q", got, want)
	}
	if !strings.Contains(string(b.Request), `"model":"acct/m"`) || !strings.Contains(string(b.Request), `"stream":true`) {
		t.Errorf("request %s, want the decoded request as JSON", b.Request)
	}
}

func TestLoggedBodiesAreRedactedAndCapped(t *testing.T) {
	const configured = "plain-provider-credential-42"
	r := redact.New([]string{configured})
	t.Run("redacted", func(t *testing.T) {
		in := `{"content":"use ` + configured + ` or sk-proj-ABCdef0123456789xyz"}`
		out, truncated := logged(r, []byte(in), int64(len(in)))
		if truncated || strings.Contains(string(out), configured) || strings.Contains(string(out), "sk-proj") || strings.Count(string(out), redact.Mask) != 2 {
			t.Errorf("logged %s (truncated %v), want both secrets masked and nothing cut", out, truncated)
		}
	})
	t.Run("capped", func(t *testing.T) {
		var b bodyLog
		for range 10_000 {
			b.event("", []byte(`{"choices":[{"delta":{"content":"word "}}]}`))
		}
		if len(b.resp) != MaxLoggedBody+bodySlack || cap(b.resp) != MaxLoggedBody+bodySlack {
			t.Errorf("kept %d bytes (in a buffer of %d) of a long answer, want %d", len(b.resp), cap(b.resp), MaxLoggedBody+bodySlack)
		}
		res := b.result(r)
		if !res.ResponseTruncated || len(res.Response) > MaxLoggedBody || !strings.HasSuffix(string(res.Response), "...") {
			t.Errorf("response of %d bytes (truncated %v), want at most %d ending in ...", len(res.Response), res.ResponseTruncated, MaxLoggedBody)
		}
	})
	t.Run("secret at the keeping edge", func(t *testing.T) {
		// The answer's kept bytes end inside the configured secret, and what comes before
		// shrinks under the cap once redacted (it quotes the secret many times): the cut
		// secret's visible part must still be dropped, not logged.
		var b bodyLog
		quoted := strings.Repeat(configured+" ", 2000)
		spaces := strings.Repeat(" ", MaxLoggedBody+bodySlack-len(quoted)-15) // 15 bytes of the last one are kept
		b.answer([]byte(quoted + spaces + configured + " and more"))
		res := b.result(r)
		if strings.Contains(string(res.Response), configured[:5]) {
			t.Errorf("a cut secret's first bytes were logged: ...%s", res.Response[len(res.Response)-40:])
		}
		if !res.ResponseTruncated {
			t.Error("not marked truncated")
		}
	})
}

// BenchmarkChatOneTargetBodies is BenchmarkChatOneTarget with body logging on: what capturing,
// redacting and capping a small request's bodies costs. BenchmarkChatOneTarget (off) must not
// change when body logging is added.
func BenchmarkChatOneTargetBodies(b *testing.B) {
	p, rec, _ := setup(b, &scripted{})
	call := &provider.ChatCall{Request: &chat.Request{Model: "acct/m"}, Body: []byte(`{"model":"acct/m","messages":[{"role":"user","content":"What is the capital of France?"}]}`)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := p.Admit("secret", "req")
		if err != nil {
			b.Fatal(err)
		}
		c.logBodies = true
		if _, err := p.Chat(ctx, c, call); err != nil {
			b.Fatal(err)
		}
		rec.evs = rec.evs[:0]
	}
}
