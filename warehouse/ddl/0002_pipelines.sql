-- Pipelines, data, lineage and models: the tables the trackers fill.
-- Same dialect rules and idempotency as 0001_core.sql. Unknown numbers are
-- NaN (floats) or -1 (counts); unknown ids are ''.

-- @table actions: every pipeline action in run order (fit, transform, predict, split, cross_validate, search); stages carry their parent action and index
CREATE TABLE IF NOT EXISTS {db}.actions (
    project String,
    experiment String,
    run_id String,
    seq Int64,
    action_id String,
    action String,
    operator_class String,
    operator_module String,
    model_id String,
    parent_action_id String,
    stage_index Int32,
    input_dataframe_ids Array(String),
    output_dataframe_ids Array(String),
    input_columns Array(String),
    output_columns Array(String),
    param_keys Array(String),
    param_types Array(String),
    param_values Array(String),
    param_nums Array(Float64),
    duration_ms Float64,
    event_id String,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, run_id, action_id);

-- @table dataframes: every dataframe seen as an input or output: content fingerprint, shape, column names and types, sample rows
CREATE TABLE IF NOT EXISTS {db}.dataframes (
    project String,
    experiment String,
    run_id String,
    dataframe_id String,
    fingerprint String,
    fingerprint_method String,
    source String,
    n_rows Int64,
    n_columns Int32,
    column_names Array(String),
    column_types Array(String),
    sample_keys Array(String),
    sample_rows_json Array(String),
    event_id String,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, dataframe_id);

-- @table dataframe_columns: one row per column of every dataframe, with cheap statistics (NaN or -1 when unknown)
CREATE TABLE IF NOT EXISTS {db}.dataframe_columns (
    project String,
    run_id String,
    dataframe_id String,
    position Int32,
    name String,
    type String,
    count Int64,
    null_count Int64,
    distinct_approx Int64,
    min Float64,
    max Float64,
    mean Float64,
    std Float64,
    top_values Array(String),
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, name, dataframe_id, position);

-- @table lineage: column lineage; kind 'action': dst was derived from src by action_id; kind 'model': model_id's feature dst derives from source column src through path
CREATE TABLE IF NOT EXISTS {db}.lineage (
    project String,
    run_id String,
    kind String,
    src String,
    dst String,
    path String,
    action_id String,
    model_id String,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, src, kind, model_id, action_id, dst);

-- @table models: every fitted model: class, artifact URI, size, training dataframe, features; parent_model_id links a pipeline stage to its pipeline
CREATE TABLE IF NOT EXISTS {db}.models (
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
    event_id String,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, model_id);

-- @table model_internals: bounded internals of fitted models (coef_, intercept_, feature_importances_, n_iter_), labelled by feature
CREATE TABLE IF NOT EXISTS {db}.model_internals (
    project String,
    run_id String,
    model_id String,
    name String,
    shape Array(Int32),
    labels Array(String),
    values Array(Float64),
    truncated UInt8,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, model_id, name);

-- @table predictions: per-row predictions on evaluation data with the true label and the slice columns' values, so any slice's metric is one query
CREATE TABLE IF NOT EXISTS {db}.predictions (
    project String,
    run_id String,
    model_id String,
    dataframe_id String,
    key String,
    prediction String,
    prediction_num Float64,
    label String,
    label_num Float64,
    has_label UInt8,
    slice_keys Array(String),
    slice_values Array(String),
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, model_id, dataframe_id, key);

-- @table cv_folds: each fold of a cross-validation with its scores
CREATE TABLE IF NOT EXISTS {db}.cv_folds (
    project String,
    run_id String,
    action_id String,
    operator_class String,
    model_id String,
    fold Int32,
    train_dataframe_id String,
    test_dataframe_id String,
    score_names Array(String),
    score_values Array(Float64),
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, run_id, action_id, fold);

-- @table search_candidates: every candidate of a hyperparameter search with its params, scores and rank; is_best marks the winner
CREATE TABLE IF NOT EXISTS {db}.search_candidates (
    project String,
    run_id String,
    action_id String,
    operator_class String,
    scoring String,
    candidate Int32,
    param_keys Array(String),
    param_values Array(String),
    param_nums Array(Float64),
    mean_score Float64,
    std_score Float64,
    rank Int32,
    fold_scores Array(Float64),
    is_best UInt8,
    best_model_id String,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, run_id, action_id, candidate);

-- @table artifacts: files stored in the artifact store for a run
CREATE TABLE IF NOT EXISTS {db}.artifacts (
    project String,
    run_id String,
    artifact_id String,
    name String,
    uri String,
    format String,
    size_bytes Int64,
    checksum String,
    event_id String,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, run_id, artifact_id);
