package snapshot

import (
	"io"
	"log/slog"
	"testing"

	"github.com/llmgw/llmgw/gateway/governance"
)

func TestLogsBodies(t *testing.T) {
	cfg := testConfig()
	cfg.BodyLogging = []BodyLogRule{
		{ID: "billing", When: governance.Condition{Subjects: []string{"virtualaccount:billing"}, Models: []string{"openai/gpt-4o"}}},
		{ID: "debug", When: governance.Condition{Metadata: map[string]string{"env": "debug"}}},
		{ID: "never", When: governance.Condition{Models: []string{"/x"}}}, // can never match: left out
	}
	s := Compile(cfg, builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tests := []struct {
		name  string
		p     *Principal
		md    map[string]string
		model string
		want  bool
	}{
		{"the virtual account, the model", &Principal{VirtualAccount: "billing"}, nil, "openai/gpt-4o", true},
		{"the virtual account, another model", &Principal{VirtualAccount: "billing"}, nil, "local/llama", false},
		{"another caller, the model", &Principal{User: "bob"}, nil, "openai/gpt-4o", false},
		{"the metadata, anyone, any model", &Principal{User: "bob"}, map[string]string{"env": "debug"}, "local/llama", true},
		{"other metadata", &Principal{User: "bob"}, map[string]string{"env": "prod"}, "local/llama", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.LogsBodies(tt.p, tt.md, tt.model); got != tt.want {
				t.Errorf("LogsBodies = %v, want %v", got, tt.want)
			}
		})
	}
	if len(s.bodyLog) != 2 {
		t.Errorf("%d rules compiled, want 2 (the one that can never match left out)", len(s.bodyLog))
	}
	if Compile(testConfig(), builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil))).LogsBodies(&Principal{VirtualAccount: "billing"}, nil, "openai/gpt-4o") {
		t.Error("a snapshot without rules logs bodies")
	}
}
