package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

// FileVirtualModel and FileRoutingRule are the names the suite's stores are told the config
// file defines (Options.FileVirtualModels and FileRoutingRules).
const (
	FileVirtualModel = "file/vm"
	FileRoutingRule  = "file-rule"
)

// routingModels creates the account acme with the models acme/fast and acme/smart.
func routingModels(t *testing.T, h *harness) {
	t.Helper()
	ctx := t.Context()
	must(h.st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: "acme", Provider: "openai"}))(t)
	must(h.st.CreateModel(ctx, &adminv1.Model{Account: "acme", Name: "fast"}))(t)
	must(h.st.CreateModel(ctx, &adminv1.Model{Account: "acme", Name: "smart"}))(t)
}

func i32(v int32) *int32 { return &v }
func yes(v bool) *bool   { return &v }

// defaulted is t with the defaults the store fills in (snapshot.NewTarget's) where t has none.
func defaulted(t *adminv1.RoutingTarget) *adminv1.RoutingTarget {
	t = proto.Clone(t).(*adminv1.RoutingTarget)
	if t.RetryConfig == nil {
		t.RetryConfig = &adminv1.RetryConfig{}
	}
	if t.RetryConfig.Attempts == nil {
		t.RetryConfig.Attempts = i32(2)
	}
	if t.RetryConfig.Delay == nil {
		t.RetryConfig.Delay = i32(100)
	}
	if len(t.RetryConfig.OnStatusCodes) == 0 {
		t.RetryConfig.OnStatusCodes = []int32{429, 500, 502, 503}
	}
	if len(t.FallbackStatusCodes) == 0 {
		t.FallbackStatusCodes = []int32{401, 403, 404, 429, 500, 502, 503}
	}
	if t.FallbackCandidate == nil {
		t.FallbackCandidate = yes(true)
	}
	return t
}

func weighted9010() *adminv1.Routing {
	params, _ := structpb.NewStruct(map[string]any{"temperature": 0.2, "max_tokens": 64})
	return &adminv1.Routing{Type: snapshot.RoutingWeight, LoadBalanceTargets: []*adminv1.RoutingTarget{
		{Target: "acme/fast", Weight: 90, OverrideParams: params, HeadersOverride: &adminv1.HeadersOverride{Set: map[string]string{"x-team": "ml"}, Remove: []string{"x-debug"}}},
		{Target: "acme/smart", Weight: 10, RetryConfig: &adminv1.RetryConfig{Attempts: i32(1)}, FallbackStatusCodes: []int32{503}, FallbackCandidate: yes(false)},
	}}
}

// sticky is a valid sticky_routing: a header (not canonical) and a metadata key.
func sticky() *adminv1.StickyRouting {
	return &adminv1.StickyRouting{TtlSeconds: 600, SessionIdentifiers: []*adminv1.SessionIdentifier{
		{Source: "headers", Key: "x-session-id"}, {Source: "metadata", Key: "conversation_id"},
	}}
}

