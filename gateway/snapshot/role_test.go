package snapshot

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestRolesAndScopes: a compiled key's principal carries its owner's roles (the Admin bool
// counting as the admin role) and its scopes (none: both), also after the config has made the
// JSON round trip a replica's config makes.
func TestRolesAndScopes(t *testing.T) {
	cfg := &Config{
		AdminTokenHash: KeyHash("root"),
		Users: []User{
			{Name: "legacy", Admin: true},
			{Name: "ann", Roles: []string{RoleAdmin}},
			{Name: "vic", Roles: []string{RoleViewer, RoleTeamAdmin}, Teams: []string{"ml"}},
		},
		Keys: []Key{
			{ID: "k1", Hash: KeyHash("legacy"), User: "legacy"},
			{ID: "k2", Hash: KeyHash("ann-inf"), User: "ann", Scopes: []string{ScopeInference}},
			{ID: "k3", Hash: KeyHash("ann-adm"), User: "ann", Scopes: []string{ScopeAdmin}},
			{ID: "k4", Hash: KeyHash("vic"), User: "vic", Scopes: []string{ScopeAdmin, ScopeInference}},
		},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wire Config
	if err := json.Unmarshal(b, &wire); err != nil {
		t.Fatal(err)
	}
	s := Compile(&wire, builder{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tests := []struct {
		secret                       string
		admin, viewer, teamAdmin     bool
		canInference, canAdminScoped bool
	}{
		{"root", true, false, false, true, true},
		{"legacy", true, false, false, true, true},
		{"ann-inf", true, false, false, true, false},
		{"ann-adm", true, false, false, false, true},
		{"vic", false, true, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.secret, func(t *testing.T) {
			p, err := s.Authenticate(tt.secret, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			got := [5]bool{p.HasRole(RoleAdmin), p.HasRole(RoleViewer), p.HasRole(RoleTeamAdmin), p.CanInference(), p.CanAdmin()}
			want := [5]bool{tt.admin, tt.viewer, tt.teamAdmin, tt.canInference, tt.canAdminScoped}
			if got != want {
				t.Errorf("admin, viewer, team-admin, inference, admin scope = %v, want %v", got, want)
			}
		})
	}
}
