package store

import (
	"context"
	"fmt"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/model"
	"github.com/llmgw/llmgw/ent/provideraccount"
	"github.com/llmgw/llmgw/ent/schematype"
	"github.com/llmgw/llmgw/gateway/apierr"
)

const kindModel = "model"

// modelAD is the additional data that binds a sealed model key to its model.
func modelAD(account, name string) []byte {
	return []byte("llmgw/model/" + account + "/" + name)
}

// validModelTypes are the accepted Model.types.
var validModelTypes = map[string]bool{"chat": true, "embedding": true, "rerank": true}

func validateModel(in *adminv1.Model) error {
	if in == nil {
		return apierr.Invalid("model", "model is required")
	}
	if err := validateName("model.account", in.GetAccount()); err != nil {
		return err
	}
	if err := validateModelName("model.name", in.GetName()); err != nil {
		return err
	}
	for i, t := range in.GetTypes() {
		if !validModelTypes[t] {
			return apierr.Invalid("model.types", "model.types[%d] %q must be \"chat\", \"embedding\" or \"rerank\"", i, t)
		}
	}
	if p := in.GetPricing(); p != nil && (p.GetInputPerMtok() < 0 || p.GetOutputPerMtok() < 0 || p.GetCachedInputPerMtok() < 0 || p.GetCacheWritePerMtok() < 0 || p.GetCacheWrite_1HPerMtok() < 0) {
		return apierr.Invalid("model.pricing", "prices must not be negative")
	}
	return nil
}

// pricingColumn is the stored form of a pricing override; nil when there is none.
func pricingColumn(p *adminv1.Pricing) *schematype.Pricing {
	if p == nil {
		return nil
	}
	return &schematype.Pricing{InputPerMTok: p.GetInputPerMtok(), OutputPerMTok: p.GetOutputPerMtok(), CachedInputPerMTok: p.GetCachedInputPerMtok(),
		CacheWritePerMTok: p.GetCacheWritePerMtok(), CacheWrite1hPerMTok: p.GetCacheWrite_1HPerMtok()}
}

func pricingProto(p *schematype.Pricing) *adminv1.Pricing {
	if p == nil {
		return nil
	}
	return &adminv1.Pricing{InputPerMtok: p.InputPerMTok, OutputPerMtok: p.OutputPerMTok, CachedInputPerMtok: p.CachedInputPerMTok,
		CacheWritePerMtok: p.CacheWritePerMTok, CacheWrite_1HPerMtok: p.CacheWrite1hPerMTok}
}

// accountID resolves a model's account for a write; a missing account is an invalid argument.
func accountID(ctx context.Context, tx *ent.Tx, name string) (int, error) {
	id, err := tx.ProviderAccount.Query().Where(provideraccount.Name(name)).OnlyID(ctx)
	if ent.IsNotFound(err) {
		return 0, apierr.Invalid("model.account", "provider account %q does not exist", name)
	}
	return id, err
}

// CreateModel adds a model to an existing provider account, sealing its api_key, and returns it
// without the key. A model whose adapter cannot be built (Options.ValidateModel) is refused.
func (s *Store) CreateModel(ctx context.Context, in *adminv1.Model) (*adminv1.Model, error) {
	if err := validateModel(in); err != nil {
		return nil, fmt.Errorf("create model: %w", err)
	}
	fqn := in.GetAccount() + "/" + in.GetName()
	var out *ent.Model
	err := s.write(ctx, func(tx *ent.Tx) error {
		aid, err := accountID(ctx, tx, in.GetAccount())
		if err != nil {
			return err
		}
		c := tx.Model.Create().
			SetAccountID(aid).
			SetName(in.GetName()).
			SetUpstreamModel(in.GetUpstreamModel()).
			SetTypes(in.GetTypes()).
			SetBaseURL(in.GetBaseUrl()).
			SetSettings(in.GetSettings())
		if p := pricingColumn(in.GetPricing()); p != nil {
			c.SetPricing(p)
		}
		if in.GetApiKey() != "" {
			c.SetAPIKeySealed(s.sealer.Seal([]byte(in.GetApiKey()), modelAD(in.GetAccount(), in.GetName())))
		}
		if out, err = c.Save(ctx); err != nil {
			return err
		}
		return s.checkAdapters(ctx, tx, in.GetAccount(), in.GetName(), "model")
	})
	if err != nil {
		return nil, fmt.Errorf("create model %s: %w", fqn, classify(err, kindModel, fqn))
	}
	return modelProto(in.GetAccount(), out), nil
}

