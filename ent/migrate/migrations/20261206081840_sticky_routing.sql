-- Modify "virtual_models" table
ALTER TABLE "virtual_models" ADD COLUMN "sticky_routing" jsonb NULL;
