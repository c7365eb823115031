// Package adminaccess is who may use the Admin API at all: the caller a request's context
// carries, the roles that admit it, and the methods open to every authenticated caller. It is
// what the server's authentication needs from the Admin API without linking the Admin API's
// storage, so a gateway-only build (cmd/llmgw with the llmgw_omit_control tag) can serve
// without it; the role table of what each caller may call is services/admin's.
package adminaccess

import (
	"context"
	"strings"

	"github.com/llmgw/llmgw/gateway/snapshot"
)

type principalKey struct{}

// WithPrincipal returns ctx carrying the authenticated caller of an Admin API request, which
// services/admin's Authorize interceptor checks. The server's authentication sets it.
func WithPrincipal(ctx context.Context, p *snapshot.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal WithPrincipal put in ctx, and whether there is one.
func PrincipalFrom(ctx context.Context) (*snapshot.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*snapshot.Principal)
	return p, ok && p != nil
}

// MayUse reports whether p may call the Admin API at all: its key has the admin scope and its
// owner holds a role. What it may call is the role table's to decide.
func MayUse(p *snapshot.Principal) bool {
	if !p.CanAdmin() {
		return false
	}
	return p.HasRole(snapshot.RoleAdmin) || p.HasRole(snapshot.RoleViewer) || p.HasRole(snapshot.RoleTeamAdmin)
}

// openToAll are the Admin API methods every authenticated caller may call, with or without a
// role or the admin scope: GetCaller, which tells a caller what it may do.
var openToAll = map[string]bool{"GetCaller": true}

// OpenToAll reports whether the Admin API method of procedure ("/llmgw.admin.v1.AdminService/
// GetCaller", or the bare method name) serves every authenticated caller.
func OpenToAll(procedure string) bool {
	return openToAll[procedure[strings.LastIndexByte(procedure, '/')+1:]]
}
