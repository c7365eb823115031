package redact

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// pemKey is a PEM block shaped like a PKCS#8 private key (not a real key).
const pemKey = "-----BEGIN PRIVATE KEY-----\n" +
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n" +
	"MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n" +
	"-----END PRIVATE KEY-----\n"

func TestRedact(t *testing.T) {
	saFile, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "llmgw-test-project", "private_key_id": "0123456789abcdef",
		"private_key": pemKey, "client_email": "svc@llmgw-test-project.iam.gserviceaccount.com",
		"token_uri": "https://oauth2.googleapis.com/token",
	})
	awsJSON := `{"secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","session_token":"FwoGZXIvYXdzEJr//////////wEaDOsessiontoken"}`
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"no secrets", nil, "Incorrect API key provided: 0123456789abcdef", "Incorrect API key provided: 0123456789abcdef"},
		{"a configured key", []string{"c0ffee0123456789c0ffee0123456789"}, "Incorrect API key provided: c0ffee0123456789c0ffee0123456789.", "Incorrect API key provided: [REDACTED]."},
		{"every occurrence", []string{"abcdefgh12345678"}, "abcdefgh12345678 and abcdefgh12345678", "[REDACTED] and [REDACTED]"},
		{"at the ends", []string{"abcdefgh12345678"}, "abcdefgh12345678", "[REDACTED]"},
		{"short secrets are not substrings", []string{"dev", "test123"}, "dev test123 device", "dev test123 device"},
		{"exactly MinSecretLen", []string{"12345678"}, "id 123456789", "id [REDACTED]9"},
		{"one secret inside another", []string{"secretvalue-long-one", "value-long"}, "x secretvalue-long-one y value-long z", "x [REDACTED] y [REDACTED] z"},
		{"overlapping secrets", []string{"AAAABBBBCCCC", "CCCCDDDDEEEE"}, "-AAAABBBBCCCCDDDDEEEE-", "-[REDACTED]-"},
		{"adjacent secrets", []string{"AAAABBBBCCCC", "DDDDEEEEFFFF"}, "AAAABBBBCCCCDDDDEEEEFFFF", "[REDACTED]"},
		{"same prefix, longest wins", []string{"prefix00-short", "prefix00-short-and-longer"}, "prefix00-short-and-longer!", "[REDACTED]!"},
		{"case-sensitive", []string{"abcdefgh12345678"}, "ABCDEFGH12345678", "ABCDEFGH12345678"},
		{"service-account private key, quoted by line", []string{string(saFile)},
			"bad key MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu for llmgw-test-project",
			"bad key [REDACTED] for llmgw-test-project"},
		{"service-account private key, JSON-escaped", []string{string(saFile)}, strings.ReplaceAll(pemKey, "\n", `\n`),
			`-----BEGIN PRIVATE KEY-----\n[REDACTED]\n[REDACTED]\n-----END PRIVATE KEY-----\n`},
		{"AWS credential object", []string{awsJSON}, "sig by wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY with FwoGZXIvYXdzEJr//////////wEaDOsessiontoken",
			"sig by [REDACTED] with [REDACTED]"},
		{"non-ASCII around", []string{"ключ-секрет-1234"}, "«ключ-секрет-1234»", "«[REDACTED]»"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(tt.secrets)
			if got := r.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if got := r.Contains(tt.in); got != (tt.want != tt.in) {
				t.Errorf("Contains(%q) = %v", tt.in, got)
			}
		})
	}
	var nilR *Redactor
	if got := nilR.Redact("abcdefgh12345678"); got != "abcdefgh12345678" || nilR.Len() != 0 {
		t.Errorf("nil Redactor: %q", got)
	}
}

