"""``modeldb demo``: track a realistic scikit-learn and Spark ML project, materialize it, answer the questions.

The project (``modeldb.devtools.demo_project``) predicts customer churn with plain
scikit-learn under ``modeldb.sklearn.autolog()``: pipelines with a
ColumnTransformer, a cross-validation, a grid search, gradient boosting, and
one run branched off the baseline without a feature that turned out to be
miscomputed. When Java is present, the same data is also modelled with
pyspark.ml under ``modeldb.spark.autolog()`` (``modeldb.devtools.demo_spark``). The local runner then materializes the events and the named
queries answer the paper's three questions.
"""
from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from modeldb.core.config import Settings
from modeldb.devtools.demo_project import BAD_COLUMN, PROJECT


def run_demo(settings: Settings, runs: int, console: Console) -> None:
    import modeldb
    from modeldb.devtools import demo_project
    from modeldb.embedded import catch_up
    from modeldb.warehouse.factory import connect

    modeldb.init(project=PROJECT, home=settings.home, transport=settings.transport, warehouse=settings.warehouse,
                 artifacts=settings.artifacts)
    started = time.perf_counter()
    console.rule("[bold]ModelDB demo: customer churn, tracked by modeldb.sklearn.autolog() and modeldb.spark.autolog()")
    console.print(f"transport  {settings.transport_uri.redacted}\nwarehouse  {settings.warehouse_uri.redacted}\n"
                  f"artifacts  {settings.artifacts}\n")
    from modeldb.devtools import demo_spark

    no_spark = demo_spark.available()
    if no_spark:
        console.print(f"[yellow]The Spark ML part is skipped: {no_spark}.[/yellow]")
    with console.status("training…") as status:
        names = demo_project.train(max(0, runs - 5), lambda text: status.update(f"training and tracking: {text}"),
                                   spark=no_spark is None)
    console.print(f"tracked {len(names)} runs in {time.perf_counter() - started:.1f}s")
    if settings.transport_uri.scheme != "file":
        console.print("events are on Kafka: run `modeldb process` to materialize them, then query with `modeldb sql`.")
        return
    warehouse = connect(settings)
    stats = catch_up(settings, warehouse)
    console.print(f"materialized {stats.events:,} events into {warehouse.description}\n")
    _answer(console, warehouse, names)
    console.rule()
    console.print(
        "Ask your own questions:\n"
        f"  .venv/bin/modeldb sql \"SELECT operator_class, count() FROM modeldb.models WHERE project = '{PROJECT}' "
        "GROUP BY operator_class\"\n", soft_wrap=True)
    console.print(
        "Tables and columns: `.venv/bin/modeldb schema`, or the README (warehouse section). The data lives in "
        f"{settings.home}.\n")
    console.print(
        "[bold]Open the dashboard[/bold] on what was just tracked (pipelines, models, charts, lineage, SQL):\n"
        "  .venv/bin/modeldb dashboard        then open http://127.0.0.1:8501 in your browser (Ctrl-C stops it)",
        soft_wrap=True)


def _answer(console: Console, warehouse: Any, names: list[str]) -> None:
    from modeldb.warehouse import queries

    runs = queries.RUNS.frame(warehouse, project=PROJECT)
    runs = runs[runs.name.isin(names)].drop_duplicates("name", keep="last")
    run_names = dict(zip(runs.run_id, runs.name))
    console.rule("[bold]The runs of this demo, with their version tree")
    shown = runs[["run_id", "name", "experiment", "status", "parent_run_id", "duration_ms"]].copy()
    shown["parent_run_id"] = [run_names.get(p, p) for p in shown.parent_run_id]
    _table(console, shown.rename(columns={"parent_run_id": "branched from"}))

    console.rule(f"[bold]1. Which models were built using `{BAD_COLUMN}`, which turned out to be miscomputed?")
    console.print(f"[dim]{_show_sql(queries.MODELS_USING_COLUMN.sql, {'column': BAD_COLUMN})}[/dim]", soft_wrap=True)
    used = queries.MODELS_USING_COLUMN.frame(warehouse, project=PROJECT, column=BAD_COLUMN)
    used = used[used.run_id.isin(run_names)]
    used["run"] = [run_names[r] for r in used.run_id]
    used["how"] = ["directly" if d else f"via {p[0]}" for d, p in zip(used.direct, used.paths)]
    inner = (used.parent_model_id != "") & (used.direct == 1)  # parts of the models above
    _table(console, used[~inner][["model_id", "operator_class", "run", "how"]])
    if inner.any():
        console.print(f"[dim](and {int(inner.sum())} parts of those models read it directly: pipeline stages and "
                      "the grid search's refitted winner)[/dim]")
    clean = sorted(set(run_names.values()) - set(used.run))
    console.print(f"runs whose models never saw it: {', '.join(clean) or 'none'}")

    console.rule("[bold]2. Which model performed best on customers in the US?")
    console.print("[dim]modeldb.warehouse.queries.best_on_slice(wh, project, \"country = 'US'\"): accuracy computed "
                  "in SQL over the stored prediction rows of every model[/dim]", soft_wrap=True)
    us = queries.best_on_slice(warehouse, PROJECT, "country = 'US'", limit=50)
    us = us[us.run_id.isin(run_names)].head(5)
    us["run"] = [run_names[r] for r in us.run_id]
    _table(console, us[["model_id", "operator_class", "run", "rows", "accuracy"]])

    top = queries.best_models(warehouse, PROJECT, "accuracy_score", limit=50)
    top = top[top.run_id.isin(run_names)].head(2)
    if len(top) < 2:
        return
    a, b = top.model_id.tolist()
    console.rule(f"[bold]3. How do the two top models compare? ({run_names[top.run_id.iloc[0]]} vs "
                 f"{run_names[top.run_id.iloc[1]]})")
    diff = queries.compare_models(warehouse, PROJECT, a, b)
    for part in ("model", "metrics", "stages", "params", "features", "data"):
        frame = diff[part]
        if part == "params":
            frame = frame[frame.differs & ~frame.item.str.endswith(("memory", "verbose"))]
        if part == "features":
            frame = frame.assign(weight=frame[["a", "b"]].abs().max(axis=1)).sort_values("weight", ascending=False)
            frame = frame.drop(columns="weight").head(8)
        console.print(f"[bold]{part}[/bold]" + (" (only those that differ)" if part == "params" else "")
                      + (" (largest weights of the final estimators)" if part == "features" else ""))
        _table(console, frame)


def _table(console: Console, frame: Any) -> None:
    from modeldb.core.display import print_table
    from modeldb.warehouse.base import Result

    rows = [tuple(_plain(v) for v in row) for row in frame.itertuples(index=False, name=None)]
    print_table(console, _short_ids(Result(list(frame.columns), [], rows)))


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return value


def _short_ids(result: Any) -> Any:
    """Run ids are 32 hex digits; their random tail is enough to tell runs apart on screen."""
    import copy

    shown = copy.copy(result)
    shown.rows = [tuple(f"…{v[-8:]}" if isinstance(v, str) and len(v) == 32 and v.isalnum() else v for v in row)
                  for row in result.rows]
    return shown


def _show_sql(sql: str, params: dict, project: str = PROJECT) -> str:
    text = sql.strip().replace("{db}", "modeldb").replace("%(project)s", f"'{project}'")
    for key, value in params.items():
        text = text.replace(f"%({key})s", repr(value) if isinstance(value, str) else str(value))
    return text
