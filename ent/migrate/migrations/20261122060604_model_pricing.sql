-- Modify "models" table
ALTER TABLE "models" ADD COLUMN "pricing" jsonb NULL;
