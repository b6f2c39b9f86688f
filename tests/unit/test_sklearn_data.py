"""Fingerprints, statistics, samples, lineage and params of the scikit-learn tracker."""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from modeldb.producers.sklearn import data as D
from modeldb.producers.autolog import lineage
from modeldb.producers.autolog.params import param_record
from modeldb.producers.sklearn import params


def fp(obj, names=None):
    return D.fingerprint(D.view(obj, D.kind_of(obj), names))


def test_the_same_content_has_the_same_fingerprint_and_a_change_shows():
    a = np.arange(1000, dtype=float).reshape(100, 10)
    b = a.copy()
    assert fp(a) == fp(b)
    b[50, 3] += 1
    assert fp(a) != fp(b)
    assert fp(a)[1] == "full"


def test_large_data_is_fingerprinted_from_a_sample(monkeypatch):
    monkeypatch.setattr(D, "FULL_HASH_BYTES", 1000)
    a = np.arange(200_000, dtype=float).reshape(20_000, 10)
    digest, method = fp(a)
    assert method == f"sampled:{D.SAMPLE_ROWS}"
    b = a.copy()
    b[0, 0] = -1  # the first row is always in the sample
    assert fp(b)[0] != digest


def test_pandas_sparse_and_text_are_understood():
    df = pd.DataFrame({"age": [30, 40, None], "country": ["US", "DE", "US"]})
    frame = D.view(df, "frame", None)
    assert frame.names == ["age", "country"] and frame.dtypes == ["float64", "object"]
    stats = D.column_stats(frame, sampled=False)
    assert stats[0]["null_count"] == 1 and stats[0]["mean"] == 35.0
    assert stats[1]["top_values"][0] == "US" and stats[1]["distinct_approx"] == 2
    m = sp.random(50, 30, density=0.1, format="csr", random_state=0)
    assert fp(m) == fp(m.tocsc()) and D.view(m, "sparse", None).n_rows == 50
    docs = ["a cat", "a dog"]
    assert D.kind_of(docs) == "sequence" and fp(docs) == fp(list(docs))


def test_the_bottom_k_sample_is_stable_under_subsetting():
    keys = np.arange(10_000)
    sample = set(keys[D.sample_positions(keys)])
    subset = keys[::2]
    sub_sample = set(subset[D.sample_positions(subset)])
    assert {k for k in sample if k % 2 == 0} <= sub_sample


def test_derived_columns_are_traced_to_their_sources():
    derivation = lineage.derive(["age", "country"], ["num__age", "cat__country_US", "cat__country_DE"])
    assert derivation == {"num__age": ["age"], "cat__country_US": ["country"], "cat__country_DE": ["country"]}
    assert lineage.derive(["a", "b"], ["pca0"]) == {"pca0": ["a", "b"]}
    source = D.DataInfo("d", "r", "f", 3, ["age", "country"])
    prov = lineage.provenance(source, derivation)
    assert prov["cat__country_US"] == (("country", "country > cat__country_US"),)
    model_input = D.DataInfo("d2", "r", "f", 3, list(derivation), provenance=prov)
    edges = lineage.model_lineage(model_input)
    assert {"src": "country", "dst": "cat__country_DE", "path": "country > cat__country_DE"} in edges


def test_params_are_flat_typed_and_readable():
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=0.5))])
    records = {r["key"]: r for r in params.flat_params(pipe)}
    assert records["clf__C"] == {"key": "clf__C", "type": "float", "value": "0.5", "num": 0.5}
    assert records["clf"]["type"] == "estimator" and records["clf"]["value"] == "LogisticRegression"
    assert records["steps"]["value"] == '[["scale", "StandardScaler"], ["clf", "LogisticRegression"]]'
    assert param_record("w", np.ones(3))["value"].startswith("array(shape=[3]")
    assert param_record("f", np.mean)["type"] == "callable"


def test_internals_are_bounded_and_labelled():
    model = LogisticRegression().fit(np.random.default_rng(0).normal(size=(40, 3)), [0, 1] * 20)
    got = {i["name"]: i for i in params.internals(model, ["a", "b", "c"])}
    assert got["coef_"]["labels"] == ["a", "b", "c"] and got["coef_"]["shape"] == [1, 3]
    assert got["classes_"]["labels"] == ["0", "1"] and "n_iter_" in got
