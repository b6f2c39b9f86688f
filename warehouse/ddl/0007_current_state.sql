-- Current state: one row per run and one per model, kept by the stream processors at ingest.
--
-- The owner of a run (the worker of its Kafka partition, or the local runner) merges every event
-- of the run into its row and writes the whole row again, with a higher ver: ReplacingMergeTree
-- keeps the newest. The merge is per field, last writer wins by the event's (ts, seq), so the
-- same events in any order or repetition give the same row (see the README, "Current state").
-- Read them through the views current_runs and current_models (FINAL: one row per run or model,
-- even before ClickHouse merged the older versions away). Params, metrics and tags are parallel
-- arrays here; on backends with Map the views add them as maps: metrics['accuracy_score'].
--
-- @table run_state: one row per run, its latest state: attributes, and every param, metric (latest value) and tag as parallel arrays (read it through current_runs)
-- @column run_state.name: the run's name
-- @column run_state.status: RUNNING, FINISHED, FAILED or KILLED
-- @column run_state.error: error text of a FAILED run
-- @column run_state.parent_run_id: the run this one branched off ('' for none)
-- @column run_state.branch_seq: the parent's seq at the branch point (-1 for none)
-- @column run_state.user: OS user who ran it
-- @column run_state.source: the script or notebook
-- @column run_state.started_ts: when the run started, microseconds since the epoch (0 if its start is not in yet)
-- @column run_state.ended_ts: when the run ended, microseconds since the epoch (0 while running)
-- @column run_state.duration_ms: the run's duration (0 while running)
-- @column param_keys: param names, sorted; param_values[i], param_nums[i] belong to param_keys[i]
-- @column param_values: each param's latest value as text
-- @column param_nums: each param's latest value as a number (NaN when not numeric)
-- @column param_vers: each param's version, (ts << 12) | (seq mod 4096) of the event that set it
-- @column metric_keys: metric names, sorted (points on all rows only; slices are in metrics)
-- @column metric_values: each metric's latest value: the point with the highest step, then the newest
-- @column metric_steps: the step of that point
-- @column metric_vers: that point's version, (ts << 12) | (seq mod 4096)
-- @column run_state.tag_keys: tag names, sorted
-- @column run_state.tag_values: each tag's latest value
-- @column run_state.tag_vers: each tag's version
-- @column run_state.started_ver: version of the RunStarted event merged (0: none yet)
-- @column run_state.ended_ver: version of the newest RunEnded event merged (0: none yet)
CREATE TABLE IF NOT EXISTS {db}.run_state (
    project String,
    experiment String,
    run_id String,
    name String,
    status String,
    error String,
    parent_run_id String,
    branch_seq Int64,
    user String,
    source String,
    started_ts Int64,
    ended_ts Int64,
    duration_ms Float64,
    param_keys Array(String),
    param_values Array(String),
    param_nums Array(Float64),
    param_vers Array(UInt64),
    metric_keys Array(String),
    metric_values Array(Float64),
    metric_steps Array(Int64),
    metric_vers Array(UInt64),
    tag_keys Array(String),
    tag_values Array(String),
    tag_vers Array(UInt64),
    started_ver UInt64,
    ended_ver UInt64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, run_id);

-- @table model_state: one row per model, its latest state: attributes, every fit param and every metric linked to it (read it through current_models)
-- @column model_state.operator_class: the model's class, from its fit or its stored snapshot
-- @column model_state.operator_module: the class's module
-- @column model_state.action_id: the fit action that made it
-- @column model_state.parent_model_id: the pipeline (or search) it is a stage of ('' for none)
-- @column model_state.uri: where its snapshot is stored ('' if none was stored)
-- @column model_state.format: the snapshot's format
-- @column model_state.size_bytes: the snapshot's size (-1 when none was stored)
-- @column model_state.train_dataframe_id: the dataframe it was fitted on
-- @column model_state.feature_names: its input features
-- @column model_state.features: how many input features
-- @column model_state.created_ts: when its snapshot was stored (its first fit, if none was), microseconds
-- @column model_state.stored_ver: version of the newest ModelStored event merged (0: none)
CREATE TABLE IF NOT EXISTS {db}.model_state (
    project String,
    experiment String,
    run_id String,
    model_id String,
    operator_class String,
    operator_module String,
    action_id String,
    parent_model_id String,
    uri String,
    format String,
    size_bytes Int64,
    train_dataframe_id String,
    feature_names Array(String),
    features UInt32,
    created_ts Int64,
    param_keys Array(String),
    param_values Array(String),
    param_nums Array(Float64),
    param_vers Array(UInt64),
    metric_keys Array(String),
    metric_values Array(Float64),
    metric_steps Array(Int64),
    metric_vers Array(UInt64),
    stored_ver UInt64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, model_id);

