package snapshot

import (
	"log/slog"

	"github.com/llmgw/llmgw/gateway/governance"
)

// BodyLogRule asks for the request and response bodies of the requests it matches to be
// logged with their usage events (see pipeline's body logging): requests from one of
// When.Subjects (users, teams, virtual accounts; none: anyone), naming one of When.Models (the
// model the client asked for, "<account>/*" for an account's, a virtual model's name; none:
// any), with When.Metadata.
type BodyLogRule struct {
	// ID names the rule in logs.
	ID   string
	When governance.Condition
}

// compileBodyLogging compiles the body logging rules; a rule that can never match is left out
// with a warning.
func (s *Snapshot) compileBodyLogging(rules []BodyLogRule, logger *slog.Logger) {
	for _, r := range rules {
		m, err := governance.NewMatcher(r.When)
		if err != nil {
			logger.Warn("body logging rule left out", "rule", r.ID, "error", err)
			continue
		}
		s.bodyLog = append(s.bodyLog, m)
	}
}

// LogsBodies reports whether a body logging rule matches a request of p (nil: nobody) with
// metadata md naming model. Without rules it costs a length check.
func (s *Snapshot) LogsBodies(p *Principal, md map[string]string, model string) bool {
	if len(s.bodyLog) == 0 {
		return false
	}
	req := governance.Request{Model: model, Metadata: md}
	if p != nil {
		req.User, req.Teams, req.VirtualAccount = p.User, p.Teams, p.VirtualAccount
	}
	for _, m := range s.bodyLog {
		if m.Match(&req) {
			return true
		}
	}
	return false
}
