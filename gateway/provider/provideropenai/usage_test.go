package provideropenai

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/chat"
)

var usageSeeds = []string{
	`{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}`,
	`{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":2}}`,
	` { "prompt_tokens" : 1 ,
	  "total_tokens":1 } `,
	`{}`,
	`{"prompt_tokens_details":{}}`,
	`{"prompt_tokens":1,"prompt_tokens":2}`,
	`{"prompt_tokens":-0}`,
	`{"prompt_tokens":9223372036854775807}`,
	`{"prompt_tokens":-9223372036854775808}`,
	`{"prompt_tokens":9,"audio_tokens":1}`,
	`{"prompt_tokens_details":{"cached_tokens":1,"audio_tokens":0}}`,
	`{"completion_tokens_details":{"reasoning_tokens":1,"accepted_prediction_tokens":0}}`,
	`{"prompt_tokens":9,"completion_tokens":16,"total_tokens":25,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`,
	`{"prompt_tokens":9223372036854775808}`,
	`{"prompt_tokens":1.0}`,
	`{"prompt_tokens":1e3}`,
	`{"prompt_tokens":01}`,
	`{"prompt_tokens":null}`,
	`{"prompt_tokens":"9"}`,
	`{"prompt_tokens":9,"Audio_tokens":1}`,
	`{"prompt_tokens":9,"cost":0.5}`,
	`{"prompt_tokens_details":{"cached_tokens":1,"Cached_tokens":2}}`,
	`{"completion_tokens_details":{"reasoning_tokens":1,"server_tool_use":{}}}`,
	`{"prompt\u005ftokens":4}`,
	`{"Prompt_Tokens":4}`,
	`{"prompt_tokens":4,}`,
	`{"prompt_tokens":4`,
	`{"prompt_tokens":4}x`,
	`[]`,
}

// TestQuickUsageDecodesAsJSON: whenever quickUsage takes an object, it gives what encoding/json
// gives; it takes the plain shapes upstreams send.
func TestQuickUsageDecodesAsJSON(t *testing.T) {
	for _, in := range usageSeeds {
		checkQuickUsage(t, []byte(in))
	}
	for _, in := range usageSeeds[:13] {
		if _, ok := quickUsage([]byte(in)); !ok {
			t.Errorf("quickUsage refused %s", in)
		}
	}
	// The key case-insensitivity of encoding/json, escaped keys and unmodelled members that are
	// not integers under lowercase keys are left to encoding/json.
	for _, in := range usageSeeds[13:] {
		if _, ok := quickUsage([]byte(in)); ok {
			t.Errorf("quickUsage took %s", in)
		}
	}
}

func FuzzQuickUsage(f *testing.F) {
	for _, in := range usageSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkQuickUsage(t, b) })
}

func checkQuickUsage(t *testing.T, b []byte) {
	t.Helper()
	got, ok := quickUsage(b)
	if !ok {
		return
	}
	var want chat.Usage
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("quickUsage took %s, which encoding/json refuses: %v", b, err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s: (-json +quick)\n%s", b, d)
	}
}
