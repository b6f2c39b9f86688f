"""Pipelines stage by stage: a run's or a model's actions, their dataframes and the sampled rows.

What the dashboard's pipelines view draws. Each read is a point query on the tables' sort keys
(a run's actions, a model's fit and its stages, dataframes by id), so it costs the same with a
hundred runs or a million.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from modeldb.warehouse.base import Warehouse, quote
from modeldb.warehouse.queries.base import FIT_ACTIONS, latest, render
from modeldb.warehouse.queries.filters import FilterError

_ACTION_FIELDS = """
    action_id,
    """ + latest("seq", "action", "operator_class", "model_id", "parent_action_id", "stage_index", "input_dataframe_ids",
             "output_dataframe_ids", "input_columns", "output_columns", "param_keys", "param_values", "duration_ms",
             indent="    ")


def _frame(warehouse: Warehouse, sql: str, **params: Any) -> Any:
    return warehouse.query(render(sql, warehouse), params).to_pandas()


def _with_params(frame: Any) -> Any:
    """``params`` as a dict per action (keys and values come as two arrays)."""
    frame["params"] = [dict(zip(k, v)) for k, v in zip(frame.pop("param_keys"), frame.pop("param_values"))]
    return frame


def run_actions(warehouse: Warehouse, project: str, run_id: str) -> Any:
    """Every action of a run in the order it happened, stages after their pipeline."""
    frame = _frame(warehouse, f"""
        SELECT {_ACTION_FIELDS}
        FROM {{db}}.actions
        WHERE project = %(project)s AND run_id = %(run_id)s
        GROUP BY action_id
        ORDER BY seq, action_id""", project=project, run_id=run_id)
    frame["run_id"] = run_id
    return _with_params(frame)


def model_actions(warehouse: Warehouse, project: str, model_id: str) -> Any:
    """The actions that made and used a model: its fit, its stages' actions, and its predicts and scores.

    Reads the model's run (one point query for the run id, one for its actions), then keeps the
    model's own actions and those whose parent is one of them.
    """
    run = warehouse.query(render("""
        SELECT argMax(run_id, ver) FROM {db}.models WHERE project = %(project)s AND model_id = %(model)s""",
                                 warehouse), {"project": project, "model": model_id}).scalar()
    if not run:
        raise FilterError(f"no model {model_id!r} in project {project!r}")
    actions = run_actions(warehouse, project, run)
    own = set(actions.loc[actions["model_id"] == model_id, "action_id"])
    keep = actions["action_id"].isin(own) | actions["parent_action_id"].isin(own)
    return actions[keep].reset_index(drop=True)


def dataframes(warehouse: Warehouse, project: str, ids: Iterable[str]) -> Any:
    """Dataframes by id: fingerprint, shape, columns and the sampled rows (``sample``: key -> row dict)."""
    ids = sorted({i for i in ids if i})
    frame = _frame(warehouse, f"""
        SELECT dataframe_id,
               {latest("fingerprint", "fingerprint_method", "n_rows", "n_columns", "column_names", "sample_keys",
                       "sample_rows_json", indent="               ")}
        FROM {{db}}.dataframes
        WHERE project = %(project)s AND dataframe_id IN ({', '.join(quote(i) for i in ids) or "''"})
        GROUP BY dataframe_id""", project=project)
    frame["sample"] = [{k: _row(r) for k, r in zip(keys, rows)}
                       for keys, rows in zip(frame.pop("sample_keys"), frame.pop("sample_rows_json"))]
    return frame


def _row(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def sample_trace(actions: Any, frames: Any) -> Any:
    """The sampled rows followed through the stages: one row per (stage, row key) with that stage's output.

    Rows are matched by key, which the trackers keep through transforms and splits, so the same
    data item can be read across the pipeline. A stage's input is shown only when no earlier
    stage produced it (the source, a label column): otherwise it is that stage's output.
    Stages without a sampled output are skipped.
    """
    import pandas as pd

    by_id = {row.dataframe_id: row.sample for row in frames.itertuples()}
    out, shown = [], set()
    for number, action in enumerate(actions.itertuples(), 1):
        for side, ids in (("input", action.input_dataframe_ids), ("output", action.output_dataframe_ids)):
            for dataframe_id in ids:
                if side == "input" and dataframe_id in shown:
                    continue
                shown.add(dataframe_id)
                for key, row in by_id.get(dataframe_id, {}).items():
                    out.append({"stage": number, "operator": f"{action.action} {action.operator_class}",
                                "action": action.action, "side": side, "row_key": key, "values": row})
    return pd.DataFrame(out, columns=["stage", "operator", "action", "side", "row_key", "values"])


def trace_keys(trace: Any) -> list[str]:
    """The sampled row keys, those followed through the most stages first (a test row that reached the
    prediction before a training row that stopped at the features)."""
    outputs = trace[trace["side"] == "output"]
    depth = outputs.groupby(outputs["row_key"].astype(str))["stage"].nunique().to_dict()
    keys = {str(k) for k in trace["row_key"]}
    return sorted(keys, key=lambda k: (-depth.get(k, 0), len(k), k))


DRILLDOWN_COLUMNS = ["stage", "column", "value", "kind"]
ROW_ACTIONS = ("split",)  # actions that choose rows and change no value: their outputs still show the source


def row_drilldown(trace: Any, key: str) -> Any:
    """What each stage adds to one sampled row: one row per value, with the stage that produced it.

    Reads ``sample_trace``'s rows for ``key`` in stage order. A value first seen in a stage's input
    that no earlier stage produced, or in a split's output, is the source's (``stage`` is ``source``). A stage's output adds
    the columns not seen before and those whose value it changed (a scaled ``age``); a column
    another stage already produced is not repeated (a refit in a fold, the same transform run
    again for ``predict_proba``). Vectors are spread into their slots: ``features[country_vec_US]``
    when the tracker recorded the slot names, ``probability[1]`` by index otherwise.
    ``kind`` says what the value is: source, derived, vector slot, prediction, probability or score.
    """
    import pandas as pd

    rows = trace[trace["row_key"].astype(str) == str(key)]
    seen: dict[str, Any] = {}
    produced: set[str] = set()
    sources, added = [], []
    for r in rows.itertuples():
        values = r.values if isinstance(r.values, dict) else {"value": r.values}
        passing = r.side == "input" or getattr(r, "action", "") in ROW_ACTIONS  # the rows as they came in
        stage = "source" if passing else f"{r.stage} · {r.operator}"
        for name, value, slotted in _cells(values):
            if passing:
                if name not in seen:
                    seen[name] = value
                    sources.append({"stage": stage, "column": name, "value": value, "kind": "source"})
                continue
            if name in produced or (name in seen and seen[name] == value):
                continue
            seen[name] = value
            produced.add(name)
            added.append({"stage": stage, "column": name, "value": value,
                          "kind": _kind(name, getattr(r, "action", ""), slotted)})
    return pd.DataFrame(sources + added, columns=DRILLDOWN_COLUMNS)


def _cells(values: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    """(name, value, is a vector slot) for each field of a sample row, vectors spread into their slots."""
    out = []
    for column, value in values.items():
        column = str(column)
        if isinstance(value, dict):
            out += [(_slot_name(column, str(slot)), v, True) for slot, v in value.items()]
        elif isinstance(value, list):
            out += [(f"{column}[{i}]", v, True) for i, v in enumerate(value)]
        else:
            out.append((column, value, False))
    return out


def _slot_name(column: str, slot: str) -> str:
    return slot if slot.startswith(f"{column}[") else f"{column}[{slot}]"  # Spark names unnamed slots col[i]


def _kind(name: str, action: str, slotted: bool) -> str:
    column = name.split("[", 1)[0].lower()
    if action == "predict" or column == "prediction":
        return "prediction"
    if action == "predict_proba" or column == "probability":
        return "probability"
    if action == "decision_function" or column == "rawprediction":
        return "score"
    return "vector slot" if slotted else "derived"


def align(pipelines: dict[str, Any]) -> Any:
    """Two or more pipelines stage by stage: one row per stage position, one column per pipeline.

    Stages line up by position among the fitted stages (a pipeline's, and its column
    transformer's, in the order they ran), else the fit actions, else every action. ``differs`` marks a position where the operators, params or columns differ.
    """
    import pandas as pd

    def stages(actions: Any) -> list[dict[str, Any]]:
        fitting = actions["action"].isin(FIT_ACTIONS)
        staged = actions[fitting & (actions["stage_index"] >= 0)]  # the fitted stages, not later transforms
        chosen = staged if len(staged) else actions[fitting] if fitting.any() else actions
        return [{"operator": f"{a.action} {a.operator_class}", "params": a.params,
                 "columns": list(a.output_columns) or list(a.input_columns)} for a in chosen.itertuples()]

    lined = {name: stages(actions) for name, actions in pipelines.items()}
    depth = max((len(s) for s in lined.values()), default=0)
    rows = []
    for i in range(depth):
        cells = {name: s[i] if i < len(s) else None for name, s in lined.items()}
        present = [c for c in cells.values() if c is not None]
        differs = {part: len({json.dumps(c[part], sort_keys=True, default=str) for c in present}) > 1
                   or len(present) < len(cells) for part in ("operator", "params", "columns")}
        row = {"stage": i + 1}
        for name, cell in cells.items():
            row[name] = cell["operator"] if cell else "—"
        row.update({f"{part} differ": flag for part, flag in differs.items()})
        row["differences"] = _differences([c for c in cells.values()], list(cells))
        rows.append(row)
    return pd.DataFrame(rows)


def _differences(cells: list[dict[str, Any] | None], names: list[str]) -> str:
    """The params that differ at one stage, as ``C: 0.1 | 1.0``."""
    present = [c for c in cells if c is not None]
    keys = sorted({k for c in present for k in c["params"]})
    parts = []
    for key in keys:
        values = [("—" if c is None else str(c["params"].get(key, "—"))) for c in cells]
        if len(set(values)) > 1:
            parts.append(f"{key}: {' | '.join(values)}")
    return "; ".join(parts[:8]) + (f" (+{len(parts) - 8} more)" if len(parts) > 8 else "")
