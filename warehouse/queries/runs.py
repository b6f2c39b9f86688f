"""Runs: projects, runs, params, metric histories, run rankings (the foundation's queries)."""
from __future__ import annotations

from modeldb.warehouse.ddl import canonical_sql
from modeldb.warehouse.queries.base import NamedQuery

PROJECTS = NamedQuery("projects", "Every project with its experiment, run and model counts and last activity", """
SELECT project,
       uniqExactMerge(experiments) AS experiments,
       uniqExactMerge(runs) AS runs,
       uniqExactMerge(models) AS models,
       toString(toDateTime(intDiv(maxMerge(last_ts), 1000000))) AS last_activity
FROM {db}.project_counts
GROUP BY project
ORDER BY project
""")

# A metric's best and worst over a project's models, merged from project_metrics' aggregate states.
_METRIC_STATES = """uniqExactMerge(models) AS models,
       maxMerge(max_value) AS max_value,
       argMaxMerge(max_model) AS max_model,
       minMerge(min_value) AS min_value,
       argMinMerge(min_model) AS min_model"""

PROJECT_METRICS = NamedQuery("project_metrics", "Each metric of a project: models with it, best and worst values and "
                             "the models that hold them", """
SELECT """ + canonical_sql("name") + """ AS metric,
       """ + _METRIC_STATES + """
FROM {db}.project_metrics
WHERE project = %(project)s
GROUP BY metric
ORDER BY metric
""")

RUNS = NamedQuery("runs", "The runs of a project with name, status, parent and duration", """
SELECT run_id, name, experiment, status, parent_run_id, round(duration_ms, 1) AS duration_ms,
       length(param_keys) AS params, length(metric_keys) AS metrics
FROM {current_runs}
WHERE project = %(project)s{newest_runs}  -- a run whose start has not arrived yet shows too, unnamed
ORDER BY started_ts, run_id
{once_runs}""")

RUN_PARAMS = NamedQuery("run_params", "The latest value of every param of a run", """
SELECT key, argMax(type, ver) AS type, argMax(value, ver) AS value
FROM {db}.params
WHERE project = %(project)s AND run_id = %(run_id)s
GROUP BY key
ORDER BY key
""")

BEST_RUNS = NamedQuery("best_runs", "Runs ranked by the latest value of a metric (non-finite values skipped)", """
SELECT run_id, name, metric_values[indexOf(metric_keys, %(metric)s)] AS value
FROM {current_runs}
WHERE project = %(project)s{newest_runs} AND has(metric_keys, %(metric)s) AND isFinite(value)
ORDER BY value DESC, run_id
{once_runs}LIMIT %(limit)s
""")

METRIC_HISTORY = NamedQuery("metric_history", "Every step of one metric of one run", """
SELECT step, argMax(value, ver) AS value
FROM {db}.metrics
WHERE project = %(project)s AND name IN (SELECT arrayJoin(%(metric_names)s)) AND run_id = %(run_id)s AND slice = ''
GROUP BY step
ORDER BY step
""")

PARAM_VS_METRIC = NamedQuery("param_vs_metric", "A hyperparameter against a metric, one row per run", """
SELECT run_id, param_values[indexOf(param_keys, %(param)s)] AS param_value,
       metric_values[indexOf(metric_keys, %(metric)s)] AS metric_value
FROM {current_runs}
WHERE project = %(project)s{newest_runs} AND has(param_keys, %(param)s) AND has(metric_keys, %(metric)s)
ORDER BY metric_value DESC, run_id, param_value
{once_runs}""")
# run_id decides the order: param_value is in it so that chDB computes the value before the sort
# rather than after it, which sorted the whole param arrays along (100,000 runs: 76 -> 36 ms).

PROJECT_ACTIVITY = NamedQuery("project_activity", "Runs started per project and hour, for activity sparklines", """
SELECT project, toString(toStartOfHour(toDateTime(intDiv(started, 1000000)))) AS hour, count() AS runs
FROM (
    SELECT project, run_id, min(started_ts) AS started
    FROM {db}.experiments
    GROUP BY project, run_id
)
GROUP BY project, hour
ORDER BY project, hour
""")

PROJECT_BEST = NamedQuery("project_best", "Every project's metrics with the best and worst values and their models", """
SELECT project, """ + canonical_sql("name") + """ AS metric,
       """ + _METRIC_STATES + """
FROM {db}.project_metrics
GROUP BY project, metric
ORDER BY project, metric
""")

QUERIES = (PROJECTS, PROJECT_ACTIVITY, PROJECT_BEST, PROJECT_METRICS, RUNS, RUN_PARAMS, BEST_RUNS, METRIC_HISTORY,
           PARAM_VS_METRIC)
