"""Shaping query answers for the pages (pure pandas, tested without Streamlit)."""
from __future__ import annotations

from typing import Any

from modeldb.warehouse.queries.models import LOWER_IS_BETTER

PREFERRED = ("accuracy", "accuracy_score", "f1", "f1_score", "roc_auc", "roc_auc_score", "r2", "r2_score",
             "rmse", "mean_squared_error", "loss")


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
        days = activity[activity["project"] == p.project].sort_values("day")
        rows.append({"project": p.project, "experiments": int(p.experiments), "runs": int(p.runs),
                     "models": int(p.models), "main_metric": metric or "", "best_value": value,
                     "best_model": model or "", "held_by": (model or "")[-8:],
                     "last_activity": p.last_activity, "activity": [int(n) for n in days["runs"]]})
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
        "params": ", ".join(f"{k}={v}" for k, v in list(a.params.items())[:12]) + (" …" if len(a.params) > 12 else ""),
        "input columns": ", ".join(a.input_columns), "output columns": ", ".join(a.output_columns),
        "rows in": rows(a.input_dataframe_ids), "rows out": rows(a.output_dataframe_ids),
        "duration_ms": round(float(a.duration_ms), 2)} for n, a in enumerate(actions.itertuples(), 1)])
