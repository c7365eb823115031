package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"connectrpc.com/connect"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/gitops"
)

// The config RPCs run package gitops, the code of `llmgw get` and `llmgw apply`, in process
// against this service through s.self: every read and write it makes passes the role table
// as the caller's own call would, and each write is audited as that write (ApplyConfig
// itself records nothing). The YAML is read with gitops.ReadStored, which never resolves a
// reference against the server's environment or files.

// ExportConfig implements adminv1connect.AdminServiceHandler.
func (s *Service) ExportConfig(ctx context.Context, _ *adminv1.ExportConfigRequest) (*adminv1.ExportConfigResponse, error) {
	var b strings.Builder
	if err := gitops.Export(ctx, s.self, &b); err != nil {
		return nil, s.configFail(ctx, "ExportConfig", err)
	}
	return &adminv1.ExportConfigResponse{Yaml: b.String()}, nil
}

// PlanConfig implements adminv1connect.AdminServiceHandler.
func (s *Service) PlanConfig(ctx context.Context, req *adminv1.PlanConfigRequest) (*adminv1.PlanConfigResponse, error) {
	plan, text, err := s.plan(ctx, req.GetYaml())
	if err != nil {
		return nil, s.configFail(ctx, "PlanConfig", err)
	}
	out := &adminv1.PlanConfigResponse{Text: text, PlanHash: planHash(req.GetYaml(), text),
		Created: int32(plan.Count(gitops.Created)), Updated: int32(plan.Count(gitops.Changed)), Unchanged: int32(plan.Count(gitops.Unchanged))}
	for _, ch := range plan.Changes {
		out.Changes = append(out.Changes, changeProto(ch))
	}
	return out, nil
}

// ApplyConfig implements adminv1connect.AdminServiceHandler.
func (s *Service) ApplyConfig(ctx context.Context, req *adminv1.ApplyConfigRequest) (*adminv1.ApplyConfigResponse, error) {
	if req.GetPlanHash() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("plan_hash: required: review the plan (PlanConfig) and pass its plan_hash"))
	}
	plan, text, err := s.plan(ctx, req.GetYaml())
	if err != nil {
		return nil, s.configFail(ctx, "ApplyConfig", err)
	}
	if planHash(req.GetYaml(), text) != req.GetPlanHash() {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("plan_hash: the plan is not the one reviewed: the YAML or the stored configuration changed since; review the changes again"))
	}
	n, err := plan.Apply(ctx, s.self)
	out := &adminv1.ApplyConfigResponse{Written: int32(n)}
	for _, ch := range plan.Changes {
		if ch.Status != gitops.Unchanged && len(out.Applied) < n {
			out.Applied = append(out.Applied, changeProto(ch))
		}
	}
	if err != nil {
		// The resources before the failing one are written: say how many.
		return nil, s.configFail(ctx, "ApplyConfig", fmt.Errorf("applied %d of %d: %w", n, plan.Count(gitops.Created)+plan.Count(gitops.Changed), err))
	}
	return out, nil
}

// plan reads yaml and plans it against the stored resources; text is the plan with values.
func (s *Service) plan(ctx context.Context, yaml string) (*gitops.Plan, string, error) {
	f, err := gitops.ReadStored([]byte(yaml))
	if err != nil {
		return nil, "", connect.NewError(connect.CodeInvalidArgument, err)
	}
	plan, err := gitops.NewPlan(ctx, s.self, f, gitops.Options{})
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		return nil, "", err // a read's refusal or failure
	case err != nil:
		return nil, "", connect.NewError(connect.CodeInvalidArgument, err) // a placeholder with nothing stored
	}
	var b strings.Builder
	if err := plan.Write(&b, true); err != nil {
		return nil, "", err
	}
	return plan, b.String(), nil
}

// planHash identifies a plan of yaml: the same YAML planned against the same stored
// resources gives the same text, so the same hash.
func planHash(yaml, text string) string {
	h := sha256.New()
	h.Write([]byte(yaml))
	h.Write([]byte{0})
	h.Write([]byte(text))
	return hex.EncodeToString(h.Sum(nil))
}

func changeProto(ch gitops.Change) *adminv1.ConfigChange {
	out := &adminv1.ConfigChange{Kind: ch.Kind, Name: ch.Name, Action: adminv1.ConfigAction_CONFIG_ACTION_UNCHANGED}
	switch ch.Status {
	case gitops.Created:
		out.Action = adminv1.ConfigAction_CONFIG_ACTION_CREATE
	case gitops.Changed:
		out.Action = adminv1.ConfigAction_CONFIG_ACTION_UPDATE
	}
	for _, f := range ch.Fields {
		out.Fields = append(out.Fields, &adminv1.ConfigFieldChange{Path: f.Path, OldValue: f.Old, NewValue: f.New})
	}
	return out
}

// configFail renders an error of the config RPCs. The in-process calls' errors are already
// public Connect errors (the role table's refusals, the store's invalid arguments): they keep
// their code, and their message keeps the resource gitops names in front of it. Anything
// else is rendered as fail renders it.
func (s *Service) configFail(ctx context.Context, rpc string, err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return s.fail(ctx, rpc, err)
	}
	s.logger.LogAttrs(ctx, slog.LevelDebug, "admin: request failed", slog.String("rpc", rpc), slog.String("error", err.Error()))
	return connect.NewError(ce.Code(), errors.New(strings.Replace(err.Error(), ce.Error(), ce.Message(), 1)))
}
