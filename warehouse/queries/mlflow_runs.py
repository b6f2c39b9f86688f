"""The reads of the MLflow-compatible server (``modeldb server``): runs by id, searches, metric history.

Every read is of the current state, one row per run (``run_state`` read with FINAL: the newest row
of each run, the rows of the ``current_runs`` view), so nothing is pivoted at read time. A search's
filter and order come from ``mlflow_filter`` (MLflow's grammar, compiled deny-by-default); a run
that MLflow calls deleted carries the tag ``modeldb.lifecycle_stage = 'deleted'``.

Rows come back as dicts of plain Python values; the server turns them into MLflow's JSON.
"""
from __future__ import annotations

from typing import Any, Iterable

from modeldb.warehouse.base import Warehouse
from modeldb.warehouse.queries.base import render
from modeldb.warehouse.queries.filters import lookup
from modeldb.warehouse.queries.mlflow_filter import compile_filter, compile_order

LIFECYCLE_TAG = "modeldb.lifecycle_stage"
_STAGE = f"ifNull({lookup('tag', LIFECYCLE_TAG, True)}, 'active')"
VIEWS = {"ACTIVE_ONLY": f"{_STAGE} != 'deleted'", "DELETED_ONLY": f"{_STAGE} = 'deleted'", "ALL": "1"}
COLUMNS = ("project", "run_id", "name", "status", "user", "source", "parent_run_id", "started_ts", "ended_ts",
           "param_keys", "param_values", "metric_names", "metric_values", "metric_steps", "metric_vers",
           "tag_keys", "tag_values")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {{db}}.run_state FINAL"

__all__ = ["LIFECYCLE_TAG", "VIEWS", "metric_history", "projects", "runs_by_id", "search", "written_up_to"]


def _rows(warehouse: Warehouse, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    result = warehouse.query(render(sql, warehouse), params)
    return [dict(zip(result.columns, row)) for row in result.rows]


def runs_by_id(warehouse: Warehouse, run_ids: Iterable[str], project: str | None = None) -> dict[str, dict[str, Any]]:
    """The current state of each run asked for that has started, by run id. ``project``, when the
    caller knows it, lets the read use the sort key (project, run_id) instead of every project's rows."""
    ids = sorted(set(run_ids))
    if not ids:
        return {}
    where = "project = %(project)s AND " if project is not None else ""
    rows = _rows(warehouse, f"{_SELECT} WHERE {where}run_id IN (SELECT arrayJoin(%(ids)s)) AND started_ts > 0",
                 {"ids": ids, "project": project})
    return {row["run_id"]: row for row in rows}


def search(warehouse: Warehouse, projects: Iterable[str], filter_string: str, order_by: list[str],
           view: str, offset: int, limit: int) -> list[dict[str, Any]]:
    """Runs of ``projects`` matching MLflow's ``filter_string``, in MLflow's order, ``limit`` from ``offset``.

    ``filter_string`` and ``order_by`` raise ``FilterError`` (the caller's input) before any SQL runs."""
    condition = compile_filter(filter_string) or "1"
    order = compile_order(order_by)
    projects = sorted(set(projects))
    matching = f"started_ts > 0 AND ({VIEWS[view]}) AND ({condition}) ORDER BY {order}"  # after the project
    if len(projects) == 1 and not warehouse.capabilities.parallel_final:
        # One experiment on 18.16, whose FINAL merges every column in one thread: the newest rows as
        # ``render`` reads them (this search at 10,000 runs: 20-30 ms through FINAL, 13 ms so).
        # Where FINAL is parallel (chDB), it is the faster of the two, and stays.
        sql = (f"SELECT {', '.join(COLUMNS)} FROM {{current_runs}} WHERE project = %(project)s{{newest_runs}} AND {matching}"
               f" {{once_runs}}LIMIT {int(offset)}, {int(limit)}")
        return _rows(warehouse, sql, {"project": projects[0]})
    sql = f"{_SELECT} WHERE project IN (SELECT arrayJoin(%(projects)s)) AND {matching} LIMIT {int(offset)}, {int(limit)}"
    return _rows(warehouse, sql, {"projects": projects})


def metric_history(warehouse: Warehouse, project: str, run_id: str, names: Iterable[str]) -> list[dict[str, Any]]:
    """Every point of the run's metric (under any of ``names``, the names it may have been logged
    under), unsliced and unlinked to a model, by step and time."""
    sql = ("SELECT name, value, step, ts FROM {db}.metrics FINAL WHERE project = %(project)s"
           " AND name IN (SELECT arrayJoin(%(names)s)) AND run_id = %(run_id)s AND slice = '' AND model_id = ''"
           " ORDER BY step, ts, event_id")
    return _rows(warehouse, sql, {"project": project, "run_id": run_id, "names": sorted(set(names))})


def projects(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Each project that has a started run: its name, first start and latest start (microseconds)."""
    sql = ("SELECT project, min(started_ts) AS first_ts, max(started_ts) AS last_ts FROM {db}.run_state"
           " WHERE started_ts > 0 GROUP BY project ORDER BY project")
    return _rows(warehouse, sql, {})


def written_up_to(warehouse: Warehouse, run_ids: Iterable[str]) -> dict[str, int]:
    """For each run, the time (microseconds) of the newest event its current row has merged: a
    reader that wrote an event at time t waits until this reaches t (``modeldb server`` on Kafka)."""
    ids = sorted(set(run_ids))
    if not ids:
        return {}
    newest = ("greatest(started_ver, ended_ver, arrayReduce('max', arrayConcat(param_vers, metric_vers, tag_vers,"
              " [toUInt64(0)])))")
    sql = f"SELECT run_id, intDiv(max({newest}), 4096) AS upto FROM {{db}}.run_state WHERE run_id IN (SELECT arrayJoin(%(ids)s)) GROUP BY run_id"
    return {row["run_id"]: int(row["upto"]) for row in _rows(warehouse, sql, {"ids": ids})}
