package pipeline

import (
	"encoding/json"

	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/rawjson"
)

// The model an answer names is the one the client asked for: the gateway's fully qualified
// name (mock/echo, openai-main/gpt-4o), on every surface, streamed or not, whatever the
// provider calls the model. A client that compares the answer's model with what it sent sees
// a match, and a provider's dated snapshot name (gpt-4o-2024-08-06) is never mistaken for a
// model to call. The provider's own name goes to the usage event (usage.Event.UpstreamModel).
// The pipeline sets it on the answers it passes on (chat, chat chunks, embeddings, native
// Messages and their message_start event); surfaces that build their own answer from a chat
// answer (Responses, Connect, translated Messages) take the model from it or from the request.

// answerModel sets one request's model name on its answers.
type answerModel struct {
	quoted []byte // the client's model name as a JSON string
}

func newAnswerModel(model string) answerModel {
	if plain(model) {
		q := make([]byte, 0, len(model)+2)
		return answerModel{quoted: append(append(append(q, '"'), model...), '"')}
	}
	q, _ := json.Marshal(model) // a string always encodes
	return answerModel{quoted: q}
}

// plain reports whether s is printable ASCII that encoding/json writes as it is between
// quotes: no quote, backslash, or the <, > and & it escapes.
func plain[S string | []byte](s S) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// unquote returns the JSON string q as a Go string, as encoding/json decodes it; "" for a
// value that is not a string.
func unquote(q []byte) string {
	if len(q) == 0 {
		return ""
	}
	if len(q) >= 2 && q[0] == '"' && q[len(q)-1] == '"' && plain(q[1:len(q)-1]) {
		return string(q[1 : len(q)-1]) // printable ASCII without escapes: the bytes are the string
	}
	var s string
	_ = json.Unmarshal(q, &s)
	return s
}

// stamp returns obj with its top-level "model" set to the client's name (added when missing),
// and the name it replaced ("" when none). obj is not modified.
func (a answerModel) stamp(obj []byte) ([]byte, string, error) {
	// A model that is not a string is replaced all the same.
	out, old, _, err := rawjson.AppendReplace(nil, obj, "model", a.quoted)
	if err != nil {
		return nil, "", provider.BadResponse(err)
	}
	return out, unquote(old), nil
}

// appendStamp is stamp for a stream's chunks, which their adapter has checked are JSON
// (provider.Chunk), so the scan stops after the chunk's model when nothing after it could be
// another (rawjson.AppendReplaceValid): a chunk names its model before its choices. An edited
// chunk is appended to dst (pass buf[:0] to reuse a buffer, valid until the next call), and
// the name it replaced is returned raw, as its JSON, so a caller that already knows it pays
// nothing for it. When the chunk already names the client's model, the answer is obj itself
// and edited is false; otherwise it is dst's array, grown as needed.
func (a answerModel) appendStamp(dst, obj []byte) (out, old []byte, edited bool, err error) {
	if out, old, edited, err = rawjson.AppendReplaceValid(dst, obj, "model", a.quoted); err != nil {
		return nil, nil, false, provider.BadResponse(err)
	}
	return out, old, edited, nil
}

// stampMessageStart sets the model of a Messages stream's message_start event, which carries
// it in its message member.
func (a answerModel) stampMessageStart(data []byte) ([]byte, string, error) {
	msg, ok, err := rawjson.Get(data, "message")
	if err != nil || !ok {
		return data, "", err
	}
	msg, upstream, err := a.stamp(msg)
	if err != nil {
		return nil, "", err
	}
	out, err := rawjson.Set(data, "message", msg)
	if err != nil {
		return nil, "", provider.BadResponse(err)
	}
	return out, upstream, nil
}
