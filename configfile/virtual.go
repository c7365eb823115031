package configfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// typeVirtual is TrueFoundry's virtual model group document; its integrations are
// integration/model/virtual.
const typeVirtual = "provider-account/virtual-model"

// notYet are TrueFoundry settings that llmgw does not implement yet (issue 9). They are
// refused by name rather than accepted and ignored.
const notYet = "not supported yet (issue 9); remove it"

// virtual parses a provider-account/virtual-model document.
func (p *parser) virtual(n *yaml.Node, doc string) error {
	f, err := fields(n, doc, "", "name", "type", "integrations")
	if err != nil {
		return err
	}
	group, err := str(f, doc, "", "name", true)
	if err != nil {
		return err
	}
	if p.names[group] {
		return &Error{Doc: doc, Field: "name", Msg: "duplicate provider account name"}
	}
	p.names[group] = true
	ints := f["integrations"]
	if ints == nil || ints.Kind != yaml.SequenceNode || len(ints.Content) == 0 {
		return &Error{Doc: doc, Field: "integrations", Msg: "expected a list of virtual models"}
	}
	seen := map[string]bool{}
	for i, in := range ints.Content {
		path := fmt.Sprintf("integrations[%d]", i)
		vm, err := virtualModel(in, doc, path, group)
		if err != nil {
			return err
		}
		if seen[vm.Name] {
			return &Error{Doc: doc, Field: path + ".name", Msg: "duplicate model name " + vm.Name}
		}
		seen[vm.Name] = true
		p.file.VirtualModels = append(p.file.VirtualModels, vm)
	}
	return nil
}

func virtualModel(n *yaml.Node, doc, path, group string) (snapshot.VirtualModel, error) {
	vm := snapshot.VirtualModel{Account: group}
	f, err := fields(n, doc, path, "name", "type", "model_types", "routing_config")
	if err != nil {
		return vm, err
	}
	if vm.Name, err = str(f, doc, path, "name", true); err != nil {
		return vm, err
	}
	if strings.ContainsAny(vm.Name, "/ \t") {
		return vm, &Error{Doc: doc, Field: path + ".name", Msg: "a model name cannot contain '/' or spaces"}
	}
	typ, err := str(f, doc, path, "type", true)
	if err != nil {
		return vm, err
	}
	if typ != "integration/model/virtual" {
		return vm, &Error{Doc: doc, Field: path + ".type", Msg: fmt.Sprintf("got %q, want \"integration/model/virtual\" in a %s", typ, typeVirtual)}
	}
	if vm.Types, err = strs(f, doc, path, "model_types"); err != nil {
		return vm, err
	}
	for i, t := range vm.Types {
		if !slices.Contains(modelTypes, t) {
			return vm, &Error{Doc: doc, Field: fmt.Sprintf("%s.model_types[%d]", path, i), Msg: fmt.Sprintf("unsupported model type %q; supported: %s", t, strings.Join(modelTypes, ", "))}
		}
	}
	rc := f["routing_config"]
	if rc == nil {
		return vm, &Error{Doc: doc, Field: path + ".routing_config", Msg: "is required"}
	}
	path += ".routing_config"
	rf, err := fields(rc, doc, path, "type", "load_balance_targets", "sticky_routing")
	if err != nil {
		return vm, err
	}
	if vm.Strategy, err = strategy(rf, doc, path); err != nil {
		return vm, err
	}
	if n := rf["sticky_routing"]; n != nil {
		if vm.Sticky, err = stickyRouting(n, doc, path+".sticky_routing"); err != nil {
			return vm, err
		}
		if err := snapshot.CheckSticky(vm.Strategy, vm.Sticky); err != nil {
			return vm, fieldError(doc, path, err)
		}
	}
	if vm.Targets, err = targets(rf, doc, path, vm.Strategy); err != nil {
		return vm, err
	}
	for i, t := range vm.Targets {
		if t.Model == group+"/"+vm.Name {
			return vm, &Error{Doc: doc, Field: fmt.Sprintf("%s.load_balance_targets[%d].target", path, i), Msg: "a virtual model cannot route to itself"}
		}
	}
	return vm, nil
}

