-- Modify "api_keys" table
ALTER TABLE "api_keys" ADD COLUMN "previous_hash" character varying NULL, ADD COLUMN "previous_prefix" character varying NOT NULL DEFAULT '', ADD COLUMN "previous_expire_time" timestamptz NULL;
