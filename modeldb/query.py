"""The named queries as functions returning pandas DataFrames: ``modeldb.query.best_models("f1_score")``.

Each reads the configured warehouse (``modeldb.init`` / ``MODELDB_*``); ``project`` defaults
to the configured project. On the embedded default the first call makes this process the
owner of the chDB warehouse and materializes any new events from the file log first, like
``modeldb sql`` does. The same functions are on the command line: ``modeldb query NAME k=v``.
"""
from __future__ import annotations

import threading
from typing import Any, Iterable

from modeldb.warehouse import queries as Q

_lock = threading.Lock()
_warehouse: Any = None

__all__ = ["projects", "project_metrics", "runs", "models", "run_params", "best_runs", "best_models", "metric_history",
           "param_vs_metric", "param_vs_metric_agg", "models_using_column", "models_on_dataset", "best_on_slice", "compare_models",
           "version_tree", "column_use", "search_candidates", "search_scores", "NAMES"]


def _open() -> tuple[Any, str]:
    """The process's warehouse, current: on the embedded default this process's own events first, then the log."""
    global _warehouse
    from modeldb import embedded
    from modeldb.producers import tracking

    settings = tracking.settings()
    with _lock:
        if _warehouse is None:
            from modeldb.warehouse.factory import connect

            _warehouse = connect(settings)
        if embedded.is_embedded(settings):
            tracking.flush()
            embedded.catch_up(settings, _warehouse)
    return _warehouse, settings.project


def _project(project: str | None) -> tuple[Any, str]:
    warehouse, default = _open()
    return warehouse, project or default


def projects() -> Any:
    """Every project with its experiment and run counts and last activity."""
    warehouse, _ = _open()
    return Q.PROJECTS.frame(warehouse)


def project_metrics(project: str | None = None) -> Any:
    """Each metric of a project: how many models have it, the best and worst values and who holds them."""
    warehouse, project = _project(project)
    return Q.PROJECT_METRICS.frame(warehouse, project=project)


def runs(where: str = "", order_by: str = "", columns: Iterable[str] = (), limit: int = 100, offset: int = 0,
         project: str | None = None) -> Any:
    """Runs filtered with AND/OR on ``params.``, ``metrics.``, ``tags.`` and ``run.`` (see README)."""
    warehouse, project = _project(project)
    return Q.search_runs(warehouse, project, where, order_by, list(columns), limit, offset)


def models(where: str = "", order_by: str = "", columns: Iterable[str] = (), limit: int = 100, offset: int = 0,
           project: str | None = None) -> Any:
    """Models filtered with AND/OR on ``params.``, ``metrics.`` and ``model.`` (see README)."""
    warehouse, project = _project(project)
    return Q.search_models(warehouse, project, where, order_by, list(columns), limit, offset)


def run_params(run_id: str, project: str | None = None) -> Any:
    """The latest value of every param logged in a run."""
    warehouse, project = _project(project)
    return Q.RUN_PARAMS.frame(warehouse, project=project, run_id=run_id)


def best_runs(metric: str, limit: int = 10, project: str | None = None) -> Any:
    """Runs ranked by the latest value of a run-level metric."""
    warehouse, project = _project(project)
    return Q.BEST_RUNS.frame(warehouse, project=project, metric=metric, limit=int(limit))


def best_models(metric: str, limit: int = 10, lower_is_better: bool | None = None, project: str | None = None) -> Any:
    """Models ranked by a metric; errors and losses rank ascending."""
    warehouse, project = _project(project)
    return Q.best_models(warehouse, project, metric, int(limit), lower_is_better)


def metric_history(run_id: str, metric: str, project: str | None = None) -> Any:
    """Every step of one metric of one run."""
    warehouse, project = _project(project)
    return Q.METRIC_HISTORY.frame(warehouse, project=project, metric=metric, run_id=run_id)


def param_vs_metric(param: str, metric: str, project: str | None = None) -> Any:
    """A run-level hyperparameter against a metric, one row per run."""
    warehouse, project = _project(project)
    return Q.PARAM_VS_METRIC.frame(warehouse, project=project, param=param, metric=metric)


def param_vs_metric_agg(param: str, metric: str, agg: str = "mean", entity: str = "model",
                        project: str | None = None) -> Any:
    """A metric aggregated (mean, median, min, max, count, std) per value of a hyperparameter, over models or runs."""
    warehouse, project = _project(project)
    return Q.param_vs_metric_agg(warehouse, project, param, metric, agg, entity)


def models_using_column(column: str, limit: int = 1000, project: str | None = None) -> Any:
    """Models that used a column, directly or through derived columns, with the path (``limit``: 0 for all).

    How many models used it in all is in ``frame.attrs["total"]``.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer (0 for all), got {limit!r}")
    warehouse, project = _project(project)
    if limit == 0:
        frame = Q.MODELS_USING_COLUMN.frame(warehouse, project=project, column=column)
        frame.attrs["total"] = len(frame)
        return frame
    frame, total = Q.models_using_column_page(warehouse, project, column, limit)
    frame.attrs["total"] = total
    return frame


def models_on_dataset(fingerprint: str, project: str | None = None) -> Any:
    """Models trained on data with this fingerprint (or a prefix), or on data derived from it."""
    warehouse, project = _project(project)
    return Q.models_on_dataset(warehouse, project, fingerprint)


def best_on_slice(predicate: str, metric: str = "accuracy", limit: int = 20, project: str | None = None) -> Any:
    """Models ranked on the prediction rows matching a slice predicate such as ``country = 'US'``."""
    warehouse, project = _project(project)
    return Q.best_on_slice(warehouse, project, predicate, metric, limit=int(limit))


def compare_models(model_a: str, model_b: str, project: str | None = None) -> dict[str, Any]:
    """Two models side by side: model, params, stages, features, metrics and data."""
    warehouse, project = _project(project)
    return Q.compare_models(warehouse, project, model_a, model_b)


def version_tree(run_id: str, project: str | None = None) -> Any:
    """The run's version tree: its root and every branch, with depth."""
    warehouse, project = _project(project)
    return Q.version_tree(warehouse, project, run_id)


def column_use(column: str, project: str | None = None) -> Any:
    """Every model whose training data had ``column`` or that used it: in_frame, used, direct, opaque, paths."""
    warehouse, project = _project(project)
    return Q.COLUMN_USE.frame(warehouse, project=project, column=column)


def search_candidates(run_id: str = "", project: str | None = None) -> Any:
    """Every candidate of every search (or one run's): params, ranking score, rank, winner, halving's iteration."""
    warehouse, project = _project(project)
    return Q.SEARCH_CANDIDATES.frame(warehouse, project=project, run_id=run_id)


def search_scores(run_id: str = "", project: str | None = None) -> Any:
    """Every candidate's every scorer and split (test, train): mean, std, rank and fold scores."""
    warehouse, project = _project(project)
    return Q.SEARCH_SCORES.frame(warehouse, project=project, run_id=run_id)


NAMES = {name: globals()[name] for name in __all__ if name != "NAMES"}
