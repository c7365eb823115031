package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/gatewaytoken"
	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/snapshot"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

const kindGatewayToken = "gateway token"

// GatewayTokenPrefix starts every gateway token, so a leaked one is recognizable and never
// mistaken for an API key.
const GatewayTokenPrefix = "llmgw-gw-"

func newGatewayTokenID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return "gwt_" + hex.EncodeToString(b[:])
}

// CreateGatewayToken issues a gateway token named name (a resource name, unique among gateway
// tokens) and returns it with its secret. Only the secret's hash and display prefix are stored.
func (s *Store) CreateGatewayToken(ctx context.Context, name string) (*adminv1.GatewayToken, string, error) {
	if err := validateName("name", name); err != nil {
		return nil, "", fmt.Errorf("create gateway token: %w", err)
	}
	secret := GatewayTokenPrefix + snapshot.NewKeySecret()[len(snapshot.KeyPrefix):]
	var out *ent.GatewayToken
	id := newGatewayTokenID()
	err := s.write(ctx, func(tx *ent.Tx) error {
		auditName(ctx, id)
		var err error
		out, err = tx.GatewayToken.Create().
			SetID(id).
			SetName(name).
			SetPrefix(secret[:len(GatewayTokenPrefix)+6]).
			SetHash(snapshot.KeyHash(secret)).
			Save(ctx)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("create gateway token: %w", classify(err, kindGatewayToken, name))
	}
	return gatewayTokenProto(out), secret, nil
}

// ListGatewayTokens returns the gateway tokens, newest first, without secrets.
func (s *Store) ListGatewayTokens(ctx context.Context) ([]*adminv1.GatewayToken, error) {
	ts, err := s.client.GatewayToken.Query().
		Order(ent.Desc(gatewaytoken.FieldCreateTime), ent.Desc(gatewaytoken.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list gateway tokens: %w", err)
	}
	out := make([]*adminv1.GatewayToken, len(ts))
	for i, t := range ts {
		out[i] = gatewayTokenProto(t)
	}
	return out, nil
}

// RevokeGatewayToken revokes the gateway token with the id and returns it. Revoking a revoked
// token keeps its first revoke time. It is a configuration write: the control plane's streams
// wake and end those of the token.
func (s *Store) RevokeGatewayToken(ctx context.Context, id string) (*adminv1.GatewayToken, error) {
	var out *ent.GatewayToken
	err := s.write(ctx, func(tx *ent.Tx) error {
		t, err := tx.GatewayToken.Get(ctx, id)
		if err != nil {
			return err
		}
		if t.RevokeTime == nil {
			if t, err = t.Update().SetRevokeTime(time.Now()).Save(ctx); err != nil {
				return err
			}
		}
		out = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("revoke gateway token %s: %w", id, classify(err, kindGatewayToken, id))
	}
	return gatewayTokenProto(out), nil
}

// CheckGatewayToken returns the id and name of the unrevoked gateway token whose secret is
// secret, or an unauthenticated error. It reads the database: the control plane calls it when
// a replica connects and when its stream wakes, never on a request's path.
func (s *Store) CheckGatewayToken(ctx context.Context, secret string) (id, name string, err error) {
	t, err := s.client.GatewayToken.Query().Where(gatewaytoken.Hash(snapshot.KeyHash(secret))).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return "", "", apierr.New(apierr.KindUnauthenticated, "invalid gateway token")
	case err != nil:
		return "", "", fmt.Errorf("check gateway token: %w", unreachableErr(err))
	case t.RevokeTime != nil:
		return "", "", apierr.New(apierr.KindUnauthenticated, "gateway token %s is revoked", t.ID)
	}
	return t.ID, t.Name, nil
}

func gatewayTokenProto(t *ent.GatewayToken) *adminv1.GatewayToken {
	return &adminv1.GatewayToken{
		Id:         t.ID,
		Name:       t.Name,
		Prefix:     t.Prefix,
		CreateTime: ts(t.CreateTime),
		RevokeTime: tsp(t.RevokeTime),
	}
}