func testVirtualModels(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	routingModels(t, h)
	in := &adminv1.VirtualModel{Group: "prod", Name: "gpt", ModelTypes: []string{"chat"}, RoutingConfig: weighted9010()}
	in.RoutingConfig.StickyRouting = sticky()
	want := proto.Clone(in).(*adminv1.VirtualModel)
	want.Fqn = "prod/gpt"
	for i, tg := range want.RoutingConfig.LoadBalanceTargets {
		want.RoutingConfig.LoadBalanceTargets[i] = defaulted(tg)
	}
	// Header names are stored canonical.
	want.RoutingConfig.LoadBalanceTargets[0].HeadersOverride = &adminv1.HeadersOverride{Set: map[string]string{"X-Team": "ml"}, Remove: []string{"X-Debug"}}
	want.RoutingConfig.StickyRouting.SessionIdentifiers[0].Key = "X-Session-Id"
	diff(t, "created", want, must(st.CreateVirtualModel(ctx, in))(t))
	diff(t, "get", want, must(st.GetVirtualModel(ctx, "prod", "gpt"))(t))
	diff(t, "list", []*adminv1.VirtualModel{want}, must(st.ListVirtualModels(ctx))(t))

	// An update without sticky_routing removes it.
	noSticky := proto.Clone(in).(*adminv1.VirtualModel)
	noSticky.RoutingConfig.StickyRouting = nil
	wantNoSticky := proto.Clone(want).(*adminv1.VirtualModel)
	wantNoSticky.RoutingConfig.StickyRouting = nil
	diff(t, "updated without sticky_routing", wantNoSticky, must(st.UpdateVirtualModel(ctx, noSticky))(t))
	diff(t, "get without sticky_routing", wantNoSticky, must(st.GetVirtualModel(ctx, "prod", "gpt"))(t))
	diff(t, "updated with sticky_routing", want, must(st.UpdateVirtualModel(ctx, in))(t))

	upd := &adminv1.VirtualModel{Group: "prod", Name: "gpt", RoutingConfig: &adminv1.Routing{Type: snapshot.RoutingPriority, LoadBalanceTargets: []*adminv1.RoutingTarget{
		{Target: "acme/smart", Priority: 0, SlaCutoff: &adminv1.SlaCutoff{TimePerOutputTokenMs: 50}},
		{Target: "acme/fast", Priority: 1},
	}}}
	wantUpd := proto.Clone(upd).(*adminv1.VirtualModel)
	wantUpd.Fqn = "prod/gpt"
	for i, tg := range wantUpd.RoutingConfig.LoadBalanceTargets {
		wantUpd.RoutingConfig.LoadBalanceTargets[i] = defaulted(tg)
	}
	diff(t, "updated", wantUpd, must(st.UpdateVirtualModel(ctx, upd))(t))
	diff(t, "list", []*adminv1.VirtualModel{wantUpd}, must(st.ListVirtualModels(ctx))(t))

	const p = "virtual_model.routing_config.load_balance_targets"
	bad := func(mut func(v *adminv1.VirtualModel)) *adminv1.VirtualModel {
		v := &adminv1.VirtualModel{Group: "prod", Name: "x", RoutingConfig: weighted9010()}
		mut(v)
		return v
	}
	target := func(i int, mut func(tg *adminv1.RoutingTarget)) *adminv1.VirtualModel {
		return bad(func(v *adminv1.VirtualModel) { mut(v.RoutingConfig.LoadBalanceTargets[i]) })
	}
	stick := func(mut func(s *adminv1.StickyRouting)) *adminv1.VirtualModel {
		return bad(func(v *adminv1.VirtualModel) {
			v.RoutingConfig.StickyRouting = sticky()
			mut(v.RoutingConfig.StickyRouting)
		})
	}
	const sp = "virtual_model.routing_config.sticky_routing"
	ids := func(n int) []*adminv1.SessionIdentifier {
		var out []*adminv1.SessionIdentifier
		for i := range n {
			out = append(out, &adminv1.SessionIdentifier{Source: "headers", Key: "x-s" + string(rune('a'+i))})
		}
		return out
	}
	errs := []struct {
		name  string
		in    *adminv1.VirtualModel
		param string
	}{
		{"no routing config", bad(func(v *adminv1.VirtualModel) { v.RoutingConfig = nil }), "virtual_model.routing_config"},
		{"unknown type", bad(func(v *adminv1.VirtualModel) { v.RoutingConfig.Type = "round-robin" }), "virtual_model.routing_config.type"},
		{"no targets", bad(func(v *adminv1.VirtualModel) { v.RoutingConfig.LoadBalanceTargets = nil }), p},
		{"weights do not sum to 100", target(1, func(tg *adminv1.RoutingTarget) { tg.Weight = 20 }), p},
		{"weight over 100", target(0, func(tg *adminv1.RoutingTarget) { tg.Weight = 101 }), p + "[0].weight"},
		{"negative weight", target(0, func(tg *adminv1.RoutingTarget) { tg.Weight = -1 }), p + "[0].weight"},
		{"priority on weighted", target(0, func(tg *adminv1.RoutingTarget) { tg.Priority = 1 }), p + "[0].priority"},
		{"sla_cutoff on weighted", target(0, func(tg *adminv1.RoutingTarget) { tg.SlaCutoff = &adminv1.SlaCutoff{TimeToFirstTokenMs: 100} }), p + "[0].sla_cutoff"},
		{"empty sla_cutoff", bad(func(v *adminv1.VirtualModel) {
			v.RoutingConfig = &adminv1.Routing{Type: snapshot.RoutingPriority, LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "acme/fast", SlaCutoff: &adminv1.SlaCutoff{}}}}
		}), p + "[0].sla_cutoff"},
		{"weight on priority", bad(func(v *adminv1.VirtualModel) { v.RoutingConfig.Type = snapshot.RoutingPriority }), p + "[0].weight"},
		{"bad fallback status", target(0, func(tg *adminv1.RoutingTarget) { tg.FallbackStatusCodes = []int32{503, 42} }), p + "[0].fallback_status_codes[1]"},
		{"bad retry status", target(0, func(tg *adminv1.RoutingTarget) { tg.RetryConfig = &adminv1.RetryConfig{OnStatusCodes: []int32{600}} }), p + "[0].retry_config.on_status_codes[0]"},
		{"zero attempts", target(0, func(tg *adminv1.RoutingTarget) { tg.RetryConfig = &adminv1.RetryConfig{Attempts: i32(0)} }), p + "[0].retry_config.attempts"},
		{"long delay", target(0, func(tg *adminv1.RoutingTarget) { tg.RetryConfig = &adminv1.RetryConfig{Delay: i32(60_001)} }), p + "[0].retry_config.delay"},
		{"unqualified target", target(0, func(tg *adminv1.RoutingTarget) { tg.Target = "fast" }), p + "[0].target"},
		{"unknown target", target(0, func(tg *adminv1.RoutingTarget) { tg.Target = "acme/nope" }), p + "[0].target"},
		{"virtual target", target(0, func(tg *adminv1.RoutingTarget) { tg.Target = "prod/gpt" }), p + "[0].target"},
		{"config file virtual target", target(0, func(tg *adminv1.RoutingTarget) { tg.Target = FileVirtualModel }), p + "[0].target"},
		{"duplicate target", target(1, func(tg *adminv1.RoutingTarget) { tg.Target = "acme/fast" }), p + "[1].target"},
		{"param not overridable", target(0, func(tg *adminv1.RoutingTarget) {
			tg.OverrideParams = &structpb.Struct{Fields: map[string]*structpb.Value{"stream": structpb.NewBoolValue(true)}}
		}), p + "[0].override_params.stream"},
		{"param out of range", target(0, func(tg *adminv1.RoutingTarget) {
			tg.OverrideParams = &structpb.Struct{Fields: map[string]*structpb.Value{"temperature": structpb.NewNumberValue(9)}}
		}), p + "[0].override_params.temperature"},
		{"protected header", target(0, func(tg *adminv1.RoutingTarget) {
			tg.HeadersOverride = &adminv1.HeadersOverride{Set: map[string]string{"authorization": "x"}}
		}), p + "[0].headers_override.set.Authorization"},
		{"header value on two lines", target(0, func(tg *adminv1.RoutingTarget) {
			tg.HeadersOverride = &adminv1.HeadersOverride{Set: map[string]string{"x-a": "1\r\nx-b: 2"}}
		}), p + "[0].headers_override.set.X-A"},
		{"removed protected header", target(0, func(tg *adminv1.RoutingTarget) {
			tg.HeadersOverride = &adminv1.HeadersOverride{Remove: []string{"x-amz-date"}}
		}), p + "[0].headers_override.remove[0]"},
		{"group is an account", bad(func(v *adminv1.VirtualModel) { v.Group = "acme" }), "virtual_model.group"},
		{"bad group", bad(func(v *adminv1.VirtualModel) { v.Group = "Prod!" }), "virtual_model.group"},
		{"bad name", bad(func(v *adminv1.VirtualModel) { v.Name = "a/b" }), "virtual_model.name"},
		{"config file's name", bad(func(v *adminv1.VirtualModel) { v.Group, v.Name = "file", "vm" }), "virtual_model.name"},
		{"unknown model type", bad(func(v *adminv1.VirtualModel) { v.ModelTypes = []string{"image"} }), "virtual_model.model_types"},
		{"sticky on priority", bad(func(v *adminv1.VirtualModel) {
			v.RoutingConfig = &adminv1.Routing{Type: snapshot.RoutingPriority, LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "acme/fast"}}, StickyRouting: sticky()}
		}), sp},
		{"sticky on latency", bad(func(v *adminv1.VirtualModel) {
			v.RoutingConfig = &adminv1.Routing{Type: snapshot.RoutingLatency, LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "acme/fast"}}, StickyRouting: sticky()}
		}), sp},
		{"sticky without ttl", stick(func(s *adminv1.StickyRouting) { s.TtlSeconds = 0 }), sp + ".ttl_seconds"},
		{"sticky negative ttl", stick(func(s *adminv1.StickyRouting) { s.TtlSeconds = -1 }), sp + ".ttl_seconds"},
		{"sticky ttl over a week", stick(func(s *adminv1.StickyRouting) { s.TtlSeconds = 604_801 }), sp + ".ttl_seconds"},
		{"sticky without identifiers", stick(func(s *adminv1.StickyRouting) { s.SessionIdentifiers = nil }), sp + ".session_identifiers"},
		{"sticky too many identifiers", stick(func(s *adminv1.StickyRouting) { s.SessionIdentifiers = ids(11) }), sp + ".session_identifiers"},
		{"sticky unknown source", stick(func(s *adminv1.StickyRouting) { s.SessionIdentifiers[1].Source = "cookies" }), sp + ".session_identifiers[1].source"},
		{"sticky bad header name", stick(func(s *adminv1.StickyRouting) { s.SessionIdentifiers[0].Key = "x session" }), sp + ".session_identifiers[0].key"},
		{"sticky empty metadata key", stick(func(s *adminv1.StickyRouting) { s.SessionIdentifiers[1].Key = "" }), sp + ".session_identifiers[1].key"},
		{"sticky duplicate identifier", stick(func(s *adminv1.StickyRouting) {
			s.SessionIdentifiers = append(s.SessionIdentifiers, &adminv1.SessionIdentifier{Source: "headers", Key: "X-SESSION-ID"})
		}), sp + ".session_identifiers[2]"},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) {
			wantErr(t, second(st.CreateVirtualModel(ctx, e.in)), apierr.KindInvalidRequest, e.param)
			e.in.Group, e.in.Name = "prod", "gpt"
			if e.param != "virtual_model.group" && e.param != "virtual_model.name" {
				wantErr(t, second(st.UpdateVirtualModel(ctx, e.in)), apierr.KindInvalidRequest, e.param)
			}
		})
	}
	wantErr(t, second(st.CreateVirtualModel(ctx, upd)), apierr.KindAlreadyExists, "")
	// A provider account named as a virtual model group would shadow its virtual models.
	for _, group := range []string{"prod", "file"} {
		wantErr(t, second(st.CreateProviderAccount(ctx, &adminv1.ProviderAccount{Name: group, Provider: "openai"})), apierr.KindInvalidRequest, "provider_account.name")
	}
	wantErr(t, second(st.GetVirtualModel(ctx, "prod", "nope")), apierr.KindNotFound, "")
	wantErr(t, second(st.UpdateVirtualModel(ctx, bad(func(v *adminv1.VirtualModel) {}))), apierr.KindNotFound, "")
	wantErr(t, st.DeleteVirtualModel(ctx, "prod", "nope"), apierr.KindNotFound, "")
	diff(t, "unchanged by refused writes", []*adminv1.VirtualModel{wantUpd}, must(st.ListVirtualModels(ctx))(t))
	before := h.changes.Load()
	ok(t, st.DeleteVirtualModel(ctx, "prod", "gpt"))
	if h.changes.Load() != before+1 {
		t.Errorf("OnChange calls after delete = %d, want %d", h.changes.Load(), before+1)
	}
	if n := len(must(st.ListVirtualModels(ctx))(t)); n != 0 {
		t.Errorf("%d virtual models after delete", n)
	}
}

