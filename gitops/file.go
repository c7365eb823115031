package gitops

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llmgw/llmgw/configfile"
	"github.com/llmgw/llmgw/gateway/governance"
	"github.com/llmgw/llmgw/gateway/snapshot"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// File is a config file read for apply: its resources in the Admin API's shapes, and the
// secret references their secrets were read from.
type File struct {
	cfg           *configfile.File
	virtualModels []*adminv1.VirtualModel
	routingRules  []*adminv1.RoutingRule
	// refs maps each secret value read to the reference it came from, so that output names
	// the reference and never the value.
	refs map[string]string
	// stored is set by ReadStored: the Redacted placeholders and redacted webhook URLs Export
	// writes stand for the stored values.
	stored bool
	// keep names the accounts ("acct") and models ("acct/model") whose key is the Redacted
	// placeholder: the stored key stays, and there must be one.
	keep map[string]bool
}

// Read parses a config file as `llmgw serve --config` does, resolving secret references with
// getenv (env://) and the file system (file://). Every error names the document and field.
// Unlike serve, a secret that cannot be resolved is an error (apply would otherwise write an
// account without its key), and gateway-logging-config documents are refused: body logging
// rules exist only in serve's config file, the Admin API has no resource for them.
func Read(data []byte, getenv func(string) string) (*File, error) {
	refs := map[string]string{}
	resolve := configfile.EnvFileResolver(getenv)
	cfg, err := configfile.Parse(data, func(ref string) (string, error) {
		v, err := resolve(ref)
		if err == nil {
			refs[v] = ref
		}
		return v, err
	})
	if err != nil {
		return nil, err
	}
	if len(cfg.MissingSecrets) > 0 {
		ms := cfg.MissingSecrets[0]
		where := "provider account " + ms.Account + ": auth_data"
		if ms.Model != "" {
			where = "provider account " + ms.Account + ": integrations (" + ms.Model + ").auth_data"
		}
		return nil, fmt.Errorf("%s: %s", where, ms.Problem)
	}
	return newFile(cfg, refs)
}

// newFile is the parsed cfg in the Admin API's shapes.
func newFile(cfg *configfile.File, refs map[string]string) (*File, error) {
	if len(cfg.BodyLogging) > 0 {
		return nil, fmt.Errorf("gateway-logging-config: rules[0] (%s): body logging rules are read only by `llmgw serve --config`; the Admin API has no resource for them, so apply cannot write them", cfg.BodyLogging[0].ID)
	}
	f := &File{cfg: cfg, refs: refs}
	for _, v := range cfg.VirtualModels {
		f.virtualModels = append(f.virtualModels, &adminv1.VirtualModel{
			Group: v.Account, Name: v.Name, ModelTypes: v.Types,
			RoutingConfig: routingProto(v.Strategy, v.Targets, v.Sticky),
		})
	}
	for i, r := range cfg.RoutingRules {
		f.routingRules = append(f.routingRules, &adminv1.RoutingRule{
			Id: r.ID, Position: int32(i), When: conditionProto(r.When),
			RoutingConfig: routingProto(r.Strategy, r.Targets, nil),
		})
	}
	return f, nil
}

func conditionProto(c governance.Condition) *adminv1.Condition {
	return &adminv1.Condition{Subjects: c.Subjects, Models: c.Models, Metadata: c.Metadata}
}

// routingProto is a parsed routing config in the Admin API's shape, every default filled in
// as the API returns it.
func routingProto(strategy string, targets []snapshot.VirtualTarget, sticky *snapshot.Sticky) *adminv1.Routing {
	out := &adminv1.Routing{Type: strategy}
	if sticky != nil {
		out.StickyRouting = &adminv1.StickyRouting{TtlSeconds: int32(sticky.TTL / time.Second)}
		for _, id := range sticky.Identifiers {
			out.StickyRouting.SessionIdentifiers = append(out.StickyRouting.SessionIdentifiers, &adminv1.SessionIdentifier{Source: id.Source, Key: id.Key})
		}
	}
	for _, t := range targets {
		attempts, delay, candidate := int32(t.Retry.Attempts), int32(t.Retry.Delay/time.Millisecond), t.FallbackCandidate
		pt := &adminv1.RoutingTarget{
			Target: t.Model, Weight: int32(t.Weight), Priority: int32(t.Priority),
			RetryConfig:         &adminv1.RetryConfig{Attempts: &attempts, Delay: &delay, OnStatusCodes: int32s(t.Retry.OnStatus)},
			FallbackStatusCodes: int32s(t.FallbackStatus),
			FallbackCandidate:   &candidate,
		}
		if t.SLA.Set() {
			pt.SlaCutoff = &adminv1.SlaCutoff{TimePerOutputTokenMs: int32(t.SLA.TPOT / time.Millisecond), TimeToFirstTokenMs: int32(t.SLA.TTFT / time.Millisecond)}
		}
		if len(t.Params) > 0 {
			pt.OverrideParams = &structpb.Struct{Fields: map[string]*structpb.Value{}}
			for _, p := range t.Params {
				v := &structpb.Value{}
				if err := protojson.Unmarshal(p.Value, v); err != nil {
					// chat.CheckParam accepted it as JSON; keep it as a string rather than drop it.
					v = structpb.NewStringValue(string(p.Value))
				}
				pt.OverrideParams.Fields[p.Name] = v
			}
		}
		if h := t.Headers; h != nil {
			pt.HeadersOverride = &adminv1.HeadersOverride{Set: h.Set, Remove: h.Remove}
		}
		out.LoadBalanceTargets = append(out.LoadBalanceTargets, pt)
	}
	return out
}

func int32s(in []int) []int32 {
	out := make([]int32, len(in))
	for i, v := range in {
		out[i] = int32(v)
	}
	return out
}
