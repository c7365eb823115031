package configfile

import (
	"go.yaml.in/yaml/v3"

	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// typeRouting is TrueFoundry's global routing config: ordered load-balancing rules.
const typeRouting = "gateway-load-balancing-config"

// routing parses a gateway-load-balancing-config document: its rules, in order, each with an
// id unique in the file, a routing type, a when (subjects and metadata as rate limits have
// them; models required) and load_balance_targets as a virtual model has them.
func (p *parser) routing(n *yaml.Node, doc string) error {
	f, err := fields(n, doc, "", "name", "type", "rules", "model_configs")
	if err != nil {
		return err
	}
	if f["model_configs"] != nil {
		return &Error{Doc: doc, Field: "model_configs", Msg: notYet}
	}
	if p.routed {
		return &Error{Doc: doc, Field: "type", Msg: "a config file has at most one " + typeRouting + " document: its rules are ordered"}
	}
	p.routed = true
	if r := f["rules"]; r == nil || r.Kind != yaml.SequenceNode {
		return &Error{Doc: doc, Field: "rules", Msg: "expected a list of rules"}
	}
	seen := map[string]bool{}
	return p.eachRule(f, doc, "rules", func(r *yaml.Node, path string) error {
		rf, err := fields(r, doc, path, "id", "type", "when", "load_balance_targets")
		if err != nil {
			return err
		}
		var rule snapshot.RoutingRule
		if rule.ID, err = p.ruleName(rf, doc, path, "id", seen); err != nil {
			return err
		}
		if rule.Strategy, err = strategy(rf, doc, path); err != nil {
			return err
		}
		if rf["when"] == nil {
			return &Error{Doc: doc, Field: path + ".when", Msg: "is required"}
		}
		c, err := when(rf, doc, path)
		if err != nil {
			return err
		}
		if len(c.Models) == 0 {
			return &Error{Doc: doc, Field: path + ".when.models", Msg: "is required: the models the rule routes"}
		}
		rule.When = governance.Condition{Subjects: c.Subjects, Models: c.Models, Metadata: c.Metadata}
		if rule.Targets, err = targets(rf, doc, path, rule.Strategy); err != nil {
			return err
		}
		p.file.RoutingRules = append(p.file.RoutingRules, rule)
		return nil
	})
}
