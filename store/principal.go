package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/team"
	"github.com/llmgw/llmgw/ent/user"
	"github.com/llmgw/llmgw/ent/virtualaccount"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

const (
	kindUser           = "user"
	kindTeam           = "team"
	kindVirtualAccount = "virtual account"
)

func validateUser(in *adminv1.User) error {
	if in == nil {
		return apierr.Invalid("user", "user is required")
	}
	if in.GetName() == "" {
		return apierr.Invalid("user.name", "user.name is required")
	}
	if !userNameRE.MatchString(in.GetName()) {
		return apierr.Invalid("user.name", "user.name %q must be 1 to 254 lowercase letters, digits, '.', '_', '@', '+' or '-', starting with a letter or digit", in.GetName())
	}
	for i, r := range in.GetRoles() {
		if !slices.Contains(snapshot.Roles, r) {
			return apierr.Invalid("user.roles", "user.roles[%d] %q is not a role: use %s", i, r, strings.Join(snapshot.Roles, ", "))
		}
	}
	return validateList("user.teams", in.GetTeams())
}

// userRoles is the roles a user write stores: in.roles, with "admin" when in.admin is set,
// sorted and without duplicates.
func userRoles(in *adminv1.User) []string {
	roles := slices.Clone(in.GetRoles())
	if in.GetAdmin() {
		roles = append(roles, snapshot.RoleAdmin)
	}
	return slices.Compact(slices.Sorted(slices.Values(roles)))
}

// storedRoles is the roles of a stored user: its roles, and "admin" when the admin column says
// so (rows written before roles existed have only that).
func storedRoles(u *ent.User) []string {
	roles := slices.Clone(u.Roles)
	if u.Admin {
		roles = append(roles, snapshot.RoleAdmin)
	}
	return slices.Compact(slices.Sorted(slices.Values(roles)))
}

