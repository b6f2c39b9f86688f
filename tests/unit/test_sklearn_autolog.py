"""The scikit-learn tracker against the file event log: no services, real scikit-learn."""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modeldb
import modeldb.sklearn
from modeldb.core import codec
from modeldb.core.eventlog import read_records
from modeldb.core.exceptions import TrackingError
from modeldb.producers.sklearn import tracker as T
from tests.unit.events_factory import unbatched


@pytest.fixture
def home(tmp_path):
    modeldb.init(project="unit", home=tmp_path, transport=f"file://{tmp_path}/events.log")
    yield tmp_path
    modeldb.sklearn.disable()
    modeldb.flush()


def events(home: Path) -> list[dict]:
    modeldb.flush()
    return unbatched(codec.decode(r.payload) for r in read_records(home / "events.log"))


def frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"age": rng.integers(18, 80, n), "income": rng.normal(50, 10, n),
                      "country": rng.choice(["US", "DE", "FR"], n)})
    y = pd.Series((X.age + (X.country == "US") * 20 + rng.normal(0, 5, n) > 60).astype(int), name="label")
    return X, y


def workflow(seed: int = 3) -> tuple[np.ndarray, np.ndarray, float]:
    X, y = frame()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed)
    pipe = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), ["age", "income"]),
                                                 ("cat", OneHotEncoder(), ["country"])])),
                     ("clf", LogisticRegression(random_state=seed))])
    pipe.fit(X_train, y_train)
    proba = pipe.predict_proba(X_test)
    pred = pipe.predict(X_test)
    return pred, proba, accuracy_score(y_test, pred)


def test_tracking_never_changes_results(home):
    plain = workflow()
    modeldb.sklearn.autolog()
    tracked = workflow()
    modeldb.sklearn.disable()
    np.testing.assert_array_equal(plain[0], tracked[0])
    np.testing.assert_array_equal(plain[1], tracked[1])
    assert plain[2] == tracked[2]
    assert Counter(e["event_type"] for e in events(home))["OperatorApplied"] >= 8


def test_split_children_keep_the_parents_row_keys(home):
    modeldb.sklearn.autolog()
    X = np.arange(40, dtype=float).reshape(20, 2)
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    got = {e["payload"]["dataframe_id"]: e["payload"] for e in events(home) if e["event_type"] == "DataFrameObserved"}
    split = next(e["payload"] for e in events(home) if e["event_type"] == "Split")
    parent, train, test = (got[i] for i in (split["input_dataframe_ids"][0], *split["output_dataframe_ids"]))
    assert split["weights"] == [0.75, 0.25] and split["seed"] == 0
    assert parent["n_rows"] == 20 and train["n_rows"] == 15 and test["n_rows"] == 5
    # a row's key is its position in the parent, wherever the split put it
    for child, rows in ((train, X_train), (test, X_test)):
        for key, row_json in zip(child["sample_keys"], child["sample_rows_json"]):
            assert f'"x0": {X[int(key), 0]}' in row_json
    # bottom-k sampling: a parent sample row that went to train is sampled in train too
    assert set(parent["sample_keys"]) & set(train["sample_keys"] + test["sample_keys"])


def test_an_error_inside_the_tracker_is_logged_and_training_goes_on(home, monkeypatch, caplog):
    modeldb.init(project="unit", home=home, transport=f"file://{home}/events.log", testing=False)  # as users run it
    modeldb.sklearn.autolog()

    def broken(*args, **kwargs):
        raise RuntimeError("tracker bug")

    monkeypatch.setattr(T.Tracker, "_finish", broken)
    with caplog.at_level(logging.WARNING, logger="modeldb.sklearn"):
        model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    assert model.predict([[3.0]])[0] == 1
    assert "tracker bug" in caplog.text and "training goes on" in caplog.text


def test_an_error_inside_the_tracker_fails_under_the_test_suite(home, monkeypatch):
    modeldb.sklearn.autolog()

    def broken(*args, **kwargs):
        raise RuntimeError("tracker bug")

    monkeypatch.setattr(T.Tracker, "_finish", broken)
    with pytest.raises(RuntimeError, match="tracker bug"):
        LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])