-- Backfill from what earlier versions materialized (a warehouse upgraded in place). Each param,
-- metric and tag is its newest value; versions are the event ts shifted, so any later event wins.
INSERT INTO {db}.run_state
SELECT project, experiment, run_id, name, status, error, parent_run_id, branch_seq, user, source,
       started_ts, ended_ts, duration_ms, param_keys, param_values, param_nums, param_vers,
       metric_keys, metric_values, metric_steps, metric_vers, tag_keys, tag_values, tag_vers,
       started_ver, ended_ver, toUInt64(1048576)
FROM (SELECT * FROM (SELECT * FROM (
    SELECT project, run_id, any(experiment) AS experiment,
           argMaxIf(name, ver, event_type = 'RunStarted') AS name,
           if(countIf(event_type = 'RunEnded') > 0, argMaxIf(status, ver, event_type = 'RunEnded'), 'RUNNING') AS status,
           argMaxIf(error, ver, event_type = 'RunEnded') AS error,
           argMaxIf(parent_run_id, ver, event_type = 'RunStarted') AS parent_run_id,
           if(countIf(event_type = 'RunStarted') > 0, argMaxIf(branch_seq, ver, event_type = 'RunStarted'), -1) AS branch_seq,
           argMaxIf(user, ver, event_type = 'RunStarted') AS user,
           argMaxIf(source, ver, event_type = 'RunStarted') AS source,
           toInt64(maxIf(ts, event_type = 'RunStarted')) AS started_ts,
           toInt64(maxIf(ts, event_type = 'RunEnded')) AS ended_ts,
           argMaxIf(duration_ms, ver, event_type = 'RunEnded') AS duration_ms,
           toUInt64(maxIf(ts, event_type = 'RunStarted')) * 4096 AS started_ver,
           toUInt64(maxIf(ts, event_type = 'RunEnded')) * 4096 AS ended_ver
    FROM {db}.runs
    GROUP BY project, run_id
) AS r ANY LEFT JOIN (
    SELECT project, run_id, groupArray(key) AS param_keys, groupArray(x) AS param_values,
           groupArray(n) AS param_nums, groupArray(v) AS param_vers
    FROM (
        SELECT project, run_id, key, argMax(value, ver) AS x,
               if(argMax(is_num, ver) = 1, argMax(num, ver), nan) AS n, toUInt64(max(ts)) * 4096 AS v
        FROM {db}.params GROUP BY project, run_id, key ORDER BY key
    )
    GROUP BY project, run_id
) AS j0 USING (project, run_id)) AS k1 ANY LEFT JOIN (
    SELECT project, run_id, groupArray(name) AS metric_keys, groupArray(x) AS metric_values,
           groupArray(s) AS metric_steps, groupArray(v) AS metric_vers
    FROM (
        SELECT project, run_id, name, argMax(value, step * 1e16 + ts) AS x, max(step) AS s,
               toUInt64(argMax(ts, step * 1e16 + ts)) * 4096 AS v
        FROM {db}.metrics WHERE slice = '' GROUP BY project, run_id, name ORDER BY name
    )
    GROUP BY project, run_id
) AS j2 USING (project, run_id)) AS k3 ANY LEFT JOIN (
    SELECT project, run_id, groupArray(key) AS tag_keys, groupArray(x) AS tag_values, groupArray(v) AS tag_vers
    FROM (
        SELECT project, run_id, key, argMax(value, ver) AS x, toUInt64(max(ts)) * 4096 AS v
        FROM {db}.tags GROUP BY project, run_id, key ORDER BY key
    )
    GROUP BY project, run_id
) AS j6 USING (project, run_id);

INSERT INTO {db}.model_state
SELECT project, experiment, run_id, model_id, operator_class, operator_module, action_id,
       parent_model_id, uri, format, size_bytes, train_dataframe_id, feature_names,
       toUInt32(length(feature_names)), created_ts, param_keys, param_values, param_nums, param_vers,
       metric_keys, metric_values, metric_steps, metric_vers, stored_ver, toUInt64(1048576)
