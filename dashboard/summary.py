"""Shaping query answers for the pages (pure pandas, tested without Streamlit)."""
from __future__ import annotations

from typing import Any

from modeldb.warehouse.queries.models import LOWER_IS_BETTER

PREFERRED = ("accuracy", "accuracy_score", "f1", "f1_score", "roc_auc", "roc_auc_score", "areaUnderROC", "r2",
             "r2_score", "rmse", "mean_squared_error", "loss")


def lower_is_better(metric: str) -> bool:
    return metric.endswith(LOWER_IS_BETTER)


def main_metric(metrics: Any) -> str | None:
    """A project's headline metric: a well-known one if present, else the one most models have."""
    if metrics is None or metrics.empty:
        return None
    names = list(metrics["metric"])
    for name in PREFERRED:
        if name in names:
            return name
    return str(metrics.sort_values(["models", "metric"], ascending=[False, True])["metric"].iloc[0])


def activity_series(activity: Any, max_points: int = 60) -> list[int]:
    """Runs per hour (per day when the project spans more than two days), gaps filled with zeros, last points only."""
    import pandas as pd

    if activity.empty:
        return []
    counts = activity.assign(hour=pd.to_datetime(activity["hour"])).set_index("hour")["runs"]
    span = counts.index.max() - counts.index.min()
    frequency = "D" if span > pd.Timedelta(days=2) else "h"
    filled = counts.resample(frequency).sum().fillna(0)
    values = [int(v) for v in filled.values[-max_points:]]
    return [0] + values if len(values) == 1 else values


def project_overview(projects: Any, best: Any, activity: Any) -> Any:
    """One row per project: counts, main metric with its best value and model, last activity, daily runs."""
    import pandas as pd

    rows = []
    for p in projects.itertuples():
        metrics = best[best["project"] == p.project]
        metric = main_metric(metrics)
        value = model = None
        if metric:
            m = metrics[metrics["metric"] == metric].iloc[0]
            low = lower_is_better(metric)
            value, model = (m["min_value"], m["min_model"]) if low else (m["max_value"], m["max_model"])
        series = activity_series(activity[activity["project"] == p.project])
        rows.append({"project": p.project, "experiments": int(p.experiments), "runs": int(p.runs),
                     "models": int(p.models), "main_metric": metric or "", "best_value": value,
                     "best_model": model or "", "held_by": (model or "")[-8:],
                     "last_activity": p.last_activity, "activity": series})
    return pd.DataFrame(rows, columns=["project", "experiments", "runs", "models", "main_metric", "best_value",
                                       "best_model", "held_by", "last_activity", "activity"])


def stage_table(actions: Any, frames: Any) -> Any:
    """One row per action: operator, params, input and output columns, row counts and duration."""
    import pandas as pd

    rows_of = {r.dataframe_id: r.n_rows for r in frames.itertuples()}

    def rows(ids: Any) -> str:
        return ", ".join(f"{rows_of[i]:,}" for i in ids if i in rows_of)

    return pd.DataFrame([{
        "stage": n, "action": a.action, "operator": a.operator_class,
        "nested": "stage " + str(a.stage_index) if a.stage_index >= 0 else "",
        "params": ", ".join(f"{k}={v}" for k, v in list(a.params.items())[:12]) + " …" * (len(a.params) > 12),
        "input columns": ", ".join(a.input_columns), "output columns": ", ".join(a.output_columns),
        "rows in": rows(a.input_dataframe_ids), "rows out": rows(a.output_dataframe_ids),
        "duration_ms": round(float(a.duration_ms), 2)} for n, a in enumerate(actions.itertuples(), 1)])


def params_by_interest(keys: Any) -> tuple[list[str], list[str]]:
    """(every param field, most models first; the params that vary, the most varied first).

    A param swept over many values (C) says more than one with two values (verbose); between
    equals, the one that differs in more of the models that have it comes first.
    """
    params = keys[keys["kind"] == "param"].sort_values(["models", "field"], ascending=[False, True])
    varied = params[(params["distinct_values"] >= 2) & (params["models"] >= 2)]
    varied = varied.assign(spread=varied["distinct_values"] / varied["models"],
                           values=varied["distinct_values"].clip(upper=50)).sort_values(
        ["values", "spread", "field"], ascending=[False, False, True])
    return list(params["field"]), list(varied["field"])


def table_order(table: Any, chosen: list[str]) -> list[str]:
    """The models table's column order: what the model is, the chosen fields, then ids and the rest."""
    first = [c for c in ("operator_class", *chosen, "experiment") if c in table.columns]
    return first + [c for c in table.columns if c not in first]


def trace_rows(trace: Any) -> list[dict[str, Any]]:
    """One sampled data item's rows, one per stage, its values spread into columns."""
    rows = []
    for r in trace.itertuples():
        values = r.values.items() if isinstance(r.values, dict) else [("value", r.values)]
        rows.append({"stage": r.stage, "operator": r.operator, "side": r.side, **{str(k): v for k, v in values}})
    return rows
