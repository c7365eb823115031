package rawjson

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSet(t *testing.T) {
	tests := []struct {
		name, in, key, value, want string
	}{
		{"replace string", `{"model":"a/b","messages":[]}`, "model", `"up"`, `{"model":"up","messages":[]}`},
		{"replace last", `{"messages":[{"content":"x}\"]"}],"model":"m"}`, "model", `"up"`, `{"messages":[{"content":"x}\"]"}],"model":"up"}`},
		{"nested key ignored", `{"messages":[{"model":"inner"}],"model":"m"}`, "model", `"up"`, `{"messages":[{"model":"inner"}],"model":"up"}`},
		{"insert", `{"model":"m"}`, "stream_options", `{"include_usage":true}`, `{"stream_options":{"include_usage":true},"model":"m"}`},
		{"insert into empty", ` { } `, "model", `"m"`, ` {"model":"m" } `},
		{"duplicate keys all replaced", `{"model":"x","model":"a/b"}`, "model", `"up"`, `{"model":"up","model":"up"}`},
		{"replace object", `{"stream_options":{"include_usage":false},"stream":true}`, "stream_options", `{"include_usage":true}`, `{"stream_options":{"include_usage":true},"stream":true}`},
		{"whitespace and numbers", "{\n \"n\" : 2 ,\n \"model\" : \"m\"\n}", "model", `"up"`, "{\n \"n\" : 2 ,\n \"model\" : \"up\"\n}"},
		{"escaped key", `{"mod\u0065l":"m"}`, "model", `"up"`, `{"mod\u0065l":"up"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Set([]byte(tt.in), tt.key, []byte(tt.value))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Set (-want +got):\n%s", diff)
			}
			if !json.Valid(got) {
				t.Errorf("result is not valid JSON: %s", got)
			}
			// AppendSet into a used buffer: the same object after what the buffer holds.
			buf := append(make([]byte, 0, 4), "old"...)
			got, err = AppendSet(buf[:3], []byte(tt.in), tt.key, []byte(tt.value))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff("old"+tt.want, string(got)); diff != "" {
				t.Errorf("AppendSet (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetRejectsNonObjects(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{"a":`, `{"a":"unterminated}`} {
		if _, err := Set([]byte(in), "model", []byte(`"m"`)); err == nil {
			t.Errorf("Set(%q) succeeded, want error", in)
		}
	}
}

func FuzzSet(f *testing.F) {
	f.Add([]byte(`{"model":"a","messages":[{"role":"user","content":"hi"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		out, err := Set(in, "model", []byte(`"patched"`))
		if err != nil {
			return // not an object
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("Set produced invalid JSON %q from %q: %v", out, in, err)
		}
		if m["model"] != "patched" {
			t.Fatalf("model = %v, want patched (in %q, out %q)", m["model"], in, out)
		}
	})
}

func TestGet(t *testing.T) {
	obj := []byte(`{"id":"x","choices":[{"message":{"usage":{"fake":1}}}],"usage":{"prompt_tokens":9,"total_tokens":18} , "n":null}`)
	tests := []struct {
		key, want string
		found     bool
	}{
		{"usage", `{"prompt_tokens":9,"total_tokens":18}`, true},
		{"choices", `[{"message":{"usage":{"fake":1}}}]`, true},
		{"n", `null`, true},
		{"missing", ``, false},
	}
	for _, tt := range tests {
		got, found, err := Get(obj, tt.key)
		if err != nil || found != tt.found || string(got) != tt.want {
			t.Errorf("Get(%q) = %q, %v, %v; want %q, %v", tt.key, got, found, err, tt.want, tt.found)
		}
	}
	if _, _, err := Get([]byte(`[1]`), "a"); err == nil {
		t.Error("Get on an array succeeded")
	}
}

func TestDelete(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"model":"m","messages":[1]}`, `{"messages":[1]}`},
		{`{"a":1, "model" : {"x":"}"} ,"b":[2]}`, `{"a":1,"b":[2]}`},
		{`{"model":"m"}`, `{}`},
		{`{"a":"model"}`, `{"a":"model"}`},
		{`{"model":1,"model":2,"c":3}`, `{"c":3}`},
	}
	for _, tt := range tests {
		got, err := Delete([]byte(tt.in), "model")
		if err != nil || string(got) != tt.want {
			t.Errorf("Delete(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
		if !json.Valid(got) {
			t.Errorf("Delete(%s) is not valid JSON: %s", tt.in, got)
		}
	}
	if _, err := Delete([]byte(`[1]`), "a"); err == nil {
		t.Error("Delete on an array succeeded")
	}
}

// TestGetAndSetAllocate: Get costs no allocation, and Set only its result.
func TestGetAndSetAllocate(t *testing.T) {
	obj := []byte(`{"id":"x","model":"gpt-4o","choices":[{"index":0,"message":{"content":"hi"}}],"usage":{"prompt_tokens":1}}`)
	value := []byte(`"acct/m"`)
	if n := testing.AllocsPerRun(100, func() { _, _, _ = Get(obj, "usage") }); n != 0 {
		t.Errorf("Get: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Set(obj, "model", value) }); n != 1 {
		t.Errorf("Set: %v allocations, want 1 (its result)", n)
	}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf, _ = AppendSet(buf[:0], obj, "model", value) }); n != 0 {
		t.Errorf("AppendSet into a large enough buffer: %v allocations, want 0", n)
	}
}

// TestAppendReplace: the last old value, obj itself when every member already holds the value,
// and otherwise exactly what AppendSet makes.
func TestAppendReplace(t *testing.T) {
	tests := []struct {
		in, old string
		edited  bool
	}{
		{`{"id":"x","model":"up","choices":[]}`, `"up"`, true},
		{`{"id":"x","model":"acct/m","choices":[]}`, `"acct/m"`, false},
		{`{"id":"x","choices":[]}`, ``, true},
		{`{"model":"acct/m","model":"other"}`, `"other"`, true},
		{`{"model":"other","model":"acct/m"}`, `"acct/m"`, true}, // one of two differs: both are set
		{`{"model":7}`, `7`, true},
	}
	value := []byte(`"acct/m"`)
	for _, tt := range tests {
		out, old, edited, err := AppendReplace(nil, []byte(tt.in), "model", value)
		if err != nil {
			t.Fatal(err)
		}
		if string(old) != tt.old || edited != tt.edited {
			t.Errorf("AppendReplace(%s) old %s edited %v, want %s %v", tt.in, old, edited, tt.old, tt.edited)
		}
		want, _ := Set([]byte(tt.in), "model", value)
		if !edited {
			want = []byte(tt.in)
		}
		if string(out) != string(want) {
			t.Errorf("AppendReplace(%s) = %s, want %s", tt.in, out, want)
		}
	}
	if _, _, _, err := AppendReplace(nil, []byte(`[1]`), "model", value); err == nil {
		t.Error("AppendReplace of an array succeeded")
	}
	obj := []byte(`{"id":"x","model":"up","choices":[{"index":0,"delta":{"content":"hi"}}]}`)
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf, _, _, _ = AppendReplace(buf[:0], obj, "model", value) }); n != 0 {
		t.Errorf("AppendReplace into a large enough buffer: %v allocations, want 0", n)
	}
}