FROM (SELECT * FROM (
    SELECT project, model_id, any(experiment) AS experiment, argMax(run_id, ver) AS run_id,
           argMax(operator_class, ver) AS operator_class, argMax(operator_module, ver) AS operator_module,
           argMax(action_id, ver) AS action_id, argMax(parent_model_id, ver) AS parent_model_id,
           argMax(uri, ver) AS uri, argMax(format, ver) AS format, argMax(size_bytes, ver) AS size_bytes,
           argMax(train_dataframe_id, ver) AS train_dataframe_id, argMax(feature_names, ver) AS feature_names,
           toInt64(max(ts)) AS created_ts, toUInt64(max(ts)) * 4096 AS stored_ver
    FROM {db}.models
    GROUP BY project, model_id
) AS r ANY LEFT JOIN (
    SELECT project, model_id, groupArray(k) AS param_keys, groupArray(x) AS param_values,
           groupArray(n) AS param_nums, groupArray(pv) AS param_vers
    FROM (
        SELECT project, model_id, ak AS k, argMax(av, ts) AS x, argMax(an, ts) AS n, toUInt64(max(ts)) * 4096 AS pv
        FROM {db}.actions
        ARRAY JOIN param_keys AS ak, param_values AS av, param_nums AS an
        WHERE model_id != '' AND action IN ('fit', 'fit_transform', 'fit_predict')
        GROUP BY project, model_id, ak ORDER BY ak
    )
    GROUP BY project, model_id
) AS j4 USING (project, model_id)) AS k5 ANY LEFT JOIN (
    SELECT project, model_id, groupArray(name) AS metric_keys, groupArray(x) AS metric_values,
           groupArray(s) AS metric_steps, groupArray(v) AS metric_vers
    FROM (
        SELECT project, model_id, name, argMax(value, step * 1e16 + ts) AS x, max(step) AS s,
               toUInt64(argMax(ts, step * 1e16 + ts)) * 4096 AS v
        FROM {db}.metrics WHERE model_id != '' AND slice = '' GROUP BY project, model_id, name ORDER BY name
    )
    GROUP BY project, model_id
) AS j7 USING (project, model_id);

-- The summaries the current state replaces: nothing reads them any more.
DROP TABLE IF EXISTS {db}.run_summary;

DROP TABLE IF EXISTS {db}.model_summary;

-- The views to read. FINAL: the newest row of each run or model, merged or not yet.
-- @column params: (backends with Map) each param's latest value as text, params['penalty']; '' when missing
-- @column params_num: (backends with Map) each param's latest value as a number, NaN when not numeric; 0 when missing
-- @column metrics: (backends with Map) each metric's latest value, metrics['accuracy_score']; 0 when missing, test with mapContains
-- @column current_runs.tags: (backends with Map) each tag's latest value; '' when missing
-- @table current_runs: one row per run, its latest state (run_state, newest version only); with Map: params, params_num, metrics, tags
-- @when maps
CREATE VIEW IF NOT EXISTS {db}.current_runs AS
SELECT project, experiment, run_id, name, status, error, parent_run_id, branch_seq, user, source,
       started_ts, ended_ts, duration_ms,
       param_keys, param_values, param_nums, metric_keys, metric_values, metric_steps, tag_keys, tag_values,
       CAST((param_keys, param_values), 'Map(String, String)') AS params,
       CAST((param_keys, param_nums), 'Map(String, Float64)') AS params_num,
       CAST((metric_keys, metric_values), 'Map(String, Float64)') AS metrics,
       CAST((tag_keys, tag_values), 'Map(String, String)') AS tags
FROM {db}.run_state FINAL;

-- @when !maps
CREATE VIEW IF NOT EXISTS {db}.current_runs AS
SELECT project, experiment, run_id, name, status, error, parent_run_id, branch_seq, user, source,
       started_ts, ended_ts, duration_ms,
       param_keys, param_values, param_nums, metric_keys, metric_values, metric_steps, tag_keys, tag_values
FROM {db}.run_state FINAL;

-- @table current_models: one row per model, its latest state (model_state, newest version only); with Map: params, params_num, metrics
-- @when maps
CREATE VIEW IF NOT EXISTS {db}.current_models AS
SELECT project, experiment, run_id, model_id, operator_class, operator_module, action_id, parent_model_id,
       uri, format, size_bytes, train_dataframe_id, feature_names, features, created_ts,
       param_keys, param_values, param_nums, metric_keys, metric_values, metric_steps,
       CAST((param_keys, param_values), 'Map(String, String)') AS params,
       CAST((param_keys, param_nums), 'Map(String, Float64)') AS params_num,
       CAST((metric_keys, metric_values), 'Map(String, Float64)') AS metrics
FROM {db}.model_state FINAL;

-- @when !maps
CREATE VIEW IF NOT EXISTS {db}.current_models AS
SELECT project, experiment, run_id, model_id, operator_class, operator_module, action_id, parent_model_id,
       uri, format, size_bytes, train_dataframe_id, feature_names, features, created_ts,
       param_keys, param_values, param_nums, metric_keys, metric_values, metric_steps
FROM {db}.model_state FINAL;
