// Package admin implements the Admin API (llmgw.admin.v1.AdminService) as a Connect handler
// over package store. It is thin: the store validates and persists, and this package renders
// errors with apierr so that only public messages reach clients. It does no authentication
// (an interceptor in services/server does); it authorizes: Service.Authorize checks each call
// against the caller's roles (authz.go's table) and marks writes for the audit log.
package admin

import (
	"context"
	"log/slog"
	"slices"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/snapshot"
	"github.com/llmgw/llmgw/services/adminaccess"
	"github.com/llmgw/llmgw/store"
)

// Service implements adminv1connect.AdminServiceHandler. It is safe for concurrent use.
type Service struct {
	st      *store.Store
	logger  *slog.Logger
	status  LimitStatus
	routing RoutingState
	tests   *modelTest
	// self calls this service in process through its role table (inprocess.go).
	self adminv1connect.AdminServiceClient
}

// LimitStatus reports the live state of rate limit and budget buckets: the limiter's and the
// budget ledger's counters, which live in the data plane. Implementations are safe for
// concurrent use.
type LimitStatus interface {
	// LimitStatus returns the status of every bucket of the rule named rule, or of every rule
	// when rule is empty, sorted by rule, unit and bucket.
	LimitStatus(ctx context.Context, rule string) ([]*adminv1.LimitStatus, error)
}

// RoutingState reports the live state of routing targets: the circuit breaker's circuits and
// the latency statistics, which live in the data plane. Implementations are safe for
// concurrent use.
type RoutingState interface {
	// RoutingState returns the state of the target named target, or of every target when
	// target is empty, sorted by target.
	RoutingState(ctx context.Context, target string) []*adminv1.RoutingState
}

// Option configures a Service.
type Option func(*Service)

// WithLimitStatus sets where ListLimitStatus reads the counters. Without it ListLimitStatus
// answers an empty list.
func WithLimitStatus(ls LimitStatus) Option { return func(s *Service) { s.status = ls } }

// WithRoutingState sets where ListRoutingState reads the targets' state. Without it
// ListRoutingState answers an empty list.
func WithRoutingState(rs RoutingState) Option { return func(s *Service) { s.routing = rs } }

var _ adminv1connect.AdminServiceHandler = (*Service)(nil)

// New returns a Service over st. A nil logger discards logs.
func New(st *store.Store, logger *slog.Logger, opts ...Option) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{st: st, logger: logger}
	for _, o := range opts {
		o(s)
	}
	s.self = inProcess(s)
	return s
}

// fail renders err for the client and logs it once: internal errors at error level with their
// cause, an unreachable database at warn level, client errors at debug level.
func (s *Service) fail(ctx context.Context, rpc string, err error) error {
	e := apierr.From(err)
	level := slog.LevelDebug
	switch e.Kind {
	case apierr.KindInternal:
		level = slog.LevelError
	case apierr.KindUnavailable:
		level = slog.LevelWarn
	}
	s.logger.LogAttrs(ctx, level, "admin: request failed", slog.String("rpc", rpc), slog.String("error", err.Error()))
	return apierr.ConnectError(err)
}

// CreateProviderAccount implements adminv1connect.AdminServiceHandler.
func (s *Service) CreateProviderAccount(ctx context.Context, req *adminv1.CreateProviderAccountRequest) (*adminv1.CreateProviderAccountResponse, error) {
	out, err := s.st.CreateProviderAccount(ctx, req.GetProviderAccount())
	if err != nil {
		return nil, s.fail(ctx, "CreateProviderAccount", err)
	}
	return &adminv1.CreateProviderAccountResponse{ProviderAccount: out}, nil
}

// GetProviderAccount implements adminv1connect.AdminServiceHandler.
func (s *Service) GetProviderAccount(ctx context.Context, req *adminv1.GetProviderAccountRequest) (*adminv1.GetProviderAccountResponse, error) {
	out, err := s.st.GetProviderAccount(ctx, req.GetName())
	if err != nil {
		return nil, s.fail(ctx, "GetProviderAccount", err)
	}
	return &adminv1.GetProviderAccountResponse{ProviderAccount: out}, nil
}

