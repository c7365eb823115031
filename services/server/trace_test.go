package server

import "testing"

// TestSpanRoute: ids in paths do not reach span names.
func TestSpanRoute(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/chat/completions":                      "/v1/chat/completions",
		"/v1/messages/count_tokens":                 "/v1/messages/count_tokens",
		"/v1/batches":                               "/v1/batches",
		"/v1/batches/batch_abc123":                  "/v1/batches/{id}",
		"/v1/batches/batch_abc123/cancel":           "/v1/batches/{id}/cancel",
		"/v1/files/file-9/content":                  "/v1/files/{id}/content",
		"/v1/models/openai/gpt-4o":                  "/v1/models/{id}",
		"/v1/responses/resp_1":                      "/v1/responses/{id}",
		"/llmgw.inference.v1.InferenceService/Chat": "/llmgw.inference.v1.InferenceService/Chat",
	} {
		if got := spanRoute(path); got != want {
			t.Errorf("spanRoute(%q) = %q, want %q", path, got, want)
		}
	}
}
