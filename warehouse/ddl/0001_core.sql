-- ModelDB core tables. One DDL source for chDB (ClickHouse 26.x) and the
-- ClickHouse 18.16 server: MergeTree family, Array/Nested, no Map/JSON,
-- no LowCardinality, no DateTime64 (times are Int64 microseconds since epoch).
--
-- Delivery is at-least-once. Every table is idempotent: a redelivered event
-- has the same sorting key as its first copy (ReplacingMergeTree collapses
-- them on merge), and every named query reads with argMax / uniqExact /
-- GROUP BY so answers are the same before the merge too.
-- The version column `ver` is the event's ts (UInt64: 18.16 requires unsigned).

-- @table events_raw: every event as received, for audit and replay (body = the single-object Avro bytes)
CREATE TABLE IF NOT EXISTS {db}.events_raw (
    event_id String,
    event_type String,
    schema_version Int32,
    ts Int64,
    project String,
    experiment String,
    run_id String,
    seq Int64,
    producer_host String,
    producer_pid Int32,
    producer_library String,
    producer_library_version String,
    producer_framework String,
    producer_framework_version String,
    schema_fingerprint String,
    body String,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
PARTITION BY toYYYYMM(toDate(intDiv(ts, 1000000)))
ORDER BY (project, run_id, seq, event_id);

-- @table projects: last activity per project (one row per project per batch)
CREATE TABLE IF NOT EXISTS {db}.projects (
    project String,
    last_ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project);

-- @table experiments: which runs belong to which experiment of a project
CREATE TABLE IF NOT EXISTS {db}.experiments (
    project String,
    experiment String,
    run_id String,
    started_ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, experiment, run_id);

-- @table runs: run lifecycle, one row per run and lifecycle event (RunStarted, RunEnded)
CREATE TABLE IF NOT EXISTS {db}.runs (
    project String,
    experiment String,
    run_id String,
    event_type String,
    event_id String,
    name String,
    parent_run_id String,
    branch_seq Int64,
    user String,
    source String,
    status String,
    error String,
    duration_ms Float64,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, run_id, event_type);

-- @table params: every param value logged, long form, latest wins (argMax by ver)
CREATE TABLE IF NOT EXISTS {db}.params (
    project String,
    run_id String,
    key String,
    type String,
    value String,
    num Float64,
    is_num UInt8,
    event_id String,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, key, run_id);

-- @table metrics: every metric point, long form, with step, model, evaluation data and slice
CREATE TABLE IF NOT EXISTS {db}.metrics (
    project String,
    name String,
    run_id String,
    step Int64,
    value Float64,
    model_id String,
    dataframe_id String,
    slice String,
    event_id String,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, name, run_id, step, event_id);

-- @table tags: run tags, latest wins
CREATE TABLE IF NOT EXISTS {db}.tags (
    project String,
    run_id String,
    key String,
    value String,
    event_id String,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, key, run_id);

-- @table annotations: free-text notes on a run, model, dataframe or action
CREATE TABLE IF NOT EXISTS {db}.annotations (
    project String,
    run_id String,
    target_id String,
    text String,
    author String,
    event_id String,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, run_id, event_id);

-- @table run_summary: latest value per run and key, for params, metrics, tags and run attributes; reads never join
CREATE TABLE IF NOT EXISTS {db}.run_summary (
    project String,
    experiment String,
    run_id String,
    kind String,
    key String,
    value_str String,
    value_num Float64,
    step Int64,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, run_id, kind, key);

-- @table _consumer_offsets: how far the local runner has materialized each file event log (committed after the rows)
CREATE TABLE IF NOT EXISTS {db}._consumer_offsets (
    consumer String,
    source String,
    offset Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (consumer, source);