func testRoutingRules(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	routingModels(t, h)
	must(st.CreateVirtualModel(ctx, &adminv1.VirtualModel{Group: "prod", Name: "gpt", RoutingConfig: weighted9010()}))(t)
	rule := func(id string, pos int32, models ...string) *adminv1.RoutingRule {
		return &adminv1.RoutingRule{Id: id, Position: pos,
			When:          &adminv1.Condition{Subjects: []string{"team:ml"}, Models: models, Metadata: map[string]string{"env": "prod"}},
			RoutingConfig: &adminv1.Routing{Type: snapshot.RoutingLatency, LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "acme/fast"}, {Target: "acme/smart"}}}}
	}
	withDefaults := func(r *adminv1.RoutingRule) *adminv1.RoutingRule {
		r = proto.Clone(r).(*adminv1.RoutingRule)
		for i, tg := range r.RoutingConfig.LoadBalanceTargets {
			r.RoutingConfig.LoadBalanceTargets[i] = defaulted(tg)
		}
		return r
	}
	late := rule("late", 2, "acme/fast")
	early := rule("early", 1, "prod/gpt", FileVirtualModel)
	also := rule("also", 2, "acme/smart")
	for _, r := range []*adminv1.RoutingRule{late, early, also} {
		diff(t, "created "+r.Id, withDefaults(r), must(st.CreateRoutingRule(ctx, r))(t))
	}
	diff(t, "get", withDefaults(early), must(st.GetRoutingRule(ctx, "early"))(t))
	// Ordered by position, then id.
	diff(t, "list", []*adminv1.RoutingRule{withDefaults(early), withDefaults(also), withDefaults(late)}, must(st.ListRoutingRules(ctx))(t))
	late.Position = 0
	diff(t, "updated", withDefaults(late), must(st.UpdateRoutingRule(ctx, late))(t))
	diff(t, "list after update", []*adminv1.RoutingRule{withDefaults(late), withDefaults(early), withDefaults(also)}, must(st.ListRoutingRules(ctx))(t))

	bad := func(mut func(r *adminv1.RoutingRule)) *adminv1.RoutingRule {
		r := rule("x", 0, "acme/fast")
		mut(r)
		return r
	}
	errs := []struct {
		name  string
		in    *adminv1.RoutingRule
		param string
	}{
		{"no id", bad(func(r *adminv1.RoutingRule) { r.Id = "" }), "routing_rule.id"},
		{"config file's id", bad(func(r *adminv1.RoutingRule) { r.Id = FileRoutingRule }), "routing_rule.id"},
		{"no models", bad(func(r *adminv1.RoutingRule) { r.When.Models = nil }), "routing_rule.when.models"},
		{"no when", bad(func(r *adminv1.RoutingRule) { r.When = nil }), "routing_rule.when.models"},
		{"model pattern", bad(func(r *adminv1.RoutingRule) { r.When.Models = []string{"acme/*"} }), "routing_rule.when.models"},
		{"unknown model", bad(func(r *adminv1.RoutingRule) { r.When.Models = []string{"acme/nope"} }), "routing_rule.when.models"},
		{"bad subject", bad(func(r *adminv1.RoutingRule) { r.When.Subjects = []string{"group:x"} }), "routing_rule.when.subjects"},
		{"unknown type", bad(func(r *adminv1.RoutingRule) { r.RoutingConfig.Type = "fastest" }), "routing_rule.routing_config.type"},
		{"weight on latency", bad(func(r *adminv1.RoutingRule) { r.RoutingConfig.LoadBalanceTargets[0].Weight = 50 }), "routing_rule.routing_config.load_balance_targets[0].weight"},
		{"virtual target", bad(func(r *adminv1.RoutingRule) { r.RoutingConfig.LoadBalanceTargets[0].Target = "prod/gpt" }), "routing_rule.routing_config.load_balance_targets[0].target"},
		// TrueFoundry documents sticky_routing on virtual models only; the config file refuses
		// it on a rule too.
		{"sticky routing", bad(func(r *adminv1.RoutingRule) {
			r.RoutingConfig = &adminv1.Routing{Type: snapshot.RoutingWeight, LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "acme/fast", Weight: 100}}, StickyRouting: sticky()}
		}), "routing_rule.routing_config.sticky_routing"},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) {
			wantErr(t, second(st.CreateRoutingRule(ctx, e.in)), apierr.KindInvalidRequest, e.param)
		})
	}
	wantErr(t, second(st.CreateRoutingRule(ctx, early)), apierr.KindAlreadyExists, "")
	wantErr(t, second(st.GetRoutingRule(ctx, "nope")), apierr.KindNotFound, "")
	wantErr(t, second(st.UpdateRoutingRule(ctx, bad(func(*adminv1.RoutingRule) {}))), apierr.KindNotFound, "")
	wantErr(t, st.DeleteRoutingRule(ctx, "nope"), apierr.KindNotFound, "")
	for _, id := range []string{"late", "early", "also"} {
		ok(t, st.DeleteRoutingRule(ctx, id))
	}
	if n := len(must(st.ListRoutingRules(ctx))(t)); n != 0 {
		t.Errorf("%d routing rules after delete", n)
	}
}

