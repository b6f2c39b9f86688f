-- Per-project summaries, kept by materialized views as aggregate states (each view
-- fills every column; the ones it does not know get an empty state via -StateIf(x, 0)). Every
-- state here (uniqExact, max, min, argMax, argMin) gives the same answer when an
-- event is delivered twice, so these tables need no version column; read them
-- with the -Merge combinators, grouped by project.

-- @table project_counts: per project: experiments, runs and models (distinct) and the last activity, as aggregate states (read with uniqExactMerge / maxMerge)
-- @column project_counts.experiments: distinct experiments (uniqExact state)
-- @column project_counts.runs: distinct runs (uniqExact state)
-- @column project_counts.models: distinct models (uniqExact state)
-- @column project_counts.last_ts: latest run start or model time, microseconds (max state)
CREATE TABLE IF NOT EXISTS {db}.project_counts (
    project String,
    experiments AggregateFunction(uniqExact, String),
    runs AggregateFunction(uniqExact, String),
    models AggregateFunction(uniqExact, String),
    last_ts AggregateFunction(max, Int64)
) ENGINE = AggregatingMergeTree()
ORDER BY project;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.project_counts_runs TO {db}.project_counts AS
SELECT project, uniqExactState(experiment) AS experiments, uniqExactState(run_id) AS runs,
       uniqExactStateIf(run_id, 0) AS models, maxState(started_ts) AS last_ts
FROM {db}.experiments GROUP BY project;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.project_counts_models TO {db}.project_counts AS
SELECT project, uniqExactStateIf(model_id, 0) AS experiments, uniqExactStateIf(model_id, 0) AS runs,
       uniqExactState(model_id) AS models, maxState(ts) AS last_ts
FROM {db}.models GROUP BY project;

-- @table project_metrics: per project and metric (on all rows, finite values, linked to a model): how many models have it, and the best and worst values with the models that hold them
-- @column project_metrics.name: metric name
-- @column project_metrics.models: distinct models with the metric (uniqExact state)
-- @column project_metrics.max_value: highest value (max state)
-- @column project_metrics.min_value: lowest value (min state)
-- @column project_metrics.max_model: model holding the highest value (argMax state; ties go to the greatest model id)
-- @column project_metrics.min_model: model holding the lowest value (argMin state; ties go to the least model id)
CREATE TABLE IF NOT EXISTS {db}.project_metrics (
    project String,
    name String,
    models AggregateFunction(uniqExact, String),
    max_value AggregateFunction(max, Float64),
    min_value AggregateFunction(min, Float64),
    max_model AggregateFunction(argMax, String, Tuple(Float64, String)),
    min_model AggregateFunction(argMin, String, Tuple(Float64, String))
) ENGINE = AggregatingMergeTree()
ORDER BY (project, name);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.project_metrics_models TO {db}.project_metrics AS
SELECT project, name, uniqExactState(model_id) AS models, maxState(value) AS max_value,
       minState(value) AS min_value, argMaxState(model_id, (value, model_id)) AS max_model,
       argMinState(model_id, (value, model_id)) AS min_model
FROM {db}.metrics
WHERE model_id != '' AND slice = '' AND isFinite(value)
GROUP BY project, name;

-- Backfill from what earlier versions already materialized (the views only see new inserts).
INSERT INTO {db}.project_counts
SELECT project, uniqExactState(experiment), uniqExactState(run_id), uniqExactStateIf(run_id, 0), maxState(started_ts)
FROM {db}.experiments GROUP BY project;

INSERT INTO {db}.project_counts
SELECT project, uniqExactStateIf(model_id, 0), uniqExactStateIf(model_id, 0), uniqExactState(model_id), maxState(ts)
FROM {db}.models GROUP BY project;

INSERT INTO {db}.project_metrics
SELECT project, name, uniqExactState(model_id), maxState(value), minState(value), argMaxState(model_id, (value, model_id)),
       argMinState(model_id, (value, model_id))
FROM {db}.metrics
WHERE model_id != '' AND slice = '' AND isFinite(value)
GROUP BY project, name;
