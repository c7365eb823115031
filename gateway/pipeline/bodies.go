package pipeline

import (
	"bytes"
	"encoding/json"

	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/redact"
	"github.com/llmgw/llmgw/gateway/usage"
)

// MaxLoggedBody caps each logged body (usage.Bodies' Request and Response): 64 KiB.
const MaxLoggedBody = 64 << 10

// bodySlack is how much of an answer is kept past MaxLoggedBody, so that the cut made after
// redaction never falls inside a secret that redaction would have masked whole.
const bodySlack = 4 << 10

// bodyLog collects the bodies of a request whose body logging is on (Caller.bodies; nil when
// it is off, and then nothing is captured or copied). It holds at most MaxLoggedBody+bodySlack
// bytes of answer, whatever its length; the request body is the one the surface already
// holds, not a copy. Its methods are called in turn by whoever reads the answer (the handler,
// then a stream's background drain), never concurrently.
type bodyLog struct {
	req    []byte // the client's raw body, nil when it came over Connect or REST
	parsed any    // the decoded request, encoded as JSON when req is nil
	resp   []byte // the first MaxLoggedBody+bodySlack bytes of the answer
	respN  int64  // bytes of answer seen
}

// startBodies turns body logging on for c's request to model when its header asked for it or a
// body logging rule of its snapshot matches it; body is the client's raw request (nil for one
// that came over Connect or REST, when parsed is encoded instead).
func (c *Caller) startBodies(model string, body []byte, parsed any) {
	if !c.logBodies && !c.Snapshot.LogsBodies(c.Principal, c.Metadata, model) {
		return
	}
	c.bodies = &bodyLog{req: body, parsed: parsed}
}

// answer adds p, a piece of the answer, keeping what fits. The buffer grows as append would,
// but never past MaxLoggedBody+bodySlack.
func (b *bodyLog) answer(p []byte) {
	const most = MaxLoggedBody + bodySlack
	b.respN += int64(len(p))
	n := min(most-len(b.resp), len(p))
	if n <= 0 {
		return
	}
	if len(b.resp)+n > cap(b.resp) {
		grown := make([]byte, len(b.resp), min(max(2*cap(b.resp), len(b.resp)+n, 512), most))
		copy(grown, b.resp)
		b.resp = grown
	}
	b.resp = append(b.resp, p[:n]...)
}

var (
	dataLine  = []byte("data: ")
	eventLine = []byte("event: ")
	twoLines  = []byte("\n\n")
)

// event adds one event of a stream as server-sent event lines: "event: <name>" when it has a
// name, then "data: <data>".
func (b *bodyLog) event(name string, data []byte) {
	if name != "" {
		b.answer(eventLine)
		b.answer([]byte(name))
		b.answer([]byte("\n"))
	}
	b.answer(dataLine)
	b.answer(data)
	b.answer(twoLines)
}

// result is the bodies redacted with r and capped.
func (b *bodyLog) result(r *redact.Redactor) *usage.Bodies {
	req := b.req
	if req == nil && b.parsed != nil {
		req, _ = json.Marshal(b.parsed)
	}
	out := &usage.Bodies{}
	out.Request, out.RequestTruncated = logged(r, req[:min(len(req), MaxLoggedBody+bodySlack)], int64(len(req)))
	out.Response, out.ResponseTruncated = logged(r, b.resp, b.respN)
	return out
}

// logged is a body of n bytes, of which kept holds the first, with the configured secrets (r)
// and key-shaped text masked, then cut to at most MaxLoggedBody bytes (at a token boundary,
// marked "...", as redact.Excerpt cuts); truncated reports a cut. A body kept only in part
// first loses its last, maybe partial, token: a secret cut where the keeping stopped is never
// left half-visible.
func logged(r *redact.Redactor, kept []byte, n int64) (out []byte, truncated bool) {
	partial := int64(len(kept)) < n
	if partial {
		kept = kept[:bytes.LastIndexAny(kept, " \t\r\n\",;:{}[]")+1]
	}
	if len(kept) == 0 {
		return nil, n > 0
	}
	s := redact.KeyShapes(r.Redact(string(kept)))
	const limit = MaxLoggedBody - len("...")
	if len(s) > limit {
		s, partial = redact.Excerpt(s, limit), true
	}
	return []byte(s), partial
}

// answerJSON is the JSON of a non-streamed answer, for its logged response.
func answerJSON(res any) []byte {
	switch r := res.(type) {
	case *provider.ChatResult:
		return r.JSON
	case *provider.MessagesResult:
		return r.JSON
	case *provider.EmbedResult:
		return r.JSON
	case *provider.RerankResult:
		return r.JSON
	}
	return nil
}