// ListProviderAccounts implements adminv1connect.AdminServiceHandler.
func (s *Service) ListProviderAccounts(ctx context.Context, _ *adminv1.ListProviderAccountsRequest) (*adminv1.ListProviderAccountsResponse, error) {
	out, err := s.st.ListProviderAccounts(ctx)
	if err != nil {
		return nil, s.fail(ctx, "ListProviderAccounts", err)
	}
	return &adminv1.ListProviderAccountsResponse{ProviderAccounts: out}, nil
}

// UpdateProviderAccount implements adminv1connect.AdminServiceHandler.
func (s *Service) UpdateProviderAccount(ctx context.Context, req *adminv1.UpdateProviderAccountRequest) (*adminv1.UpdateProviderAccountResponse, error) {
	out, err := s.st.UpdateProviderAccount(ctx, req.GetProviderAccount())
	if err != nil {
		return nil, s.fail(ctx, "UpdateProviderAccount", err)
	}
	return &adminv1.UpdateProviderAccountResponse{ProviderAccount: out}, nil
}

// DeleteProviderAccount implements adminv1connect.AdminServiceHandler.
func (s *Service) DeleteProviderAccount(ctx context.Context, req *adminv1.DeleteProviderAccountRequest) (*adminv1.DeleteProviderAccountResponse, error) {
	if err := s.st.DeleteProviderAccount(ctx, req.GetName()); err != nil {
		return nil, s.fail(ctx, "DeleteProviderAccount", err)
	}
	return &adminv1.DeleteProviderAccountResponse{}, nil
}

// CreateModel implements adminv1connect.AdminServiceHandler.
func (s *Service) CreateModel(ctx context.Context, req *adminv1.CreateModelRequest) (*adminv1.CreateModelResponse, error) {
	out, err := s.st.CreateModel(ctx, req.GetModel())
	if err != nil {
		return nil, s.fail(ctx, "CreateModel", err)
	}
	return &adminv1.CreateModelResponse{Model: out}, nil
}

// GetModel implements adminv1connect.AdminServiceHandler.
func (s *Service) GetModel(ctx context.Context, req *adminv1.GetModelRequest) (*adminv1.GetModelResponse, error) {
	out, err := s.st.GetModel(ctx, req.GetAccount(), req.GetName())
	if err != nil {
		return nil, s.fail(ctx, "GetModel", err)
	}
	return &adminv1.GetModelResponse{Model: out}, nil
}

// ListModels implements adminv1connect.AdminServiceHandler.
func (s *Service) ListModels(ctx context.Context, req *adminv1.ListModelsRequest) (*adminv1.ListModelsResponse, error) {
	out, err := s.st.ListModels(ctx, req.GetAccount())
	if err != nil {
		return nil, s.fail(ctx, "ListModels", err)
	}
	return &adminv1.ListModelsResponse{Models: out}, nil
}

// UpdateModel implements adminv1connect.AdminServiceHandler.
func (s *Service) UpdateModel(ctx context.Context, req *adminv1.UpdateModelRequest) (*adminv1.UpdateModelResponse, error) {
	out, err := s.st.UpdateModel(ctx, req.GetModel())
	if err != nil {
		return nil, s.fail(ctx, "UpdateModel", err)
	}
	return &adminv1.UpdateModelResponse{Model: out}, nil
}

// DeleteModel implements adminv1connect.AdminServiceHandler.
func (s *Service) DeleteModel(ctx context.Context, req *adminv1.DeleteModelRequest) (*adminv1.DeleteModelResponse, error) {
	if err := s.st.DeleteModel(ctx, req.GetAccount(), req.GetName()); err != nil {
		return nil, s.fail(ctx, "DeleteModel", err)
	}
	return &adminv1.DeleteModelResponse{}, nil
}

// CreateUser implements adminv1connect.AdminServiceHandler.
func (s *Service) CreateUser(ctx context.Context, req *adminv1.CreateUserRequest) (*adminv1.CreateUserResponse, error) {
	out, err := s.st.CreateUser(ctx, req.GetUser())
	if err != nil {
		return nil, s.fail(ctx, "CreateUser", err)
	}
	return &adminv1.CreateUserResponse{User: out}, nil
}

