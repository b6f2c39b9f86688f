"""Two models side by side: params, pipeline stages, features, metrics and training data.

Both models' current-state rows are read at once, and each other part is one read for both.

Each part is a DataFrame with one row per item (``item``), the two models'
values in ``a`` and ``b``, and ``differs``. A pipeline's features and
internals are read from the pipeline and its stage models.
"""
from __future__ import annotations

import json
from typing import Any

from modeldb.warehouse.base import Warehouse, quote
from modeldb.warehouse.queries.base import FIT_ACTIONS as FIT
from modeldb.warehouse.queries.base import MODEL_BY_ID, render

FIT_ACTIONS = "(" + ", ".join(quote(a) for a in FIT) + ")"


def _rows(warehouse: Warehouse, sql: str, **params: Any) -> list[tuple]:
    return warehouse.query(render(sql, warehouse), params).rows


def _side_by_side(a: dict[str, Any], b: dict[str, Any], order: list[str] | None = None) -> Any:
    import pandas as pd

    items = order or sorted(set(a) | set(b))
    frame = pd.DataFrame({"item": items, "a": [a.get(i) for i in items], "b": [b.get(i) for i in items]})
    frame["differs"] = [_text(x) != _text(y) for x, y in zip(frame["a"], frame["b"])]
    return frame


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _states(warehouse: Warehouse, project: str, ids: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """Each model's current-state row (one read for both): class, run, size, params, metrics, data."""
    rows = _rows(warehouse, """
        SELECT model_id, operator_class, run_id, size_bytes, param_keys, param_values, metric_keys, metric_values,
               train_dataframe_id, feature_names
        FROM """ + MODEL_BY_ID + """
        WHERE project = %(project)s AND model_id IN (SELECT arrayJoin(%(ids)s)) AND operator_class != ''""",
                 project=project, ids=list(ids))
    names = ("class", "run", "size", "param_keys", "param_values", "metric_keys", "metric_values", "data", "features")
    states = {row[0]: dict(zip(names, row[1:])) for row in rows}
    for model_id in ids:
        if model_id not in states:
            raise ValueError(f"no model {model_id!r} in project {project!r}")
    return states


def _stages(warehouse: Warehouse, project: str, model_id: str, params: dict[str, str]) -> dict[str, str]:
    """Stage -> "name: Class", from a pipeline's `steps` param, else from its tracked stage actions."""
    try:
        steps = json.loads(params.get("steps", "[]"))
        if steps:
            return {f"stage {i}": f"{name}: {cls}" for i, (name, cls) in enumerate(steps)}
    except (ValueError, TypeError):
        pass
    rows = _rows(warehouse, f"""
        SELECT argMax(stage_index, ver) AS stage, argMax(operator_class, ver)
        FROM {{db}}.actions
        WHERE project = %(project)s AND action IN {FIT_ACTIONS} AND stage_index >= 0 AND parent_action_id IN (
            SELECT action_id FROM {{db}}.actions
            WHERE project = %(project)s AND model_id = %(model)s AND action IN {FIT_ACTIONS})
        GROUP BY action_id ORDER BY stage""", project=project, model=model_id)
    return {f"stage {stage}": cls for stage, cls in rows}


def _features(warehouse: Warehouse, project: str, states: dict[str, dict[str, Any]]) -> dict[str, dict]:
    """Feature -> weight (first row of coef_, or feature_importances_) from the model or its stages;
    without either, the model's feature names with no weight."""
    rows = _rows(warehouse, """
        SELECT if(model_id IN (SELECT arrayJoin(%(ids)s)), model_id, parent_model_id) AS owner, name,
               argMax(labels, ver), argMax(values, ver)
        FROM {db}.model_internals
        LEFT JOIN (SELECT DISTINCT model_id, parent_model_id FROM {db}.model_state  -- a stage's parent is
                   WHERE project = %(project)s AND parent_model_id IN (SELECT arrayJoin(%(ids)s))  -- for good
                  ) AS stage USING (model_id)
        WHERE project = %(project)s AND name IN ('coef_', 'feature_importances_')
              AND (model_id IN (SELECT arrayJoin(%(ids)s)) OR parent_model_id IN (SELECT arrayJoin(%(ids)s)))
        GROUP BY owner, model_id, name""", project=project, ids=list(states))
    out: dict[str, dict] = {model_id: {} for model_id in states}
    for owner, _name, labels, values in rows:
        for label, value in zip(labels, values):
            out[owner].setdefault(label, round(value, 6))
    for model_id, state in states.items():
        out[model_id] = out[model_id] or {n: None for n in state["features"]}
    return out


def _data(warehouse: Warehouse, project: str, states: dict[str, dict[str, Any]]) -> dict[str, dict]:
    ids = sorted({s["data"] for s in states.values() if s["data"]})
    rows = _rows(warehouse, """
        SELECT dataframe_id, argMax(fingerprint, ver), argMax(fingerprint_method, ver), argMax(n_rows, ver),
               argMax(n_columns, ver), argMax(column_names, ver)
        FROM {db}.dataframes
        WHERE project = %(project)s AND dataframe_id IN (SELECT arrayJoin(%(ids)s))
        GROUP BY dataframe_id""", project=project, ids=ids) if ids else []
    frames = {}
    for dataframe_id, fp, method, n_rows, n_columns, names in rows:
        if fp:
            frames[dataframe_id] = {"fingerprint": fp, "fingerprint method": method, "rows": n_rows,
                                    "columns": n_columns,
                                    "column names": ", ".join(names[:20]) + (" …" if len(names) > 20 else "")}
    return {model_id: frames.get(state["data"], {}) for model_id, state in states.items()}


def compare_models(warehouse: Warehouse, project: str, model_a: str, model_b: str) -> dict[str, Any]:
    """{"model", "params", "stages", "features", "metrics", "data"} -> side-by-side DataFrames."""
    states = _states(warehouse, project, (model_a, model_b))
    a, b = states[model_a], states[model_b]
    out = {"model": _side_by_side(*({"class": s["class"], "run": s["run"], "size (bytes)": s["size"]} for s in (a, b)),
                                  ["class", "run", "size (bytes)"])}
    params_a, params_b = (dict(zip(s["param_keys"], s["param_values"])) for s in (a, b))
    out["params"] = _side_by_side(params_a, params_b)
    stages_a = _stages(warehouse, project, model_a, params_a)
    stages_b = _stages(warehouse, project, model_b, params_b)
    out["stages"] = _side_by_side(stages_a, stages_b, sorted(set(stages_a) | set(stages_b),
                                                             key=lambda s: int(s.split()[1])))
    features = _features(warehouse, project, states)
    out["features"] = _side_by_side(features[model_a], features[model_b])
    out["metrics"] = _side_by_side(*({n: round(v, 6) for n, v in zip(s["metric_keys"], s["metric_values"])}
                                     for s in (a, b)))
    data = _data(warehouse, project, states)
    out["data"] = _side_by_side(data[model_a], data[model_b],
                                ["fingerprint", "fingerprint method", "rows", "columns", "column names"])
    return out
