package rawjson

import (
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
