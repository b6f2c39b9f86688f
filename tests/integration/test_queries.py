"""Every named query on data written through the real pipeline, on chDB and the ClickHouse server.

The data: runs logged by hand (params, metrics with steps, tags, a branch) and models tracked by
autolog. Every event is then delivered a second time; every answer must stay the same.
"""
from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modeldb
import modeldb.sklearn
from modeldb.warehouse import queries as Q
from modeldb.warehouse.queries import mlflow_runs
from tests.integration.conftest import unique

PATHS = {"file+chdb": "embedded_pipeline", "kafka+clickhouse": "kafka_pipeline"}


def log_project() -> dict:
    """Runs by hand (params, metric steps, tags, a branch) and autologged models, in the configured project."""
    runs = {}
    for i, (C, penalty, team) in enumerate([(0.01, "l2", "risk"), (0.1, "l2", "risk"), (1.0, "l1", "growth"),
                                            (10.0, "l1", "growth")]):
        tags = {"team": team, "note": "50%(project)s {db}"} if i == 0 else {"team": team}  # text, never SQL
        with modeldb.start_run(name=f"lr-{i}", tags=tags) as run:
            run.log_params({"C": C, "penalty": penalty})
            for step in range(4):
                run.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            run.log_metrics({"val_accuracy": 0.7 + 0.05 * i, "val_f1": 0.9 - 0.05 * i})
        runs[run.name] = run
    with modeldb.start_run(name="lr-branch", parent=runs["lr-1"], branch_seq=3) as branch:
        branch.log_params({"C": 0.2, "penalty": "l2"})
        branch.log_metrics({"val_accuracy": 0.99, "val_f1": 0.5})
    runs["lr-branch"] = branch

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.integers(18, 80, 400), "country": rng.choice(["US", "DE"], 400)})
    y = (X.age + (X.country == "US") * 15 + rng.normal(0, 5, 400) > 55).astype(int)
    with modeldb.sklearn.autolog(), modeldb.start_run(name="models"):
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        for C in (0.01, 1.0):
            model = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), ["age"]),
                                                          ("cat", OneHotEncoder(), ["country"])])),
                              ("clf", LogisticRegression(C=C))]).fit(X_train, y_train)
            predicted = model.predict(X_test)
            accuracy_score(y_test, predicted)
            f1_score(y_test, predicted)
    modeldb.flush()
    return runs


@pytest.fixture(scope="module", params=list(PATHS))
def loaded(request):
    """One project per path, logged once; the tests read it (one adds rows that must change no answer)."""
    pipeline = request.getfixturevalue(PATHS[request.param])
    project = unique("q")
    pipeline.init(project)
    runs = log_project()
    pipeline.settle()
    first = answers(pipeline.warehouse, project, runs)

    wh = pipeline.warehouse
    bodies = [base64.b64decode(b) for (b,) in wh.query(
        f"SELECT body FROM `{wh.database}`.events_raw WHERE project = %(p)s", {"p": project}).rows]
    pipeline.publish_raw(bodies)
    pipeline.settle()
    return pipeline.warehouse, project, runs, first