// GetModel returns the model of the account with the name.
func (s *Store) GetModel(ctx context.Context, account, name string) (*adminv1.Model, error) {
	fqn := account + "/" + name
	m, err := s.client.Model.Query().
		Where(model.Name(name), model.HasAccountWith(provideraccount.Name(account))).
		Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get model %s: %w", fqn, classify(err, kindModel, fqn))
	}
	return modelProto(account, m), nil
}

// ListModels returns the models of the account, or of every account when account is empty,
// sorted by account and name. An unknown account is not found.
func (s *Store) ListModels(ctx context.Context, account string) ([]*adminv1.Model, error) {
	q := s.client.ProviderAccount.Query().Order(ent.Asc(provideraccount.FieldName))
	if account != "" {
		q = q.Where(provideraccount.Name(account))
	}
	as, err := q.WithModels(func(q *ent.ModelQuery) { q.Order(ent.Asc(model.FieldName)) }).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	if account != "" && len(as) == 0 {
		return nil, fmt.Errorf("list models: %w", notFound(kindAccount, account))
	}
	var out []*adminv1.Model
	for _, a := range as {
		for _, m := range a.Edges.Models {
			out = append(out, modelProto(a.Name, m))
		}
	}
	return out, nil
}

// UpdateModel replaces the settings of the model named by in.account and in.name. An empty
// api_key keeps the stored key. A model whose adapter cannot be built is refused.
func (s *Store) UpdateModel(ctx context.Context, in *adminv1.Model) (*adminv1.Model, error) {
	if err := validateModel(in); err != nil {
		return nil, fmt.Errorf("update model: %w", err)
	}
	fqn := in.GetAccount() + "/" + in.GetName()
	var out *ent.Model
	err := s.write(ctx, func(tx *ent.Tx) error {
		id, err := tx.Model.Query().
			Where(model.Name(in.GetName()), model.HasAccountWith(provideraccount.Name(in.GetAccount()))).
			OnlyID(ctx)
		if err != nil {
			return err
		}
		u := tx.Model.UpdateOneID(id).
			SetUpstreamModel(in.GetUpstreamModel()).
			SetTypes(in.GetTypes()).
			SetBaseURL(in.GetBaseUrl()).
			SetSettings(in.GetSettings())
		if p := pricingColumn(in.GetPricing()); p != nil {
			u.SetPricing(p)
		} else {
			u.ClearPricing()
		}
		if in.GetApiKey() != "" {
			u.SetAPIKeySealed(s.sealer.Seal([]byte(in.GetApiKey()), modelAD(in.GetAccount(), in.GetName())))
		}
		if out, err = u.Save(ctx); err != nil {
			return err
		}
		return s.checkAdapters(ctx, tx, in.GetAccount(), in.GetName(), "model")
	})
	if err != nil {
		return nil, fmt.Errorf("update model %s: %w", fqn, classify(err, kindModel, fqn))
	}
	return modelProto(in.GetAccount(), out), nil
}

// DeleteModel deletes the model of the account with the name.
func (s *Store) DeleteModel(ctx context.Context, account, name string) error {
	fqn := account + "/" + name
	err := s.write(ctx, func(tx *ent.Tx) error {
		n, err := tx.Model.Delete().
			Where(model.Name(name), model.HasAccountWith(provideraccount.Name(account))).
			Exec(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound(kindModel, fqn)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete model %s: %w", fqn, classify(err, kindModel, fqn))
	}
	return nil
}

func modelProto(account string, m *ent.Model) *adminv1.Model {
	return &adminv1.Model{
		Account:       account,
		Name:          m.Name,
		Fqn:           account + "/" + m.Name,
		UpstreamModel: m.UpstreamModel,
		Types:         m.Types,
		BaseUrl:       m.BaseURL,
		Settings:      m.Settings,
		Pricing:       pricingProto(m.Pricing),
		HasApiKey:     sealed(m.APIKeySealed) != nil,
		CreateTime:    ts(m.CreateTime),
		UpdateTime:    ts(m.UpdateTime),
	}
}