// GetUser implements adminv1connect.AdminServiceHandler.
func (s *Service) GetUser(ctx context.Context, req *adminv1.GetUserRequest) (*adminv1.GetUserResponse, error) {
	out, err := s.st.GetUser(ctx, req.GetName())
	if err != nil {
		return nil, s.fail(ctx, "GetUser", err)
	}
	return &adminv1.GetUserResponse{User: out}, nil
}

// ListUsers implements adminv1connect.AdminServiceHandler.
func (s *Service) ListUsers(ctx context.Context, _ *adminv1.ListUsersRequest) (*adminv1.ListUsersResponse, error) {
	out, err := s.st.ListUsers(ctx)
	if err != nil {
		return nil, s.fail(ctx, "ListUsers", err)
	}
	return &adminv1.ListUsersResponse{Users: out}, nil
}

// UpdateUser implements adminv1connect.AdminServiceHandler.
func (s *Service) UpdateUser(ctx context.Context, req *adminv1.UpdateUserRequest) (*adminv1.UpdateUserResponse, error) {
	out, err := s.st.UpdateUser(ctx, req.GetUser())
	if err != nil {
		return nil, s.fail(ctx, "UpdateUser", err)
	}
	return &adminv1.UpdateUserResponse{User: out}, nil
}

// DeleteUser implements adminv1connect.AdminServiceHandler.
func (s *Service) DeleteUser(ctx context.Context, req *adminv1.DeleteUserRequest) (*adminv1.DeleteUserResponse, error) {
	if err := s.st.DeleteUser(ctx, req.GetName()); err != nil {
		return nil, s.fail(ctx, "DeleteUser", err)
	}
	return &adminv1.DeleteUserResponse{}, nil
}

// CreateTeam implements adminv1connect.AdminServiceHandler.
func (s *Service) CreateTeam(ctx context.Context, req *adminv1.CreateTeamRequest) (*adminv1.CreateTeamResponse, error) {
	out, err := s.st.CreateTeam(ctx, req.GetTeam())
	if err != nil {
		return nil, s.fail(ctx, "CreateTeam", err)
	}
	return &adminv1.CreateTeamResponse{Team: out}, nil
}

// GetTeam implements adminv1connect.AdminServiceHandler.
func (s *Service) GetTeam(ctx context.Context, req *adminv1.GetTeamRequest) (*adminv1.GetTeamResponse, error) {
	out, err := s.st.GetTeam(ctx, req.GetName())
	if err != nil {
		return nil, s.fail(ctx, "GetTeam", err)
	}
	return &adminv1.GetTeamResponse{Team: out}, nil
}

// ListTeams implements adminv1connect.AdminServiceHandler.
func (s *Service) ListTeams(ctx context.Context, _ *adminv1.ListTeamsRequest) (*adminv1.ListTeamsResponse, error) {
	out, err := s.st.ListTeams(ctx)
	if err != nil {
		return nil, s.fail(ctx, "ListTeams", err)
	}
	return &adminv1.ListTeamsResponse{Teams: out}, nil
}

// UpdateTeam implements adminv1connect.AdminServiceHandler.
func (s *Service) UpdateTeam(ctx context.Context, req *adminv1.UpdateTeamRequest) (*adminv1.UpdateTeamResponse, error) {
	out, err := s.st.UpdateTeam(ctx, req.GetTeam())
	if err != nil {
		return nil, s.fail(ctx, "UpdateTeam", err)
	}
	return &adminv1.UpdateTeamResponse{Team: out}, nil
}

// DeleteTeam implements adminv1connect.AdminServiceHandler.
func (s *Service) DeleteTeam(ctx context.Context, req *adminv1.DeleteTeamRequest) (*adminv1.DeleteTeamResponse, error) {
	if err := s.st.DeleteTeam(ctx, req.GetName()); err != nil {
		return nil, s.fail(ctx, "DeleteTeam", err)
	}
	return &adminv1.DeleteTeamResponse{}, nil
}

// CreateVirtualAccount implements adminv1connect.AdminServiceHandler.
func (s *Service) CreateVirtualAccount(ctx context.Context, req *adminv1.CreateVirtualAccountRequest) (*adminv1.CreateVirtualAccountResponse, error) {
	out, err := s.st.CreateVirtualAccount(ctx, req.GetVirtualAccount())
	if err != nil {
		return nil, s.fail(ctx, "CreateVirtualAccount", err)
	}
	return &adminv1.CreateVirtualAccountResponse{VirtualAccount: out}, nil
}

