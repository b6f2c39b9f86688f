"""The paper's questions answered right on real scikit-learn code, on both paths.

file event log → chDB, and Kafka → worker → ClickHouse server. Each test counts what the script
did on its own (which pipelines select the leaking column, what the selectors kept, the searches'
``cv_results_``, the scores the script computed) and compares the warehouse with that:

* "Which models were built using an incorrect feature?": composites list only the columns a
  fitted part consumes (dropped, deselected and opaque cases);
* "Which model did best on …?": every scorer of every search, halving iterations, clustering
  metrics, and metrics linked to a snapshot that reproduces them;
* tracking leaves the user's ``random`` stream, numpy's generator, warnings and logging alone.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.experimental import enable_halving_search_cv  # noqa: F401 - makes HalvingGridSearchCV importable
from sklearn.feature_selection import RFE, SelectFromModel, SelectKBest, VarianceThreshold
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score, calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

import modeldb
import modeldb.sklearn
from modeldb.warehouse import queries
from modeldb.warehouse.queries.search import COLUMN_USE, SEARCH_CANDIDATES, SEARCH_SCORES
from tests.integration.conftest import TRACKED_PATHS, autologged, project_sql

sql = project_sql


@pytest.fixture(params=list(TRACKED_PATHS))
def sk(request):
    yield from autologged(request, "skq", modeldb.sklearn, experiment="questions")


def finish(pipeline) -> None:
    modeldb.sklearn.disable()
    pipeline.settle()


def leaky(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "leak": rng.normal(size=n),
                      "region": rng.choice(["north", "south", "east"], n)})
    y = pd.Series((X.leak + 0.3 * X.a + rng.normal(0, 0.3, n) > 0).astype(int), name="bought")
    X["leak"] = X.leak + y * 2  # the label, leaked into a feature
    return X, y


# Each pipeline's ColumnTransformer, as (name, transformer, columns) and remainder: the test reads the
# answer to "which used leak" off these specs, not off the tracker.
SPECS = {
    "dropped_by_remainder": ([("num", StandardScaler(), ["a", "b"]), ("cat", OneHotEncoder(), ["region"])], "drop"),
    "selected": ([("num", StandardScaler(), ["a", "b", "leak"])], "drop"),
    "dropped_by_name": ([("cat", OneHotEncoder(), ["region"]), ("gone", "drop", ["leak"])], "passthrough"),
    "opaque": ([("fn", FunctionTransformer(np.abs), ["leak"]), ("num", StandardScaler(), ["a"])], "drop"),
    "numbers_only": ([("num", StandardScaler(), ["a", "b"])], "drop"),
}


def uses(spec: tuple[list, str], column: str, columns: list[str]) -> bool:
    transformers, remainder = spec
    named = {c for _, t, cols in transformers for c in cols}
    chosen = {c for _, t, cols in transformers if not (isinstance(t, str) and t == "drop") for c in cols}
    return column in chosen or (remainder == "passthrough" and column in set(columns) - named)


def test_leaking_column_is_used_only_by_the_pipelines_that_select_it(sk):
    X, y = leaky()
    pipes = {name: Pipeline([("prep", ColumnTransformer(copy.deepcopy(t), remainder=r)),
                             ("clf", LogisticRegression(max_iter=500))]).fit(X, y) for name, (t, r) in SPECS.items()}
    finish(sk)

    expected = {name for name, spec in SPECS.items() if uses(spec, "leak", list(X.columns))}
    assert expected == {"selected", "opaque"}  # 2 of 5
    fits = dict(sql(sk, """SELECT model_id, stage_index FROM {db}.actions WHERE project = %(p)s AND action = 'fit'
                           AND operator_class = 'Pipeline'"""))
    pipe_ids = [m for m, _ in sorted(sql(sk, "SELECT model_id, min(ts) FROM {db}.models WHERE project = %(p)s AND "
                                             "operator_class = 'Pipeline' GROUP BY model_id"), key=lambda r: r[1])]
    assert len(pipe_ids) == len(SPECS) and set(fits) == set(pipe_ids)
    by_name = dict(zip(SPECS, pipe_ids))  # fitted in this order

    users = queries.MODELS_USING_COLUMN.frame(sk.warehouse, project=sk.project, column="leak")
    direct = set(users[(users.operator_class == "Pipeline") & (users.direct == 1)].model_id)
    assert direct == {by_name[n] for n in expected}
    cts = users[users.operator_class == "ColumnTransformer"]
    assert set(cts.parent_model_id) == {by_name[n] for n in expected}
    opaque_paths = users.set_index("model_id").loc[by_name["opaque"], "paths"]
    assert list(opaque_paths) == ["leak > (opaque FunctionTransformer)"]

    use = COLUMN_USE.frame(sk.warehouse, project=sk.project, column="leak")
    pipelines = use[use.operator_class == "Pipeline"].set_index("model_id")
    assert set(pipelines.index) == set(pipe_ids) and (pipelines.in_frame == 1).all()  # every frame had it
    assert set(pipelines.index[pipelines.used == 1]) == {by_name[n] for n in expected}
    assert set(pipelines.index[pipelines.opaque == 1]) == {by_name["opaque"]}
    # the other columns: a and b by the ones that scale them, region by the ones that encode it
    for column in ("a", "b", "region"):
        frame = COLUMN_USE.frame(sk.warehouse, project=sk.project, column=column)
        used = set(frame[(frame.operator_class == "Pipeline") & (frame.used == 1)].model_id)
        assert used == {by_name[n] for n, spec in SPECS.items() if uses(spec, column, list(X.columns))}, column
    lineage = sql(sk, "SELECT DISTINCT src FROM {db}.lineage WHERE project = %(p)s AND kind = 'model' "
                      "AND model_id = %(m)s", m=by_name["dropped_by_remainder"])
    assert sorted(r[0] for r in lineage) == ["a", "b", "region"]
    final = sql(sk, "SELECT DISTINCT src, path FROM {db}.lineage WHERE project = %(p)s AND kind = 'model' AND "
                    "model_id IN (SELECT model_id FROM {db}.models WHERE project = %(p)s AND parent_model_id = %(m)s "
                    "AND operator_class = 'LogisticRegression')", m=by_name["opaque"])
    assert sorted(final) == [("a", "a > num__a"), ("leak", "leak > fn__functiontransformer0")]  # the final model
    assert pipes["opaque"].predict(X).shape == (len(X),)


def test_selectors_leave_out_the_columns_they_remove(sk):
    X, y = leaky(seed=1)
    X = X.drop(columns="region").assign(constant=1.0, noise=np.random.default_rng(5).normal(size=len(X)))
    selectors = {"kbest": SelectKBest(k=2), "variance": VarianceThreshold(),
                 "from_model": SelectFromModel(LogisticRegression(), max_features=1, threshold=-np.inf),
                 "rfe": RFE(LogisticRegression(), n_features_to_select=3)}
    pipes = {name: Pipeline([("sel", sel), ("clf", LogisticRegression())]).fit(X, y) for name, sel in selectors.items()}
    finish(sk)

    columns = np.array(X.columns)
    kept = {name: set(columns[p.named_steps["sel"].get_support()]) for name, p in pipes.items()}
    assert kept["variance"] == set(columns) - {"constant"} and len(kept["kbest"]) == 2
    rows = sql(sk, """SELECT model_id, groupUniqArray(src) FROM {db}.lineage
                      WHERE project = %(p)s AND kind = 'model' AND model_id IN
                          (SELECT model_id FROM {db}.models WHERE project = %(p)s AND operator_class = 'Pipeline')
                      GROUP BY model_id""")
    order = [m for m, _ in sorted(sql(sk, "SELECT model_id, min(ts) FROM {db}.models WHERE project = %(p)s AND "
                                          "operator_class = 'Pipeline' GROUP BY model_id"), key=lambda r: r[1])]
    used = dict(rows)
    for name, model_id in zip(selectors, order):
        assert set(used[model_id]) == kept[name], name
    leak_users = queries.MODELS_USING_COLUMN.frame(sk.warehouse, project=sk.project, column="leak")
    assert set(leak_users[leak_users.operator_class == "Pipeline"].model_id) == \
        {m for name, m in zip(selectors, order) if "leak" in kept[name]}


def scored_search(refit, X, y):
    return GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.01, 0.1, 1.0]}, cv=3,
                        scoring={"accuracy": "accuracy", "f1": "f1", "roc_auc": "roc_auc"}, refit=refit,
                        return_train_score=True).fit(X, y)


def best_by_f1(results: dict) -> int:
    return int(np.argmax(results["mean_test_f1"]))


def test_every_scorer_of_a_multi_metric_search_for_each_kind_of_refit(sk):
    X, y = leaky(seed=2)
    X = X.drop(columns="region")
    searches = {"accuracy": scored_search("accuracy", X, y), "callable": scored_search(best_by_f1, X, y),
                "False": scored_search(False, X, y)}
    finish(sk)

    scores = SEARCH_SCORES.frame(sk.warehouse, project=sk.project)
    actions = sql(sk, "SELECT action_id, min(ts) FROM {db}.search_candidates WHERE project = %(p)s GROUP BY action_id")
    order = [a for a, _ in sorted(actions, key=lambda r: r[1])]
    assert len(order) == 3
    for (kind, search), action_id in zip(searches.items(), order):
        mine = scores[scores.action_id == action_id]
        results = search.cv_results_
        assert len(mine) == len(results["params"]) * 3 * 2  # candidates × scorers × (test, train)
        for row in mine.itertuples():
            assert row.mean == pytest.approx(results[f"mean_{row.split}_{row.scorer}"][row.candidate])
            assert row.std == pytest.approx(results[f"std_{row.split}_{row.scorer}"][row.candidate])
            assert list(row.folds) == pytest.approx([results[f"split{k}_{row.split}_{row.scorer}"][row.candidate]
                                                     for k in range(3)])
            if row.split == "test":
                assert row.rank == results[f"rank_test_{row.scorer}"][row.candidate]
        expected_refit = {"accuracy": "accuracy", "callable": "callable:best_by_f1", "False": "False"}[kind]
        assert set(mine.refit) == {expected_refit}
        ranked = sql(sk, "SELECT candidate, scoring, mean_score, rank, length(fold_scores), is_best FROM "
                         "{db}.search_candidates WHERE action_id = %(a)s ORDER BY candidate", a=action_id)
        primary = "accuracy"  # the refit scorer, else the first of scoring={...}
        for candidate, scoring, mean, rank, folds, is_best in ranked:
            assert scoring == primary and folds == 3
            assert mean == pytest.approx(results[f"mean_test_{primary}"][candidate])
            assert rank == results[f"rank_test_{primary}"][candidate]
            assert is_best == (kind != "False" and candidate == search.best_index_)


def test_successive_halving_candidates_carry_iteration_and_resources(sk):
    X, y = leaky(n=600, seed=3)
    X = X.drop(columns="region")
    search = HalvingGridSearchCV(LogisticRegression(max_iter=500), {"C": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]},
                                 cv=3, factor=2, min_resources=100, random_state=0).fit(X, y)
    finish(sk)

    rows = [(r.candidate, r.iteration, r.n_resources, list(r.param_values))
            for r in SEARCH_CANDIDATES.frame(sk.warehouse, project=sk.project).itertuples()]
    results = search.cv_results_
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (i, int(results["iter"][i]), int(results["n_resources"][i])) for i in range(len(results["params"]))]
    assert len({(tuple(r[3]), r[1]) for r in rows}) == len(rows)  # params repeat, (params, iteration) do not
    assert len({tuple(r[3]) for r in rows}) < len(rows)
    assert {r[1] for r in rows} == set(int(i) for i in results["iter"]) and len(set(results["iter"])) > 1


def test_kmeans_clustering_metrics_are_linked_to_the_model(sk):
    blobs, _ = make_blobs(n_samples=300, centers=3, random_state=0)
    fitted = KMeans(n_clusters=3, n_init=3, random_state=0).fit(blobs)
    silhouette = silhouette_score(blobs, fitted.labels_)
    harabasz = calinski_harabasz_score(blobs, fitted.predict(blobs))
    other = KMeans(n_clusters=4, n_init=3, random_state=0)
    bouldin = davies_bouldin_score(blobs, other.fit_predict(blobs))
    finish(sk)

    models = sql(sk, "SELECT model_id, min(ts) FROM {db}.models WHERE project = %(p)s AND operator_class = 'KMeans' "
                     "GROUP BY model_id")
    first, second = [m for m, _ in sorted(models, key=lambda r: r[1])]
    metrics = {name: (value, model_id) for name, value, model_id in
               sql(sk, "SELECT name, value, model_id FROM {db}.metrics WHERE project = %(p)s")}
    assert metrics["silhouette_score"] == (pytest.approx(silhouette), first)
    assert metrics["calinski_harabasz_score"] == (pytest.approx(harabasz), first)
    assert metrics["davies_bouldin_score"] == (pytest.approx(bouldin), second)


def test_metric_of_a_pipeline_whose_shared_estimator_was_refitted_is_reproduced_by_its_snapshot(sk):
    X, y = leaky(seed=4)
    X = X.drop(columns="region")
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    shared = PCA(n_components=1)
    first = Pipeline([("pca", shared), ("clf", LogisticRegression())]).fit(X_train, y_train)
    as_fitted = copy.deepcopy(first)  # the state the first fit left
    second = Pipeline([("pca", shared), ("clf", LogisticRegression())]).fit(X_train * [5, 1, 0.1], y_train)
    predicted = first.predict(X_test)  # with the PCA the second fit left
    score = accuracy_score(y_test, predicted)
    warm = SGDClassifier(warm_start=True, max_iter=5, tol=None, random_state=0).fit(X_train, y_train)
    early = warm.predict(X_test)
    warm.fit(X_train * -1, y_train)  # refitted in place after predicting
    early_score = accuracy_score(y_test, early)
    online = SGDClassifier(random_state=0).fit(X_train, y_train)
    for _ in range(3):
        online.partial_fit(X_train * [1, -1, 1], y_train)  # changed in place, not refitted
    online_predicted = online.predict(X_test)
    online_score = accuracy_score(y_test, online_predicted)
    finish(sk)

    assert second is not None and not np.array_equal(as_fitted.predict(X_test), predicted)  # the refit mattered
    (value, linked), (warm_value, warm_linked), (online_value, online_linked) = sql(
        sk, "SELECT value, model_id FROM {db}.metrics WHERE project = %(p)s AND name = 'accuracy_score' "
            "ORDER BY event_id")
    assert (value, warm_value, online_value) == (pytest.approx(score), pytest.approx(early_score),
                                                 pytest.approx(online_score))
    reloaded = modeldb.load_model(linked)  # the snapshot the metric is linked to reproduces it
    np.testing.assert_array_equal(reloaded.predict(X_test), predicted)
    assert accuracy_score(y_test, reloaded.predict(X_test)) == pytest.approx(score)
    fitted_id = sql(sk, "SELECT model_id FROM {db}.actions WHERE project = %(p)s AND action = 'fit' "
                        "AND operator_class = 'Pipeline' ORDER BY seq LIMIT 1")[0][0]
    assert linked != fitted_id  # the state the first fit stored is another model, and still loads as it was
    np.testing.assert_array_equal(modeldb.load_model(fitted_id).predict(X_test), as_fitted.predict(X_test))
    np.testing.assert_array_equal(modeldb.load_model(warm_linked).predict(X_test), early)
    online_fit = sql(sk, "SELECT model_id FROM {db}.actions WHERE project = %(p)s AND action = 'fit' "
                         "AND operator_class = 'SGDClassifier' ORDER BY seq")[-1][0]
    assert online_linked != online_fit  # the state partial_fit left got its own snapshot
    np.testing.assert_array_equal(modeldb.load_model(online_linked).predict(X_test), online_predicted)
    assert sql(sk, "SELECT count() FROM {db}.annotations WHERE project = %(p)s") == [(0,)]  # nothing unreproducible


SEEDED = """
import json, logging, random, sys, warnings
import numpy as np
random.seed(7); np.random.seed(7)
if sys.argv[1] == "on":
    import modeldb.sklearn
    modeldb.sklearn.autolog(experiment="seeded")
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
X = np.random.rand(60, 3); y = (X[:, 0] > 0.5).astype(int)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=random.randrange(1000))
model = LogisticRegression().fit(X_train, y_train)
print(json.dumps({"random": [random.random() for _ in range(5)], "numpy": np.random.rand(3).tolist(),
                  "predicted": model.predict(X_test).tolist(), "filters": len(warnings.filters),
                  "root": [logging.getLogger().level, len(logging.getLogger().handlers)]}))
