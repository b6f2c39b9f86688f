"""Every SQL example in the README runs on both paths, and the current-state examples give the answers
the test computes from what it logged.

The examples name the demo's project, ``customer-churn``, and the database ``modeldb``; here they
read a fresh project in the pipeline's own database. Examples written with Map columns run where
the backend has Map (chDB); ClickHouse 18.16 runs the rest, including the arrays' equivalent.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modeldb
import modeldb.sklearn
from tests.integration.conftest import TRACKED_PATHS, autologged
from tests.unit.test_sandbox_policy import readme_examples, uses_map


@pytest.fixture(params=list(TRACKED_PATHS))
def churn(request):
    yield from autologged(request, "readme", modeldb.sklearn, "readme")


def log_project(rng: np.random.Generator) -> dict:
    """Runs with params, metrics and tags, one failed run, and two logistic pipelines with ROC AUC."""
    logged = {}
    for i, c in enumerate((0.01, 0.1, 1.0, 10.0)):
        with modeldb.start_run(name=f"logreg-{i}") as run:
            run.log_params({"C": c})
            run.log_metrics({"accuracy_score": 0.5 + i / 10, "f1_score": 0.4 + i / 10})
            run.set_tag("team", "risk" if i == 0 else "growth")
        logged[f"logreg-{i}"] = (c, 0.5 + i / 10, 0.4 + i / 10)
    with pytest.raises(RuntimeError):
        with modeldb.start_run(name="broken"):
            raise RuntimeError("the data went missing")
    frame = pd.DataFrame({"monthly_charges": rng.normal(70, 20, 200), "tenure": rng.integers(1, 72, 200),
                          "country": rng.choice(["US", "DE", "FR"], 200)})
    y = (frame["monthly_charges"] + rng.normal(0, 10, 200) > 70).astype(int)
    aucs, accuracies = {}, {name: acc for name, (_, acc, _) in logged.items()}
    for c in (0.05, 2.0):
        with modeldb.start_run(name=f"pipeline-C{c}"):
            pipe = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), ["monthly_charges", "tenure"]),
                                                         ("cat", OneHotEncoder(), ["country"])])),
                             ("clf", LogisticRegression(C=c))]).fit(frame, y)
            aucs[c] = roc_auc_score(y, pipe.predict_proba(frame)[:, 1])
            accuracies[f"pipeline-C{c}"] = accuracy_score(y, pipe.predict(frame))
    return {"runs": logged, "aucs": aucs, "accuracies": accuracies}


def test_every_readme_example_runs_and_the_current_state_answers_match(churn):
    logged = log_project(np.random.default_rng(3))
    churn.settle()
    wh = churn.warehouse
    answers = {}
    ran = 0
    for sql in readme_examples(wh.database):
        if uses_map(sql) and not wh.capabilities.maps:
            continue
        text = sql.replace("'customer-churn'", f"'{churn.project}'").replace("'…'", "''")
        answers[sql.split("\n", 1)[0]] = wh.query(text).rows  # through the sandbox, as `modeldb sql` runs it
        ran += 1
    assert ran >= (12 if wh.capabilities.maps else 9), ran

    expected = sorted(logged["accuracies"].items(), key=lambda r: (-r[1], r[0]))[:5]
    for best in (rows for head, rows in answers.items() if head.startswith("-- the best runs")):  # Map and arrays
        got = sorted(best, key=lambda r: (-r[1], r[0]))
        assert [n for n, _ in got] == [n for n, _ in expected] and [a for _, a in got] == pytest.approx(
            [a for _, a in expected])
    failed = next(rows for head, rows in answers.items() if head.startswith("-- failed runs"))
    assert [(name, error) for name, error, _ in failed] == [("broken", "RuntimeError: the data went missing")]
    if wh.capabilities.maps:
        models = next(rows for head, rows in answers.items() if head.startswith("-- models with C above 0.1"))
        got = {(cls, c): auc for _, cls, c, auc in models}
        want = {c: auc for c, auc in logged["aucs"].items() if c > 0.1}
        assert {c for (_, c) in got} == set(want) and all(
            math.isclose(got[(cls, c)], want[c], rel_tol=1e-9) for (cls, c) in got)
        either = next(rows for head, rows in answers.items() if head.startswith("-- runs whose C is at least 1"))
        assert {name for _, name, _ in either} == {"logreg-0", "logreg-2", "logreg-3"}
