"""Unit checks behind the paper's questions: composite lineage, search scores, slices, user state. No services."""
from __future__ import annotations

import random
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import BaggingClassifier, RandomForestClassifier, StackingClassifier, VotingClassifier
from sklearn.feature_selection import RFE, SelectFromModel, SelectKBest, SequentialFeatureSelector, VarianceThreshold
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

import modeldb
import modeldb.sklearn
from modeldb.core import codec
from modeldb.core.eventlog import read_records
from modeldb.producers.autolog import imports
from modeldb.producers.sklearn import model_selection, usage
from modeldb.stream_processors.materializer import COLUMNS, materialize
from modeldb.warehouse.queries.slices import SliceError, compile_predicate
from tests.unit.events_factory import event

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    RNG = np.random.default_rng(0)
    X = pd.DataFrame({"a": RNG.normal(size=200), "b": RNG.normal(size=200), "leak": RNG.normal(size=200),
                      "region": RNG.choice(["n", "s"], 200)})
    y = (X.a + X.leak > 0).astype(int)
    NUM = X[["a", "b", "leak"]]


def used(model, data=X) -> dict[str, list[str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data, y)
    return {k: sorted(v) for k, v in sorted(usage.consumed(model, usage.columns(list(data.columns))).items())}


def ct(*transformers, remainder="drop"):
    return ColumnTransformer(list(transformers), remainder=remainder)


@pytest.mark.parametrize("model, expected", [
    (Pipeline([("p", ct(("n", StandardScaler(), ["a", "b"]))), ("m", LogisticRegression())]), {"a": [], "b": []}),
    (Pipeline([("p", ct(("o", OneHotEncoder(), ["region"]), ("d", "drop", ["leak"]), remainder="passthrough")),
               ("m", LogisticRegression())]), {"a": [], "b": [], "region": []}),
    (Pipeline([("p", ct(("f", FunctionTransformer(np.abs), ["leak"]), ("n", StandardScaler(), ["a"]))),
               ("m", LogisticRegression())]), {"a": [], "leak": ["FunctionTransformer"]}),
    (Pipeline([("p", ct(("n", "passthrough", ["a", "b", "leak"]))), ("pca", PCA(2)), ("m", LogisticRegression())]),
     {"a": [], "b": [], "leak": []}),
])
def test_a_composite_uses_only_what_its_fitted_parts_consume(model, expected):
    assert used(model) == expected


@pytest.mark.parametrize("selector", [SelectKBest(k=1), VarianceThreshold(threshold=0.5),
                                      SelectFromModel(LogisticRegression(), max_features=1, threshold=-np.inf),
                                      RFE(LogisticRegression(), n_features_to_select=1),
                                      SequentialFeatureSelector(LogisticRegression(), n_features_to_select=1, cv=2)])
def test_a_selector_leaves_out_what_it_removes(selector):
    pipe = Pipeline([("s", selector), ("m", LogisticRegression())])
    data = NUM.assign(b=NUM.b * 0.1)  # a low-variance column, for VarianceThreshold
    answer = used(pipe, data)
    kept = set(np.array(data.columns)[pipe.named_steps["s"].get_support()])
    assert set(answer) == kept and 0 < len(kept) < 3


def test_meta_estimators_use_what_their_fitted_estimators_use():
    narrow = Pipeline([("s", SelectKBest(k=1)), ("m", LogisticRegression())])
    assert used(VotingClassifier([("l", narrow)]), NUM) == {"leak": []}
    assert set(used(StackingClassifier([("l", narrow)], passthrough=True), NUM)) == {"a", "b", "leak"}
    assert used(GridSearchCV(narrow, {"s__k": [1]}, cv=2), NUM) == {"leak": []}
    bagged = BaggingClassifier(LogisticRegression(), max_features=1, n_estimators=2, random_state=0)
    answer = used(bagged, NUM)
    assert set(answer) == {NUM.columns[f[0]] for f in bagged.estimators_features_}
    assert set(used(RandomForestClassifier(n_estimators=3), NUM)) == {"a", "b", "leak"}


def test_an_opaque_part_uses_all_its_inputs_and_is_marked():
    union = Pipeline([("u", FeatureUnion([("s", StandardScaler()), ("f", FunctionTransformer(np.abs))])),
                      ("m", LogisticRegression())])
    assert used(union, NUM) == {c: ["FunctionTransformer"] for c in ("a", "b", "leak")}
    two = Pipeline([("u", FeatureUnion([("f", FunctionTransformer(np.abs)), ("g", FunctionTransformer(np.abs))])),
                    ("m", LogisticRegression())])  # two widths unknown: the union itself is opaque
    assert used(two, NUM) == {c: ["FeatureUnion"] for c in ("a", "b", "leak")}


def test_column_transformer_outputs_are_derived_from_their_own_inputs_only():
    model = ct(("f", FunctionTransformer(np.abs), ["leak"]), ("n", StandardScaler(), ["a"])).fit(X)
    out = usage.transform(model, usage.columns(list(X.columns)))
    assert [(n, sorted(s), sorted(o)) for n, s, o in out] == [
        ("f__functiontransformer0", ["leak"], ["FunctionTransformer"]), ("n__a", ["a"], [])]


def test_every_scorer_for_each_refit():
    scoring = {"accuracy": "accuracy", "f1": "f1"}
    for refit in ("f1", False, lambda results: 0):
        search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, scoring=scoring, refit=refit, cv=2,
                              return_train_score=True).fit(NUM, y)
        names = model_selection.scorer_names(search.cv_results_, search.scoring)
        assert names == ["accuracy", "f1"]
        scores = model_selection.candidate_scores(search.cv_results_, names, 1)
        assert [(s["name"], s["split"]) for s in scores] == [("accuracy", "test"), ("f1", "test"),
                                                             ("accuracy", "train"), ("f1", "train")]
        assert scores[1]["mean"] == pytest.approx(search.cv_results_["mean_test_f1"][1])
        assert scores[1]["folds"] == pytest.approx([search.cv_results_[f"split{k}_test_f1"][1] for k in range(2)])
        assert scores[2]["rank"] is None and scores[0]["rank"] == search.cv_results_["rank_test_accuracy"][1]
    assert model_selection.refit_text(False) == "False"


