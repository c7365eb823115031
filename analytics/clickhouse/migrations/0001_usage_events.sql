-- 0001: the raw tables, one row per llmgw.usage.v1.UsageEvent.
--
-- usage_events holds one row per request: every UsageEvent field as a column (target.* and
-- tokens.* flattened, attempts as a Nested of parallel arrays, metadata as a Map, counted and
-- would_block as arrays). It is a ReplacingMergeTree whose sorting key ends with event_id, so a
-- redelivered event (same id, same time, same model) collapses into one row on merge and
-- `SELECT ... FINAL` never shows a duplicate. The rollups (0002) see each event once: the
-- writer skips ids already stored, and retries a failed insert with the same block and the same
-- insert_deduplication_token, so ClickHouse deduplicates it (every table keeps the last 1000
-- block hashes, non_replicated_deduplication_window) in the table and, per view, in the
-- rollups: a view that missed the first attempt gets the retry, one that had it skips it.
-- (Two consumers inserting the same events at the same moment, after a rebalance, are the
-- exception: see analytics/consumer.)
-- The key (hour, model, event_id) serves the Usage API's queries: a time range (time series,
-- percentiles, a page of the request log ordered by time, event_id) prunes by the primary index
-- and a model filter within it; the bloom-filter skip indexes serve a lookup by event id and
-- filters by user, virtual account and key.
--
-- usage_bodies holds the logged request and response bodies, apart from the events (most
-- events have none), keyed by event_id, with its own shorter TTL.
--
-- Partitions are days and ttl_only_drop_parts is on, so retention drops whole parts instead of
-- rewriting them. TTLs are not written here: `llmgw migrate --clickhouse` sets them after the
-- migrations, from --clickhouse-retention-days and --clickhouse-body-retention-days, every time
-- it runs.

CREATE TABLE IF NOT EXISTS usage_events
(
    event_id           String,
    time               DateTime64(6, 'UTC'),
    replica            LowCardinality(String),
    region             LowCardinality(String),
    client_request_id  String,
    surface            LowCardinality(String),

    principal          String,
    key_id             String,
    key_prefix         String,
    user               String,
    teams              Array(LowCardinality(String)),
    virtual_account    LowCardinality(String),

    model              LowCardinality(String),
    target_model       LowCardinality(String),
    target_account     LowCardinality(String),
    target_provider    LowCardinality(String),
    upstream_model     LowCardinality(String),
    operation          LowCardinality(String),
    stream             Bool,
    attempts Nested
    (
        target         LowCardinality(String),
        status         LowCardinality(String),
        http_status    Int32,
        latency_us     Int64,
        error_class    LowCardinality(String)
    ),

    status             LowCardinality(String),
    error_class        LowCardinality(String),
    http_status        Int32,

    prompt_tokens      Int64,
    completion_tokens  Int64,
    cache_read_tokens  Int64,
    cache_write_tokens Int64,
    reasoning_tokens   Int64,
    usage_missing      Bool,
    usage_estimated    Bool,
    cost_usd           Float64,
    priced             Bool,

    latency_us         Int64,
    ttft_us            Int64,
    upstream_us        Int64,
    overhead_us        Int64,

    counted            Array(String),
    would_block        Array(String),
    metadata           Map(String, String),

    -- has_bodies is set when the event's bodies are in usage_bodies.
    has_bodies         Bool,

    INDEX event_id_idx event_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX user_idx user TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX virtual_account_idx virtual_account TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX key_id_idx key_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
PRIMARY KEY (toStartOfHour(time), model)
ORDER BY (toStartOfHour(time), model, event_id)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS usage_bodies
(
    event_id           String,
    time               DateTime64(6, 'UTC'),
    request            String CODEC(ZSTD(3)),
    response           String CODEC(ZSTD(3)),
    request_truncated  Bool,
    response_truncated Bool
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
ORDER BY event_id
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;