// teamIDs resolves team names for a write; an unknown team is an invalid argument naming param.
func teamIDs(ctx context.Context, tx *ent.Tx, param string, names []string) ([]int, error) {
	if len(names) == 0 {
		return nil, nil
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	ts, err := tx.Team.Query().Where(team.NameIn(names...)).All(ctx)
	if err != nil {
		return nil, err
	}
	found := make(map[string]int, len(ts))
	for _, t := range ts {
		found[t.Name] = t.ID
	}
	ids := make([]int, 0, len(names))
	for _, n := range names {
		id, ok := found[n]
		if !ok {
			return nil, apierr.Invalid(param, "team %q does not exist", n)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// CreateUser adds a user with memberships in the named teams, which must exist.
func (s *Store) CreateUser(ctx context.Context, in *adminv1.User) (*adminv1.User, error) {
	if err := validateUser(in); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	var out *ent.User
	err := s.write(ctx, func(tx *ent.Tx) error {
		ids, err := teamIDs(ctx, tx, "user.teams", in.GetTeams())
		if err != nil {
			return err
		}
		u, err := tx.User.Create().
			SetName(in.GetName()).
			SetEmail(in.GetEmail()).
			SetDisabled(in.GetDisabled()).
			SetAdmin(slices.Contains(userRoles(in), snapshot.RoleAdmin)).
			SetRoles(userRoles(in)).
			AddTeamIDs(ids...).
			Save(ctx)
		if err != nil {
			return err
		}
		out, err = tx.User.Query().Where(user.ID(u.ID)).WithTeams().Only(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create user %s: %w", in.GetName(), classify(err, kindUser, in.GetName()))
	}
	return userProto(out), nil
}

// GetUser returns the user with the name.
func (s *Store) GetUser(ctx context.Context, name string) (*adminv1.User, error) {
	u, err := s.client.User.Query().Where(user.Name(name)).WithTeams().Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", name, classify(err, kindUser, name))
	}
	return userProto(u), nil
}

// ListUsers returns every user, sorted by name.
func (s *Store) ListUsers(ctx context.Context) ([]*adminv1.User, error) {
	us, err := s.client.User.Query().Order(ent.Asc(user.FieldName)).WithTeams().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]*adminv1.User, len(us))
	for i, u := range us {
		out[i] = userProto(u)
	}
	return out, nil
}

// UpdateUser replaces the settings and team memberships of the user named in.name.
func (s *Store) UpdateUser(ctx context.Context, in *adminv1.User) (*adminv1.User, error) {
	if err := validateUser(in); err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	var out *ent.User
	err := s.write(ctx, func(tx *ent.Tx) error {
		id, err := tx.User.Query().Where(user.Name(in.GetName())).OnlyID(ctx)
		if err != nil {
			return err
		}
		ids, err := teamIDs(ctx, tx, "user.teams", in.GetTeams())
		if err != nil {
			return err
		}
		if err := tx.User.UpdateOneID(id).
			SetEmail(in.GetEmail()).
			SetDisabled(in.GetDisabled()).
			SetAdmin(slices.Contains(userRoles(in), snapshot.RoleAdmin)).
			SetRoles(userRoles(in)).
			ClearTeams().
			AddTeamIDs(ids...).
			Exec(ctx); err != nil {
			return err
		}
		out, err = tx.User.Query().Where(user.ID(id)).WithTeams().Only(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update user %s: %w", in.GetName(), classify(err, kindUser, in.GetName()))
	}
	return userProto(out), nil
}

// DeleteUser deletes the user with the name and the user's API keys.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *ent.Tx) error {
		n, err := tx.User.Delete().Where(user.Name(name)).Exec(ctx)
		if err == nil && n == 0 {
			return notFound(kindUser, name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", name, classify(err, kindUser, name))
	}
	return nil
}

func userProto(u *ent.User) *adminv1.User {
	var teams []string
	for _, t := range u.Edges.Teams {
		teams = append(teams, t.Name)
	}
	slices.Sort(teams)
	return &adminv1.User{
		Name:       u.Name,
		Email:      u.Email,
		Teams:      teams,
		Disabled:   u.Disabled,
		Admin:      slices.Contains(storedRoles(u), snapshot.RoleAdmin),
		Roles:      storedRoles(u),
		CreateTime: ts(u.CreateTime),
		UpdateTime: ts(u.UpdateTime),
	}
}

func validateTeam(in *adminv1.Team) error {
	if in == nil {
		return apierr.Invalid("team", "team is required")
	}
	return validateName("team.name", in.GetName())
}

// CreateTeam adds a team. Members are output only: set them through users.
func (s *Store) CreateTeam(ctx context.Context, in *adminv1.Team) (*adminv1.Team, error) {
	if err := validateTeam(in); err != nil {
		return nil, fmt.Errorf("create team: %w", err)
	}
	var out *ent.Team
	err := s.write(ctx, func(tx *ent.Tx) error {
		var err error
		out, err = tx.Team.Create().SetName(in.GetName()).SetDescription(in.GetDescription()).Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create team %s: %w", in.GetName(), classify(err, kindTeam, in.GetName()))
	}
	return teamProto(out), nil
}

// GetTeam returns the team with the name and its members.
func (s *Store) GetTeam(ctx context.Context, name string) (*adminv1.Team, error) {
	t, err := s.client.Team.Query().Where(team.Name(name)).WithUsers().Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get team %s: %w", name, classify(err, kindTeam, name))
	}
	return teamProto(t), nil
}

// ListTeams returns every team with its members, sorted by name.
func (s *Store) ListTeams(ctx context.Context) ([]*adminv1.Team, error) {
	ts, err := s.client.Team.Query().Order(ent.Asc(team.FieldName)).WithUsers().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	out := make([]*adminv1.Team, len(ts))
	for i, t := range ts {
		out[i] = teamProto(t)
	}
	return out, nil
}

// UpdateTeam replaces the description of the team named in.name; members are unchanged.
func (s *Store) UpdateTeam(ctx context.Context, in *adminv1.Team) (*adminv1.Team, error) {
	if err := validateTeam(in); err != nil {
		return nil, fmt.Errorf("update team: %w", err)
	}
	var out *ent.Team
	err := s.write(ctx, func(tx *ent.Tx) error {
		id, err := tx.Team.Query().Where(team.Name(in.GetName())).OnlyID(ctx)
		if err != nil {
			return err
		}
		if err := tx.Team.UpdateOneID(id).SetDescription(in.GetDescription()).Exec(ctx); err != nil {
			return err
		}
		out, err = tx.Team.Query().Where(team.ID(id)).WithUsers().Only(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update team %s: %w", in.GetName(), classify(err, kindTeam, in.GetName()))
	}
	return teamProto(out), nil
}

// DeleteTeam deletes the team with the name; its members stay, and virtual accounts it owned
// are left without a team.
func (s *Store) DeleteTeam(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *ent.Tx) error {
		n, err := tx.Team.Delete().Where(team.Name(name)).Exec(ctx)
		if err == nil && n == 0 {
			return notFound(kindTeam, name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete team %s: %w", name, classify(err, kindTeam, name))
	}
	return nil
}

func teamProto(t *ent.Team) *adminv1.Team {
	var members []string
	for _, u := range t.Edges.Users {
		members = append(members, u.Name)
	}
	slices.Sort(members)
	return &adminv1.Team{
		Name:        t.Name,
		Description: t.Description,
		Members:     members,
		CreateTime:  ts(t.CreateTime),
		UpdateTime:  ts(t.UpdateTime),
	}
}

func validateVirtualAccount(in *adminv1.VirtualAccount) error {
	if in == nil {
		return apierr.Invalid("virtual_account", "virtual_account is required")
	}
	return validateName("virtual_account.name", in.GetName())
}

// vaTeamID resolves a virtual account's optional team; nil when none is named.
func vaTeamID(ctx context.Context, tx *ent.Tx, name string) (*int, error) {
	if name == "" {
		return nil, nil
	}
	ids, err := teamIDs(ctx, tx, "virtual_account.team", []string{name})
	if err != nil {
		return nil, err
	}
	return &ids[0], nil
}

// CreateVirtualAccount adds a virtual account, optionally owned by an existing team.
func (s *Store) CreateVirtualAccount(ctx context.Context, in *adminv1.VirtualAccount) (*adminv1.VirtualAccount, error) {
	if err := validateVirtualAccount(in); err != nil {
		return nil, fmt.Errorf("create virtual account: %w", err)
	}
	var out *ent.VirtualAccount
	err := s.write(ctx, func(tx *ent.Tx) error {
		tid, err := vaTeamID(ctx, tx, in.GetTeam())
		if err != nil {
			return err
		}
		v, err := tx.VirtualAccount.Create().
			SetName(in.GetName()).
			SetDescription(in.GetDescription()).
			SetDisabled(in.GetDisabled()).
			SetNillableTeamID(tid).
			Save(ctx)
		if err != nil {
			return err
		}
		out, err = tx.VirtualAccount.Query().Where(virtualaccount.ID(v.ID)).WithTeam().Only(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create virtual account %s: %w", in.GetName(), classify(err, kindVirtualAccount, in.GetName()))
	}
	return virtualAccountProto(out), nil
}

// GetVirtualAccount returns the virtual account with the name.
func (s *Store) GetVirtualAccount(ctx context.Context, name string) (*adminv1.VirtualAccount, error) {
	v, err := s.client.VirtualAccount.Query().Where(virtualaccount.Name(name)).WithTeam().Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get virtual account %s: %w", name, classify(err, kindVirtualAccount, name))
	}
	return virtualAccountProto(v), nil
}

// ListVirtualAccounts returns every virtual account, sorted by name.
func (s *Store) ListVirtualAccounts(ctx context.Context) ([]*adminv1.VirtualAccount, error) {
	vs, err := s.client.VirtualAccount.Query().Order(ent.Asc(virtualaccount.FieldName)).WithTeam().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list virtual accounts: %w", err)
	}
	out := make([]*adminv1.VirtualAccount, len(vs))
	for i, v := range vs {
		out[i] = virtualAccountProto(v)
	}
	return out, nil
}

// UpdateVirtualAccount replaces the settings of the virtual account named in.name.
func (s *Store) UpdateVirtualAccount(ctx context.Context, in *adminv1.VirtualAccount) (*adminv1.VirtualAccount, error) {
	if err := validateVirtualAccount(in); err != nil {
		return nil, fmt.Errorf("update virtual account: %w", err)
	}
	var out *ent.VirtualAccount
	err := s.write(ctx, func(tx *ent.Tx) error {
		id, err := tx.VirtualAccount.Query().Where(virtualaccount.Name(in.GetName())).OnlyID(ctx)
		if err != nil {
			return err
		}
		tid, err := vaTeamID(ctx, tx, in.GetTeam())
		if err != nil {
			return err
		}
		u := tx.VirtualAccount.UpdateOneID(id).
			SetDescription(in.GetDescription()).
			SetDisabled(in.GetDisabled())
		if tid == nil {
			u.ClearTeamID()
		} else {
			u.SetTeamID(*tid)
		}
		if err := u.Exec(ctx); err != nil {
			return err
		}
		out, err = tx.VirtualAccount.Query().Where(virtualaccount.ID(id)).WithTeam().Only(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update virtual account %s: %w", in.GetName(), classify(err, kindVirtualAccount, in.GetName()))
	}
	return virtualAccountProto(out), nil
}

// DeleteVirtualAccount deletes the virtual account with the name and its API keys.
func (s *Store) DeleteVirtualAccount(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *ent.Tx) error {
		n, err := tx.VirtualAccount.Delete().Where(virtualaccount.Name(name)).Exec(ctx)
		if err == nil && n == 0 {
			return notFound(kindVirtualAccount, name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete virtual account %s: %w", name, classify(err, kindVirtualAccount, name))
	}
	return nil
}

func virtualAccountProto(v *ent.VirtualAccount) *adminv1.VirtualAccount {
	out := &adminv1.VirtualAccount{
		Name:        v.Name,
		Description: v.Description,
		Disabled:    v.Disabled,
		CreateTime:  ts(v.CreateTime),
		UpdateTime:  ts(v.UpdateTime),
	}
	if v.Edges.Team != nil {
		out.Team = v.Edges.Team.Name
	}
	return out
}
