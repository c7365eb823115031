package store

import (
	"context"
	"fmt"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/model"
	"github.com/llmgw/llmgw/ent/provideraccount"
	"github.com/llmgw/llmgw/gateway/apierr"
)

const kindAccount = "provider account"

// accountAD is the additional data that binds a sealed account key to its account.
func accountAD(name string) []byte { return []byte("llmgw/provider_account/" + name) }

// validateAccount checks a provider account for create or update.
func (s *Store) validateAccount(in *adminv1.ProviderAccount) error {
	if in == nil {
		return apierr.Invalid("provider_account", "provider_account is required")
	}
	if err := validateName("provider_account.name", in.GetName()); err != nil {
		return err
	}
	if in.GetProvider() == "" {
		return apierr.Invalid("provider_account.provider", "provider_account.provider is required")
	}
	if s.opts.ValidateProvider != nil {
		if err := s.opts.ValidateProvider(in.GetProvider()); err != nil {
			return apierr.Invalid("provider_account.provider", "provider_account.provider: %v", err)
		}
	}
	return nil
}

// CreateProviderAccount adds a provider account, sealing its api_key, and returns it without
// the key.
func (s *Store) CreateProviderAccount(ctx context.Context, in *adminv1.ProviderAccount) (*adminv1.ProviderAccount, error) {
	if err := s.validateAccount(in); err != nil {
		return nil, fmt.Errorf("create provider account: %w", err)
	}
	var out *ent.ProviderAccount
	err := s.write(ctx, func(tx *ent.Tx) error {
		if err := s.checkNotVirtualGroup(ctx, tx, in.GetName()); err != nil {
			return err
		}
		c := tx.ProviderAccount.Create().
			SetName(in.GetName()).
			SetProvider(in.GetProvider()).
			SetBaseURL(in.GetBaseUrl()).
			SetSettings(in.GetSettings())
		if in.GetApiKey() != "" {
			c.SetAPIKeySealed(s.sealer.Seal([]byte(in.GetApiKey()), accountAD(in.GetName())))
		}
		var err error
		out, err = c.Save(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create provider account %s: %w", in.GetName(), classify(err, kindAccount, in.GetName()))
	}
	return accountProto(out), nil
}

// GetProviderAccount returns the provider account with the name.
func (s *Store) GetProviderAccount(ctx context.Context, name string) (*adminv1.ProviderAccount, error) {
	a, err := s.client.ProviderAccount.Query().Where(provideraccount.Name(name)).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get provider account %s: %w", name, classify(err, kindAccount, name))
	}
	return accountProto(a), nil
}

// ListProviderAccounts returns every provider account, sorted by name.
func (s *Store) ListProviderAccounts(ctx context.Context) ([]*adminv1.ProviderAccount, error) {
	as, err := s.client.ProviderAccount.Query().Order(ent.Asc(provideraccount.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list provider accounts: %w", err)
	}
	out := make([]*adminv1.ProviderAccount, len(as))
	for i, a := range as {
		out[i] = accountProto(a)
	}
	return out, nil
}

// UpdateProviderAccount replaces the settings of the provider account named in.name. An empty
// api_key keeps the stored key. The update is refused when it leaves one of the account's
// models unable to build its adapter (Options.ValidateModel).
func (s *Store) UpdateProviderAccount(ctx context.Context, in *adminv1.ProviderAccount) (*adminv1.ProviderAccount, error) {
	if err := s.validateAccount(in); err != nil {
		return nil, fmt.Errorf("update provider account: %w", err)
	}
	var out *ent.ProviderAccount
	err := s.write(ctx, func(tx *ent.Tx) error {
		id, err := tx.ProviderAccount.Query().Where(provideraccount.Name(in.GetName())).OnlyID(ctx)
		if err != nil {
			return err
		}
		u := tx.ProviderAccount.UpdateOneID(id).
			SetProvider(in.GetProvider()).
			SetBaseURL(in.GetBaseUrl()).
			SetSettings(in.GetSettings())
		if in.GetApiKey() != "" {
			u.SetAPIKeySealed(s.sealer.Seal([]byte(in.GetApiKey()), accountAD(in.GetName())))
		}
		if out, err = u.Save(ctx); err != nil {
			return err
		}
		return s.checkAdapters(ctx, tx, in.GetName(), "", "provider_account")
	})
	if err != nil {
		return nil, fmt.Errorf("update provider account %s: %w", in.GetName(), classify(err, kindAccount, in.GetName()))
	}
	return accountProto(out), nil
}

// DeleteProviderAccount deletes the provider account with the name and its models.
func (s *Store) DeleteProviderAccount(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *ent.Tx) error {
		id, err := tx.ProviderAccount.Query().Where(provideraccount.Name(name)).OnlyID(ctx)
		if err != nil {
			return err
		}
		// The foreign key cascades too; deleting explicitly keeps SQLite databases that were
		// created without foreign keys consistent.
		if _, err := tx.Model.Delete().Where(model.AccountID(id)).Exec(ctx); err != nil {
			return err
		}
		return tx.ProviderAccount.DeleteOneID(id).Exec(ctx)
	})
	if err != nil {
		return fmt.Errorf("delete provider account %s: %w", name, classify(err, kindAccount, name))
	}
	return nil
}

func accountProto(a *ent.ProviderAccount) *adminv1.ProviderAccount {
	return &adminv1.ProviderAccount{
		Name:       a.Name,
		Provider:   a.Provider,
		BaseUrl:    a.BaseURL,
		Settings:   a.Settings,
		HasApiKey:  sealed(a.APIKeySealed) != nil,
		CreateTime: ts(a.CreateTime),
		UpdateTime: ts(a.UpdateTime),
	}
}
