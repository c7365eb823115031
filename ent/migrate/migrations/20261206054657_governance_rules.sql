-- Modify "budgets" table
ALTER TABLE "budgets" DROP COLUMN "subjects", DROP COLUMN "limit_usd", DROP COLUMN "period", DROP COLUMN "alert_thresholds", ADD COLUMN "when" jsonb NULL, ADD COLUMN "unit" character varying NOT NULL DEFAULT '', ADD COLUMN "limit_to" double precision NOT NULL DEFAULT 0, ADD COLUMN "applies_per" jsonb NULL, ADD COLUMN "mode" character varying NOT NULL DEFAULT 'enforce', ADD COLUMN "thresholds" jsonb NULL, ADD COLUMN "notification_targets" jsonb NULL;
-- Modify "rate_limits" table
ALTER TABLE "rate_limits" DROP COLUMN "subjects", DROP COLUMN "requests_per_minute", DROP COLUMN "tokens_per_minute", ADD COLUMN "when" jsonb NULL, ADD COLUMN "limits" jsonb NULL, ADD COLUMN "applies_per" jsonb NULL, ADD COLUMN "mode" character varying NOT NULL DEFAULT 'enforce';
