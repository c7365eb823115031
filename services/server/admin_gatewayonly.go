//go:build llmgw_gateway_only

package server

import (
	"context"
	"errors"
	"net/http"

	"connectrpc.com/connect"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
)

// errNoAdmin refuses an Admin API handler in the gateway-only build, which links none (admin.go).
var errNoAdmin = errors.New("this llmgw is a gateway-only build (llmgw_gateway_only): it serves no Admin API")

func (s *Server) mountAdmin(*http.ServeMux, *edgeRoutes, ...connect.HandlerOption) error {
	return errNoAdmin
}

func registerAdminREST(context.Context, *runtime.ServeMux, *grpc.ClientConn) error {
	return errNoAdmin
}
