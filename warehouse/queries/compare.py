"""Two models side by side: params, pipeline stages, features, metrics and training data.

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


def _params(warehouse: Warehouse, project: str, model_id: str) -> dict[str, str]:
    rows = _rows(warehouse, f"""
        SELECT argMax(param_keys, ver), argMax(param_values, ver)
        FROM {{db}}.actions
        WHERE project = %(project)s AND model_id = %(model)s AND action IN {FIT_ACTIONS}
        GROUP BY action_id ORDER BY min(ts) LIMIT 1""", project=project, model=model_id)
    return dict(zip(rows[0][0], rows[0][1])) if rows else {}


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


def _features(warehouse: Warehouse, project: str, model_id: str) -> dict[str, float | None]:
    """Feature -> weight (first row of coef_, or feature_importances_) from the model or its stages."""
    rows = _rows(warehouse, """
        SELECT name, argMax(labels, ver), argMax(values, ver)
        FROM {db}.model_internals
        WHERE project = %(project)s AND name IN ('coef_', 'feature_importances_') AND (model_id = %(model)s
              OR model_id IN (SELECT model_id FROM {db}.models WHERE project = %(project)s
                              AND parent_model_id = %(model)s))
        GROUP BY model_id, name""", project=project, model=model_id)
    out: dict[str, float | None] = {}
    for _name, labels, values in rows:
        for label, value in zip(labels, values):
            out.setdefault(label, round(value, 6))
    if not out:
        names = _rows(warehouse, "SELECT argMax(feature_names, ver) FROM {db}.models "
                                 "WHERE project = %(project)s AND model_id = %(model)s",
                      project=project, model=model_id)
        out = {n: None for n in (names[0][0] if names else [])}
    return out


def _metrics(warehouse: Warehouse, project: str, model_id: str) -> dict[str, float]:
    rows = _rows(warehouse, """
        SELECT metric_keys, metric_values FROM """ + MODEL_BY_ID + """
        WHERE project = %(project)s AND model_id = %(model)s""", project=project, model=model_id)
    return {name: round(value, 6) for name, value in zip(*rows[0])} if rows else {}


def _data(warehouse: Warehouse, project: str, model_id: str) -> dict[str, Any]:
    rows = _rows(warehouse, """
        SELECT argMax(fingerprint, ver), argMax(fingerprint_method, ver), argMax(n_rows, ver),
               argMax(n_columns, ver), argMax(column_names, ver)
        FROM {db}.dataframes
        WHERE project = %(project)s AND dataframe_id IN (
            SELECT argMax(train_dataframe_id, ver) FROM {db}.models
            WHERE project = %(project)s AND model_id = %(model)s)""", project=project, model=model_id)
    if not rows or rows[0][0] == "":
        return {}
    fp, method, n_rows, n_columns, names = rows[0]
    return {"fingerprint": fp, "fingerprint method": method, "rows": n_rows, "columns": n_columns,
            "column names": ", ".join(names[:20]) + (" …" if len(names) > 20 else "")}


def _model(warehouse: Warehouse, project: str, model_id: str) -> dict[str, Any]:
    rows = _rows(warehouse, """
        SELECT argMax(operator_class, ver), argMax(run_id, ver), argMax(size_bytes, ver)
        FROM {db}.models WHERE project = %(project)s AND model_id = %(model)s""", project=project, model=model_id)
    if not rows or rows[0][0] == "":
        raise ValueError(f"no model {model_id!r} in project {project!r}")
    cls, run_id, size = rows[0]
    return {"class": cls, "run": run_id, "size (bytes)": size}


def compare_models(warehouse: Warehouse, project: str, model_a: str, model_b: str) -> dict[str, Any]:
    """{"model", "params", "stages", "features", "metrics", "data"} -> side-by-side DataFrames."""
    out = {"model": _side_by_side(_model(warehouse, project, model_a), _model(warehouse, project, model_b),
                                  ["class", "run", "size (bytes)"])}
    params_a, params_b = _params(warehouse, project, model_a), _params(warehouse, project, model_b)
    out["params"] = _side_by_side(params_a, params_b)
    stages_a = _stages(warehouse, project, model_a, params_a)
    stages_b = _stages(warehouse, project, model_b, params_b)
    out["stages"] = _side_by_side(stages_a, stages_b, sorted(set(stages_a) | set(stages_b),
                                                             key=lambda s: int(s.split()[1])))
    out["features"] = _side_by_side(_features(warehouse, project, model_a), _features(warehouse, project, model_b))
    out["metrics"] = _side_by_side(_metrics(warehouse, project, model_a), _metrics(warehouse, project, model_b))
    out["data"] = _side_by_side(_data(warehouse, project, model_a), _data(warehouse, project, model_b),
                                ["fingerprint", "fingerprint method", "rows", "columns", "column names"])
    return out
