-- Modify "models" table
ALTER TABLE "models" ADD COLUMN "settings" jsonb NULL;
-- Modify "provider_accounts" table
ALTER TABLE "provider_accounts" ADD COLUMN "settings" jsonb NULL;
