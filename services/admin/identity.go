package admin

import (
	"context"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// CreateIdentityProvider implements adminv1connect.AdminServiceHandler.
func (s *Service) CreateIdentityProvider(ctx context.Context, req *adminv1.CreateIdentityProviderRequest) (*adminv1.CreateIdentityProviderResponse, error) {
	out, err := s.st.CreateIdentityProvider(ctx, req.GetIdentityProvider())
	if err != nil {
		return nil, s.fail(ctx, "CreateIdentityProvider", err)
	}
	return &adminv1.CreateIdentityProviderResponse{IdentityProvider: out}, nil
}

// GetIdentityProvider implements adminv1connect.AdminServiceHandler.
func (s *Service) GetIdentityProvider(ctx context.Context, req *adminv1.GetIdentityProviderRequest) (*adminv1.GetIdentityProviderResponse, error) {
	out, err := s.st.GetIdentityProvider(ctx, req.GetName())
	if err != nil {
		return nil, s.fail(ctx, "GetIdentityProvider", err)
	}
	return &adminv1.GetIdentityProviderResponse{IdentityProvider: out}, nil
}

// ListIdentityProviders implements adminv1connect.AdminServiceHandler.
func (s *Service) ListIdentityProviders(ctx context.Context, _ *adminv1.ListIdentityProvidersRequest) (*adminv1.ListIdentityProvidersResponse, error) {
	out, err := s.st.ListIdentityProviders(ctx)
	if err != nil {
		return nil, s.fail(ctx, "ListIdentityProviders", err)
	}
	return &adminv1.ListIdentityProvidersResponse{IdentityProviders: out}, nil
}

// UpdateIdentityProvider implements adminv1connect.AdminServiceHandler.
func (s *Service) UpdateIdentityProvider(ctx context.Context, req *adminv1.UpdateIdentityProviderRequest) (*adminv1.UpdateIdentityProviderResponse, error) {
	out, err := s.st.UpdateIdentityProvider(ctx, req.GetIdentityProvider())
	if err != nil {
		return nil, s.fail(ctx, "UpdateIdentityProvider", err)
	}
	return &adminv1.UpdateIdentityProviderResponse{IdentityProvider: out}, nil
}

// DeleteIdentityProvider implements adminv1connect.AdminServiceHandler.
func (s *Service) DeleteIdentityProvider(ctx context.Context, req *adminv1.DeleteIdentityProviderRequest) (*adminv1.DeleteIdentityProviderResponse, error) {
	if err := s.st.DeleteIdentityProvider(ctx, req.GetName()); err != nil {
		return nil, s.fail(ctx, "DeleteIdentityProvider", err)
	}
	return &adminv1.DeleteIdentityProviderResponse{}, nil
}
