package chat

import (
	"encoding/json"
	"testing"
)

// TestContentStringDecodesAsJSON: a string content decodes to what encoding/json gives, on
// the quick path (no escapes) and off it.
func TestContentStringDecodesAsJSON(t *testing.T) {
	for _, raw := range []string{`"Say hello"`, `""`, `"ünïcødé ✓"`, `"line\nbreak"`, `"q\"uote"`, `"\u00e9"`, "\"bad\xffutf8\"", `"<&>"`} {
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatal(err)
		}
		var got struct {
			C *Content `json:"c"`
		}
		if err := json.Unmarshal([]byte(`{"c":`+raw+`}`), &got); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if got.C == nil || got.C.Text != want || got.C.Parts != nil {
			t.Errorf("%s: got %+v, want text %q", raw, got.C, want)
		}
	}
	in, c := []byte(`"Say hello"`), &Content{}
	if n := testing.AllocsPerRun(100, func() { _ = c.UnmarshalJSON(in) }); n > 1 {
		t.Errorf("a plain string content: %v allocations, want at most 1 (the string)", n)
	}
}
