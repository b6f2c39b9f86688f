"""Named, parameterized queries for the paper's questions and the dashboard.

Each ``NamedQuery`` has ``.run(warehouse, **params)`` (a ``Result``) and
``.frame(...)`` (a pandas DataFrame). Questions that need more than one
statement are plain functions returning DataFrames: ``search_runs`` and
``search_models`` (filters with AND/OR, chosen columns, sorting, pagination),
``version_tree``, ``best_on_slice``, ``models_on_dataset`` and ``compare_models``.
``modeldb.query`` wraps them all for the configured warehouse.

Reads across runs and models use the current state, one row per run
(``current_runs``) or model (``current_models``), kept by the stream processors:
nothing is pivoted at read time. Reads of the event-shaped tables (metric
histories, lineage, actions) group with argMax over ``ver`` (the event time), so
a redelivered event, still present as a second row before ClickHouse merges it
away, never changes an answer.
"""
from __future__ import annotations

from modeldb.warehouse.queries.adhoc import run_sql, schema_table
from modeldb.warehouse.queries.base import NamedQuery
from modeldb.warehouse.queries.compare import compare_models
from modeldb.warehouse.queries.compare_many import compare_many
from modeldb.warehouse.queries.curves import curves, runs_with_metric
from modeldb.warehouse.queries.defaults import varying_params
from modeldb.warehouse.queries.names import model_names, run_names
from modeldb.warehouse.queries.models import (BEST_MODELS, MODELS, MODELS_USING_COLUMN, best_models,
                                              models_on_dataset, models_using_column_page)
from modeldb.warehouse.queries.explore import chart_data, metric_histories, model_keys, sample_fields
from modeldb.warehouse.queries.pipelines import align, dataframes, model_actions, run_actions, sample_trace
from modeldb.warehouse.queries.runs import (BEST_RUNS, METRIC_HISTORY, PARAM_VS_METRIC, PROJECT_ACTIVITY, PROJECT_BEST,
                                            PROJECT_METRICS, PROJECTS, RUN_PARAMS, RUNS)
from modeldb.warehouse.queries.runs import QUERIES as _RUN_QUERIES
from modeldb.warehouse.queries.filters import FilterError
from modeldb.warehouse.queries.entities import count_matches, param_vs_metric_agg, search_models, search_runs
from modeldb.warehouse.queries.search import COLUMN_USE, SEARCH_CANDIDATES, SEARCH_SCORES, version_tree
from modeldb.warehouse.queries.slices import SliceError, best_on_slice, slice_columns

ALL: dict[str, NamedQuery] = {q.name: q for q in (*_RUN_QUERIES, MODELS, BEST_MODELS, MODELS_USING_COLUMN, COLUMN_USE,
                                                  SEARCH_CANDIDATES, SEARCH_SCORES)}

__all__ = ["ALL", "NamedQuery", "PROJECTS", "PROJECT_METRICS", "RUNS", "param_vs_metric_agg", "RUN_PARAMS", "BEST_RUNS", "METRIC_HISTORY", "PARAM_VS_METRIC",
           "MODELS", "BEST_MODELS", "MODELS_USING_COLUMN", "best_models", "best_on_slice", "slice_columns",
           "models_on_dataset", "compare_models", "search_runs", "search_models", "version_tree", "FilterError",
           "PROJECT_ACTIVITY", "PROJECT_BEST", "count_matches", "chart_data", "metric_histories", "model_keys",
           "run_actions", "model_actions", "dataframes", "sample_trace", "align", "run_sql", "schema_table",
           "sample_fields", "models_using_column_page", "COLUMN_USE", "SEARCH_CANDIDATES", "SEARCH_SCORES",
           "SliceError", "compare_many", "curves", "runs_with_metric", "varying_params", "model_names", "run_names"]
