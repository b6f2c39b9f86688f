-- Read-side summary per model, so the models view and model filters never join
-- actions × metrics × models. Same long shape as run_summary; read with argMax.

-- @table model_summary: latest value per model and key: its attributes (kind 'model'), fit params (kind 'param') and metrics on all rows (kind 'metric')
-- @column model_summary.kind: model, param or metric
-- @column model_summary.key: attribute, param or metric name
-- @column model_summary.value_str: latest value as text
-- @column model_summary.value_num: latest value as a number (NaN when not numeric)
-- @column model_summary.step: step of the latest metric point
CREATE TABLE IF NOT EXISTS {db}.model_summary (
    project String,
    experiment String,
    run_id String,
    model_id String,
    kind String,
    key String,
    value_str String,
    value_num Float64,
    step Int64,
    ts Int64,
    ver UInt64
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, kind, key, model_id);

-- Backfill from what earlier versions already materialized: attributes, fit params, metrics.
INSERT INTO {db}.model_summary
SELECT project, experiment, run_id, model_id, 'model', attribute.1, attribute.2, attribute.3, 0, ts, ver
FROM {db}.models
ARRAY JOIN [('operator_class', operator_class, nan), ('parent_model_id', parent_model_id, nan),
            ('train_dataframe_id', train_dataframe_id, nan), ('size_bytes', '', toFloat64(size_bytes)),
            ('features', '', toFloat64(length(feature_names))), ('created_ts', '', toFloat64(ts))] AS attribute;

INSERT INTO {db}.model_summary
SELECT project, experiment, run_id, model_id, 'param', k, v, n, 0, ts, ver
FROM {db}.actions
ARRAY JOIN param_keys AS k, param_values AS v, param_nums AS n
WHERE model_id != '' AND action IN ('fit', 'fit_transform', 'fit_predict');

INSERT INTO {db}.model_summary
SELECT project, '', run_id, model_id, 'metric', name, '', value, step, ts, ver
FROM {db}.metrics
WHERE model_id != '' AND slice = '';
