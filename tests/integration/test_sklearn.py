"""Realistic scikit-learn work, tracked by autolog, through to the warehouse on both paths.

file event log → chDB, and Kafka → Faust worker → ClickHouse server. Each test
asserts what the tables contain and answers the paper's questions with the
named queries.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_blobs, make_regression
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, adjusted_rand_score, f1_score, mean_squared_error
from sklearn.model_selection import GridSearchCV, cross_validate, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modeldb
import modeldb.sklearn
from modeldb.warehouse.queries.slices import SliceError
from modeldb.warehouse import queries
from tests.integration.conftest import TRACKED_PATHS, autologged, project_sql

PATHS = TRACKED_PATHS


@pytest.fixture(params=list(PATHS))
def sk(request):
    """A pipeline with a fresh project and autolog on; the automatic run ends before the test reads."""
    yield from autologged(request, "sk", modeldb.sklearn, experiment="autolog-tests")


def finish(pipeline) -> None:
    modeldb.sklearn.disable()
    pipeline.settle()


sql = project_sql


def customers(n: int = 800, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": rng.normal(50, 12, n).round(2),
        "country": rng.choice(["US", "DE", "FR", "JP"], n, p=[0.4, 0.2, 0.2, 0.2]),
        "plan": rng.choice(["basic", "pro"], n),
    })
    signal = X.age / 10 + (X.country == "US") * 2 + (X.plan == "pro") - X.income / 25
    y = pd.Series((signal + rng.normal(0, 1, n) > 4).astype(int), name="churned")
    return X, y


def churn_pipeline(C: float = 1.0) -> Pipeline:
    prep = ColumnTransformer([("num", StandardScaler(), ["age", "income"]),
                              ("cat", OneHotEncoder(handle_unknown="ignore"), ["country", "plan"])])
    return Pipeline([("prep", prep), ("clf", LogisticRegression(C=C, max_iter=500))])


def test_column_transformer_pipeline_on_mixed_pandas_data(sk):
    X, y = customers()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=42)
    model = churn_pipeline().fit(X_train, y_train)
    predictions = model.predict(X_test)
    accuracy = accuracy_score(y_test, predictions)
    finish(sk)

    pipe_id = sql(sk, "SELECT model_id FROM {db}.models WHERE project = %(p)s AND operator_class = 'Pipeline'")[0][0]
    fit = sql(sk, """SELECT action_id, input_columns FROM {db}.actions
                     WHERE project = %(p)s AND model_id = %(m)s AND action = 'fit'""", m=pipe_id)
    assert fit[0][1] == ["age", "income", "country", "plan"]
    stages = sql(sk, """SELECT stage_index, operator_class, action, input_columns, output_columns FROM {db}.actions
                        WHERE project = %(p)s AND parent_action_id = %(a)s ORDER BY stage_index""", a=fit[0][0])
    assert [(s[0], s[1], s[2]) for s in stages] == [(0, "ColumnTransformer", "fit_transform"),
                                                    (1, "LogisticRegression", "fit")]
    assert "cat__country_US" in stages[0][4] and stages[1][3] == stages[0][4]
    inner = sql(sk, """SELECT operator_class, input_columns FROM {db}.actions WHERE project = %(p)s
                       AND parent_action_id IN (SELECT action_id FROM {db}.actions WHERE project = %(p)s
                       AND operator_class = 'ColumnTransformer' AND action = 'fit_transform') ORDER BY stage_index""")
    assert inner == [("StandardScaler", ["age", "income"]), ("OneHotEncoder", ["country", "plan"])]

    split = sql(sk, "SELECT length(input_dataframe_ids), length(output_dataframe_ids), param_values "
                    "FROM {db}.actions WHERE project = %(p)s AND action = 'split'")
    assert split == [(2, 4, ["[0.75, 0.25]", "42"])]
    frames = sql(sk, "SELECT n_rows, column_names, length(sample_keys) FROM {db}.dataframes "
                     "WHERE project = %(p)s AND has(%(ids)s, dataframe_id)",
                 ids=list(sql(sk, "SELECT input_dataframe_ids FROM {db}.actions WHERE action_id = %(a)s",
                               a=fit[0][0])[0][0]))
    assert sorted(frames) == [(600, ["age", "income", "country", "plan"], 5), (600, ["churned"], 5)]

    best = queries.best_models(sk.warehouse, sk.project, "accuracy_score")
    assert best.model_id.tolist() == [pipe_id] and best.value[0] == pytest.approx(accuracy)

    users = queries.MODELS_USING_COLUMN.frame(sk.warehouse, project=sk.project, column="country")
    by_class = {row.operator_class: row for row in users.itertuples()}
    assert {"Pipeline", "ColumnTransformer", "OneHotEncoder", "LogisticRegression"} <= set(by_class)
    assert by_class["LogisticRegression"].direct == 0
    assert "country > cat__country_US" in by_class["LogisticRegression"].paths

    us = queries.best_on_slice(sk.warehouse, sk.project, "country = 'US'")
    us_rows = X_test.country.eq("US").to_numpy()
    assert us.model_id.tolist() == [pipe_id] and us.rows[0] == us_rows.sum()
    assert us.accuracy[0] == pytest.approx((predictions[us_rows] == y_test.to_numpy()[us_rows]).mean())

    with pytest.raises(SliceError, match="slice columns of this project: age, country, income, plan"):
        queries.best_on_slice(sk.warehouse, sk.project, "region = 'EU'")

    source = sql(sk, """SELECT fingerprint FROM {db}.dataframes WHERE project = %(p)s AND n_rows = 800
                        AND length(column_names) = 4""")[0][0]
    trained = queries.models_on_dataset(sk.warehouse, sk.project, source[:10])
    assert trained.set_index("model_id").loc[pipe_id, "hops"] == 1  # the data, split, then fitted on
    assert "LogisticRegression" in set(trained.operator_class)  # through the ColumnTransformer's output

    loaded = modeldb.load_model(pipe_id)
    np.testing.assert_array_equal(loaded.predict(X_test), predictions)


def test_grid_search_over_a_pipeline_and_the_top_two_models(sk):
    X, y = customers(seed=1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    search = GridSearchCV(churn_pipeline(), {"clf__C": [0.01, 0.1, 1.0, 10.0]}, cv=3, scoring="accuracy")
    search.fit(X_train, y_train)
    baseline = churn_pipeline(C=0.001).fit(X_train, y_train)
    for model in (search, baseline):
        f1_score(y_test, model.predict(X_test))
    finish(sk)

    candidates = sql(sk, "SELECT candidate, param_values, rank, length(fold_scores), is_best, best_model_id "
                         "FROM {db}.search_candidates WHERE project = %(p)s ORDER BY candidate")
    assert [c[1] for c in candidates] == [["0.01"], ["0.1"], ["1.0"], ["10.0"]]
    assert all(c[3] == 3 for c in candidates) and sum(c[4] for c in candidates) == 1
    winner = next(c for c in candidates if c[4])
    assert winner[2] == 1 and winner[1] == [str(float(search.best_params_["clf__C"]))]
    best_model_id = winner[5]
    assert sql(sk, "SELECT operator_class FROM {db}.models WHERE model_id = %(m)s", m=best_model_id) == [("Pipeline",)]
    best_score = sql(sk, "SELECT value FROM {db}.metrics WHERE project = %(p)s AND name = 'best_score'")
    assert best_score[0][0] == pytest.approx(search.best_score_)

    top = queries.best_models(sk.warehouse, sk.project, "f1_score", limit=2)
    assert len(top) == 2
    diff = queries.compare_models(sk.warehouse, sk.project, top.model_id[0], top.model_id[1])
    params = diff["params"].set_index("item")
    assert params.loc["clf__C", "differs"]
    assert diff["stages"].item.tolist() == ["stage 0", "stage 1"] and not diff["stages"].differs.any()
    assert "cat__country_US" in diff["features"].item.tolist()
    assert diff["metrics"].set_index("item").loc["f1", "a"] is not None  # f1_score, by its canonical name
    assert diff["data"].set_index("item").loc["rows"].tolist()[:2] == [600, 600]


def test_cross_validate_records_every_fold(sk):
    X, y = customers(seed=2)
    result = cross_validate(churn_pipeline(), X, y, cv=4, scoring=["accuracy", "f1"])
    finish(sk)

    folds = sql(sk, "SELECT fold, score_names, score_values FROM {db}.cv_folds WHERE project = %(p)s ORDER BY fold")
    assert [f[0] for f in folds] == [0, 1, 2, 3]
    for fold, names, values in folds:
        scores = dict(zip(names, values))
        assert scores["test_accuracy"] == pytest.approx(result["test_accuracy"][fold])
        assert scores["test_f1"] == pytest.approx(result["test_f1"][fold])
    mean = sql(sk, "SELECT value FROM {db}.metrics WHERE project = %(p)s AND name = 'cv_test_accuracy_mean'")
    assert mean[0][0] == pytest.approx(result["test_accuracy"].mean())
    # the folds' own fits are inside the cross-validation: not tracked as separate models
    assert sql(sk, "SELECT count() FROM {db}.models WHERE project = %(p)s") == [(0,)]


def test_a_regression_and_a_clustering_model(sk):
    X, y = make_regression(n_samples=400, n_features=5, noise=3.0, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    ridge = Ridge(alpha=0.5).fit(X_train, y_train)
    mse = mean_squared_error(y_test, ridge.predict(X_test))
    blobs, truth = make_blobs(n_samples=300, centers=3, random_state=0)
    labels = KMeans(n_clusters=3, n_init=3, random_state=0).fit_predict(blobs)
    ari = adjusted_rand_score(truth, labels)
    finish(sk)

    models = dict(sql(sk, "SELECT operator_class, model_id FROM {db}.models WHERE project = %(p)s"))
    assert set(models) == {"Ridge", "KMeans"}
    coef = sql(sk, "SELECT labels, values FROM {db}.model_internals WHERE model_id = %(m)s AND name = 'coef_'",
               m=models["Ridge"])
    assert coef[0][0] == ["x0", "x1", "x2", "x3", "x4"]
    np.testing.assert_allclose(coef[0][1], ridge.coef_)
    metrics = dict(sql(sk, "SELECT name, model_id FROM {db}.metrics WHERE project = %(p)s"))
    assert metrics["mean_squared_error"] == models["Ridge"] and metrics["adjusted_rand_score"] == models["KMeans"]
    rmse = queries.best_on_slice(sk.warehouse, sk.project, "1", metric="rmse").set_index("model_id")
    assert rmse.loc[models["Ridge"], "rmse"] == pytest.approx(np.sqrt(mse))
    assert rmse.loc[models["Ridge"], "rows"] == len(y_test)
    best = queries.best_models(sk.warehouse, sk.project, "adjusted_rand_score")
    assert best.value[0] == pytest.approx(ari)


def test_sparse_text_features(sk):
    docs = ["cheap pills online", "meeting at noon", "win cash now", "lunch tomorrow?", "cheap cash prize",
            "project update attached", "free pills", "see you at the meeting"] * 10
    labels = [1, 0, 1, 0, 1, 0, 1, 0] * 10
    model = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression())]).fit(docs, labels)
    accuracy_score(labels, model.predict(docs))
    finish(sk)

    vocabulary = len(model.named_steps["tfidf"].vocabulary_)
    tfidf = sql(sk, """SELECT d.n_columns, d.n_rows FROM {db}.dataframes AS d
                       WHERE project = %(p)s AND dataframe_id IN (SELECT arrayJoin(output_dataframe_ids)
                       FROM {db}.actions WHERE project = %(p)s AND operator_class = 'TfidfVectorizer'
                       AND action = 'fit_transform')""")
    assert tfidf == [(vocabulary, 80)]
    users = queries.MODELS_USING_COLUMN.frame(sk.warehouse, project=sk.project, column="text")
    assert {"Pipeline", "TfidfVectorizer", "LogisticRegression"} <= set(users.operator_class)
    lr = users[users.operator_class == "LogisticRegression"].iloc[0]
    assert "text > cheap" in lr.paths
