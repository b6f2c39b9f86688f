"""Many models side by side: every param and metric of each, with the ones that differ marked.

One row per item (``params.C``, ``metrics.accuracy_score``; a run's own params and metrics, logged
by hand or by cross-validation, as ``run params.`` and ``run metrics.``), one column per model
(by id), and ``differs``: whether the models' values are not all the same (a missing value counts
as a value). Two point reads on the current state, whatever the number of models.
"""
from __future__ import annotations

from typing import Any, Iterable

from modeldb.warehouse.base import Warehouse
from modeldb.warehouse.queries.base import MODEL_BY_ID, RUN_BY_ID, render

MAX_MODELS = 50
KINDS = ("params", "metrics", "run params", "run metrics")

_MODELS = """
    SELECT model_id, run_id, param_keys, param_values, metric_keys, metric_values
    FROM """ + MODEL_BY_ID + """
    WHERE project = %(project)s AND model_id IN (SELECT arrayJoin(%(ids)s))"""

_RUNS = """
    SELECT run_id, param_keys, param_values, metric_keys, metric_values
    FROM """ + RUN_BY_ID + """
    WHERE project = %(project)s AND run_id IN (SELECT arrayJoin(%(runs)s))"""


def _number(value: float) -> Any:
    return value if value == value else "NaN"


def compare_many(warehouse: Warehouse, project: str, model_ids: Iterable[str]) -> Any:
    """``item`` and ``kind``, one column per model id (in the order given), and ``differs``."""
    import pandas as pd

    ids = list(dict.fromkeys(str(i) for i in model_ids if i))
    if not ids:
        raise ValueError("choose at least one model")
    if len(ids) > MAX_MODELS:
        raise ValueError(f"at most {MAX_MODELS} models at once, got {len(ids)}")
    models = {r[0]: r for r in warehouse.query(render(_MODELS, warehouse), {"project": project, "ids": ids}).rows}
    ids = [i for i in ids if i in models]
    runs = {r[0]: r for r in warehouse.query(render(_RUNS, warehouse), {
        "project": project, "runs": sorted({models[i][1] for i in ids}) or [""]}).rows}
    values: dict[tuple[str, str], dict[str, Any]] = {}
    for model_id in ids:
        _, run_id, pk, pv, mk, mv = models[model_id]
        run = runs.get(run_id, (run_id, [], [], [], []))
        for kind, keys, vals in (("params", pk, pv), ("metrics", mk, [_number(v) for v in mv]),
                                 ("run params", run[1], run[2]),
                                 ("run metrics", run[3], [_number(v) for v in run[4]])):
            for key, value in zip(keys, vals):
                values.setdefault((kind, key), {})[model_id] = value
    order = sorted(values, key=lambda item: (KINDS.index(item[0]), item[1]))
    rows = []
    for kind, key in order:
        row = values[(kind, key)]
        cells = [row.get(i) for i in ids]
        texts = {"" if c is None else str(c) for c in cells}
        rows.append({"item": f"{kind}.{key}", "kind": kind, **{i: c for i, c in zip(ids, cells)},
                     "differs": len(texts) > 1})
    return pd.DataFrame(rows, columns=["item", "kind", *ids, "differs"])