// testRoutingSnapshot checks what the data plane reads of the stored virtual models and
// routing rules: every default filled in, rules in the order they are tried.
func testRoutingSnapshot(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	routingModels(t, h)
	sticky9010 := weighted9010()
	sticky9010.StickyRouting = sticky()
	must(st.CreateVirtualModel(ctx, &adminv1.VirtualModel{Group: "prod", Name: "gpt", ModelTypes: []string{"chat"}, RoutingConfig: sticky9010}))(t)
	must(st.CreateRoutingRule(ctx, &adminv1.RoutingRule{Id: "b", Position: 1, When: &adminv1.Condition{Models: []string{"prod/gpt"}},
		RoutingConfig: &adminv1.Routing{Type: snapshot.RoutingPriority, LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "acme/smart", SlaCutoff: &adminv1.SlaCutoff{TimeToFirstTokenMs: 800}}}}}))(t)
	must(st.CreateRoutingRule(ctx, &adminv1.RoutingRule{Id: "a", Position: 5, When: &adminv1.Condition{Subjects: []string{"user:alice"}, Models: []string{"acme/fast"}},
		RoutingConfig: &adminv1.Routing{Type: snapshot.RoutingLatency, LoadBalanceTargets: []*adminv1.RoutingTarget{{Target: "acme/fast"}}}}))(t)
	cfg := snap(t, st)

	fast := snapshot.NewTarget("acme/fast")
	fast.Weight = 90
	fast.Params = []chat.Param{{Name: "max_tokens", Value: json.RawMessage("64")}, {Name: "temperature", Value: json.RawMessage("0.2")}}
	fast.Headers = &provider.HeaderOverride{Set: map[string]string{"X-Team": "ml"}, Remove: []string{"X-Debug"}}
	smart := snapshot.NewTarget("acme/smart")
	smart.Weight, smart.Retry.Attempts, smart.FallbackStatus, smart.FallbackCandidate = 10, 1, []int{503}, false
	wantSticky := &snapshot.Sticky{TTL: 10 * time.Minute, Identifiers: []snapshot.SessionIdentifier{
		{Source: snapshot.SessionHeaders, Key: "X-Session-Id"}, {Source: snapshot.SessionMetadata, Key: "conversation_id"},
	}}
	wantVM := []snapshot.VirtualModel{{Account: "prod", Name: "gpt", Types: []string{"chat"}, Strategy: snapshot.RoutingWeight, Targets: []snapshot.VirtualTarget{fast, smart}, Sticky: wantSticky}}
	if d := cmp.Diff(wantVM, cfg.VirtualModels); d != "" {
		t.Errorf("virtual models (-want +got):\n%s", d)
	}
	slaSmart := snapshot.NewTarget("acme/smart")
	slaSmart.SLA = snapshot.SLA{TTFT: 800 * time.Millisecond}
	wantRules := []snapshot.RoutingRule{
		{ID: "b", When: governance.Condition{Models: []string{"prod/gpt"}}, Strategy: snapshot.RoutingPriority, Targets: []snapshot.VirtualTarget{slaSmart}},
		{ID: "a", When: governance.Condition{Subjects: []string{"user:alice"}, Models: []string{"acme/fast"}}, Strategy: snapshot.RoutingLatency, Targets: []snapshot.VirtualTarget{snapshot.NewTarget("acme/fast")}},
	}
	if d := cmp.Diff(wantRules, cfg.RoutingRules); d != "" {
		t.Errorf("routing rules (-want +got):\n%s", d)
	}
}
