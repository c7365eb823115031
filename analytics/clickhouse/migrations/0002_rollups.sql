-- 0002: per-minute rollups of usage_events, filled by materialized views on insert.
--
-- Every rollup table is an AggregatingMergeTree keyed by the minute and its dimensions, with
-- the same measures: requests, failures (status other than "ok"), unpriced (events whose model
-- had no price, so cost_usd is a lower bound), the five token counts and cost_usd, all as
-- SimpleAggregateFunction(sum); merged rows add up, so a query sums them with GROUP BY (and
-- needs no FINAL). Hours and days are sums of minutes: toStartOfHour(minute), toDate(minute).
--
--   usage_minute           (minute, model, target_model, user, virtual_account) plus latency
--                          and TTFT t-digest states: time series and breakdowns by model,
--                          target, user and virtual account, filtered by any of them, and
--                          p50/p95/p99 with quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_us).
--   usage_minute_team      (minute, team, model): an event counts once for each of its teams.
--   usage_minute_metadata  (minute, key, value, model): an event counts once for each of its
--                          X-LLMGW-Metadata keys, so "cost by metadata key k" is
--                          WHERE key = k GROUP BY value.
--
-- The views see each insert into usage_events; the consumer never inserts an event id that is
-- already stored, so a redelivered batch is not counted twice. TTLs are set by migrate (see 0001).

CREATE TABLE IF NOT EXISTS usage_minute
(
    minute             DateTime('UTC'),
    model              LowCardinality(String),
    target_model       LowCardinality(String),
    user               String,
    virtual_account    LowCardinality(String),
    requests           SimpleAggregateFunction(sum, UInt64),
    failures           SimpleAggregateFunction(sum, UInt64),
    unpriced           SimpleAggregateFunction(sum, UInt64),
    prompt_tokens      SimpleAggregateFunction(sum, Int64),
    completion_tokens  SimpleAggregateFunction(sum, Int64),
    cache_read_tokens  SimpleAggregateFunction(sum, Int64),
    cache_write_tokens SimpleAggregateFunction(sum, Int64),
    reasoning_tokens   SimpleAggregateFunction(sum, Int64),
    cost_usd           SimpleAggregateFunction(sum, Float64),
    latency_us         AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Int64),
    ttft_us            AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (minute, model, target_model, user, virtual_account)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_minute_mv TO usage_minute AS
SELECT
    toStartOfMinute(time)                  AS minute,
    model,
    target_model,
    user,
    virtual_account,
    toUInt64(count())                      AS requests,
    toUInt64(countIf(status != 'ok'))      AS failures,
    toUInt64(countIf(NOT priced))          AS unpriced,
    sum(prompt_tokens)                     AS prompt_tokens,
    sum(completion_tokens)                 AS completion_tokens,
    sum(cache_read_tokens)                 AS cache_read_tokens,
    sum(cache_write_tokens)                AS cache_write_tokens,
    sum(reasoning_tokens)                  AS reasoning_tokens,
    sum(cost_usd)                          AS cost_usd,
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_us)                      AS latency_us,
    quantilesTDigestStateIf(0.5, 0.95, 0.99)(ttft_us, stream AND ttft_us > 0) AS ttft_us
FROM usage_events
GROUP BY minute, model, target_model, user, virtual_account;

CREATE TABLE IF NOT EXISTS usage_minute_team
(
    minute             DateTime('UTC'),
    team               LowCardinality(String),
    model              LowCardinality(String),
    requests           SimpleAggregateFunction(sum, UInt64),
    failures           SimpleAggregateFunction(sum, UInt64),
    unpriced           SimpleAggregateFunction(sum, UInt64),
    prompt_tokens      SimpleAggregateFunction(sum, Int64),
    completion_tokens  SimpleAggregateFunction(sum, Int64),
    cache_read_tokens  SimpleAggregateFunction(sum, Int64),
    cache_write_tokens SimpleAggregateFunction(sum, Int64),
    reasoning_tokens   SimpleAggregateFunction(sum, Int64),
    cost_usd           SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (minute, team, model)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_minute_team_mv TO usage_minute_team AS
SELECT
    toStartOfMinute(time)                  AS minute,
    team,
    model,
    toUInt64(count())                      AS requests,
    toUInt64(countIf(status != 'ok'))      AS failures,
    toUInt64(countIf(NOT priced))          AS unpriced,
    sum(prompt_tokens)                     AS prompt_tokens,
    sum(completion_tokens)                 AS completion_tokens,
    sum(cache_read_tokens)                 AS cache_read_tokens,
    sum(cache_write_tokens)                AS cache_write_tokens,
    sum(reasoning_tokens)                  AS reasoning_tokens,
    sum(cost_usd)                          AS cost_usd
FROM usage_events
ARRAY JOIN teams AS team
GROUP BY minute, team, model;

CREATE TABLE IF NOT EXISTS usage_minute_metadata
(
    minute             DateTime('UTC'),
    key                String,
    value              String,
    model              LowCardinality(String),
    requests           SimpleAggregateFunction(sum, UInt64),
    failures           SimpleAggregateFunction(sum, UInt64),
    unpriced           SimpleAggregateFunction(sum, UInt64),
    prompt_tokens      SimpleAggregateFunction(sum, Int64),
    completion_tokens  SimpleAggregateFunction(sum, Int64),
    cache_read_tokens  SimpleAggregateFunction(sum, Int64),
    cache_write_tokens SimpleAggregateFunction(sum, Int64),
    reasoning_tokens   SimpleAggregateFunction(sum, Int64),
    cost_usd           SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (minute, key, value, model)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_minute_metadata_mv TO usage_minute_metadata AS
SELECT
    toStartOfMinute(time)                  AS minute,
    key,
    value,
    model,
    toUInt64(count())                      AS requests,
    toUInt64(countIf(status != 'ok'))      AS failures,
    toUInt64(countIf(NOT priced))          AS unpriced,
    sum(prompt_tokens)                     AS prompt_tokens,
    sum(completion_tokens)                 AS completion_tokens,
    sum(cache_read_tokens)                 AS cache_read_tokens,
    sum(cache_write_tokens)                AS cache_write_tokens,
    sum(reasoning_tokens)                  AS reasoning_tokens,
    sum(cost_usd)                          AS cost_usd
FROM usage_events
ARRAY JOIN mapKeys(metadata) AS key, mapValues(metadata) AS value
GROUP BY minute, key, value, model;
