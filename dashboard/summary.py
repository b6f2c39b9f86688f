"""Shaping query answers for the pages (pure pandas, tested without Streamlit)."""
from __future__ import annotations

import json
from typing import Any

from modeldb.warehouse.queries.models import metric_lower_is_better

PREFERRED = ("accuracy", "f1", "roc_auc", "r2", "rmse", "mse", "loss")  # canonical names (core.metric_names)


def lower_is_better(metric: str) -> bool:
    return metric_lower_is_better(metric)


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


def project_overview(projects: Any, best: Any, activity: Any, labels: dict[str, str] | None = None) -> Any:
    """One row per project: counts, main metric with its best value and model, last activity, daily runs.

    ``held_by`` is the best model's label (run name and role, from ``labels``), else the end of its id.
    """
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
                     "best_model": model or "",
                     "held_by": (labels or {}).get(model or "") or (f"…{model[-8:]}" if model else ""),
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


ID_COLUMNS = ("model_id", "run_id", "parent_model_id", "train_dataframe_id", "dataframe_id", "best_model_id")


def with_names(table: Any, names: Any, id_column: str = "model_id") -> Any:
    """``table`` with each model's label, role and run name in front (``names``: from ``model_names``)."""
    table = table.copy()
    known = names.set_index("model_id") if len(names) else None
    ids = table[id_column] if id_column in table else []

    def column(field: str, fallback: Any) -> list[str]:
        if known is None:
            return [fallback(i) for i in ids]
        return [known[field].get(i, fallback(i)) for i in ids]

    table.insert(0, "model", column("label", lambda i: f"…{str(i)[-8:]}"))
    table.insert(1, "role", column("role", lambda i: ""))
    table.insert(2, "run", column("run_name", lambda i: ""))
    return table


def with_times(table: Any, columns: tuple[str, ...] = ("created_ts", "started_ts", "ended_ts")) -> Any:
    """``table`` with its event times (microseconds since the epoch, UTC) as datetimes a grid shows as dates."""
    import pandas as pd

    present = [c for c in columns if c in table.columns]
    if not present:
        return table
    return table.assign(**{c: pd.to_datetime(table[c], unit="us", utc=True) for c in present})


def table_order(table: Any, chosen: list[str], show_ids: bool = False) -> list[str]:
    """A table's column order: what the model is (its ids next to it, when asked for), the chosen fields, the rest.

    Ids are left out unless ``show_ids``: names say what a model is, ids are for copying.
    """
    ids = [c for c in ID_COLUMNS if c in table.columns] if show_ids else []
    first = [c for c in ("model", *ids, "role", "operator_class", *chosen, "run", "experiment") if c in table.columns]
    return first + [c for c in table.columns if c not in first and c not in ID_COLUMNS]


def trace_rows(trace: Any) -> list[dict[str, Any]]:
    """One sampled data item's rows, one per stage, its values spread into columns."""
    rows = []
    for r in trace.itertuples():
        values = r.values.items() if isinstance(r.values, dict) else [("value", r.values)]
        rows.append({"stage": r.stage, "operator": r.operator, "side": r.side, **{str(k): v for k, v in values}})
    return rows


def drilldown_rows(drill: Any) -> list[dict[str, str]]:
    """``row_drilldown``'s values as text, one column of them: a table cell holds an age, a country and a
    probability alike (a column of mixed types cannot go to the browser as Arrow)."""
    return [{"stage": r.stage, "column": r.column, "value": _cell_text(r.value), "kind": r.kind}
            for r in drill.itertuples()]


KIND_NOUNS = {"derived": "derived column"}


def drilldown_caption(drill: Any) -> str:
    """``12 values from the source; 18 added by 5 stages (3 vector slots, a prediction, …)``."""
    source = int((drill["kind"] == "source").sum())
    added = drill[drill["kind"] != "source"]
    kinds = added["kind"].value_counts()
    parts = ", ".join(f"{n} {_plural(KIND_NOUNS.get(kind, kind), n)}" for kind, n in kinds.items())
    stages = added["stage"].nunique()
    return (f"{source} {_plural('value', source)} from the source; {len(added)} added by {stages} "
            f"{_plural('stage', stages)}" + (f" ({parts})" if parts else ""))


def _plural(word: str, n: int) -> str:
    if n == 1:
        return word
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def _cell_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, float):
        return value if isinstance(value, str) else json.dumps(value, default=str)
    return f"{value:.6g}"


def metric_help(keys: Any) -> dict[str, str]:
    """Each metric field's tooltip: the names it was logged under, where that is not just its own name."""
    out = {}
    for row in keys[keys["kind"] == "metric"].itertuples():
        logged = [str(n) for n in row.logged_as]
        if logged and logged != [row.key]:
            out[row.field] = f"{row.field}: logged as {', '.join(logged)} (one metric family, see the README)"
    return out
