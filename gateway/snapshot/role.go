package snapshot

import "slices"

// Admin API roles a user may hold (User.Roles). The Admin API decides what each allows; the
// data plane only tells them apart.
const (
	// RoleAdmin may do everything, and use every model.
	RoleAdmin = "admin"
	// RoleViewer may read the Admin and Usage APIs, everything but secrets, and write nothing.
	RoleViewer = "viewer"
	// RoleTeamAdmin manages the API keys, rate limits and budgets of the user's own teams.
	RoleTeamAdmin = "team-admin"
)

// Roles lists every role, sorted.
var Roles = []string{RoleAdmin, RoleTeamAdmin, RoleViewer}

// API key scopes (Key.Scopes): the APIs a key may call. A key with no scope has both.
const (
	// ScopeInference admits the key to the inference surfaces (OpenAI, Anthropic, Inference).
	ScopeInference = "inference"
	// ScopeAdmin admits the key to the Admin API, within its owner's roles.
	ScopeAdmin = "admin"
)

// Scopes lists every scope, sorted.
var Scopes = []string{ScopeAdmin, ScopeInference}

// HasRole reports whether p holds role. The admin token holds RoleAdmin.
func (p *Principal) HasRole(role string) bool {
	if role == RoleAdmin && p.Admin {
		return true
	}
	return slices.Contains(p.Roles, role)
}

// CanInference reports whether p's key is scoped to the inference surfaces.
func (p *Principal) CanInference() bool { return !p.adminOnly }

// CanAdmin reports whether p's key is scoped to the Admin API (its roles decide the rest).
func (p *Principal) CanAdmin() bool { return !p.inferenceOnly }

// setScopes records a key's scopes on p; no scope means both.
func (p *Principal) setScopes(scopes []string) {
	if len(scopes) == 0 {
		return
	}
	p.adminOnly = !slices.Contains(scopes, ScopeInference)
	p.inferenceOnly = !slices.Contains(scopes, ScopeAdmin)
}
