package batch

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/apierr"
)

func resolver(calls *int) Resolver {
	return func(model, url string) (Target, error) {
		*calls++
		switch model {
		case "acct/denied":
			return Target{}, &apierr.Error{Kind: apierr.KindPermissionDenied, Param: "model", Message: "you are not allowed to use the model \"acct/denied\""}
		case "acct/azure":
			return Target{Model: "deployment-1", URL: strings.TrimPrefix(url, "/v1")}, nil
		}
		return Target{Model: "upstream-" + strings.TrimPrefix(model, "acct/"), URL: url}, nil
	}
}

func TestRewriteInput(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
		model          string
		lines, calls   int
	}{
		{
			name:  "model replaced, every other byte kept",
			in:    `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"acct/mini","messages":[{"role":"user","content":"hé \"x\""}],"seed":1}}` + "\n",
			want:  `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"upstream-mini","messages":[{"role":"user","content":"hé \"x\""}],"seed":1}}` + "\n",
			model: "acct/mini", lines: 1, calls: 1,
		},
		{
			name:  "duplicated members are replaced everywhere, as checked",
			in:    `{"url":"/v1/embeddings","url":"/v1/chat/completions","body":{"model":"acct/azure"},"body":{"model":"acct/azure","x":1}}`,
			want:  `{"url":"/chat/completions","url":"/chat/completions","body":{"model":"deployment-1","x":1},"body":{"model":"deployment-1","x":1}}` + "\n",
			model: "acct/azure", lines: 1, calls: 1,
		},
		{
			name: "url mapped, blank lines and CRLF dropped, no final newline",
			in: `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"acct/azure"}}` + "\r\n\n" +
				`{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"acct/azure"}}`,
			want: `{"custom_id":"a","method":"POST","url":"/chat/completions","body":{"model":"deployment-1"}}` + "\n" +
				`{"custom_id":"b","method":"POST","url":"/chat/completions","body":{"model":"deployment-1"}}` + "\n",
			model: "acct/azure", lines: 2, calls: 1, // resolved once per url
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			calls := 0
			in, err := RewriteInput(strings.NewReader(tt.in), &out, 1<<20, resolver(&calls))
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want || in.Model != tt.model || in.Lines != tt.lines || calls != tt.calls {
				t.Errorf("got %q %+v after %d calls; want %q %s %d after %d", out.String(), in, calls, tt.want, tt.model, tt.lines, tt.calls)
			}
		})
	}
}

func TestRewriteInputRefuses(t *testing.T) {
	line := func(model string) string {
		return `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"` + model + `"}}` + "\n"
	}
	for _, tt := range []struct {
		name, in string
		kind     apierr.Kind
		message  string
	}{
		{"not JSON", line("acct/mini") + "nope\n", apierr.KindInvalidRequest, "line 2: not a JSON object"},
		{"a JSON array", "[1]\n", apierr.KindInvalidRequest, "line 1: not a JSON object"},
		{"no url", `{"body":{"model":"acct/mini"}}`, apierr.KindInvalidRequest, "line 1: url must be"},
		{"no body", `{"url":"/v1/embeddings"}`, apierr.KindInvalidRequest, "line 1: body must be a JSON object"},
		{"no model", `{"url":"/v1/embeddings","body":{"input":"x"}}`, apierr.KindInvalidRequest, "line 1: body.model must name a model"},
		{"two models", line("acct/mini") + line("acct/other"), apierr.KindInvalidRequest, `line 2: the model "acct/other" differs from line 1's "acct/mini"`},
		{"a denied model", line("acct/denied"), apierr.KindPermissionDenied, `line 1: you are not allowed to use the model "acct/denied"`},
		{"empty", "\n \n", apierr.KindInvalidRequest, "the batch input file has no requests"},
		{"a line over the limit", line("acct/mini") + `{"url":"/v1/embeddings","body":{"model":"acct/mini","input":"` + strings.Repeat("x", 200) + `"}}`, apierr.KindInvalidRequest, "line 2: the line is longer than the limit of 200 bytes"},
		{"a url in another case is not the url", `{"URL":"/v1/chat/completions","body":{"model":"acct/mini"}}`, apierr.KindInvalidRequest, "line 1: url must be"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			_, err := RewriteInput(strings.NewReader(tt.in), &bytes.Buffer{}, 200, resolver(&calls))
			var e *apierr.Error
			if !errors.As(err, &e) || e.Kind != tt.kind || e.Param != "file" || e.Message != tt.message && !strings.HasPrefix(e.Message, tt.message) {
				t.Errorf("got %v; want %v on file: %q", err, tt.kind, tt.message)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRewriteInputWriteError(t *testing.T) {
	calls := 0
	_, err := RewriteInput(strings.NewReader(`{"url":"/v1/embeddings","body":{"model":"acct/e"}}`), failingWriter{}, 1<<20, resolver(&calls))
	if err == nil || err.Error() != "disk full" {
		t.Errorf("got %v; want the write error as it is", err)
	}
}
