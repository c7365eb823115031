package configfile

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

func TestLoggingConfigFromFile(t *testing.T) {
	f, err := Parse([]byte(`
name: bodies
type: gateway-logging-config
rules:
  - id: billing
    when: {subjects: [virtualaccount:billing], models: [openai-main/gpt-4o]}
  - id: debug
    when: {metadata: {env: debug}}
  - id: everything
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []snapshot.BodyLogRule{
		{ID: "billing", When: governance.Condition{Subjects: []string{"virtualaccount:billing"}, Models: []string{"openai-main/gpt-4o"}}},
		{ID: "debug", When: governance.Condition{Metadata: map[string]string{"env": "debug"}}},
		{ID: "everything"},
	}
	if diff := cmp.Diff(want, f.BodyLogging); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}

func TestLoggingConfigErrorsNameField(t *testing.T) {
	head := "name: bodies\ntype: gateway-logging-config\n"
	for _, tc := range []struct{ name, body, want string }{
		{"rules required", "", "rules: expected a list of rules"},
		{"bad subject", "rules:\n  - id: r\n    when: {subjects: [group:x]}\n", "rules[0].when.subjects[0]:"},
		{"duplicate id", "rules:\n  - id: r\n  - id: r\n", "rules[1].id: duplicate rule r"},
		{"unknown rule field", "rules:\n  - id: r\n    log_bodies: true\n", "rules[0].log_bodies: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(head+tc.body), env(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "document 1 (bodies): ") {
				t.Errorf("Parse: %v; want an error naming the field, containing %q", err, tc.want)
			}
		})
	}
}

func TestReadmeLoggingConfigExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, part := range strings.Split(string(b), "```yaml\n")[1:] {
		if text, _, _ := strings.Cut(part, "```"); strings.Contains(text, "type: gateway-logging-config") {
			block = text
		}
	}
	f, err := Parse([]byte(block), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []snapshot.BodyLogRule{{ID: "billing-app", When: governance.Condition{Subjects: []string{"virtualaccount:billing"},
		Models: []string{"openai-main/gpt-4o"}, Metadata: map[string]string{"env": "debug"}}}}
	if diff := cmp.Diff(want, f.BodyLogging); diff != "" {
		t.Errorf("README example (-want +got):\n%s", diff)
	}
}