// GetVirtualAccount implements adminv1connect.AdminServiceHandler.
func (s *Service) GetVirtualAccount(ctx context.Context, req *adminv1.GetVirtualAccountRequest) (*adminv1.GetVirtualAccountResponse, error) {
	out, err := s.st.GetVirtualAccount(ctx, req.GetName())
	if err != nil {
		return nil, s.fail(ctx, "GetVirtualAccount", err)
	}
	return &adminv1.GetVirtualAccountResponse{VirtualAccount: out}, nil
}

// ListVirtualAccounts implements adminv1connect.AdminServiceHandler.
func (s *Service) ListVirtualAccounts(ctx context.Context, _ *adminv1.ListVirtualAccountsRequest) (*adminv1.ListVirtualAccountsResponse, error) {
	out, err := s.st.ListVirtualAccounts(ctx)
	if err != nil {
		return nil, s.fail(ctx, "ListVirtualAccounts", err)
	}
	return &adminv1.ListVirtualAccountsResponse{VirtualAccounts: out}, nil
}

// UpdateVirtualAccount implements adminv1connect.AdminServiceHandler.
func (s *Service) UpdateVirtualAccount(ctx context.Context, req *adminv1.UpdateVirtualAccountRequest) (*adminv1.UpdateVirtualAccountResponse, error) {
	out, err := s.st.UpdateVirtualAccount(ctx, req.GetVirtualAccount())
	if err != nil {
		return nil, s.fail(ctx, "UpdateVirtualAccount", err)
	}
	return &adminv1.UpdateVirtualAccountResponse{VirtualAccount: out}, nil
}

// DeleteVirtualAccount implements adminv1connect.AdminServiceHandler.
func (s *Service) DeleteVirtualAccount(ctx context.Context, req *adminv1.DeleteVirtualAccountRequest) (*adminv1.DeleteVirtualAccountResponse, error) {
	if err := s.st.DeleteVirtualAccount(ctx, req.GetName()); err != nil {
		return nil, s.fail(ctx, "DeleteVirtualAccount", err)
	}
	return &adminv1.DeleteVirtualAccountResponse{}, nil
}

// CreateApiKey implements adminv1connect.AdminServiceHandler. The secret is in the response
// and nowhere else.
func (s *Service) CreateApiKey(ctx context.Context, req *adminv1.CreateApiKeyRequest) (*adminv1.CreateApiKeyResponse, error) {
	out, secret, err := s.st.CreateAPIKey(ctx, req.GetApiKey())
	if err != nil {
		return nil, s.fail(ctx, "CreateApiKey", err)
	}
	return &adminv1.CreateApiKeyResponse{ApiKey: out, Secret: secret}, nil
}

// ListApiKeys implements adminv1connect.AdminServiceHandler.
func (s *Service) ListApiKeys(ctx context.Context, req *adminv1.ListApiKeysRequest) (*adminv1.ListApiKeysResponse, error) {
	out, err := s.st.ListAPIKeys(ctx, req.GetUser(), req.GetVirtualAccount())
	if err != nil {
		return nil, s.fail(ctx, "ListApiKeys", err)
	}
	return &adminv1.ListApiKeysResponse{ApiKeys: out}, nil
}

// RevokeApiKey implements adminv1connect.AdminServiceHandler.
func (s *Service) RevokeApiKey(ctx context.Context, req *adminv1.RevokeApiKeyRequest) (*adminv1.RevokeApiKeyResponse, error) {
	out, err := s.st.RevokeAPIKey(ctx, req.GetId())
	if err != nil {
		return nil, s.fail(ctx, "RevokeApiKey", err)
	}
	return &adminv1.RevokeApiKeyResponse{ApiKey: out}, nil
}

// CreateGatewayToken implements adminv1connect.AdminServiceHandler. The secret is in the
// response and nowhere else.
func (s *Service) CreateGatewayToken(ctx context.Context, req *adminv1.CreateGatewayTokenRequest) (*adminv1.CreateGatewayTokenResponse, error) {
	out, secret, err := s.st.CreateGatewayToken(ctx, req.GetName())
	if err != nil {
		return nil, s.fail(ctx, "CreateGatewayToken", err)
	}
	return &adminv1.CreateGatewayTokenResponse{GatewayToken: out, Secret: secret}, nil
}