def test_search_candidates_materialize_every_scorer_and_old_events_keep_their_one():
    new = event("SearchCompleted")
    old = event("SearchCompleted")
    old["payload"] = ("modeldb.SearchCompleted", {**old["payload"][1], "candidates": [
        {k: v for k, v in old["payload"][1]["candidates"][0].items() if k not in ("scores", "iteration", "n_resources")}
    ]})
    decoded = [codec.decode(codec.encode(e)) for e in (new, old)]
    rows = materialize((d, b"\xc3\x01" + b"\0" * 8) for d in decoded)["search_candidates"]
    columns = COLUMNS["search_candidates"]
    first, second = (dict(zip(columns, r)) for r in rows)
    assert first["score_names"] == ["accuracy"] and first["refit"] == "accuracy" and first["iteration"] == -1
    assert second["score_names"] == ["accuracy"] and second["score_means"] == [0.9]
    assert second["score_folds"] == [[0.9, 0.9]]


def test_a_metric_on_a_changed_model_is_annotated():
    e = event("MetricLogged")
    e["payload"] = ("modeldb.MetricLogged", {**e["payload"][1], "model_id": "m1", "model_changed": True})
    rows = materialize([(codec.decode(codec.encode(e)), b"\xc3\x01" + b"\0" * 8)])
    assert rows["annotations"][0][2] == "m1" and "changed" in rows["annotations"][0][3]
    assert len(rows["metrics"]) == 1


@pytest.mark.parametrize("predicate, sql", [
    ("proline > 1000", "(toFloat64OrNull(s0) > 1000.0)"),
    ("country = 'US'", "(s1 = 'US')"),
    ("country IN ('US', 'DE') AND NOT proline <= 5", "((s1 IN ('US', 'DE')) AND NOT ((toFloat64OrNull(s0) <= 5.0)))"),
    ("`odd name` BETWEEN -1 AND 2.5e1", "((toFloat64OrNull(s2) >= -1.0 AND toFloat64OrNull(s2) <= 25.0))"),
    ("1", "1"),
    ("country LIKE 'U%' OR country IS NULL", "((s1 LIKE 'U\\x25') OR (s1 = ''))"),
])
def test_slice_predicates_compile_over_named_columns_only(predicate, sql):
    compiled, _ = compile_predicate(predicate, ["proline", "country", "odd name"])
    assert compiled == sql


