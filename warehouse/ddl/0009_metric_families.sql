-- Metrics under their canonical names (modeldb.core.metric_names): scikit-learn's accuracy_score
-- and Spark's accuracy are both metrics['accuracy'] in the current state, and the name each latest
-- point was logged under is kept in metric_names. Each table is rebuilt through a copy whose keys
-- are the canonical names of the old ones ({metric_aliases} and {metric_canonicals} are the
-- mapping, rendered from Python: one source), dropped and created again rather than altered, so
-- that in cluster mode the Distributed tables get the new column too. A row of the old tables
-- with two names of one family keeps both under the canonical name until its run's owner next
-- writes it (the owner merges them: the later point wins); readers take the first.
-- @transient run_state_next
-- @transient model_state_next
-- @column metric_keys: metric names, canonical (accuracy for accuracy_score and for Spark's accuracy; see core/metric_names.py), sorted (points on all rows only; slices are in metrics)
-- @column metric_names: the name each metric's latest point was logged under (metric_keys are canonical: accuracy for accuracy_score)
-- @table run_state: one row per run, its latest state: attributes, and every param, metric (latest value, by canonical name) and tag as parallel arrays (read it through current_runs)
-- @table model_state: one row per model, its latest state: attributes, every fit param and every metric linked to it, by canonical name (read it through current_models)

CREATE TABLE IF NOT EXISTS {db}.run_state_next (
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
    metric_names Array(String),
    tag_keys Array(String),
    tag_values Array(String),
    tag_vers Array(UInt64),
    started_ver UInt64,
    ended_ver UInt64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, run_id);

INSERT INTO {db}.run_state_next (project, experiment, run_id, name, status, error, parent_run_id, branch_seq, user, source, started_ts, ended_ts, duration_ms, param_keys, param_values, param_nums, param_vers, metric_keys, metric_values, metric_steps, metric_vers, metric_names, tag_keys, tag_values, tag_vers, started_ver, ended_ver, ver)
SELECT project, experiment, run_id, name, status, error, parent_run_id, branch_seq, user, source, started_ts, ended_ts, duration_ms, param_keys, param_values, param_nums, param_vers, arrayMap(k -> transform(k, {metric_aliases}, {metric_canonicals}, k), metric_keys), metric_values, metric_steps, metric_vers, metric_keys, tag_keys, tag_values, tag_vers, started_ver, ended_ver, ver + 1
FROM {db}.run_state FINAL;

DROP TABLE IF EXISTS {db}.run_state;

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
    metric_names Array(String),
    tag_keys Array(String),
    tag_values Array(String),
    tag_vers Array(UInt64),
    started_ver UInt64,
    ended_ver UInt64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, run_id);

INSERT INTO {db}.run_state SELECT * FROM {db}.run_state_next;

DROP TABLE IF EXISTS {db}.run_state_next;

CREATE TABLE IF NOT EXISTS {db}.model_state_next (
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
    metric_names Array(String),
    stored_ver UInt64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, model_id);

INSERT INTO {db}.model_state_next (project, experiment, run_id, model_id, operator_class, operator_module, action_id, parent_model_id, uri, format, size_bytes, train_dataframe_id, feature_names, features, created_ts, param_keys, param_values, param_nums, param_vers, metric_keys, metric_values, metric_steps, metric_vers, metric_names, stored_ver, ver)
SELECT project, experiment, run_id, model_id, operator_class, operator_module, action_id, parent_model_id, uri, format, size_bytes, train_dataframe_id, feature_names, features, created_ts, param_keys, param_values, param_nums, param_vers, arrayMap(k -> transform(k, {metric_aliases}, {metric_canonicals}, k), metric_keys), metric_values, metric_steps, metric_vers, metric_keys, stored_ver, ver + 1
FROM {db}.model_state FINAL;

DROP TABLE IF EXISTS {db}.model_state;

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
    metric_names Array(String),
    stored_ver UInt64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, model_id);

INSERT INTO {db}.model_state SELECT * FROM {db}.model_state_next;

DROP TABLE IF EXISTS {db}.model_state_next;

-- The views again, with metric_names (a plain view is dropped and created, never altered).
DROP TABLE IF EXISTS {db}.current_runs;

DROP TABLE IF EXISTS {db}.current_models;

-- @column params: (backends with Map) each param's latest value as text, params['penalty']; '' when missing
-- @column params_num: (backends with Map) each param's latest value as a number, NaN when not numeric; 0 when missing
-- @column metrics: (backends with Map) each metric's latest value, metrics['accuracy']; 0 when missing, test with mapContains
-- @column current_runs.tags: (backends with Map) each tag's latest value; '' when missing
-- @table current_runs: one row per run, its latest state (run_state, newest version only); with Map: params, params_num, metrics, tags
-- @when maps
CREATE VIEW IF NOT EXISTS {db}.current_runs AS
SELECT project, experiment, run_id, name, status, error, parent_run_id, branch_seq, user, source,
       started_ts, ended_ts, duration_ms,
       param_keys, param_values, param_nums, metric_keys, metric_values, metric_steps, metric_names, tag_keys, tag_values,
       CAST((param_keys, param_values), 'Map(String, String)') AS params,
       CAST((param_keys, param_nums), 'Map(String, Float64)') AS params_num,
       CAST((metric_keys, metric_values), 'Map(String, Float64)') AS metrics,
       CAST((tag_keys, tag_values), 'Map(String, String)') AS tags
FROM {db}.run_state FINAL;

-- @when !maps
CREATE VIEW IF NOT EXISTS {db}.current_runs AS
SELECT project, experiment, run_id, name, status, error, parent_run_id, branch_seq, user, source,
       started_ts, ended_ts, duration_ms,
       param_keys, param_values, param_nums, metric_keys, metric_values, metric_steps, metric_names, tag_keys, tag_values
FROM {db}.run_state FINAL;

-- @table current_models: one row per model, its latest state (model_state, newest version only); with Map: params, params_num, metrics
-- @when maps
CREATE VIEW IF NOT EXISTS {db}.current_models AS
SELECT project, experiment, run_id, model_id, operator_class, operator_module, action_id, parent_model_id,
       uri, format, size_bytes, train_dataframe_id, feature_names, features, created_ts,
       param_keys, param_values, param_nums, metric_keys, metric_values, metric_steps, metric_names,
       CAST((param_keys, param_values), 'Map(String, String)') AS params,
       CAST((param_keys, param_nums), 'Map(String, Float64)') AS params_num,
       CAST((metric_keys, metric_values), 'Map(String, Float64)') AS metrics
FROM {db}.model_state FINAL;

-- @when !maps
CREATE VIEW IF NOT EXISTS {db}.current_models AS
SELECT project, experiment, run_id, model_id, operator_class, operator_module, action_id, parent_model_id,
       uri, format, size_bytes, train_dataframe_id, feature_names, features, created_ts,
       param_keys, param_values, param_nums, metric_keys, metric_values, metric_steps, metric_names
FROM {db}.model_state FINAL;
