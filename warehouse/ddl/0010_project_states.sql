-- The per-project summaries count distinct runs and models by a 64-bit hash of the id rather than
-- the id itself. A uniqExact state of strings holds 128-bit hashes, and ClickHouse 18.16 took about
-- 30 ms to merge one over 100,000 runs (the projects query merges three): over 64-bit hashes it is
-- less than half that. Two ids collide with odds of about n² / 2⁶⁵ (3 in 10¹⁰ at 100,000).
-- Rebuilt from the event tables, as 0004 first filled them: stop the processors while it runs.

DROP TABLE IF EXISTS {db}.project_counts_runs;

DROP TABLE IF EXISTS {db}.project_counts_models;

DROP TABLE IF EXISTS {db}.project_counts;

-- @table project_counts: per project: experiments, runs and models (distinct) and the last activity, as aggregate states (read with uniqExactMerge / maxMerge)
-- @column project_counts.experiments: distinct experiments (uniqExact state of cityHash64(experiment))
-- @column project_counts.runs: distinct runs (uniqExact state of cityHash64(run_id))
-- @column project_counts.models: distinct models (uniqExact state of cityHash64(model_id))
CREATE TABLE IF NOT EXISTS {db}.project_counts (
    project String,
    experiments AggregateFunction(uniqExact, UInt64),
    runs AggregateFunction(uniqExact, UInt64),
    models AggregateFunction(uniqExact, UInt64),
    last_ts AggregateFunction(max, Int64)
) ENGINE = AggregatingMergeTree()
ORDER BY project;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.project_counts_runs TO {db}.project_counts AS
SELECT project, uniqExactState(cityHash64(experiment)) AS experiments, uniqExactState(cityHash64(run_id)) AS runs,
       uniqExactStateIf(cityHash64(run_id), 0) AS models, maxState(started_ts) AS last_ts
FROM {db}.experiments GROUP BY project;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.project_counts_models TO {db}.project_counts AS
SELECT project, uniqExactStateIf(cityHash64(model_id), 0) AS experiments, uniqExactStateIf(cityHash64(model_id), 0) AS runs,
       uniqExactState(cityHash64(model_id)) AS models, maxState(ts) AS last_ts
FROM {db}.models GROUP BY project;

INSERT INTO {db}.project_counts
SELECT project, uniqExactState(cityHash64(experiment)), uniqExactState(cityHash64(run_id)),
       uniqExactStateIf(cityHash64(run_id), 0), maxState(started_ts)
FROM {db}.experiments GROUP BY project;

INSERT INTO {db}.project_counts
SELECT project, uniqExactStateIf(cityHash64(model_id), 0), uniqExactStateIf(cityHash64(model_id), 0),
       uniqExactState(cityHash64(model_id)), maxState(ts)
FROM {db}.models GROUP BY project;

DROP TABLE IF EXISTS {db}.project_metrics_models;

DROP TABLE IF EXISTS {db}.project_metrics;

-- @table project_metrics: per project and metric (on all rows, finite values, linked to a model): how many models have it, and the best and worst values with the models that hold them
-- @column project_metrics.models: distinct models with the metric (uniqExact state of cityHash64(model_id))
CREATE TABLE IF NOT EXISTS {db}.project_metrics (
    project String,
    name String,
    models AggregateFunction(uniqExact, UInt64),
    max_value AggregateFunction(max, Float64),
    min_value AggregateFunction(min, Float64),
    max_model AggregateFunction(argMax, String, Tuple(Float64, String)),
    min_model AggregateFunction(argMin, String, Tuple(Float64, String))
) ENGINE = AggregatingMergeTree()
ORDER BY (project, name);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.project_metrics_models TO {db}.project_metrics AS
SELECT project, name, uniqExactState(cityHash64(model_id)) AS models, maxState(value) AS max_value,
       minState(value) AS min_value, argMaxState(model_id, (value, model_id)) AS max_model,
       argMinState(model_id, (value, model_id)) AS min_model
FROM {db}.metrics
WHERE model_id != '' AND slice = '' AND isFinite(value)
GROUP BY project, name;

INSERT INTO {db}.project_metrics
SELECT project, name, uniqExactState(cityHash64(model_id)), maxState(value), minState(value),
       argMaxState(model_id, (value, model_id)), argMinState(model_id, (value, model_id))
FROM {db}.metrics
WHERE model_id != '' AND slice = '' AND isFinite(value)
GROUP BY project, name;