def test_disable_puts_scikit_learn_back(home):
    originals = (LogisticRegression.fit, Pipeline.__dict__["predict"].fn, accuracy_score)
    with modeldb.sklearn.autolog():
        assert LogisticRegression.fit is not originals[0]
        assert Pipeline.__dict__["predict"].fn is not originals[1]
        assert hasattr(Pipeline([("m", LogisticRegression())]), "predict_proba")
        assert not hasattr(Pipeline([("m", StandardScaler())]), "predict_proba")  # available_if intact
    assert (LogisticRegression.fit, Pipeline.__dict__["predict"].fn) == originals[:2]
    import sklearn.metrics
    assert sklearn.metrics.accuracy_score is originals[2]


def test_a_class_defined_after_autolog_is_tracked(home):
    modeldb.sklearn.autolog()

    class Doubler(TransformerMixin, BaseEstimator):
        def fit(self, X, y=None):
            return self

        def transform(self, X):
            return np.asarray(X) * 2

    out = Doubler().fit_transform(np.ones((4, 2)))
    assert out.sum() == 16
    actions = [e["payload"] for e in events(home) if e["event_type"] == "OperatorApplied"]
    assert [(a["operator_class"], a["action"]) for a in actions] == [("Doubler", "fit_transform")]


def test_the_automatic_run_ends_on_disable_and_is_named(home):
    modeldb.sklearn.autolog(experiment="exp-a")
    LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    modeldb.sklearn.disable()
    got = events(home)
    started = next(e for e in got if e["event_type"] == "RunStarted")
    assert started["experiment"] == "exp-a" and started["payload"]["name"].endswith("-LogisticRegression")
    assert got[-1]["event_type"] == "RunEnded" and got[-1]["payload"]["status"] == "FINISHED"


def test_an_explicit_run_is_used_when_active(home):
    modeldb.sklearn.autolog()
    with modeldb.start_run(name="mine") as run:
        LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    runs = {e["run_id"] for e in events(home) if e["event_type"] == "OperatorApplied"}
    assert runs == {run.run_id}


@pytest.mark.parametrize("kwargs, message", [
    ({"experiment": ""}, "experiment"),
    ({"slice_columns": "country"}, "slice_columns"),
    ({"max_prediction_rows": -1}, "max_prediction_rows"),
])
def test_bad_options_are_refused(home, kwargs, message):
    with pytest.raises(TrackingError, match=message):
        modeldb.sklearn.autolog(**kwargs)


def test_a_stored_model_loads_back(home):
    modeldb.sklearn.autolog()
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    stored = next(e["payload"] for e in events(home) if e["event_type"] == "ModelStored")
    loaded = modeldb.load_model(stored["model_id"])
    assert stored["size_bytes"] > 0 and stored["format"] == "pickle"
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    with pytest.raises(TrackingError, match="no stored model"):
        modeldb.load_model("0" * 32)


def test_stages_and_search_winners_are_stored_once_inside_their_whole(home):
    from sklearn.model_selection import GridSearchCV

    modeldb.sklearn.autolog()
    X, y = frame()
    pipe = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), ["age", "income"]),
                                                 ("cat", OneHotEncoder(), ["country"])])),
                     ("clf", LogisticRegression())]).fit(X, y)
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2).fit(X[["age"]], y)
    models = [e["payload"] for e in events(home) if e["event_type"] == "ModelStored"]
    stored = {m["operator_class"]: m for m in models if m["operator_class"] != "LogisticRegression"}
    stored["LogisticRegression"] = next(m for m in models if m["parent_model_id"] == stored["Pipeline"]["model_id"]
                                        and m["operator_class"] == "LogisticRegression")
    pickles = sorted(p.parent.name for p in (home / "artifacts" / "models").glob("*/model.pkl"))
    assert pickles == sorted([stored["Pipeline"]["model_id"], stored["GridSearchCV"]["model_id"]])
    assert stored["StandardScaler"]["format"] == "part" and "#part=" in stored["StandardScaler"]["uri"]
    scaler = modeldb.load_model(stored["StandardScaler"]["model_id"])  # inside the ColumnTransformer, inside the Pipeline
    np.testing.assert_array_equal(scaler.mean_, pipe.named_steps["prep"].named_transformers_["num"].mean_)
    clf = modeldb.load_model(stored["LogisticRegression"]["model_id"])
    np.testing.assert_array_equal(clf.coef_, pipe.named_steps["clf"].coef_)
    winner = next(e["payload"] for e in events(home) if e["event_type"] == "SearchCompleted")["best_model_id"]
    assert modeldb.load_model(winner).C == search.best_estimator_.C