// ListGatewayTokens implements adminv1connect.AdminServiceHandler.
func (s *Service) ListGatewayTokens(ctx context.Context, _ *adminv1.ListGatewayTokensRequest) (*adminv1.ListGatewayTokensResponse, error) {
	out, err := s.st.ListGatewayTokens(ctx)
	if err != nil {
		return nil, s.fail(ctx, "ListGatewayTokens", err)
	}
	return &adminv1.ListGatewayTokensResponse{GatewayTokens: out}, nil
}

// RevokeGatewayToken implements adminv1connect.AdminServiceHandler.
func (s *Service) RevokeGatewayToken(ctx context.Context, req *adminv1.RevokeGatewayTokenRequest) (*adminv1.RevokeGatewayTokenResponse, error) {
	out, err := s.st.RevokeGatewayToken(ctx, req.GetId())
	if err != nil {
		return nil, s.fail(ctx, "RevokeGatewayToken", err)
	}
	return &adminv1.RevokeGatewayTokenResponse{GatewayToken: out}, nil
}

// RotateApiKey implements adminv1connect.AdminServiceHandler. The new secret is in the
// response and nowhere else.
func (s *Service) RotateApiKey(ctx context.Context, req *adminv1.RotateApiKeyRequest) (*adminv1.RotateApiKeyResponse, error) {
	out, secret, err := s.st.RotateAPIKey(ctx, req)
	if err != nil {
		return nil, s.fail(ctx, "RotateApiKey", err)
	}
	return &adminv1.RotateApiKeyResponse{ApiKey: out, Secret: secret}, nil
}

// CreateAuthzRule implements adminv1connect.AdminServiceHandler.
func (s *Service) CreateAuthzRule(ctx context.Context, req *adminv1.CreateAuthzRuleRequest) (*adminv1.CreateAuthzRuleResponse, error) {
	out, err := s.st.CreateAuthzRule(ctx, req.GetAuthzRule())
	if err != nil {
		return nil, s.fail(ctx, "CreateAuthzRule", err)
	}
	return &adminv1.CreateAuthzRuleResponse{AuthzRule: out}, nil
}

// GetAuthzRule implements adminv1connect.AdminServiceHandler.
func (s *Service) GetAuthzRule(ctx context.Context, req *adminv1.GetAuthzRuleRequest) (*adminv1.GetAuthzRuleResponse, error) {
	out, err := s.st.GetAuthzRule(ctx, req.GetName())
	if err != nil {
		return nil, s.fail(ctx, "GetAuthzRule", err)
	}
	return &adminv1.GetAuthzRuleResponse{AuthzRule: out}, nil
}

// ListAuthzRules implements adminv1connect.AdminServiceHandler.
func (s *Service) ListAuthzRules(ctx context.Context, _ *adminv1.ListAuthzRulesRequest) (*adminv1.ListAuthzRulesResponse, error) {
	out, err := s.st.ListAuthzRules(ctx)
	if err != nil {
		return nil, s.fail(ctx, "ListAuthzRules", err)
	}
	return &adminv1.ListAuthzRulesResponse{AuthzRules: out}, nil
}

// UpdateAuthzRule implements adminv1connect.AdminServiceHandler.
func (s *Service) UpdateAuthzRule(ctx context.Context, req *adminv1.UpdateAuthzRuleRequest) (*adminv1.UpdateAuthzRuleResponse, error) {
	out, err := s.st.UpdateAuthzRule(ctx, req.GetAuthzRule())
	if err != nil {
		return nil, s.fail(ctx, "UpdateAuthzRule", err)
	}
	return &adminv1.UpdateAuthzRuleResponse{AuthzRule: out}, nil
}

// DeleteAuthzRule implements adminv1connect.AdminServiceHandler.
func (s *Service) DeleteAuthzRule(ctx context.Context, req *adminv1.DeleteAuthzRuleRequest) (*adminv1.DeleteAuthzRuleResponse, error) {
	if err := s.st.DeleteAuthzRule(ctx, req.GetName()); err != nil {
		return nil, s.fail(ctx, "DeleteAuthzRule", err)
	}
	return &adminv1.DeleteAuthzRuleResponse{}, nil
}