// FuzzValidAgrees: Valid answers as encoding/json.Valid does.
func FuzzValidAgrees(f *testing.F) {
	for _, s := range []string{
		`{"id":"c","choices":[{"delta":{"content":"hi"}}],"usage":null}`, `{}`, `[]`, `"x"`, `1e5`, `-0`, `01`, `1.`, `.5`,
		`{"a":1,}`, `[1,]`, `{"a" 1}`, `"\u00e9"`, `"\ud83d"`, `"\x"`, "\"\x01\"", "\"\xff\"", `nul`, `null `, ` true`,
		`{"a":[1,2,{"b":null}]} x`, `"tab	in"`, `1 2`, ``, ` `, `{"a":"\/"}`, `[1e400]`, `{"a":-}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

// TestAppendReplaceValid: on valid JSON, AppendReplaceValid answers as AppendReplace does,
// duplicates after the first member included, spelled plainly or with escapes; it stops
// reading after the member when nothing after it could name the key again.
func TestAppendReplaceValid(t *testing.T) {
	value := []byte(`"acct/m"`)
	for _, in := range []string{
		`{"id":"x","model":"up","choices":[{"delta":{"content":"hi\n\"there\""}}]}`,
		`{"id":"x","model":"acct/m","choices":[]}`,
		`{"id":"x","choices":[]}`,
		`{"model":"up","choices":[{"delta":{"content":"a model"}}]}`,         // the key's bytes later, in a value
		`{"model":"up","choices":[{"delta":{"content":"a"}}],"model":"x"}`,   // a plain duplicate
		`{"model":"acct/m","choices":[],"mod\u0065l":"x"}`,                   // a duplicate spelled with an escape
		`{"model":"up","choices":[{"delta":{"content":"\u00e9\\u"}}],"m":1}`, // an escape that could spell it, none does
	} {
		out, old, edited, err := AppendReplaceValid(nil, []byte(in), "model", value)
		wantOut, wantOld, wantEdited, wantErr := AppendReplace(nil, []byte(in), "model", value)
		if err != nil || wantErr != nil {
			t.Fatalf("%s: errors %v, %v", in, err, wantErr)
		}
		if string(out) != string(wantOut) || string(old) != string(wantOld) || edited != wantEdited {
			t.Errorf("AppendReplaceValid(%s) = %s, %s, %v; AppendReplace: %s, %s, %v", in, out, old, edited, wantOut, wantOld, wantEdited)
		}
	}
	// A key that a short escape can spell part of: "\/" is "/".
	in := `{"a/b":1,"x":"\n","a\/b":2}`
	out, old, _, err := AppendReplaceValid(nil, []byte(in), "a/b", []byte(`3`))
	if err != nil || string(old) != `2` || string(out) != `{"a/b":3,"x":"\n","a\/b":3}` {
		t.Errorf("AppendReplaceValid(%s, a/b) = %s, %s, %v", in, out, old, err)
	}
	// The tail of this object is broken: a scan that read it would fail.
	broken := []byte(`{"id":"x","model":"up","choices":[}`)
	if _, _, _, err := AppendReplace(nil, broken, "model", value); err == nil {
		t.Fatal("AppendReplace read past the member without failing")
	}
	out, old, _, err = AppendReplaceValid(nil, broken, "model", value)
	if err != nil || string(old) != `"up"` || string(out) != `{"id":"x","model":"acct/m","choices":[}` {
		t.Errorf("AppendReplaceValid read past the member: %s, %s, %v", out, old, err)
	}
}

// FuzzAppendReplaceValidAgrees: on every valid JSON object, AppendReplaceValid's answer is
// AppendReplace's.
func FuzzAppendReplaceValidAgrees(f *testing.F) {
	for _, s := range []string{
		`{"model":"a","model":"b"}`, `{"model":"a","x":{"model":"b"}}`, `{"model":"a","mo\u0064el":"b"}`,
		`{"model":1,"choices":[{"delta":{"content":"\\u0064 model"}}]}`, `{"a":"model","model":null}`, `{}`,
	} {
		f.Add([]byte(s))
	}
	value := []byte(`"acct/m"`)
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) || len(bytes.TrimSpace(b)) == 0 || bytes.TrimSpace(b)[0] != '{' {
			return
		}
		out, old, edited, err := AppendReplaceValid(nil, b, "model", value)
		wantOut, wantOld, wantEdited, wantErr := AppendReplace(nil, b, "model", value)
		if (err != nil) != (wantErr != nil) || string(out) != string(wantOut) || string(old) != string(wantOld) || edited != wantEdited {
			t.Fatalf("%q: AppendReplaceValid %q %q %v %v; AppendReplace %q %q %v %v", b, out, old, edited, err, wantOut, wantOld, wantEdited, wantErr)
		}
	})
}

// BenchmarkStampChunk stamps the model of a typical stream chunk, reading all of it
// (AppendReplace) and only up to its model (AppendReplaceValid).
func BenchmarkStampChunk(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1727787630,` +
		`"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_f85bea6784","choices":[{"index":0,` +
		`"delta":{"content":" Hello"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	value := []byte(`"acct/gpt-4o-mini"`)
	buf := make([]byte, 0, 512)
	for _, f := range []struct {
		name string
		fn   func(dst, obj []byte, key string, value []byte) ([]byte, []byte, bool, error)
	}{{"AppendReplace", AppendReplace}, {"AppendReplaceValid", AppendReplaceValid}} {
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(chunk)))
			for b.Loop() {
				buf, _, _, _ = f.fn(buf[:0], chunk, "model", value)
			}
		})
	}
}
