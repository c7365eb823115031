package app

import (
	"context"
	"errors"

	"github.com/llmgw/llmgw/gateway/apierr"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	"github.com/llmgw/llmgw/store"
)

// storeUsers stores the users that OIDC logins create (oidc.UserStore), in processes with a
// database. A gateway replica has none: its created users exist in their requests' principals
// (teams from the token included) until someone creates them through the Admin API.
type storeUsers struct{ st *store.Store }

// EnsureUser creates user name, without teams: a login's teams come from its token.
func (u storeUsers) EnsureUser(ctx context.Context, name string) error {
	_, err := u.st.GetUser(ctx, name)
	var ae *apierr.Error
	if err == nil || !errors.As(err, &ae) || ae.Kind != apierr.KindNotFound {
		return err
	}
	_, err = u.st.CreateUser(ctx, &adminv1.User{Name: name})
	if errors.As(err, &ae) && ae.Kind == apierr.KindAlreadyExists {
		return nil // created meanwhile, by another process
	}
	return err
}

// lazyUsers is a UserStore whose store is set once the plane is open; until then (and in a
// replica) it stores nothing.
type lazyUsers struct{ st *store.Store }

func (u *lazyUsers) EnsureUser(ctx context.Context, name string) error {
	if u.st == nil {
		return nil
	}
	return storeUsers{st: u.st}.EnsureUser(ctx, name)
}