"""


def test_a_seeded_random_stream_draws_the_same_numbers_with_autolog(sk, tmp_path):
    script = tmp_path / "seeded.py"
    script.write_text(textwrap.dedent(SEEDED))
    env = {"MODELDB_HOME": str(sk.settings.home), "MODELDB_TRANSPORT": sk.settings.transport,
           "MODELDB_PROJECT": sk.project, "MODELDB_TESTING": "1", "PATH": "/usr/bin:/bin"}
    runs = {mode: subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=120,
                                 env=env, check=True) for mode in ("off", "on")}
    finish(sk)

    off, on = (json.loads(runs[m].stdout.strip().splitlines()[-1]) for m in ("off", "on"))
    assert on == off
    assert sql(sk, "SELECT operator_class FROM {db}.models WHERE project = %(p)s") == [("LogisticRegression",)]


def test_search_candidates_of_an_older_warehouse_keep_their_scorer_after_the_upgrade(warehouse):
    """Migration 0008 on rows written before it: each candidate's one scorer becomes its only score entry."""
    from modeldb.warehouse.ddl import migrations
    from tests.integration.conftest import unique

    old = unique("old")
    warehouse.execute(f"CREATE DATABASE IF NOT EXISTS `{old}`")
    steps = {m.version: m for m in migrations()}
    for version in sorted(steps):
        if version == 8:
            warehouse.execute(f"INSERT INTO `{old}`.search_candidates (project, run_id, action_id, operator_class, "
                              "scoring, candidate, param_keys, param_values, param_nums, mean_score, std_score, rank, "
                              "fold_scores, is_best, best_model_id, ts, ver) SELECT 'p', 'r', 'a', 'GridSearchCV', "
                              "'accuracy', 0, ['C'], ['1.0'], [1.0], 0.8, 0.1, 1, [0.7, 0.9], 1, 'm', 1, 1")
        for statement in steps[version].render(old, warehouse.capabilities):
            warehouse.execute(statement)
    rows = warehouse.query(f"SELECT scoring, mean_score, refit, iteration, n_resources, score_names, score_splits, "
                           f"score_means, score_ranks, score_folds FROM `{old}`.search_candidates", readonly=False).rows
    assert [tuple(r) for r in rows] == [("accuracy", 0.8, "", -1, -1, ["accuracy"], ["test"], [0.8], [1],
                                         [[0.7, 0.9]])]
