"""``modeldb demo``: log a small, realistic project, materialize it, answer questions in SQL.

The project: classify tumours in scikit-learn's bundled breast-cancer data.
Three model families are tuned, one run branches off the best logistic
regression, and an SGD model logs its loss curve per epoch. Everything goes
through the public tracking API and the configured transport, then the local
runner materializes it into the warehouse.
"""
from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from modeldb.config import Settings

PROJECT = "tumour-classification"


def _train(console: Console, runs: int) -> None:
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    import modeldb

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=7, stratify=y)
    scaler = StandardScaler().fit(X_train)
    Xs_train, Xs_test = scaler.transform(X_train), scaler.transform(X_test)

    def evaluate(run: Any, model: Any, Xt: Any) -> float:
        proba = model.predict_proba(Xt)[:, 1]
        pred = (proba >= 0.5).astype(int)
        accuracy = accuracy_score(y_test, pred)
        run.log_metrics({"accuracy": accuracy, "f1": f1_score(y_test, pred), "roc_auc": roc_auc_score(y_test, proba)})
        return accuracy

    plans: list[tuple[str, dict]] = []
    for C in (0.01, 0.1, 1.0, 10.0):
        plans.append(("logreg", {"C": C, "penalty": "l2", "scaled": True}))
    for n_estimators, depth in ((50, 3), (100, 5), (200, None), (300, 8)):
        plans.append(("forest", {"n_estimators": n_estimators, "max_depth": depth}))
    for alpha in (1e-4, 1e-3, 1e-2, 1e-1):
        plans.append(("sgd", {"alpha": alpha, "epochs": 30}))
    plans = plans[:max(1, runs)]

    best_logreg: tuple[float, Any] = (-1.0, None)
    with console.status("training and logging runs…") as status:
        for i, (family, params) in enumerate(plans, 1):
            status.update(f"run {i}/{len(plans)}: {family} {params}")
            with modeldb.start_run(name=f"{family}-{i:02d}", experiment=family,
                                   tags={"family": family, "dataset": "breast_cancer"}) as run:
                run.log_params(params)
                run.log_param("train_rows", len(X_train))
                if family == "logreg":
                    model = LogisticRegression(C=params["C"], max_iter=2000).fit(Xs_train, y_train)
                    accuracy = evaluate(run, model, Xs_test)
                    if accuracy > best_logreg[0]:
                        best_logreg = (accuracy, run)
                elif family == "forest":
                    model = RandomForestClassifier(n_estimators=params["n_estimators"], max_depth=params["max_depth"],
                                                   random_state=0, n_jobs=1).fit(X_train, y_train)
                    evaluate(run, model, X_test)
                else:
                    model = SGDClassifier(loss="log_loss", alpha=params["alpha"], random_state=0)
                    classes = np.unique(y_train)
                    for epoch in range(params["epochs"]):
                        model.partial_fit(Xs_train, y_train, classes=classes)
                        run.log_metric("train_loss", log_loss(y_train, model.predict_proba(Xs_train)), step=epoch)
                    evaluate(run, model, Xs_test)
        if best_logreg[1] is not None:
            parent = best_logreg[1]
            status.update("branching the best logistic regression: unscaled features")
            with modeldb.start_run(name="logreg-unscaled-branch", parent=parent, experiment="logreg",
                                   tags={"family": "logreg"}) as run:
                C = 1.0
                run.log_params({"C": C, "penalty": "l2", "scaled": False})
                model = LogisticRegression(C=C, max_iter=5000).fit(X_train, y_train)
                evaluate(run, model, X_test)
                run.annotate("Branch of the best scaled run: does scaling matter for this data?")
    modeldb.flush()


QUESTIONS = [
    ("Which runs did we log, and how did they end?", "runs", {}),
    ("Which models did best on held-out accuracy?", "best_runs", {"metric": "accuracy", "limit": 5}),
    ("How does regularisation (C) relate to ROC AUC?", "param_vs_metric", {"param": "C", "metric": "roc_auc"}),
]


def run_demo(settings: Settings, runs: int, console: Console) -> None:
    import modeldb
    from modeldb.cli import catch_up, render
    from modeldb.warehouse import queries
    from modeldb.warehouse.factory import connect

    modeldb.init(project=PROJECT, home=settings.home, transport=settings.transport, warehouse=settings.warehouse)
    started = time.perf_counter()
    console.rule("[bold]ModelDB demo")
    console.print(f"transport  {settings.transport_uri.redacted}\nwarehouse  {settings.warehouse_uri.redacted}\n")
    _train(console, runs)
    console.print(f"logged {runs + 1} runs in {time.perf_counter() - started:.1f}s")
    if settings.transport_uri.scheme != "file":
        console.print("events are on Kafka: run `modeldb process` to materialize them, then query with `modeldb sql`.")
        return
    warehouse = connect(settings)
    stats = catch_up(settings, warehouse)
    console.print(f"materialized {stats.events:,} events into {warehouse.description}\n")

    history_run = None
    for question, name, params in QUESTIONS:
        query = queries.ALL[name]
        result = query.run(warehouse, project=PROJECT, **params)
        console.rule(f"[bold]{question}")
        console.print(f"[dim]{_show_sql(query.sql, PROJECT, params)}[/dim]", soft_wrap=True)
        if name == "runs":
            total = len(result.rows)
            result.rows = result.rows[-(runs + 1):]  # this demo's runs; earlier demos stay in the warehouse
            history_run = next((row[0] for row in result.rows if str(row[1]).startswith("sgd")), None)
            if total > len(result.rows):
                console.print(f"[dim](the {len(result.rows)} runs of this demo; the project holds {total} "
                              "from every `make demo` so far)[/dim]")
        render(_short_ids(result), "table")
    if history_run:
        result = queries.METRIC_HISTORY.run(warehouse, project=PROJECT, metric="train_loss", run_id=history_run)
        console.rule("[bold]How did the first SGD model's training loss fall?")
        values = [row[1] for row in result.rows]
        console.print(f"[dim]{_show_sql(queries.METRIC_HISTORY.sql, PROJECT, {'metric': 'train_loss', 'run_id': history_run})}[/dim]",
                      soft_wrap=True)
        console.print(_sparkline(values) + f"  {values[0]:.3f} → {values[-1]:.3f} over {len(values)} epochs")
    console.rule()
    console.print(
        "Ask your own questions:\n"
        f"  .venv/bin/modeldb sql \"SELECT key, count() FROM modeldb.run_summary WHERE project = '{PROJECT}' GROUP BY key\"\n",
        soft_wrap=True)
    console.print(
        "Tables and columns: see the README (warehouse section). The data lives in "
        f"{settings.home}. The Streamlit dashboard is not built yet (see the dashboard issue); "
        "until then `modeldb sql` is the way in."
    )


def _short_ids(result: Any) -> Any:
    """Run ids are 32 hex digits; their random tail is enough to tell runs apart on screen."""
    import copy

    shown = copy.copy(result)
    shown.rows = [tuple(f"…{v[-8:]}" if isinstance(v, str) and len(v) == 32 and v.isalnum() else v for v in row)
                  for row in result.rows]
    return shown


def _show_sql(sql: str, project: str, params: dict) -> str:
    text = sql.strip().replace("{db}", "modeldb").replace("%(project)s", f"'{project}'")
    for key, value in params.items():
        text = text.replace(f"%({key})s", repr(value) if isinstance(value, str) else str(value))
    return text


def _sparkline(values: list[float]) -> str:
    bars = "▁▂▃▄▅▆▇█"
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(bars[int((v - low) / span * (len(bars) - 1))] for v in values)