// CreateVirtualModel implements adminv1connect.AdminServiceHandler.
func (s *Service) CreateVirtualModel(ctx context.Context, req *adminv1.CreateVirtualModelRequest) (*adminv1.CreateVirtualModelResponse, error) {
	out, err := s.st.CreateVirtualModel(ctx, req.GetVirtualModel())
	if err != nil {
		return nil, s.fail(ctx, "CreateVirtualModel", err)
	}
	return &adminv1.CreateVirtualModelResponse{VirtualModel: out}, nil
}

// GetVirtualModel implements adminv1connect.AdminServiceHandler.
func (s *Service) GetVirtualModel(ctx context.Context, req *adminv1.GetVirtualModelRequest) (*adminv1.GetVirtualModelResponse, error) {
	out, err := s.st.GetVirtualModel(ctx, req.GetGroup(), req.GetName())
	if err != nil {
		return nil, s.fail(ctx, "GetVirtualModel", err)
	}
	return &adminv1.GetVirtualModelResponse{VirtualModel: out}, nil
}

// ListVirtualModels implements adminv1connect.AdminServiceHandler.
func (s *Service) ListVirtualModels(ctx context.Context, _ *adminv1.ListVirtualModelsRequest) (*adminv1.ListVirtualModelsResponse, error) {
	out, err := s.st.ListVirtualModels(ctx)
	if err != nil {
		return nil, s.fail(ctx, "ListVirtualModels", err)
	}
	return &adminv1.ListVirtualModelsResponse{VirtualModels: out}, nil
}

// UpdateVirtualModel implements adminv1connect.AdminServiceHandler.
func (s *Service) UpdateVirtualModel(ctx context.Context, req *adminv1.UpdateVirtualModelRequest) (*adminv1.UpdateVirtualModelResponse, error) {
	out, err := s.st.UpdateVirtualModel(ctx, req.GetVirtualModel())
	if err != nil {
		return nil, s.fail(ctx, "UpdateVirtualModel", err)
	}
	return &adminv1.UpdateVirtualModelResponse{VirtualModel: out}, nil
}

// DeleteVirtualModel implements adminv1connect.AdminServiceHandler.
func (s *Service) DeleteVirtualModel(ctx context.Context, req *adminv1.DeleteVirtualModelRequest) (*adminv1.DeleteVirtualModelResponse, error) {
	if err := s.st.DeleteVirtualModel(ctx, req.GetGroup(), req.GetName()); err != nil {
		return nil, s.fail(ctx, "DeleteVirtualModel", err)
	}
	return &adminv1.DeleteVirtualModelResponse{}, nil
}

// CreateRoutingRule implements adminv1connect.AdminServiceHandler.
func (s *Service) CreateRoutingRule(ctx context.Context, req *adminv1.CreateRoutingRuleRequest) (*adminv1.CreateRoutingRuleResponse, error) {
	out, err := s.st.CreateRoutingRule(ctx, req.GetRoutingRule())
	if err != nil {
		return nil, s.fail(ctx, "CreateRoutingRule", err)
	}
	return &adminv1.CreateRoutingRuleResponse{RoutingRule: out}, nil
}

// GetRoutingRule implements adminv1connect.AdminServiceHandler.
func (s *Service) GetRoutingRule(ctx context.Context, req *adminv1.GetRoutingRuleRequest) (*adminv1.GetRoutingRuleResponse, error) {
	out, err := s.st.GetRoutingRule(ctx, req.GetId())
	if err != nil {
		return nil, s.fail(ctx, "GetRoutingRule", err)
	}
	return &adminv1.GetRoutingRuleResponse{RoutingRule: out}, nil
}

// ListRoutingRules implements adminv1connect.AdminServiceHandler.
func (s *Service) ListRoutingRules(ctx context.Context, _ *adminv1.ListRoutingRulesRequest) (*adminv1.ListRoutingRulesResponse, error) {
	out, err := s.st.ListRoutingRules(ctx)
	if err != nil {
		return nil, s.fail(ctx, "ListRoutingRules", err)
	}
	return &adminv1.ListRoutingRulesResponse{RoutingRules: out}, nil
}