func TestKeyShapes(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"OpenAI key", "Incorrect API key provided: sk-proj-abc123DEF456ghi789. You can find", "Incorrect API key provided: [REDACTED]. You can find"},
		{"Anthropic key", `{"message":"invalid x-api-key sk-ant-api03-AbCdEf_123-xyz"}`, `{"message":"invalid x-api-key [REDACTED]"}`},
		{"sk- inside a word is not a key", "task-abcdefghijkl", "task-abcdefghijkl"},
		{"bearer", "Authorization: Bearer abc.def-ghi_jkl~mno+p/q==", "Authorization: Bearer [REDACTED]"},
		{"basic", "got Basic dXNlcjpwYXNzd29yZA==", "got Basic [REDACTED]"},
		{"named header", `api-key: 0123456789abcdef0123456789abcdef`, `api-key: [REDACTED]`},
		{"JSON member", `{"api_key": "hunter2hunter2"}`, `{"api_key": "[REDACTED]"}`},
		{"query parameter", "GET /v1beta/models?key=notakeyshape&alt=sse", "GET /v1beta/models?key=[REDACTED]&alt=sse"},
		{"AWS access key id", "The security token included AKIAIOSFODNN7EXAMPLE is invalid", "The security token included [REDACTED] is invalid"},
		{"AWS temporary key id", "ASIAY34FZKBOKMUTVV7A.", "[REDACTED]."},
		{"AWS secret key", "secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY!", "secret [REDACTED]!"},
		{"Google API key", "API key not valid: AIzaSyA-1234567890abcdefghijklmnopqrstu.", "API key not valid: [REDACTED]."},
		{"Google access token", "token ya29.a0AfH6SMBx-abc_def.ghi rejected", "token [REDACTED] rejected"},
		{"JWT", "assertion eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl invalid", "assertion [REDACTED] invalid"},
		{"llmgw key", "key llmgw-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-ab", "key [REDACTED]"},
		{"PEM block", "key:\n" + pemKey + "end", "key:\n[REDACTED]\nend"},
		{"clipped PEM block", "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "key: [REDACTED]"},
		{"long mixed token", "token gsk_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h here", "token [REDACTED] here"},
		{"ordinary text is kept", "The model `gpt-4o` does not exist or you do not have access to it.", "The model `gpt-4o` does not exist or you do not have access to it."},
		{"paths, UUIDs and hex digests are kept", "/v1/projects/llmgw-conformance/locations/europe-west4/publishers/google/models/conf-error-404 req 123e4567-e89b-12d3-a456-426614174000 sha 3f786850e387550fdab836ed7e6dc881de23001b",
			"/v1/projects/llmgw-conformance/locations/europe-west4/publishers/google/models/conf-error-404 req 123e4567-e89b-12d3-a456-426614174000 sha 3f786850e387550fdab836ed7e6dc881de23001b"},
		{"Google reason is kept", `"reason": "API_KEY_INVALID"`, `"reason": "API_KEY_INVALID"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KeyShapes(tt.in); got != tt.want {
				t.Errorf("KeyShapes(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestExcerpt(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short", "upstream failed", 64, "upstream failed"},
		{"cut at a space", "aaaa bbbb cccc", 9, "aaaa bbbb..."},
		{"a token the cut would split is dropped", "bad key 0123456789abcdef0123456789abcdef rest", 20, "bad key..."},
		{"one long token", "0123456789abcdef0123456789abcdef", 10, "..."},
		{"shapes are masked before the cut", "key sk-abcdefghijklmnop is bad", 16, "key [REDACTED]..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Excerpt(tt.in, tt.n); got != tt.want {
				t.Errorf("Excerpt(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

// FuzzRedact checks that no configured secret survives Redact, whatever surrounds or overlaps it.
func FuzzRedact(f *testing.F) {
	f.Add("abcdefgh12345678", "CCCCDDDDEEEE", "x abcdefgh12345678CCCCDDDDEEEE y")
	f.Add("AAAABBBBCCCC", "BBBBCCCCDDDD", "AAAABBBBCCCCDDDD")
	f.Add("sk-canary-0001", "sk-canary-0001-long", "sk-canary-0001-long sk-canary-0001")
	f.Fuzz(func(t *testing.T, a, b, text string) {
		r := New([]string{a, b})
		got := r.Redact(text)
		for _, s := range []string{strings.TrimSpace(a), strings.TrimSpace(b)} {
			// A secret can reappear only as made of mask text and kept bytes, never as the
			// secret left whole in what was kept; check the kept parts.
			if len(s) >= MinSecretLen && !strings.Contains(s, Mask) && !strings.Contains(Mask, s) && strings.Contains(got, s) && !containsAcrossMask(got, s) {
				t.Fatalf("secret %q survived in %q (from %q)", s, got, text)
			}
		}
		if r.Contains(got) && !strings.Contains(got, Mask) {
			t.Fatalf("Contains(%q) after Redact", got)
		}
	})
}

// containsAcrossMask reports whether every occurrence of s in got overlaps a Mask, so it is
// made partly of mask text rather than left unmasked.
func containsAcrossMask(got, s string) bool {
	for i := 0; ; {
		j := strings.Index(got[i:], s)
		if j < 0 {
			return true
		}
		j += i
		overlaps := false
		for k := max(0, j-len(Mask)+1); k < j+len(s) && k < len(got); k++ {
			if strings.HasPrefix(got[k:], Mask) {
				overlaps = true
				break
			}
		}
		if !overlaps {
			return false
		}
		i = j + 1
	}
}

func TestHandler(t *testing.T) {
	const secret = "c0ffee0123456789c0ffee0123456789"
	var current *Redactor
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			var next slog.Handler = slog.NewTextHandler(&buf, nil)
			if format == "json" {
				next = slog.NewJSONHandler(&buf, nil)
			}
			logger := slog.New(NewHandler(next, func() *Redactor { return current }))
			current = nil
			logger.Info("before a snapshot " + secret)
			if !strings.Contains(buf.String(), secret) {
				t.Fatalf("with no redactor the record must pass as it is: %s", buf.String())
			}
			buf.Reset()
			current = New([]string{secret})
			logger.Warn("quoted "+secret, "error", errors.New("upstream said "+secret), "s", secret,
				slog.Group("g", slog.String("inner", "x"+secret)), "list", []string{"a", secret}, "n", 3, "d", time.Second)
			logger.With("bound", secret).WithGroup("grp").Info("bound attrs", "k", secret)
			out := buf.String()
			if strings.Contains(out, secret) {
				t.Errorf("secret in the log:\n%s", out)
			}
			if strings.Count(out, Mask) < 7 || !strings.Contains(out, "upstream said") || !strings.Contains(out, "3") {
				t.Errorf("log lost what it should keep:\n%s", out)
			}
		})
	}
}

// benchmarkLine logs the request line the usage recorder writes for every request.
func benchmarkLine(b *testing.B, h slog.Handler) {
	logger := slog.New(h)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		logger.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", "req_01JABCDEFGHJKMNPQRSTVWXYZ0"), slog.String("key_id", "key_2f9d8c7b6a5e"),
			slog.String("user", "alice"), slog.String("virtual_account", ""), slog.String("model", "openai-main/gpt-4o-mini"),
			slog.String("op", "chat"), slog.Bool("stream", true), slog.String("status", "ok"), slog.Int("http_status", 200),
			slog.Int64("prompt_tokens", 20), slog.Int64("completion_tokens", 8), slog.Int64("cached_tokens", 5),
			slog.Bool("usage_missing", false), slog.Float64("cost_usd", 0.000123), slog.Bool("priced", true),
			slog.Duration("latency", 1234*time.Millisecond), slog.Duration("ttft", 210*time.Millisecond))
	}
}

// BenchmarkRequestLine compares the request line through the JSON handler alone and through
// Handler with 200 configured secrets: the redaction must stay a small part of a line's cost.
func BenchmarkRequestLine(b *testing.B) {
	secrets := make([]string, 200)
	for i := range secrets {
		secrets[i] = "sk-proj-" + strings.Repeat(string(rune('a'+i%26)), 20) + string(rune('A'+i/26))
	}
	r := New(secrets)
	b.Run("plain", func(b *testing.B) {
		benchmarkLine(b, slog.NewJSONHandler(discard{}, nil))
	})
	b.Run("redacted", func(b *testing.B) {
		benchmarkLine(b, NewHandler(slog.NewJSONHandler(discard{}, nil), func() *Redactor { return r }))
	})
}

func BenchmarkKeyShapes(b *testing.B) {
	body := `{"error":{"message":"Incorrect API key provided: sk-proj-abc123DEF456ghi789. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`
	b.ReportAllocs()
	for b.Loop() {
		_ = Excerpt(body, 512)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