// stickyRouting reads a routing_config's sticky_routing: ttl_seconds (required) and
// session_identifiers, a non-empty list of {source, key}, header keys made canonical. What
// they may hold is snapshot.CheckSticky's to check, as the Admin API's are.
func stickyRouting(n *yaml.Node, doc, path string) (*snapshot.Sticky, error) {
	f, err := fields(n, doc, path, "ttl_seconds", "session_identifiers")
	if err != nil {
		return nil, err
	}
	if f["ttl_seconds"] == nil {
		return nil, &Error{Doc: doc, Field: path + ".ttl_seconds", Msg: "is required"}
	}
	// Any 32-bit integer, as the Admin API's; CheckSticky holds it to its range.
	ttl, err := integer(f, doc, path, "ttl_seconds", math.MinInt32, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	st := &snapshot.Sticky{TTL: time.Duration(ttl) * time.Second}
	ids := f["session_identifiers"]
	if ids == nil || ids.Kind != yaml.SequenceNode || len(ids.Content) == 0 {
		return nil, &Error{Doc: doc, Field: path + ".session_identifiers", Msg: "expected a non-empty list of {source, key}"}
	}
	for i, in := range ids.Content {
		ipath := fmt.Sprintf("%s.session_identifiers[%d]", path, i)
		idf, err := fields(in, doc, ipath, "source", "key")
		if err != nil {
			return nil, err
		}
		var id snapshot.SessionIdentifier
		if id.Source, err = str(idf, doc, ipath, "source", true); err != nil {
			return nil, err
		}
		if id.Key, err = str(idf, doc, ipath, "key", true); err != nil {
			return nil, err
		}
		if id.Source == snapshot.SessionHeaders {
			id.Key = http.CanonicalHeaderKey(id.Key)
		}
		st.Identifiers = append(st.Identifiers, id)
	}
	return st, nil
}

// fieldError is err, a *snapshot.FieldError under the routing config at path, as the config
// file's *Error; any other error as it is.
func fieldError(doc, path string, err error) error {
	var fe *snapshot.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	return &Error{Doc: doc, Field: join(path, fe.Field), Msg: fe.Msg}
}

// strategy reads a routing type: weight-based-routing, priority-based-routing or
// latency-based-routing.
func strategy(f map[string]*yaml.Node, doc, path string) (string, error) {
	s, err := str(f, doc, path, "type", true)
	if err != nil {
		return "", err
	}
	switch s {
	case snapshot.RoutingWeight, snapshot.RoutingPriority, snapshot.RoutingLatency:
		return s, nil
	}
	return "", &Error{Doc: doc, Field: path + ".type", Msg: fmt.Sprintf("unsupported routing type %q; supported: %s, %s, %s", s, snapshot.RoutingWeight, snapshot.RoutingPriority, snapshot.RoutingLatency)}
}

// targets reads load_balance_targets under strategy and checks them with snapshot.CheckRouting,
// the checks the Admin API makes too: a non-empty list without duplicates whose weights
// (weighted) sum to 100.
func targets(f map[string]*yaml.Node, doc, path, strategy string) ([]snapshot.VirtualTarget, error) {
	ts := f["load_balance_targets"]
	if ts == nil || ts.Kind != yaml.SequenceNode || len(ts.Content) == 0 {
		return nil, &Error{Doc: doc, Field: join(path, "load_balance_targets"), Msg: "expected a non-empty list of targets"}
	}
	var out []snapshot.VirtualTarget
	for i, tn := range ts.Content {
		tpath := fmt.Sprintf("%s[%d]", join(path, "load_balance_targets"), i)
		t, err := target(tn, doc, tpath, strategy)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if err := snapshot.CheckRouting(strategy, out); err != nil {
		return nil, fieldError(doc, path, err)
	}
	return out, nil
}

func target(n *yaml.Node, doc, path, strategy string) (snapshot.VirtualTarget, error) {
	t := snapshot.NewTarget("")
	f, err := fields(n, doc, path, "target", "weight", "priority", "retry_config", "fallback_status_codes", "fallback_candidate",
		"sla_cutoff", "override_params", "headers_override")
	if err != nil {
		return t, err
	}
	if t.Model, err = str(f, doc, path, "target", true); err != nil {
		return t, err
	}
	if acct, name, ok := strings.Cut(t.Model, "/"); !ok || acct == "" || name == "" {
		return t, &Error{Doc: doc, Field: path + ".target", Msg: fmt.Sprintf("%q is not a model name; models are named <provider-account>/<model>", t.Model)}
	}
	switch strategy {
	case snapshot.RoutingWeight:
		if f["priority"] != nil {
			return t, &Error{Doc: doc, Field: path + ".priority", Msg: "priority applies only to " + snapshot.RoutingPriority}
		}
		if f["weight"] == nil {
			return t, &Error{Doc: doc, Field: path + ".weight", Msg: "is required for " + snapshot.RoutingWeight}
		}
		if t.Weight, err = integer(f, doc, path, "weight", 0, 100); err != nil {
			return t, err
		}
	case snapshot.RoutingPriority:
		if f["weight"] != nil {
			return t, &Error{Doc: doc, Field: path + ".weight", Msg: "weight applies only to " + snapshot.RoutingWeight}
		}
		if f["priority"] != nil {
			if t.Priority, err = integer(f, doc, path, "priority", 0, snapshot.MaxPriority); err != nil {
				return t, err
			}
		}
		if f["sla_cutoff"] != nil {
			if t.SLA, err = slaCutoff(f["sla_cutoff"], doc, path+".sla_cutoff"); err != nil {
				return t, err
			}
		}
	case snapshot.RoutingLatency:
		for _, k := range []string{"weight", "priority"} {
			if f[k] != nil {
				return t, &Error{Doc: doc, Field: join(path, k), Msg: k + " does not apply to " + snapshot.RoutingLatency}
			}
		}
	}
	if f["sla_cutoff"] != nil && strategy != snapshot.RoutingPriority {
		return t, &Error{Doc: doc, Field: path + ".sla_cutoff", Msg: "sla_cutoff applies only to " + snapshot.RoutingPriority}
	}
	if rc := f["retry_config"]; rc != nil {
		rpath := path + ".retry_config"
		rf, err := fields(rc, doc, rpath, "attempts", "delay", "on_status_codes")
		if err != nil {
			return t, err
		}
		if rf["attempts"] != nil {
			if t.Retry.Attempts, err = integer(rf, doc, rpath, "attempts", 1, snapshot.MaxRetryAttempts); err != nil {
				return t, err
			}
		}
		if rf["delay"] != nil {
			ms, err := integer(rf, doc, rpath, "delay", 0, int(snapshot.MaxRetryDelay.Milliseconds()))
			if err != nil {
				return t, err
			}
			t.Retry.Delay = time.Duration(ms) * time.Millisecond
		}
		if rf["on_status_codes"] != nil {
			if t.Retry.OnStatus, err = statuses(rf, doc, rpath, "on_status_codes"); err != nil {
				return t, err
			}
		}
	}
	if f["fallback_status_codes"] != nil {
		if t.FallbackStatus, err = statuses(f, doc, path, "fallback_status_codes"); err != nil {
			return t, err
		}
	}
	if f["fallback_candidate"] != nil {
		if t.FallbackCandidate, err = boolean(f, doc, path, "fallback_candidate"); err != nil {
			return t, err
		}
	}
	if n := f["override_params"]; n != nil {
		if t.Params, err = overrideParams(n, doc, path+".override_params"); err != nil {
			return t, err
		}
	}
	if n := f["headers_override"]; n != nil {
		if t.Headers, err = headersOverride(n, doc, path+".headers_override"); err != nil {
			return t, err
		}
	}
	return t, nil
}

// slaCutoff reads a target's sla_cutoff: time_per_output_token_ms and time_to_first_token_ms,
// positive milliseconds, at least one of them.
func slaCutoff(n *yaml.Node, doc, path string) (snapshot.SLA, error) {
	var sla snapshot.SLA
	f, err := fields(n, doc, path, "time_per_output_token_ms", "time_to_first_token_ms")
	if err != nil {
		return sla, err
	}
	for k, d := range map[string]*time.Duration{"time_per_output_token_ms": &sla.TPOT, "time_to_first_token_ms": &sla.TTFT} {
		if f[k] != nil {
			ms, err := integer(f, doc, path, k, 1, int(snapshot.MaxSLACutoff.Milliseconds()))
			if err != nil {
				return sla, err
			}
			*d = time.Duration(ms) * time.Millisecond
		}
	}
	if !sla.Set() {
		return sla, &Error{Doc: doc, Field: path, Msg: "expected time_per_output_token_ms or time_to_first_token_ms"}
	}
	return sla, nil
}

// headersOverride reads a target's headers_override: headers to set (a map of names to
// values) and to remove (a list of names) on the upstream requests sent to the target. The
// credential, signature and framing headers the gateway sets are refused by name.
func headersOverride(n *yaml.Node, doc, path string) (*provider.HeaderOverride, error) {
	f, err := fields(n, doc, path, "set", "remove")
	if err != nil {
		return nil, err
	}
	h := &provider.HeaderOverride{}
	if sn := f["set"]; sn != nil {
		if sn.Kind != yaml.MappingNode {
			return nil, &Error{Doc: doc, Field: path + ".set", Msg: "expected a map of header names to values"}
		}
		h.Set = map[string]string{}
		for i := 0; i+1 < len(sn.Content); i += 2 {
			name, v := sn.Content[i].Value, sn.Content[i+1]
			if err := provider.CheckOverrideHeader(name); err != nil {
				return nil, &Error{Doc: doc, Field: join(path+".set", name), Msg: err.Error()}
			}
			if v.Kind != yaml.ScalarNode || strings.ContainsAny(v.Value, "\r\n") {
				return nil, &Error{Doc: doc, Field: join(path+".set", name), Msg: "expected a header value on one line"}
			}
			h.Set[http.CanonicalHeaderKey(name)] = v.Value
		}
	}
	if f["remove"] != nil {
		names, err := strs(f, doc, path, "remove")
		if err != nil {
			return nil, err
		}
		for i, name := range names {
			if err := provider.CheckOverrideHeader(name); err != nil {
				return nil, &Error{Doc: doc, Field: fmt.Sprintf("%s.remove[%d]", path, i), Msg: err.Error()}
			}
			h.Remove = append(h.Remove, http.CanonicalHeaderKey(name))
		}
	}
	if len(h.Set) == 0 && len(h.Remove) == 0 {
		return nil, nil
	}
	return h, nil
}

// overrideParams reads a target's override_params: a map of request parameters to the values
// set on every request sent to the target, each held to the checks of a client's request.
func overrideParams(n *yaml.Node, doc, path string) ([]chat.Param, error) {
	if n.Kind != yaml.MappingNode {
		return nil, &Error{Doc: doc, Field: path, Msg: "expected a map of request parameters to values"}
	}
	var out []chat.Param
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, vn := n.Content[i].Value, n.Content[i+1]
		var v any
		if err := vn.Decode(&v); err != nil {
			return nil, &Error{Doc: doc, Field: join(path, name), Msg: "expected a JSON value"}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, &Error{Doc: doc, Field: join(path, name), Msg: "expected a JSON value"}
		}
		p := chat.Param{Name: name, Value: b}
		if err := chat.CheckParam(p); err != nil {
			return nil, &Error{Doc: doc, Field: join(path, name), Msg: err.Error()}
		}
		out = append(out, p)
	}
	return out, nil
}

// integer reads an integer in [lo, hi].
func integer(f map[string]*yaml.Node, doc, path, key string, lo, hi int) (int, error) {
	n := f[key]
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v < lo || v > hi {
		return 0, &Error{Doc: doc, Field: join(path, key), Msg: fmt.Sprintf("expected an integer from %d to %d", lo, hi)}
	}
	return v, nil
}

// statuses reads a list of HTTP status codes, numbers or strings of digits; it may be empty.
func statuses(f map[string]*yaml.Node, doc, path, key string) ([]int, error) {
	n := f[key]
	if n.Kind != yaml.SequenceNode {
		return nil, &Error{Doc: doc, Field: join(path, key), Msg: "expected a list of HTTP status codes"}
	}
	out := []int{}
	for i, v := range n.Content {
		// TrueFoundry documents status codes as strings ("429"); numbers are accepted too.
		c, err := strconv.Atoi(v.Value)
		if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!str") || err != nil || c < 100 || c > 599 {
			return nil, &Error{Doc: doc, Field: fmt.Sprintf("%s[%d]", join(path, key), i), Msg: "expected an HTTP status code"}
		}
		out = append(out, c)
	}
	return out, nil
}
