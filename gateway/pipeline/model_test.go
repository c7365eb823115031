package pipeline

import (
	"encoding/json"
	"testing"
)

// TestAnswerModelQuotesAsJSON: the quick paths of newAnswerModel and unquote give what
// encoding/json gives, for plain names and for every other kind.
func TestAnswerModelQuotesAsJSON(t *testing.T) {
	for _, name := range []string{"acct/gpt-4o", "a b", "", "a<b>&c", `q"uote`, `back\slash`, "tab\there", "ünïcode", "bad\xffutf8", "\x7f"} {
		want, _ := json.Marshal(name)
		if got := newAnswerModel(name).quoted; string(got) != string(want) {
			t.Errorf("newAnswerModel(%q) = %s, want %s", name, got, want)
		}
		var back string
		_ = json.Unmarshal(want, &back)
		if got := unquote(want); got != back {
			t.Errorf("unquote(%s) = %q, want %q", want, got, back)
		}
	}
	// Raw bytes encoding/json would refuse or replace, and values that are not strings.
	for _, raw := range []string{"\"a\tb\"", "\"a\xffb\"", "\"\\u00e9\"", "12", "null", `{"a":1}`, `"`} {
		var want string
		_ = json.Unmarshal([]byte(raw), &want)
		if got := unquote([]byte(raw)); got != want {
			t.Errorf("unquote(%q) = %q, want %q", raw, got, want)
		}
	}
}
