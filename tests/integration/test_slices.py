"""Numeric and categorical slices: "Which model performed best on wines with proline > 1000?", on both paths.

scikit-learn keeps the evaluation frame's categorical and numeric columns with each prediction row
(at most 20 columns, at most ``max_prediction_rows`` rows per predict); ``best_on_slice`` parses
the predicate itself and reads a numeric comparison as a number. Each answer is checked against
the same slice computed here from the test data.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import modeldb.sklearn
from modeldb.warehouse import queries
from modeldb.warehouse.queries.slices import SliceError
from tests.integration.conftest import TRACKED_PATHS, autologged, project_sql


@pytest.fixture(params=list(TRACKED_PATHS))
def sk(request):
    yield from autologged(request, "slc", modeldb.sklearn, experiment="slices")


def wines() -> tuple[pd.DataFrame, pd.Series]:
    data = load_wine(as_frame=True)
    X = data.data.copy()
    X["cellar"] = np.random.default_rng(0).choice(["north", "south"], len(X))
    return X, data.target.rename("cultivar")


def test_best_model_on_numeric_and_categorical_slices(sk):
    X, y = wines()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=1)
    numeric = X.columns.drop("cellar")
    models = {"logreg": Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), list(numeric))])),
                                  ("clf", LogisticRegression(max_iter=1000))]),
              "tree": Pipeline([("prep", ColumnTransformer([("num", "passthrough", list(numeric))])),
                                ("clf", DecisionTreeClassifier(max_depth=2, random_state=0))])}
    predicted = {}
    for name, model in models.items():
        model.fit(X_train, y_train)
        predicted[name] = model.predict(X_test)
        accuracy_score(y_test, predicted[name])
    modeldb.sklearn.disable()
    sk.settle()

    ids = [m for m, _ in sorted(project_sql(sk, "SELECT model_id, min(ts) FROM {db}.models WHERE project = %(p)s "
                                                "AND operator_class = 'Pipeline' GROUP BY model_id"), key=lambda r: r[1])]
    by_name = dict(zip(models, ids))
    columns = queries.slice_columns(sk.warehouse, sk.project)
    assert columns == {"cellar": False, **{c: True for c in numeric}}  # numeric columns kept as numbers
    truth = y_test.to_numpy()
    for predicate, rows in [("proline > 1000", X_test.proline.to_numpy() > 1000),
                            ("alcohol >= 13 AND NOT (magnesium < 100)",
                             (X_test.alcohol.to_numpy() >= 13) & ~(X_test.magnesium.to_numpy() < 100)),
                            ("color_intensity BETWEEN 3 AND 6.5 OR hue IN (1.04, 1.05)",
                             X_test.color_intensity.between(3, 6.5).to_numpy() | X_test.hue.isin([1.04, 1.05]).to_numpy()),
                            ("cellar = 'north' AND proline <= 700",
                             (X_test.cellar == "north").to_numpy() & (X_test.proline.to_numpy() <= 700)),
                            ("1", np.ones(len(X_test), bool))]:
        answer = queries.best_on_slice(sk.warehouse, sk.project, predicate).set_index("model_id")
        assert rows.sum() > 0, predicate
        expected = {name: (predicted[name][rows] == truth[rows]).mean() for name in models}
        assert set(answer.index) == set(by_name.values()), predicate
        for name, model_id in by_name.items():
            assert answer.loc[model_id, "rows"] == rows.sum(), predicate
            assert answer.loc[model_id, "accuracy"] == pytest.approx(expected[name]), predicate
        if len(set(expected.values())) == 2:  # the better model on this slice comes first
            assert answer.index[0] == by_name[max(expected, key=expected.get)], predicate

    for bad, problem in [("proline > ", "expected a number"), ("region = 'north'", "'region', a column the stored predictions do not have"),
                         ("proline > 1000; DROP TABLE x", "unexpected"), ("sleep(1) = 0", "'sleep'"),
                         ("proline IN (1, 'a')", "IN mixes numbers and strings"), ("proline > (SELECT 1)", r"found '\('")]:
        with pytest.raises(SliceError, match=problem):
            queries.best_on_slice(sk.warehouse, sk.project, bad)


def test_slice_rows_and_columns_are_bounded(sk):
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(120, 30)), columns=[f"f{i:02d}" for i in range(30)])
    X["segment"] = rng.choice(["a", "b", "c"], len(X))
    y = (X.f00 + X.f01 > 0).astype(int)
    modeldb.sklearn.autolog(experiment="slices", max_prediction_rows=50)
    features = X.columns.drop("segment")
    model = LogisticRegression().fit(X[features], y)
    predictions = model.predict(X[features])
    accuracy_score(y, predictions)
    modeldb.sklearn.disable()
    sk.settle()

    columns = queries.slice_columns(sk.warehouse, sk.project)
    assert list(columns) == sorted(f"f{i:02d}" for i in range(20))  # the first 20 columns, in frame order
    everything = queries.best_on_slice(sk.warehouse, sk.project, "1")
    assert everything.rows.tolist() == [50]  # the first max_prediction_rows rows
    first = X.iloc[:50]
    rows = (first.f03 > 0.5).to_numpy()
    high = queries.best_on_slice(sk.warehouse, sk.project, "f03 > 0.5")
    assert high.rows.tolist() == [rows.sum()]
    assert high.accuracy[0] == pytest.approx((predictions[:50][rows] == y.to_numpy()[:50][rows]).mean())
