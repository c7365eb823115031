package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/apikey"
	"github.com/llmgw/llmgw/ent/predicate"
	"github.com/llmgw/llmgw/ent/setting"
	"github.com/llmgw/llmgw/ent/user"
	"github.com/llmgw/llmgw/ent/virtualaccount"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/snapshot"
)

const kindAPIKey = "api key"

// settingAdminTokenHash is the Setting key of the admin token's hash.
const settingAdminTokenHash = "admin_token_hash"

// newKeyID returns a fresh API key id, "key_" and 24 hex digits.
func newKeyID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return "key_" + hex.EncodeToString(b[:])
}

// CreateAPIKey issues an API key to the user or virtual account in.owner, which must exist, and
// returns it with its secret. Only the secret's hash and display prefix are stored: the secret
// cannot be read again.
func (s *Store) CreateAPIKey(ctx context.Context, in *adminv1.ApiKey) (*adminv1.ApiKey, string, error) {
	if in == nil {
		return nil, "", fmt.Errorf("create api key: %w", apierr.Invalid("api_key", "api_key is required"))
	}
	if in.GetUser() == "" && in.GetVirtualAccount() == "" {
		return nil, "", fmt.Errorf("create api key: %w", apierr.Invalid("api_key.owner", "api_key needs an owner: user or virtual_account"))
	}
	if len(in.GetName()) > 200 {
		return nil, "", fmt.Errorf("create api key: %w", apierr.Invalid("api_key.name", "api_key.name is longer than 200 characters"))
	}
	var expire *time.Time
	if in.ExpireTime != nil {
		if err := in.GetExpireTime().CheckValid(); err != nil {
			return nil, "", fmt.Errorf("create api key: %w", apierr.Invalid("api_key.expire_time", "api_key.expire_time is not a valid time"))
		}
		t := in.GetExpireTime().AsTime()
		if !t.After(time.Now()) {
			return nil, "", fmt.Errorf("create api key: %w", apierr.Invalid("api_key.expire_time", "api_key.expire_time must be in the future"))
		}
		expire = &t
	}
	for i, sc := range in.GetScopes() {
		if !slices.Contains(snapshot.Scopes, sc) {
			return nil, "", fmt.Errorf("create api key: %w", apierr.Invalid("api_key.scopes", "api_key.scopes[%d] %q is not a scope: use %s", i, sc, strings.Join(snapshot.Scopes, ", ")))
		}
	}
	scopes := slices.Compact(slices.Sorted(slices.Values(in.GetScopes())))
	secret := snapshot.NewKeySecret()
	id := newKeyID()
	var out *ent.ApiKey
	err := s.write(ctx, func(tx *ent.Tx) error {
		auditName(ctx, id)
		c := tx.ApiKey.Create().
			SetID(id).
			SetName(in.GetName()).
			SetPrefix(snapshot.KeyDisplayPrefix(secret)).
			SetHash(snapshot.KeyHash(secret)).
			SetNillableExpireTime(expire)
		if len(scopes) > 0 {
			c.SetScopes(scopes)
		}
		switch {
		case in.GetUser() != "":
			id, err := tx.User.Query().Where(user.Name(in.GetUser())).OnlyID(ctx)
			if ent.IsNotFound(err) {
				return apierr.Invalid("api_key.user", "user %q does not exist", in.GetUser())
			} else if err != nil {
				return err
			}
			c.SetUserID(id)
		default:
			id, err := tx.VirtualAccount.Query().Where(virtualaccount.Name(in.GetVirtualAccount())).OnlyID(ctx)
			if ent.IsNotFound(err) {
				return apierr.Invalid("api_key.virtual_account", "virtual account %q does not exist", in.GetVirtualAccount())
			} else if err != nil {
				return err
			}
			c.SetVirtualAccountID(id)
		}
		k, err := c.Save(ctx)
		if err != nil {
			return err
		}
		out, err = keyQuery(tx.ApiKey.Query().Where(apikey.ID(k.ID))).Only(ctx)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("create api key: %w", err)
	}
	return keyProto(out), secret, nil
}

// keyQuery loads the owner names with a key query.
func keyQuery(q *ent.ApiKeyQuery) *ent.ApiKeyQuery {
	return q.
		WithUser(func(q *ent.UserQuery) { q.Select(user.FieldName) }).
		WithVirtualAccount(func(q *ent.VirtualAccountQuery) { q.Select(virtualaccount.FieldName) })
}

// ListAPIKeys returns API keys, newest first, without secrets: all of them, or those of the
// named user and/or virtual account. A named owner that does not exist is not found.
func (s *Store) ListAPIKeys(ctx context.Context, userName, virtualAccount string) ([]*adminv1.ApiKey, error) {
	var preds []predicate.ApiKey
	if userName != "" {
		if ok, err := s.client.User.Query().Where(user.Name(userName)).Exist(ctx); err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		} else if !ok {
			return nil, fmt.Errorf("list api keys: %w", notFound(kindUser, userName))
		}
		preds = append(preds, apikey.HasUserWith(user.Name(userName)))
	}
	if virtualAccount != "" {
		if ok, err := s.client.VirtualAccount.Query().Where(virtualaccount.Name(virtualAccount)).Exist(ctx); err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		} else if !ok {
			return nil, fmt.Errorf("list api keys: %w", notFound(kindVirtualAccount, virtualAccount))
		}
		preds = append(preds, apikey.HasVirtualAccountWith(virtualaccount.Name(virtualAccount)))
	}
	ks, err := keyQuery(s.client.ApiKey.Query().Where(preds...)).
		Order(ent.Desc(apikey.FieldCreateTime), ent.Desc(apikey.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	out := make([]*adminv1.ApiKey, len(ks))
	for i, k := range ks {
		out[i] = keyProto(k)
	}
	return out, nil
}

// RevokeAPIKey revokes the API key with the id and returns it. Revoking a revoked key keeps
// its first revoke time.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) (*adminv1.ApiKey, error) {
	var out *ent.ApiKey
	err := s.write(ctx, func(tx *ent.Tx) error {
		k, err := tx.ApiKey.Get(ctx, id)
		if err != nil {
			return err
		}
		if k.RevokeTime == nil {
			if err := tx.ApiKey.UpdateOneID(id).SetRevokeTime(time.Now()).Exec(ctx); err != nil {
				return err
			}
		}
		out, err = keyQuery(tx.ApiKey.Query().Where(apikey.ID(id))).Only(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revoke api key %s: %w", id, classify(err, kindAPIKey, id))
	}
	return keyProto(out), nil
}

// MaxRotationGrace is the longest grace period RotateAPIKey accepts.
const MaxRotationGrace = 7 * 24 * time.Hour

// RotateAPIKey gives the API key in.id a new secret and returns it. The old secret stops
// working at once, or after in.grace_period (at most MaxRotationGrace) when one is given: its
// hash is kept until then, so every replica's snapshot accepts it. Only the secret replaced
// last is kept; a rotation without grace period drops it. A revoked key cannot be rotated.
func (s *Store) RotateAPIKey(ctx context.Context, in *adminv1.RotateApiKeyRequest) (*adminv1.ApiKey, string, error) {
	id := in.GetId()
	var grace time.Duration
	if g := in.GetGracePeriod(); g != nil {
		if err := g.CheckValid(); err != nil {
			return nil, "", fmt.Errorf("rotate api key %s: %w", id, apierr.Invalid("grace_period", "grace_period is not a valid duration"))
		}
		grace = g.AsDuration()
		if grace < 0 {
			return nil, "", fmt.Errorf("rotate api key %s: %w", id, apierr.Invalid("grace_period", "grace_period must not be negative"))
		}
		if grace > MaxRotationGrace {
			return nil, "", fmt.Errorf("rotate api key %s: %w", id, apierr.Invalid("grace_period", "grace_period %s is longer than the maximum, 7 days (168h)", grace))
		}
	}
	secret := snapshot.NewKeySecret()
	var out *ent.ApiKey
	err := s.write(ctx, func(tx *ent.Tx) error {
		k, err := tx.ApiKey.Get(ctx, id)
		if err != nil {
			return err
		}
		if k.RevokeTime != nil {
			return &apierr.Error{Kind: apierr.KindInvalidRequest, Param: "id", Message: fmt.Sprintf("api key %q is revoked", id)}
		}
		u := tx.ApiKey.UpdateOneID(id).
			SetHash(snapshot.KeyHash(secret)).
			SetPrefix(snapshot.KeyDisplayPrefix(secret))
		if grace > 0 {
			u.SetPreviousHash(k.Hash).SetPreviousPrefix(k.Prefix).SetPreviousExpireTime(time.Now().Add(grace))
		} else {
			u.ClearPreviousHash().SetPreviousPrefix("").ClearPreviousExpireTime()
		}
		if err := u.Exec(ctx); err != nil {
			return err
		}
		out, err = keyQuery(tx.ApiKey.Query().Where(apikey.ID(id))).Only(ctx)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("rotate api key %s: %w", id, classify(err, kindAPIKey, id))
	}
	return keyProto(out), secret, nil
}

// TouchAPIKeys records when keys were last used, in one transaction: for each id, it sets
// last_used_time to the given time unless the stored one is later. Unknown ids are ignored.
// It does not call OnChange: usage is not configuration.
func (s *Store) TouchAPIKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		for id, t := range used {
			if _, err := tx.ApiKey.Update().
				Where(apikey.ID(id), apikey.Or(apikey.LastUsedTimeIsNil(), apikey.LastUsedTimeLT(t))).
				SetLastUsedTime(t).
				Save(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("touch api keys: %w", err)
	}
	return nil
}

func keyProto(k *ent.ApiKey) *adminv1.ApiKey {
	out := &adminv1.ApiKey{
		Id:           k.ID,
		Name:         k.Name,
		Prefix:       k.Prefix,
		CreateTime:   ts(k.CreateTime),
		LastUsedTime: tsp(k.LastUsedTime),
		ExpireTime:   tsp(k.ExpireTime),
		RevokeTime:   tsp(k.RevokeTime),
		Scopes:       k.Scopes,
	}
	// The secret a rotation replaced is listed while it still works.
	if k.PreviousHash != nil && k.PreviousExpireTime != nil && !time.Now().After(*k.PreviousExpireTime) {
		out.PreviousPrefix = k.PreviousPrefix
		out.PreviousExpireTime = timestamppb.New(*k.PreviousExpireTime)
	}
	switch {
	case k.Edges.User != nil:
		out.Owner = &adminv1.ApiKey_User{User: k.Edges.User.Name}
	case k.Edges.VirtualAccount != nil:
		out.Owner = &adminv1.ApiKey_VirtualAccount{VirtualAccount: k.Edges.VirtualAccount.Name}
	}
	return out
}

// AdminTokenHash returns the stored hash of the admin token (snapshot.KeyHash), or "" when none
// is set.
func (s *Store) AdminTokenHash(ctx context.Context) (string, error) {
	v, err := s.client.Setting.Query().Where(setting.Key(settingAdminTokenHash)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read admin token hash: %w", err)
	}
	return v.Value, nil
}

// SetAdminTokenHash stores the hash of the admin token (snapshot.KeyHash of it); "" clears it.
func (s *Store) SetAdminTokenHash(ctx context.Context, hash string) error {
	err := s.write(ctx, func(tx *ent.Tx) error {
		n, err := tx.Setting.Update().Where(setting.Key(settingAdminTokenHash)).SetValue(hash).Save(ctx)
		if err != nil || n > 0 {
			return err
		}
		return tx.Setting.Create().SetKey(settingAdminTokenHash).SetValue(hash).Exec(ctx)
	})
	if err != nil {
		return fmt.Errorf("set admin token hash: %w", err)
	}
	return nil
}