def test_predict_outputs_are_not_kept_alive(home):
    import gc
    import weakref

    modeldb.sklearn.autolog()
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    output = model.predict(np.arange(100.0).reshape(-1, 1))
    ref = weakref.ref(output)
    del output
    gc.collect()
    assert ref() is None and not T.current().predictions._items


def test_prediction_rows_arrive_before_the_run_ends_without_a_flush(home):
    modeldb.sklearn.autolog()
    X, y = frame(n=400)
    with modeldb.start_run(name="mine"):
        model = LogisticRegression().fit(X[["age", "income"]], y)
        accuracy_score(y, model.predict(X[["age", "income"]]))
    kinds = [e["event_type"] for e in events(home)]
    assert kinds.index("PredictionsLogged") < kinds.index("RunEnded")


def test_an_earlier_error_in_the_session_does_not_fail_a_clean_run(home, monkeypatch):
    import sys

    monkeypatch.setattr(sys, "last_type", ValueError, raising=False)  # what a notebook keeps after a failed cell
    with modeldb.sklearn.autolog():
        LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    ended = [e["payload"] for e in events(home) if e["event_type"] == "RunEnded"]
    assert [e["status"] for e in ended] == ["FINISHED"]


def test_repeated_index_labels_fall_back_to_positions(home):
    modeldb.sklearn.autolog()
    X, y = frame(n=100)
    doubled, labels = pd.concat([X, X]), pd.concat([y, y])
    model = LogisticRegression().fit(doubled[["age"]], labels)
    accuracy_score(labels, model.predict(doubled[["age"]]))
    modeldb.flush()
    rows = [r for e in events(home) if e["event_type"] == "PredictionsLogged" for r in e["payload"]["rows"]]
    assert len({r["key"] for r in rows}) == len(rows) == 200


def test_worker_threads_log_into_the_users_run(home):
    from concurrent.futures import ThreadPoolExecutor

    modeldb.sklearn.autolog()
    with modeldb.start_run(name="mine") as run:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda C: LogisticRegression(C=C).fit([[0.0], [1.0]], [0, 1]), [0.1, 1.0]))
    fits = {e["run_id"] for e in events(home) if e["event_type"] == "OperatorApplied"}
    assert fits == {run.run_id}


def test_sparse_arrays_and_tuple_outputs_are_handled_quietly(home, caplog):
    import scipy.sparse as sp
    from sklearn.gaussian_process import GaussianProcessRegressor

    modeldb.sklearn.autolog()
    with caplog.at_level(logging.WARNING, logger="modeldb.sklearn"):
        X = sp.csr_array(np.eye(6))
        LogisticRegression().fit(X, [0, 1] * 3)
        gp = GaussianProcessRegressor().fit(np.arange(6.0).reshape(-1, 1), np.arange(6.0))
        mean, cov = gp.predict(np.arange(6.0).reshape(-1, 1), return_cov=True)
    assert cov.shape == (6, 6)
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_very_wide_models_produce_bounded_events(home):
    from modeldb.producers.autolog.bounds import MAX_EVENT_BYTES, size

    modeldb.sklearn.autolog()
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(50, 3000)), columns=[f"feature_with_a_long_name_{i:05d}" for i in range(3000)])
    LogisticRegression(max_iter=20).fit(X, [0, 1] * 25)
    for e in events(home):
        assert size(e["payload"]) <= MAX_EVENT_BYTES, e["event_type"]
