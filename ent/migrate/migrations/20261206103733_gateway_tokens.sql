-- Create "gateway_tokens" table
CREATE TABLE "gateway_tokens" ("id" character varying NOT NULL, "name" character varying NOT NULL, "prefix" character varying NOT NULL DEFAULT '', "hash" character varying NOT NULL, "create_time" timestamptz NOT NULL, "revoke_time" timestamptz NULL, PRIMARY KEY ("id"));
-- Create index "gateway_tokens_hash_key" to table: "gateway_tokens"
CREATE UNIQUE INDEX "gateway_tokens_hash_key" ON "gateway_tokens" ("hash");
-- Create index "gateway_tokens_name_key" to table: "gateway_tokens"
CREATE UNIQUE INDEX "gateway_tokens_name_key" ON "gateway_tokens" ("name");
-- Create index "gatewaytoken_create_time" to table: "gateway_tokens"
CREATE INDEX "gatewaytoken_create_time" ON "gateway_tokens" ("create_time");
