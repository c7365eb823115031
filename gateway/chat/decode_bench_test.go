package chat

import "testing"

var benchChatBody = []byte(`{"model":"bench/echo","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello"}],"temperature":0.2}`)

// BenchmarkDecodeRequest is the decode and validation every chat request pays.
func BenchmarkDecodeRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest(benchChatBody); err != nil {
			b.Fatal(err)
		}
	}
}
