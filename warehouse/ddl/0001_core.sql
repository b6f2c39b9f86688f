-- ModelDB core tables. One DDL source for chDB (ClickHouse 26.x) and the
-- ClickHouse 18.16 server: MergeTree family, Array/Nested, no Map/JSON,
-- no LowCardinality, no DateTime64 (times are Int64 microseconds since epoch).
--
-- Delivery is at-least-once. Every table is idempotent: a redelivered event
-- has the same sorting key as its first copy (ReplacingMergeTree collapses
-- them on merge), and every named query reads with argMax / uniqExact /
-- GROUP BY so answers are the same before the merge too.
-- The version column `ver` is the event's ts (UInt64: 18.16 requires unsigned).
--
-- Column meanings, for `modeldb schema`: shared names first, then per table.
-- @column project: the project
-- @column experiment: the experiment, a group of runs in a project
-- @column run_id: the run (UUIDv7, 32 hex digits)
-- @column seq: the event's position in its run (per-run sequence number)
-- @column action_id: the pipeline action
-- @column operator_class: the operator's class, e.g. LogisticRegression
-- @column operator_module: the operator's Python module
-- @column model_id: the model ('' when none)
-- @column param_keys: param names (parallel with param_values and param_nums)
-- @column param_values: param values as text
-- @column param_nums: param values as numbers (NaN when not numeric)
-- @column duration_ms: wall time in milliseconds
-- @column event_id: the event that wrote the row (UUIDv7)
-- @column ts: event time, microseconds since the Unix epoch
-- @column ver: row version for ReplacingMergeTree: the event's ts; read with argMax(x, ver)
-- @column dataframe_id: the dataframe (one observation of data in a run)
-- @column source: where the data or run came from
-- @column name: the name
-- @column type: the type
-- @column kind: what sort of row this is
-- @column uri: where the file is stored
-- @column format: file format, e.g. pickle
-- @column size_bytes: size in bytes (-1 when unknown)
-- @column train_dataframe_id: the dataframe a model was fitted on
-- @column key: the name of the param, tag or summary value
-- @column event_type: the action's type, e.g. RunStarted
-- @column value: the value
-- @column step: the metric's step (0 when none)

-- @table events_raw: every event as received, for audit and replay (body = the single-object Avro bytes)
-- @column events_raw.schema_version: version of the schema that wrote the event
-- @column events_raw.producer_host: host of the producing process
-- @column events_raw.producer_pid: pid of the producing process
-- @column events_raw.producer_library: library that produced it (modeldb)
-- @column events_raw.producer_library_version: its version
-- @column events_raw.producer_framework: framework the producer tracked (python, sklearn, spark)
-- @column events_raw.producer_framework_version: its version
-- @column events_raw.schema_fingerprint: CRC-64-AVRO fingerprint of the writer schema (hex)
-- @column events_raw.body: the single-object Avro record, base64
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
-- @column projects.last_ts: time of the latest event seen for the project
CREATE TABLE IF NOT EXISTS {db}.projects (
    project String,
    last_ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project);

-- @table experiments: which runs belong to which experiment of a project
-- @column experiments.started_ts: when the run started
CREATE TABLE IF NOT EXISTS {db}.experiments (
    project String,
    experiment String,
    run_id String,
    started_ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, experiment, run_id);

-- @table runs: run lifecycle, one row per run and lifecycle event (RunStarted, RunEnded)
-- @column runs.name: the run's name
-- @column runs.parent_run_id: the run this one branched off ('' for none)
-- @column runs.branch_seq: the parent's seq at the branch point (-1 for none)
-- @column runs.user: OS user who ran it
-- @column runs.source: the script or notebook
-- @column runs.status: RUNNING, FINISHED, FAILED or KILLED
-- @column runs.error: error text of a FAILED run
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
-- @column params.type: int, float, bool, str, none, json or repr
-- @column params.value: the value as text
-- @column params.num: the value as a number (0 when not numeric)
-- @column params.is_num: 1 when num holds the value
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
-- @column metrics.name: metric name, e.g. accuracy_score
-- @column metrics.value: metric value (NaN and ±inf kept)
-- @column metrics.slice: slice the metric was computed on ('' for all rows)
-- @column metrics.dataframe_id: the evaluation dataframe ('' when unknown)
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
-- @column tags.key: tag name
-- @column tags.value: tag value
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
-- @column annotations.target_id: what the note is about: a model, dataframe or action id ('' for the run)
-- @column annotations.text: the note
-- @column annotations.author: who wrote it
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
-- @column run_summary.kind: run, param, metric or tag
-- @column run_summary.key: attribute, param, metric or tag name
-- @column run_summary.value_str: latest value as text
-- @column run_summary.value_num: latest value as a number
-- @column run_summary.step: step of the latest metric point
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
-- @column _consumer_offsets.consumer: the local runner's consumer name
-- @column _consumer_offsets.source: the file event log
-- @column _consumer_offsets.offset: byte offset up to which events are materialized
CREATE TABLE IF NOT EXISTS {db}._consumer_offsets (
    consumer String,
    source String,
    offset Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (consumer, source);
