-- run_summary, sorted by key first: a filter or sort on params.C reads the rows of key C
-- (found through the primary index), not every row of the project. Same columns, same
-- deduplication (the sorting key holds the same columns); rebuilt from the old table.
-- @transient run_summary_next

CREATE TABLE IF NOT EXISTS {db}.run_summary_next (
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
ORDER BY (project, kind, key, run_id);

INSERT INTO {db}.run_summary_next SELECT * FROM {db}.run_summary;

RENAME TABLE {db}.run_summary TO {db}.run_summary_previous, {db}.run_summary_next TO {db}.run_summary;

DROP TABLE IF EXISTS {db}.run_summary_previous;

DROP TABLE IF EXISTS {db}.run_summary_next;