def answers(wh, project, runs):
    models = Q.search_models(wh, project, where="model.parent_model_id = ''", order_by="params.clf__C")
    a, b = models.model_id.tolist()[:2]
    return {
        "projects": Q.PROJECTS.frame(wh).query("project == @project").to_dict("records"),
        "project_metrics": Q.PROJECT_METRICS.frame(wh, project=project).to_dict("records"),
        "tableau": Q.param_vs_metric_agg(wh, project, "C", "val_f1", "mean", "run").to_dict("records"),
        "tableau_models": Q.param_vs_metric_agg(wh, project, "clf__C", "accuracy_score", "max").to_dict("records"),
        "runs_or": Q.search_runs(wh, project, where="params.C >= 1 OR tags.team = 'risk'",
                                 order_by="params.C DESC", columns=["params.C", "metrics.val_accuracy"]).to_dict("records"),
        "runs_page": Q.search_runs(wh, project, order_by="metrics.val_f1 DESC", limit=2, offset=1).name.tolist(),
        "best_runs": Q.BEST_RUNS.frame(wh, project=project, metric="val_accuracy", limit=3).to_dict("records"),
        "param_vs_metric": Q.PARAM_VS_METRIC.frame(wh, project=project, param="C", metric="val_f1").to_dict("records"),
        "history": Q.METRIC_HISTORY.frame(wh, project=project, metric="loss",
                                          run_id=runs["lr-2"].run_id).to_dict("records"),
        "run_params": Q.RUN_PARAMS.frame(wh, project=project, run_id=runs["lr-0"].run_id).to_dict("records"),
        "tree": Q.version_tree(wh, project, runs["lr-branch"].run_id).to_dict("records"),
        "models": models.to_dict("records"),
        "best_models": Q.best_models(wh, project, "f1_score").to_dict("records"),
        "using": Q.MODELS_USING_COLUMN.frame(wh, project=project, column="country").sort_values("model_id")
                  .to_dict("records"),
        "slice": Q.best_on_slice(wh, project, "country = 'US'").to_dict("records"),
        "compare": {k: v.to_dict("records") for k, v in Q.compare_models(wh, project, a, b).items()},
        "on_dataset": Q.models_on_dataset(wh, project, _source_fingerprint(wh, project)).to_dict("records"),
        "all_models": Q.MODELS.frame(wh, project=project).to_dict("records"),
        # modeldb server's search: one experiment (18.16's newest rows) and two (FINAL)
        "mlflow_search": mlflow_runs.search(wh, [project], "params.penalty = 'l2'", ["metrics.val_f1 DESC"], "ALL", 0, 100),
        "mlflow_search_two": mlflow_runs.search(wh, [project, "none"], "", ["params.C ASC"], "ALL", 1, 3),
    }


def _source_fingerprint(wh, project) -> str:
    """The 400-row customers frame that was split before the models were fitted."""
    return wh.query(f"SELECT any(fingerprint) FROM `{wh.database}`.dataframes WHERE project = %(p)s "
                    "AND n_rows = 400 AND n_columns = 2", {"p": project}).scalar()


def test_a_value_that_looks_like_a_placeholder_is_only_text(loaded):
    """Queries fill in %(project)s and {db} after a filter's strings are in: a string must stay text."""
    wh, project, _, _ = loaded
    assert Q.search_runs(wh, project, where="tags.note = '50%(project)s {db}'").name.tolist() == ["lr-0"]
    assert Q.count_matches(wh, "run", project, "tags.note LIKE '%{db}'") == 1
    assert Q.search_runs(wh, project, where="tags.note = '{db}'").empty


def test_redelivered_events_change_no_answer(loaded):
    wh, project, runs, first = loaded
    assert len(first["mlflow_search"]) >= 3 and len(first["mlflow_search_two"]) == 3
    again = answers(wh, project, runs)
    for name in first:
        assert again[name] == first[name], name


def test_or_filters_sorting_and_pagination(loaded):
    wh, project, runs, first = loaded
    got = first["runs_or"]
    assert [r["name"] for r in got] == ["lr-3", "lr-2", "lr-1", "lr-0"]  # lr-branch: C 0.2 and no team tag
    assert [r["params.C"] for r in got] == ["10.0", "1.0", "0.1", "0.01"]
    assert first["runs_page"] == ["lr-1", "lr-2"]  # by f1: lr-0, lr-1, lr-2…; the page skips one, takes two
    f1 = Q.search_runs(wh, project, order_by="metrics.val_f1 DESC").name.tolist()
    assert f1[:3] == ["lr-0", "lr-1", "lr-2"]
    assert Q.search_runs(wh, project, where="params.penalty = 'l1' AND metrics.val_accuracy > 0.82").name.tolist() \
        == ["lr-3"]
    assert Q.search_runs(wh, project, where="tags.team = 'nobody'").empty
    with pytest.raises(Q.FilterError, match="cannot use where"):
        Q.search_runs(wh, project, where="params.C >")