@pytest.mark.parametrize("predicate, problem", [
    ("region = 'EU'", "names 'region'"), ("proline >", "expected a number"), ("proline > 1; SELECT 1", "unexpected"),
    ("length(country) > 1", "names 'length'"), ("country = 'US", "unexpected"), ("proline > country", "expected a"),
    ("(proline > 1", "expected '\\)'"), ("", "give a slice predicate"), ("NOT", "expected a slice column"),
    ("proline > 1 proline < 2", "expected AND, OR or the end"),
])
def test_bad_slice_predicates_are_refused_with_the_reason(predicate, problem):
    with pytest.raises(SliceError, match=problem):
        compile_predicate(predicate, ["proline", "country"])


def test_a_watched_module_is_patched_when_the_user_imports_it(tmp_path, monkeypatch):
    (tmp_path / "late_module_for_watch.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    watcher = imports.Watcher()
    watcher.after_import("late_module_for_watch", lambda m: seen.append(m.VALUE))
    assert seen == [] and "late_module_for_watch" not in sys.modules
    import late_module_for_watch  # noqa: F401

    assert seen == [1]
    watcher.close()
    watcher.after_import("late_module_for_watch", lambda m: seen.append(2))  # loaded: at once
    assert seen == [1, 2] and watcher not in sys.meta_path


def test_autolog_draws_nothing_from_the_users_generators(tmp_path):
    modeldb.init(project="unit", home=tmp_path, transport=f"file://{tmp_path}/events.log")
    random.seed(11)
    np.random.seed(11)
    filters = list(warnings.filters)
    expected = (random.random(), np.random.rand())
    random.seed(11)
    np.random.seed(11)
    try:
        modeldb.sklearn.autolog()
        assert (random.random(), np.random.rand()) == expected and list(warnings.filters) == filters
    finally:
        modeldb.sklearn.disable()
        modeldb.flush()


def test_a_huge_search_drops_fold_scores_then_train_scores_to_fit_its_event():
    def candidate():
        return {"index": 0, "scores": [{"name": f"s{k}", "split": split, "mean": 0.5, "std": 0.1, "rank": 1,
                                        "folds": [0.5] * 10} for k in range(5) for split in ("test", "train")]}
    many = [candidate() for _ in range(500)]
    model_selection._fit_in_event(many)
    assert all(s["folds"] == [] for c in many for s in c["scores"])
    assert {s["split"] for c in many for s in c["scores"]} == {"test", "train"}
    huge = [candidate() for _ in range(3000)]
    model_selection._fit_in_event(huge)
    assert {s["split"] for c in huge for s in c["scores"]} == {"test"} and len(huge[0]["scores"]) == 5
    few = [candidate() for _ in range(3)]
    model_selection._fit_in_event(few)
    assert few[0]["scores"][0]["folds"] == [0.5] * 10


class Shifting(BaseEstimator, TransformerMixin):
    """A transformer that cannot be pickled once fitted twice (it keeps a lambda)."""

    def fit(self, X, y=None):
        self.fits_ = getattr(self, "fits_", 0) + 1
        if self.fits_ > 1:
            self.hook_ = lambda v: v
        return self

    def transform(self, X):
        return np.asarray(X) * self.fits_


def test_a_metric_on_a_model_changed_beyond_a_new_snapshot_is_marked(tmp_path):
    modeldb.init(project="unit", home=tmp_path, transport=f"file://{tmp_path}/events.log")
    modeldb.sklearn.autolog()
    try:
        shared = Shifting()
        first = Pipeline([("s", shared), ("m", LogisticRegression())]).fit(NUM, y)
        Pipeline([("s", shared), ("m", LogisticRegression())]).fit(NUM, y)
        accuracy_score(y, first.predict(NUM))
    finally:
        modeldb.sklearn.disable()
        modeldb.flush()
    decoded = [codec.decode(r.payload) for r in read_records(tmp_path / "events.log")]
    metric = next(e["payload"] for e in decoded if e["event_type"] == "MetricLogged"
                  and e["payload"]["name"] == "accuracy_score")
    first_id = next(e["payload"]["model_id"] for e in decoded if e["event_type"] == "OperatorApplied"
                    and e["payload"]["operator_class"] == "Pipeline" and e["payload"]["action"] == "fit")
    assert metric["model_changed"] is True and metric["model_id"] == first_id
