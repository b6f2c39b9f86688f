"""The current-state rows against the state computed, independently, from the event-shaped tables.

The stream processors merge events into ``run_state`` / ``model_state`` as they write. Here the
same answer (metrics by canonical name, with the name each was logged under) is folded from the long tables (``runs``, ``params``, ``metrics``, ``tags``,
``actions``, ``models``), newest event last, and the two must agree for every run and model.
"""
from __future__ import annotations

import math
from typing import Any

from modeldb.core.metric_names import canonical


def _rows(wh: Any, sql: str, database: str, project: str) -> list[tuple]:
    return wh.query(sql.format(db=f"`{database}`"), {"p": project}, readonly=False).rows


def _latest(rows: list[tuple]) -> dict:
    """(entity, key, order, value) rows -> {entity: {key: value}}, the highest order winning."""
    best: dict = {}
    for entity, key, order, value in rows:
        held = best.setdefault(entity, {})
        if key not in held or order > held[key][0]:
            held[key] = (order, value)
    return {entity: {k: v for k, (_, v) in keys.items()} for entity, keys in best.items()}


def expected_runs(wh: Any, database: str, project: str) -> dict[str, dict]:
    lifecycle = _rows(wh, "SELECT DISTINCT run_id, event_type, ts, name, status, error, parent_run_id, experiment "
                          "FROM {db}.runs WHERE project = %(p)s", database, project)
    params = _latest(_rows(wh, "SELECT DISTINCT run_id, key, ts, value FROM {db}.params WHERE project = %(p)s",
                           database, project))
    metrics = _latest([(r, canonical(k), (step, ts), (step, value, k)) for r, k, step, ts, value in _rows(
        wh, "SELECT DISTINCT run_id, name, step, ts, value FROM {db}.metrics WHERE project = %(p)s AND slice = ''",
        database, project)])
    tags = _latest(_rows(wh, "SELECT DISTINCT run_id, key, ts, value FROM {db}.tags WHERE project = %(p)s",
                         database, project))
    out: dict[str, dict] = {}
    for run_id, event_type, ts, name, status, error, parent, experiment in sorted(lifecycle, key=lambda r: r[2]):
        run = out.setdefault(run_id, {"name": "", "status": "", "error": "", "parent_run_id": "",
                                      "experiment": experiment})
        if event_type == "RunStarted":
            run.update(name=name, parent_run_id=parent)
            run["status"] = run["status"] or "RUNNING"
        else:
            run.update(status=status, error=error)
    for run_id, run in out.items():
        run["params"] = params.get(run_id, {})
        run["metrics"] = metrics.get(run_id, {})
        run["tags"] = tags.get(run_id, {})
    return out


def stored_runs(wh: Any, database: str, project: str) -> dict[str, dict]:
    rows = _rows(wh, "SELECT run_id, name, status, error, parent_run_id, experiment, param_keys, param_values, "
                     "metric_keys, metric_steps, metric_values, metric_names, tag_keys, tag_values FROM {db}.current_runs "
                     "WHERE project = %(p)s AND started_ts > 0", database, project)
    return {r[0]: {"name": r[1], "status": r[2], "error": r[3], "parent_run_id": r[4], "experiment": r[5],
                   "params": dict(zip(r[6], r[7])), "metrics": dict(zip(r[8], zip(r[9], r[10], r[11]))),
                   "tags": dict(zip(r[12], r[13]))} for r in rows}


def expected_models(wh: Any, database: str, project: str) -> dict[str, dict]:
    stored = _latest([(m, "stored", ts, (cls, run_id, size)) for m, ts, cls, run_id, size in _rows(
        wh, "SELECT DISTINCT model_id, ts, operator_class, run_id, size_bytes FROM {db}.models WHERE project = %(p)s",
        database, project)])
    params = _latest([(m, k, ts, v) for m, ts, keys, values in _rows(
        wh, "SELECT DISTINCT model_id, ts, param_keys, param_values FROM {db}.actions WHERE project = %(p)s "
            "AND model_id != '' AND action IN ('fit', 'fit_transform', 'fit_predict')", database, project)
        for k, v in zip(keys, values)])
    metrics = _latest([(m, canonical(k), (step, ts), (step, value, k)) for m, k, step, ts, value in _rows(
        wh, "SELECT DISTINCT model_id, name, step, ts, value FROM {db}.metrics WHERE project = %(p)s "
            "AND slice = '' AND model_id != ''", database, project)])
    out = {}
    for model_id, attributes in stored.items():
        cls, run_id, size = attributes["stored"]
        out[model_id] = {"operator_class": cls, "run_id": run_id, "size_bytes": size,
                         "params": params.get(model_id, {}), "metrics": metrics.get(model_id, {})}
    return out


def stored_models(wh: Any, database: str, project: str) -> dict[str, dict]:
    rows = _rows(wh, "SELECT model_id, operator_class, run_id, size_bytes, param_keys, param_values, metric_keys, "
                     "metric_steps, metric_values, metric_names FROM {db}.current_models WHERE project = %(p)s AND size_bytes >= 0",
                 database, project)
    return {r[0]: {"operator_class": r[1], "run_id": r[2], "size_bytes": r[3], "params": dict(zip(r[4], r[5])),
                   "metrics": dict(zip(r[6], zip(r[7], r[8], r[9])))} for r in rows}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def assert_state_matches_events(wh: Any, database: str, project: str) -> int:
    """Every run and stored model of ``project``: its current-state row equals the state folded from its
    events. Returns how many runs were compared (at least one)."""
    want, got = expected_runs(wh, database, project), stored_runs(wh, database, project)
    assert want, f"no runs in {project}"
    assert got.keys() == want.keys(), f"runs: {len(want.keys() - got.keys())} missing, " \
                                      f"{len(got.keys() - want.keys())} unexpected"
    wrong = [r for r in want if not _same(want[r], got[r])]
    assert not wrong, f"{len(wrong)} run(s) differ, e.g. {wrong[0]}: {got[wrong[0]]} != {want[wrong[0]]}"
    models, held = expected_models(wh, database, project), stored_models(wh, database, project)
    assert held.keys() == models.keys(), f"models: {sorted(models.keys() ^ held.keys())[:3]}"
    wrong = [m for m in models if not _same(models[m], held[m])]
    assert not wrong, f"{len(wrong)} model(s) differ, e.g. {wrong[0]}: {held[wrong[0]]} != {models[wrong[0]]}"
    return len(want)