// UpdateRoutingRule implements adminv1connect.AdminServiceHandler.
func (s *Service) UpdateRoutingRule(ctx context.Context, req *adminv1.UpdateRoutingRuleRequest) (*adminv1.UpdateRoutingRuleResponse, error) {
	out, err := s.st.UpdateRoutingRule(ctx, req.GetRoutingRule())
	if err != nil {
		return nil, s.fail(ctx, "UpdateRoutingRule", err)
	}
	return &adminv1.UpdateRoutingRuleResponse{RoutingRule: out}, nil
}

// DeleteRoutingRule implements adminv1connect.AdminServiceHandler.
func (s *Service) DeleteRoutingRule(ctx context.Context, req *adminv1.DeleteRoutingRuleRequest) (*adminv1.DeleteRoutingRuleResponse, error) {
	if err := s.st.DeleteRoutingRule(ctx, req.GetId()); err != nil {
		return nil, s.fail(ctx, "DeleteRoutingRule", err)
	}
	return &adminv1.DeleteRoutingRuleResponse{}, nil
}

// ListRoutingState implements adminv1connect.AdminServiceHandler.
func (s *Service) ListRoutingState(ctx context.Context, req *adminv1.ListRoutingStateRequest) (*adminv1.ListRoutingStateResponse, error) {
	if s.routing == nil {
		return &adminv1.ListRoutingStateResponse{}, nil
	}
	return &adminv1.ListRoutingStateResponse{States: s.routing.RoutingState(ctx, req.GetTarget())}, nil
}

// CreateRateLimit implements adminv1connect.AdminServiceHandler.
func (s *Service) CreateRateLimit(ctx context.Context, req *adminv1.CreateRateLimitRequest) (*adminv1.CreateRateLimitResponse, error) {
	out, err := s.st.CreateRateLimit(ctx, req.GetRateLimit())
	if err != nil {
		return nil, s.fail(ctx, "CreateRateLimit", err)
	}
	return &adminv1.CreateRateLimitResponse{RateLimit: out}, nil
}

// GetRateLimit implements adminv1connect.AdminServiceHandler.
func (s *Service) GetRateLimit(ctx context.Context, req *adminv1.GetRateLimitRequest) (*adminv1.GetRateLimitResponse, error) {
	out, err := s.st.GetRateLimit(ctx, req.GetName())
	if err != nil {
		return nil, s.fail(ctx, "GetRateLimit", err)
	}
	return &adminv1.GetRateLimitResponse{RateLimit: out}, nil
}

// ListRateLimits implements adminv1connect.AdminServiceHandler.
func (s *Service) ListRateLimits(ctx context.Context, _ *adminv1.ListRateLimitsRequest) (*adminv1.ListRateLimitsResponse, error) {
	out, err := s.st.ListRateLimits(ctx)
	if err != nil {
		return nil, s.fail(ctx, "ListRateLimits", err)
	}
	return &adminv1.ListRateLimitsResponse{RateLimits: out}, nil
}

// UpdateRateLimit implements adminv1connect.AdminServiceHandler.
func (s *Service) UpdateRateLimit(ctx context.Context, req *adminv1.UpdateRateLimitRequest) (*adminv1.UpdateRateLimitResponse, error) {
	out, err := s.st.UpdateRateLimit(ctx, req.GetRateLimit())
	if err != nil {
		return nil, s.fail(ctx, "UpdateRateLimit", err)
	}
	return &adminv1.UpdateRateLimitResponse{RateLimit: out}, nil
}

// DeleteRateLimit implements adminv1connect.AdminServiceHandler.
func (s *Service) DeleteRateLimit(ctx context.Context, req *adminv1.DeleteRateLimitRequest) (*adminv1.DeleteRateLimitResponse, error) {
	if err := s.st.DeleteRateLimit(ctx, req.GetName()); err != nil {
		return nil, s.fail(ctx, "DeleteRateLimit", err)
	}
	return &adminv1.DeleteRateLimitResponse{}, nil
}

