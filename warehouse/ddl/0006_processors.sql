-- Processor heartbeats: each stream-processor worker writes its figures here every few
-- seconds (and when it stops), so `modeldb status` and the dashboard see every worker of
-- every consumer group, wherever it runs. Read the newest row per worker with argMax(…, ver).

-- @table _processors: stream-processor workers' heartbeats: counts, rate, newest event and state (newest row per worker wins)
-- @column _processors.worker: the worker's id, host:pid
-- @column _processors.group_name: Kafka consumer group, or the local runner's consumer name
-- @column _processors.engine: faust, confluent, local or rebuild
-- @column _processors.source: the topic or file event log it reads
-- @column _processors.state: running, waiting (warehouse unavailable, not consuming) or stopped
-- @column _processors.started: when the worker started, microseconds since the epoch
-- @column _processors.events: events materialized since the worker started
-- @column _processors.dead: dead letters written since the worker started
-- @column _processors.batches: batches committed since the worker started
-- @column _processors.rate: events per second materialized over the last heartbeat interval
-- @column _processors.newest_ts: event time (ts) of the newest event it materialized, microseconds
-- @column _processors.partitions: the partitions it owns, as topic[partition] text
-- @column _processors.updated: when this heartbeat was written, microseconds since the epoch
CREATE TABLE IF NOT EXISTS {db}._processors (
    worker String,
    group_name String,
    engine String,
    source String,
    state String,
    started Int64,
    events UInt64,
    dead UInt64,
    batches UInt64,
    rate Float64,
    newest_ts Int64,
    partitions String,
    updated Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (group_name, worker);
