-- Modify "budgets" table
ALTER TABLE "budgets" ADD COLUMN "fail_closed" boolean NOT NULL DEFAULT false;
-- Modify "rate_limits" table
ALTER TABLE "rate_limits" ADD COLUMN "fail_closed" boolean NOT NULL DEFAULT false;