// CreateBudget implements adminv1connect.AdminServiceHandler.
func (s *Service) CreateBudget(ctx context.Context, req *adminv1.CreateBudgetRequest) (*adminv1.CreateBudgetResponse, error) {
	out, err := s.st.CreateBudget(ctx, req.GetBudget())
	if err != nil {
		return nil, s.fail(ctx, "CreateBudget", err)
	}
	return &adminv1.CreateBudgetResponse{Budget: out}, nil
}

// GetBudget implements adminv1connect.AdminServiceHandler.
func (s *Service) GetBudget(ctx context.Context, req *adminv1.GetBudgetRequest) (*adminv1.GetBudgetResponse, error) {
	out, err := s.st.GetBudget(ctx, req.GetName())
	if err != nil {
		return nil, s.fail(ctx, "GetBudget", err)
	}
	return &adminv1.GetBudgetResponse{Budget: out}, nil
}

// ListBudgets implements adminv1connect.AdminServiceHandler.
func (s *Service) ListBudgets(ctx context.Context, _ *adminv1.ListBudgetsRequest) (*adminv1.ListBudgetsResponse, error) {
	out, err := s.st.ListBudgets(ctx)
	if err != nil {
		return nil, s.fail(ctx, "ListBudgets", err)
	}
	return &adminv1.ListBudgetsResponse{Budgets: out}, nil
}

// UpdateBudget implements adminv1connect.AdminServiceHandler.
func (s *Service) UpdateBudget(ctx context.Context, req *adminv1.UpdateBudgetRequest) (*adminv1.UpdateBudgetResponse, error) {
	out, err := s.st.UpdateBudget(ctx, req.GetBudget())
	if err != nil {
		return nil, s.fail(ctx, "UpdateBudget", err)
	}
	return &adminv1.UpdateBudgetResponse{Budget: out}, nil
}

// DeleteBudget implements adminv1connect.AdminServiceHandler.
func (s *Service) DeleteBudget(ctx context.Context, req *adminv1.DeleteBudgetRequest) (*adminv1.DeleteBudgetResponse, error) {
	if err := s.st.DeleteBudget(ctx, req.GetName()); err != nil {
		return nil, s.fail(ctx, "DeleteBudget", err)
	}
	return &adminv1.DeleteBudgetResponse{}, nil
}

// ListLimitStatus implements adminv1connect.AdminServiceHandler.
func (s *Service) ListLimitStatus(ctx context.Context, req *adminv1.ListLimitStatusRequest) (*adminv1.ListLimitStatusResponse, error) {
	if s.status == nil {
		return &adminv1.ListLimitStatusResponse{}, nil
	}
	out, err := s.status.LimitStatus(ctx, req.GetRule())
	if err != nil {
		return nil, s.fail(ctx, "ListLimitStatus", err)
	}
	return &adminv1.ListLimitStatusResponse{Statuses: out}, nil
}

// ListAuditEvents implements adminv1connect.AdminServiceHandler.
func (s *Service) ListAuditEvents(ctx context.Context, req *adminv1.ListAuditEventsRequest) (*adminv1.ListAuditEventsResponse, error) {
	out, next, err := s.st.ListAuditEvents(ctx, req)
	if err != nil {
		return nil, s.fail(ctx, "ListAuditEvents", err)
	}
	return &adminv1.ListAuditEventsResponse{AuditEvents: out, NextPageToken: next}, nil
}

// GetCaller implements adminv1connect.AdminServiceHandler: who the authenticated caller is.
func (s *Service) GetCaller(ctx context.Context, _ *adminv1.GetCallerRequest) (*adminv1.GetCallerResponse, error) {
	p, ok := adminaccess.PrincipalFrom(ctx)
	if !ok {
		return nil, apierr.ConnectError(apierr.New(apierr.KindUnauthenticated, "missing API key: send it as 'Authorization: Bearer <key>'"))
	}
	roles := slices.Clone(p.Roles)
	if p.Admin && !slices.Contains(roles, snapshot.RoleAdmin) {
		roles = append(roles, snapshot.RoleAdmin)
	}
	slices.Sort(roles)
	return &adminv1.GetCallerResponse{
		Principal:      PrincipalName(p),
		User:           p.User,
		VirtualAccount: p.VirtualAccount,
		Roles:          roles,
		Teams:          slices.Clone(p.Teams),
		AdminApi:       adminaccess.MayUse(p),
	}, nil
}
