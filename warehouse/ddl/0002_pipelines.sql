-- Pipelines, data, lineage and models: the tables the trackers fill.
-- Same dialect rules and idempotency as 0001_core.sql. Unknown numbers are
-- NaN (floats) or -1 (counts); unknown ids are ''.

-- @table actions: every pipeline action in run order (fit, transform, predict, split, cross_validate, search); stages carry their parent action and index
-- @column actions.action: fit, fit_transform, transform, predict, predict_proba, decision_function, score, split, cross_validate or search
-- @column actions.parent_action_id: the composite action (pipeline, search) this stage belongs to ('' for top level)
-- @column actions.stage_index: position of the stage in its composite (-1 for top level)
-- @column actions.input_dataframe_ids: dataframes read
-- @column actions.output_dataframe_ids: dataframes written
-- @column actions.input_columns: columns read
-- @column actions.output_columns: columns written
-- @column actions.param_types: param types (parallel with param_keys)
-- @column actions.model_id: the model fitted or applied ('' for none)
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
-- @column dataframes.fingerprint: content fingerprint (blake2b-128 hex): same data, same fingerprint across runs
-- @column dataframes.fingerprint_method: full, or sampled:4096 for data over 32 MiB
-- @column dataframes.source: what produced it, e.g. StandardScaler.fit_transform
-- @column dataframes.n_rows: number of rows
-- @column dataframes.n_columns: number of columns
-- @column dataframes.column_names: column names (first 2,000)
-- @column dataframes.column_types: column dtypes
-- @column dataframes.sample_keys: row keys of the drill-down sample
-- @column dataframes.sample_rows_json: the sample rows as JSON objects
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
-- @column dataframe_columns.position: column position
-- @column dataframe_columns.name: column name
-- @column dataframe_columns.type: column dtype
-- @column dataframe_columns.count: non-null values
-- @column dataframe_columns.null_count: null values
-- @column dataframe_columns.distinct_approx: distinct values (over at most 4,096 rows)
-- @column dataframe_columns.min: minimum
-- @column dataframe_columns.max: maximum
-- @column dataframe_columns.mean: mean
-- @column dataframe_columns.std: standard deviation
-- @column dataframe_columns.top_values: most frequent values (categorical columns)
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
-- @column lineage.kind: action (one action's edge) or model (a model's feature to its source column)
-- @column lineage.src: the source column
-- @column lineage.dst: the derived column (for kind model: the model's feature)
-- @column lineage.path: columns from src to dst, ' > ' separated
-- @column lineage.model_id: the model (kind model) or the action's model
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
-- @column models.parent_model_id: the pipeline or search this model is a stage or winner of ('' for top level)
-- @column models.feature_names: the features it was fitted on
-- @column models.action_id: the fit action that produced it
-- @column models.operator_class: the model's class
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
-- @column model_internals.name: coef_, intercept_, feature_importances_, n_iter_ or classes_
-- @column model_internals.shape: the array's shape
-- @column model_internals.labels: feature (or class) label per value
-- @column model_internals.values: the values, flattened (at most 10,000)
-- @column model_internals.truncated: 1 when values were cut at the bound
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
-- @column predictions.dataframe_id: the evaluation dataframe
-- @column predictions.key: the row key
-- @column predictions.prediction: predicted value as text
-- @column predictions.prediction_num: predicted value as a number (NaN when not numeric)
-- @column predictions.label: true label as text
-- @column predictions.label_num: true label as a number
-- @column predictions.has_label: 1 when the label is known
-- @column predictions.slice_keys: slice column names (parallel with slice_values)
-- @column predictions.slice_values: the row's values of those columns
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
-- @column cv_folds.action_id: the cross-validation
-- @column cv_folds.fold: fold number
-- @column cv_folds.train_dataframe_id: training data of the fold ('' when not recorded)
-- @column cv_folds.test_dataframe_id: test data of the fold ('' when not recorded)
-- @column cv_folds.score_names: score names, e.g. test_accuracy
-- @column cv_folds.score_values: the scores (parallel with score_names)
-- @column cv_folds.model_id: the model cross-validated ('' for clones)
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
-- @column search_candidates.action_id: the search
-- @column search_candidates.scoring: the scoring the search ranked by
-- @column search_candidates.candidate: candidate number
-- @column search_candidates.param_values: the candidate's param values as text
-- @column search_candidates.mean_score: mean test score
-- @column search_candidates.std_score: standard deviation of the test score
-- @column search_candidates.rank: rank by mean score (1 = best)
-- @column search_candidates.fold_scores: test score per fold
-- @column search_candidates.is_best: 1 for the winner
-- @column search_candidates.best_model_id: the refitted winner's model
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
-- @column artifacts.artifact_id: the artifact
-- @column artifacts.name: its name
-- @column artifacts.checksum: content checksum
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
