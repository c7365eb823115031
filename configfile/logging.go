package configfile

import (
	"go.yaml.in/yaml/v3"

	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// typeLogging is llmgw's body logging config: rules whose requests have their request and
// response bodies logged with their usage events. TrueFoundry turns request logging on per
// request (X-TFY-LOGGING-CONFIG) or globally; this document is the per subject / model form.
const typeLogging = "gateway-logging-config"

// logging parses a gateway-logging-config document: its rules, each with an id unique in the
// file and a when (subjects, models and metadata as rate limits have them; an empty when
// matches every request).
func (p *parser) logging(n *yaml.Node, doc string) error {
	f, err := fields(n, doc, "", "name", "type", "rules")
	if err != nil {
		return err
	}
	if r := f["rules"]; r == nil || r.Kind != yaml.SequenceNode {
		return &Error{Doc: doc, Field: "rules", Msg: "expected a list of rules"}
	}
	seen := map[string]bool{}
	return p.eachRule(f, doc, "rules", func(r *yaml.Node, path string) error {
		rf, err := fields(r, doc, path, "id", "when")
		if err != nil {
			return err
		}
		var rule snapshot.BodyLogRule
		if rule.ID, err = p.ruleName(rf, doc, path, "id", seen); err != nil {
			return err
		}
		c, err := when(rf, doc, path)
		if err != nil {
			return err
		}
		rule.When = governance.Condition{Subjects: c.Subjects, Models: c.Models, Metadata: c.Metadata}
		p.file.BodyLogging = append(p.file.BodyLogging, rule)
		return nil
	})
}
