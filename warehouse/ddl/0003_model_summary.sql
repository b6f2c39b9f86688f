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
