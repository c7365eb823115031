//go:build !llmgw_gateway_only

package server

import (
	"context"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/snapshot"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
	"github.com/llmgw/llmgw/services/adminaccess"
)

// The Admin API's routes are in this file, which the gateway-only build (the llmgw_gateway_only
// tag) leaves out: a replica serves no Admin API, and its Connect handler and REST routes, one
// generic instantiation per method, are most of the Connect code a binary links.

// mountAdmin serves the Admin API under its Connect path: authentication, then the admin
// service's role table; a handler without one (a test double) admits only the admin role.
func (s *Server) mountAdmin(mux *http.ServeMux, e *edgeRoutes, opts ...connect.HandlerOption) error {
	authz := connect.Interceptor(adminRoleOnly)
	if a, ok := s.admin.(interface {
		Authorize() connect.UnaryInterceptorFunc
	}); ok {
		authz = a.Authorize()
	}
	opts = append(opts, connect.WithInterceptors(AdminAuth(s.snaps, time.Now), authz), strictConnectJSON())
	path, h := adminv1connect.NewAdminServiceHandler(s.admin, opts...)
	mux.Handle(path, e.connectService(accessAdmin, h))
	return nil
}

// registerAdminREST serves the Admin API's REST routes through the gRPC hop.
func registerAdminREST(ctx context.Context, rest *runtime.ServeMux, conn *grpc.ClientConn) error {
	return adminv1.RegisterAdminServiceHandler(ctx, rest, conn)
}

// AdminAuth is a Connect interceptor that authenticates an Admin API call: the admin token, or
// an admin-scoped key of a user with an Admin API role (adminaccess.MayUse). It puts the principal in
// the context (adminaccess.WithPrincipal) for the role table that follows it.
func AdminAuth(snaps *snapshot.Holder, now func() time.Time) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			snap := snaps.Load()
			if snap == nil {
				return nil, apierr.ConnectError(apierr.New(apierr.KindUnavailable, "the gateway is starting"))
			}
			p, err := snap.Authenticate(edge.Secret(req.Header()), now())
			if err != nil {
				return nil, apierr.ConnectError(err)
			}
			// A method the role table opens to every caller (GetCaller: how a client learns
			// what it may do) takes any authenticated caller.
			if !adminaccess.MayUse(p) && !adminaccess.OpenToAll(req.Spec().Procedure) {
				return nil, apierr.ConnectError(errAdminAccess)
			}
			return next(adminaccess.WithPrincipal(ctx, p), req)
		}
	}
}

// adminRoleOnly admits only the admin role: the authorization of an Admin API handler that
// has no role table of its own.
var adminRoleOnly connect.UnaryInterceptorFunc = func(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		p, _ := adminaccess.PrincipalFrom(ctx)
		if p == nil || !p.HasRole(snapshot.RoleAdmin) {
			return nil, apierr.ConnectError(apierr.New(apierr.KindPermissionDenied, "this needs the admin role"))
		}
		return next(ctx, req)
	}
}
