"""Every estimator ``all_estimators()`` lists: tracked, and behaving exactly as without tracking."""
from __future__ import annotations

import logging
import warnings
from collections import Counter

import numpy as np
import pytest
from sklearn.utils import all_estimators

import modeldb
import modeldb.sklearn
from modeldb.core import codec
from modeldb.core.eventlog import read_records

RNG = np.random.default_rng(0)
X = np.abs(RNG.normal(size=(60, 4)))
Y_CLASS = (X[:, 0] > X[:, 1]).astype(int)
Y_REG = X[:, 0] * 2 + X[:, 2]


def exercise(cls: type) -> tuple[str, object]:
    """Fit with defaults, then every prediction method; the outcome and the predictions."""
    try:
        est = cls()
    except TypeError:
        return "needs arguments", None
    target = Y_REG if getattr(est, "_estimator_type", "") == "regressor" else Y_CLASS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est.fit(X, target)
        except Exception as exc:  # noqa: BLE001 - some estimators refuse this data; same with and without us
            return f"fit raised {type(exc).__name__}", None
        outputs = []
        for method in ("predict", "transform", "predict_proba", "decision_function"):
            if hasattr(est, method):
                try:
                    outputs.append(np.asarray(getattr(est, method)(X), dtype=float))
                except Exception as exc:  # noqa: BLE001
                    outputs.append(type(exc).__name__)
    return "fitted", outputs


def test_every_estimator_is_tracked_and_unchanged(tmp_path, caplog):
    estimators = all_estimators()
    plain = {name: exercise(cls) for name, cls in estimators}
    modeldb.init(project="every", home=tmp_path, transport=f"file://{tmp_path}/events.log")
    with caplog.at_level(logging.WARNING, logger="modeldb.sklearn"), modeldb.sklearn.autolog():
        tracked = {name: exercise(cls) for name, cls in estimators}
    modeldb.flush()

    assert not [r.getMessage() for r in caplog.records if r.name == "modeldb.sklearn"]
    for name, (outcome, outputs) in plain.items():
        assert tracked[name][0] == outcome, name
        for got, want in zip(tracked[name][1] or [], outputs or []):
            if isinstance(want, str):
                assert got == want, name
            else:  # randomized estimators without a seed differ run to run: compare shapes only
                assert np.shape(got) == np.shape(want), name
    fitted = {name for name, (outcome, _) in plain.items() if outcome == "fitted"}
    assert len(fitted) > 150
    events = [codec.decode(r.payload) for r in read_records(tmp_path / "events.log")]
    fits = Counter(e["payload"]["operator_class"] for e in events
                   if e["event_type"] == "OperatorApplied" and e["payload"]["action"].startswith("fit"))
    assert fitted <= set(fits), sorted(fitted - set(fits))


@pytest.mark.parametrize("search", ["HalvingGridSearchCV", "HalvingRandomSearchCV", "RandomizedSearchCV"])
def test_every_kind_of_search_reports_its_candidates(tmp_path, search):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn import model_selection
    from sklearn.linear_model import LogisticRegression

    modeldb.init(project="search", home=tmp_path, transport=f"file://{tmp_path}/events.log")
    cls = getattr(model_selection, search)
    grid = {"C": [0.01, 0.1, 1.0, 10.0]}
    kwargs = {"random_state": 0} if "Random" in search else {}
    if search == "RandomizedSearchCV":
        kwargs["n_iter"] = 3
    with modeldb.sklearn.autolog():
        fitted = cls(LogisticRegression(), grid, cv=3, **kwargs).fit(X, Y_CLASS)
    modeldb.flush()
    events = [codec.decode(r.payload) for r in read_records(tmp_path / "events.log")]
    done = next(e["payload"] for e in events if e["event_type"] == "SearchCompleted")
    assert done["operator_class"] == search
    assert len(done["candidates"]) == len(fitted.cv_results_["params"])
    assert done["best_index"] == fitted.best_index_ and done["best_model_id"]