def test_the_version_tree_and_run_level_queries(loaded):
    wh, project, runs, first = loaded
    tree = first["tree"]
    assert [(r["name"], r["depth"], r["selected"]) for r in tree] == [("lr-1", 0, False), ("lr-branch", 1, True)]
    assert tree[1]["branch_seq"] == 3
    assert [r["name"] for r in first["best_runs"]] == ["lr-branch", "lr-3", "lr-2"]
    assert [row["step"] for row in first["history"]] == [0, 1, 2, 3]
    assert {r["key"]: r["value"] for r in first["run_params"]} == {"C": "0.01", "penalty": "l2"}
    assert first["projects"][0]["runs"] == 6 and first["projects"][0]["models"] == 10  # 2 pipelines x 5 fitted parts
    assert [(r["param_value"], r["mean"]) for r in first["tableau"]] == [
        ("0.01", 0.9), ("0.1", 0.85), ("0.2", 0.5), ("1.0", 0.8), ("10.0", pytest.approx(0.75))]


def test_model_queries(loaded):
    wh, project, runs, first = loaded
    assert [m["operator_class"] for m in first["models"]] == ["Pipeline", "Pipeline"]
    filtered = Q.search_models(wh, project, where="params.clf__C > 0.5 AND metrics.f1_score >= 0",
                               columns=["params.clf__C", "metrics.accuracy_score"])
    assert filtered["params.clf__C"].tolist() == ["1.0"]
    assert len(first["best_models"]) == 2 and first["slice"][0]["rows"] > 0
    best = {r["metric"]: r for r in first["project_metrics"]}["f1"]
    assert best["models"] == 2 and best["max_value"] == pytest.approx(first["best_models"][0]["value"])
    assert best["max_model"] in {m["model_id"] for m in first["best_models"]}
    assert [r["param_value"] for r in first["tableau_models"]] == ["0.01", "1.0"]
    trained = {r["model_id"]: r["hops"] for r in first["on_dataset"]}
    assert all(trained[m["model_id"]] == 1 for m in first["models"])  # the frame, split, then fitted on
    assert {"Pipeline", "OneHotEncoder", "LogisticRegression"} <= {m["operator_class"] for m in first["using"]}
    assert first["best_models"] == Q.BEST_MODELS.frame(wh, project=project, metric="f1_score").to_dict("records")
    page, total = Q.models_using_column_page(wh, project, "country", limit=2)
    assert total == len(first["using"]) > 2 and len(page) == 2
    assert set(page.model_id) <= {m["model_id"] for m in first["using"]}
    params = {r["item"]: r for r in first["compare"]["params"]}
    assert params["clf__C"]["differs"] and not params["clf__max_iter"]["differs"]


def test_stale_and_twice_inserted_state_rows_change_no_answer(loaded):
    """Every current-state row once more as it is (a retried insert that had landed), and an older
    version of each that would win every ranking if it were read: the views' FINAL, and 18.16's
    newest (id, ver) rows read once, give the answers they gave before."""
    wh, project, runs, first = loaded
    for table, name in (("run_state", "name"), ("model_state", "operator_class")):
        result = wh.query(f"SELECT * FROM `{wh.database}`.{table} WHERE project = %(p)s", {"p": project})
        columns = result.columns
        stale = []
        for row in result.rows:
            old = dict(zip(columns, row))
            old.update({name: "stale", "ver": 0, "metric_values": [1e9] * len(old["metric_values"]),
                        "param_values": ["stale"] * len(old["param_values"])})
            stale.append([old[c] for c in columns])
        wh.insert(table, columns, list(result.rows) + stale)
    assert len(first["mlflow_search"]) >= 3 and len(first["mlflow_search_two"]) == 3
    again = answers(wh, project, runs)
    for name in first:
        assert again[name] == first[name], name
    assert Q.count_matches(wh, "run", project, "params.C > 0") == 5  # lr-0…lr-3 and lr-branch, each once
