package pipeline

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/gateway/usage"
)

// TestFirstTokenTimeoutFallsBack: a streamed attempt that sends nothing within the request's
// time-to-first-token timeout (whether its stream has not opened or has opened without an
// event) is abandoned and the next target answers, without a retry of the slow one although
// its retry statuses include the timeout's; with no next target the request is a timeout; a
// stream that starts in time is not affected.
func TestFirstTokenTimeoutFallsBack(t *testing.T) {
	u := usageChunk
	text := provider.Chunk{JSON: []byte(`{"choices":[{"delta":{"content":"hi"}}]}`)}
	last := provider.Chunk{JSON: []byte(`{"choices":[],"usage":{}}`), Usage: &u, UsageOnly: true}
	fast := func() *scripted { return &scripted{chunks: []provider.Chunk{text, last}, err: io.EOF} }
	tests := []struct {
		name         string
		first        *scripted // the plan's first target
		fallback     bool      // the plan has a second, fast target
		ttft         time.Duration
		wantErr      bool
		wantAttempts []string
	}{
		{name: "opened, no first event", first: &scripted{hang: true}, fallback: true, ttft: 20 * time.Millisecond,
			wantAttempts: []string{"acct/m timeout", "acct/good ok"}},
		{name: "not opened", first: &scripted{hangOpen: true}, fallback: true, ttft: 20 * time.Millisecond,
			wantAttempts: []string{"acct/m timeout", "acct/good ok"}},
		{name: "no fallback", first: &scripted{hang: true}, ttft: 20 * time.Millisecond, wantErr: true,
			wantAttempts: []string{"acct/m timeout"}},
		{name: "in time", first: fast(), fallback: true, ttft: time.Minute,
			wantAttempts: []string{"acct/m ok"}},
		{name: "no timeout", first: fast(), fallback: true,
			wantAttempts: []string{"acct/m ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rec, _ := setup(t, tt.first)
			c, err := p.Admit("secret", "req-f")
			if err != nil {
				t.Fatal(err)
			}
			c.ttft = tt.ttft
			one, err := c.Snapshot.Route("acct/m")
			if err != nil {
				t.Fatal(err)
			}
			retried := snapshot.Retry{Attempts: 2, OnStatus: []int{503, 504}}
			plan := &snapshot.Plan{Model: "prod/v", Virtual: true, Types: []string{"chat"}, Targets: []snapshot.Target{{Endpoint: one.Targets[0].Endpoint, Retry: retried, FallbackOn: []int{500}}}}
			if tt.fallback {
				good := *one.Targets[0].Endpoint
				good.FQN, good.Adapter = "acct/good", fast()
				plan.Targets = append(plan.Targets, snapshot.Target{Endpoint: &good})
			}
			call := &provider.ChatCall{Request: &chat.Request{Model: "prod/v", Messages: []chat.Message{{Role: chat.RoleUser, Content: chat.TextContent("hello")}}}}
			st, err := attempts(context.Background(), p, c, plan, &request{op: "chat", typ: "chat", stream: true}, p.event(c, "prod/v", "chat", true), func(ctx context.Context, a *Attempt, e *usage.Event) (provider.ChatStream, error) {
				return p.chatStream(ctx, a, *e, call)
			})
			if tt.wantErr {
				ae := apierr.From(err)
				if err == nil || ae.Kind != apierr.KindUpstreamTimeout || !errors.Is(err, errFirstToken) || !strings.Contains(ae.Message, "X-Llmgw-Ttft-Timeout-Ms") {
					t.Fatalf("error %v, want a timeout naming the header", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for {
					ch, err := st.Recv()
					if err != nil {
						if err != io.EOF {
							t.Fatalf("stream: %v", err)
						}
						break
					}
					got = append(got, string(ch.JSON))
				}
				st.Close()
				if len(got) != 2 || !strings.Contains(got[0], `"content":"hi"`) {
					t.Errorf("stream %q, want the answering target's two chunks", got)
				}
			}
			if len(rec.evs) != 1 {
				t.Fatalf("%d events, want 1", len(rec.evs))
			}
			var got []string
			for _, a := range rec.evs[0].Attempts {
				got = append(got, a.Target+" "+a.Status)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantAttempts, ",") {
				t.Errorf("attempts %q, want %q", got, tt.wantAttempts)
			}
			if want := len(tt.wantAttempts); c.Header.Get(HeaderAttempts) != string(rune('0'+want)) {
				t.Errorf("%s %q, want %d", HeaderAttempts, c.Header.Get(HeaderAttempts), want)
			}
			slow := 0
			for _, s := range p.Breaker().States() {
				if s.Target == "acct/m" {
					slow = s.Failures
				}
			}
			if want := map[bool]int{true: 1}[tt.ttft > 0 && tt.ttft < time.Minute]; slow != want {
				t.Errorf("the first target's circuit counts %d failures, want %d (a timeout)", slow, want)
			}
		})
	}
}

// TestPeekReplaysTheFirstRead: a forwarded stream's body read ahead yields the same bytes, and
// then the rest, as the body itself would.
func TestPeekReplaysTheFirstRead(t *testing.T) {
	body := strings.Repeat("data: x\n\n", 1000)
	res, _ := peekBody(&provider.ForwardResult{Body: io.NopCloser(strings.NewReader(body))})
	got, err := io.ReadAll(res.Body)
	if err != nil || string(got) != body {
		t.Errorf("read %d bytes (%v), want the %d of the body", len(got), err, len(body))
	}
}

// TestPeekedStreamsReplayTheirFirstEvent: a chat or Messages stream read ahead yields its first
// event, then the rest, then its end, as the stream itself would.
func TestPeekedStreamsReplayTheirFirstEvent(t *testing.T) {
	chunks := []provider.Chunk{{JSON: []byte(`{"n":1}`)}, {JSON: []byte(`{"n":2}`)}}
	st, closer := peekChat(&scriptedStream{s: &scripted{chunks: chunks, err: io.EOF}})
	var got []string
	for {
		ch, err := st.Recv()
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		got = append(got, string(ch.JSON))
	}
	if strings.Join(got, ",") != `{"n":1},{"n":2}` || closer == nil {
		t.Errorf("chat stream read ahead yields %q, want both chunks", got)
	}
	n := &native{scripted: scripted{err: io.EOF}, events: []provider.MessagesEvent{{Name: "message_start"}, {Name: "message_stop"}}}
	ms, _ := peekMessages(&nativeStream{n: n})
	var names []string
	for {
		ev, err := ms.Recv()
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		names = append(names, ev.Name)
	}
	if strings.Join(names, ",") != "message_start,message_stop" {
		t.Errorf("Messages stream read ahead yields %q, want both events", names)
	}
	// An error in place of the first event is the stream's first answer.
	broken := provider.BadResponse(errors.New("cut"))
	st, _ = peekChat(&scriptedStream{s: &scripted{err: broken}})
	if _, err := st.Recv(); err != broken {
		t.Errorf("first Recv of a stream that failed at once: %v, want its error", err)
	}
}
